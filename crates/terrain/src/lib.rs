//! Ground elevation and path profiles from GDAL rasters: hexcover's
//! implementation of [`hexcover_core::Terrain`].
//!
//! A [`Dem`] opens SRTM `.hgt` tiles, GeoTIFFs, VRTs or a folder of tiles as one
//! mosaic in WGS84 longitude/latitude, reads each raster's pixels on first touch
//! into plain `Vec`s and keeps them, so a million look-ups never reopen a file.
//! Elevations are bilinear between sample centres (pixel-is-area as GDAL's
//! geotransform describes it, which puts SRTM samples on whole degrees and makes
//! neighbouring tiles agree on their shared edge). DEM voids are filled on load
//! and flagged, never read as `-32768 m`; outside coverage there is no elevation.
//!
//! ```
//! use hexcover_core::{LatLon, Terrain};
//! use hexcover_terrain::Dem;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let shared = std::env::var_os("HEXCOVER_SHARED").map_or_else(
//! #     || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
//! #     std::path::PathBuf::from,
//! # );
//! # let srtm_dir = shared.join("data/srtm3-ulm");
//! # if !srtm_dir.exists() { return Ok(()); }
//! // The two SRTM3 tiles around Ulm, N48E009.hgt and N48E010.hgt.
//! let dem = Dem::open(&srtm_dir)?;
//! let minster_square = LatLon::new(48.3985, 9.9925);
//! let sample = dem.sample(minster_square)?.expect("inside the tiles");
//! assert!((sample.elevation_m - 482.0).abs() < 2.0);
//! assert!(!sample.filled_void);
//!
//! // Through the trait propagation uses: a 20 km profile at 90 m steps.
//! let terrain: &dyn Terrain = &dem;
//! let profile = terrain
//!     .profile(minster_square, LatLon::new(48.3985, 10.2636), 90.0)
//!     .expect("inside the tiles");
//! assert_eq!(profile.elevation_m.len(), profile.distance_m.len());
//! assert!(profile.length_m() > 19_900.0 && profile.length_m() < 20_100.0);
//!
//! // Outside the tiles there is no elevation.
//! assert_eq!(dem.elevation_m(LatLon::new(52.52, 13.40)), None);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod dem;
mod error;
mod fill;
mod index;
mod params;
mod raster;

pub use dem::{Bounds, Dem, PROFILE_KNOT_SPACING_M, Sample, VoidStats};
pub use error::{Error, Result};
pub use params::{DemParams, MAX_VOID_FILL_RADIUS_PX, WINDOW_PX_RANGE};
pub use raster::RasterInfo;
