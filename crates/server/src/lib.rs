//! hexcover's HTTP server: vector tiles of measured and predicted hexes,
//! the evidence for one hex, what-if for a new site, placement jobs, the
//! OpenAPI description and the web page — one process, one port.
//!
//! The server does no file reading of study data: the caller (the CLI)
//! loads a study into a [`StudyData`], and [`router`] serves it.
//!
//! ```no_run
//! use hexcover_server::{AppState, ServerConfig, Study, StudyData, router};
//! # fn load() -> StudyData { unimplemented!() }
//! let study = Study::new(load())?;
//! let app = router(AppState::new(study, ServerConfig::default()));
//! # let _ = app;
//! # Ok::<(), hexcover_server::StudyError>(())
//! ```
#![warn(missing_docs)]

mod api;
mod error;
mod evidence;
mod layers;
mod placement;
mod sites;
mod state;
mod study;
mod tiles;
mod whatif;

pub use api::{ApiDoc, router};
pub use error::{ApiError, ErrorBody};
pub use layers::Layer;
pub use state::{AppState, ServerConfig};
pub use study::{
    LinkEvidence, Radio, SiteModel, Study, StudyData, StudyError, Suggestion, map_resolutions,
    resolution_for_zoom,
};
pub use tiles::features as tile_features;
