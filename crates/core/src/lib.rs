//! Domain types of hexcover: what flows between the pipeline's stages.
//!
//! A [`Link`] is one reception (or recorded non-reception) of a transmitter by a
//! receiver; a [`LinkTable`] holds many of them column by column, which is how
//! ingest hands them on. A [`Site`] is a receiver location (gateway, hotspot);
//! a [`HexStats`] row summarises the links whose *transmitter* lies in one H3
//! cell — coverage means uplink: a device there is heard.
//!
//! ```
//! use hexcover_core::{Link, LinkTable};
//!
//! let mut table = LinkTable::default();
//! let link = Link::heard(48.4166, 10.0269, 48.4309, 10.0183, -89.0);
//! table.push(&link, 2);
//! assert_eq!(table.len(), 1);
//! assert_eq!(table.get(0).rssi_dbm, Some(-89.0));
//! assert!(table.get(0).distance_m() > 1_500.0);
//! ```
#![warn(missing_docs)]

mod coverage;
mod error;
mod hex;
mod link;
mod site;
mod table;
mod terrain;

pub use coverage::{CoverageRun, HexCoverage};
pub use error::{Error, Result};
pub use hex::{HexStats, parse_resolutions};
pub use link::{Link, MAX_LINK_DISTANCE_M, RSSI_RANGE_DBM, SNR_RANGE_DB, lat_lon_problem};
pub use site::Site;
pub use table::{IdPool, LinkTable, OptColumn, OptF64Column};
pub use terrain::{EARTH_RADIUS_M, FlatTerrain, LatLon, PathProfile, STANDARD_K_FACTOR, Terrain};
