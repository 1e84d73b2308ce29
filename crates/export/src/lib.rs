//! Export: hexcover's tables as files other tools read without help —
//! GeoParquet 1.1 (GeoPandas, DuckDB, QGIS, Sedona), GeoJSON and CSV.
//!
//! Every writer writes to a temporary file beside the target and renames it
//! into place, so a reader never sees a half-written file.
//!
//! ```no_run
//! use hexcover_core::HexStats;
//! # fn hexes() -> Vec<HexStats> { Vec::new() }
//! let hexes: Vec<HexStats> = hexes();
//! hexcover_export::write_hexes_geoparquet("hexes_res9.parquet".as_ref(), &hexes)?;
//! hexcover_export::write_hexes_geojson("hexes_res9.geojson".as_ref(), &hexes)?;
//! # Ok::<(), hexcover_export::Error>(())
//! ```
#![warn(missing_docs)]

mod atomic;
mod coverage;
mod error;
mod geojson;
mod geoparquet;
mod hex_csv;
mod links;
mod read;
mod tiles;
mod wkb_geom;

pub use atomic::{temporary_sibling, write_atomically};
pub use coverage::{COVERAGE_RUN_METADATA_KEY, write_coverage_geoparquet};
pub use error::{Error, Result};
pub use geojson::write_hexes_geojson;
pub use geoparquet::{GEO_METADATA_KEY, write_hexes_geoparquet, write_sites_geoparquet};
pub use hex_csv::write_hexes_csv;
pub use links::{LinksParquetWriter, write_links_parquet};
pub use read::{read_coverage_geoparquet, read_sites_geoparquet};
pub use tiles::{TileFeature, TileGeometry, TileId, TileValue, decoded, encode_tile};
