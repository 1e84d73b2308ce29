//! Physics path-loss models for LoRa links (868 MHz EU / 915 MHz US): free
//! space, log-distance, Okumura-Hata and COST-231-Hata, knife-edge, Deygout
//! and Bullington terrain diffraction, and the path geometry the learned
//! model uses as features.
//!
//! Every model implements [`PathLoss`] for a [`RadioPath`] (distance,
//! frequency, antenna heights and, optionally, the terrain profile between
//! the ends). Terrain reaches this crate only through
//! [`hexcover_core::Terrain`]; nothing here reads files.
//!
//! **Validity ranges are flagged, not enforced.** Empirical models are often
//! used outside the range they were fitted on — a LoRa gateway at 10 m is
//! below Hata's 30 m base-station height — so [`PathLoss::estimate`] returns
//! the value with the [`Caveats`] of that use; `strict(true)` on [`Hata`] and
//! [`Cost231Hata`] turns them into [`Error::OutsideValidity`]. Inputs no
//! formula can take (distance ≤ 0, NaN, frequency ≤ 0, a zero antenna height
//! for Hata) are always errors.
//!
//! **Terrain** is handled in the straight-ray frame: ground plus the earth
//! bulge for a k-factor (4/3 by default, [`hexcover_core::STANDARD_K_FACTOR`]).
//! [`Diffraction`] methods give the excess loss over free space:
//! [`KnifeEdge`] (the worst single edge), [`Deygout`] (three edges; ITU-R
//! P.452-14 with its empirical correction, or classic) and [`Bullington`]
//! (ITU-R P.526 §4.5.1). [`WithDiffraction`] adds one to a model;
//! [`FreeSpaceBullington`] is the terrain-aware baseline (Bullington's loss
//! never falls when terrain rises; Deygout's can, see [`Deygout`]).
//! [`PathGeometry`] gives line-of-sight clearance, the first-Fresnel-zone
//! clearance ratio and the obstruction count.
//!
//! ```
//! use hexcover_core::{FlatTerrain, LatLon};
//! use hexcover_propagation::{
//!     Caveat, DEFAULT_PROFILE_STEP_M, FreeSpace, FreeSpaceBullington, Hata, PathGeometry,
//!     PathLoss, RadioPath,
//! };
//!
//! // A device 1.5 m above ground heard by a gateway at 10 m, 3.1 km away, EU868.
//! let terrain = FlatTerrain { elevation_m: 480.0 };
//! let device = LatLon::new(48.400, 9.990);
//! let gateway = LatLon::new(48.420, 10.020);
//! let path = RadioPath::between(
//!     &terrain, device, gateway, 1.5, 10.0, 868.3, DEFAULT_PROFILE_STEP_M,
//! )?;
//!
//! let fspl_db = FreeSpace.path_loss_db(&path)?;
//! assert!((fspl_db - 101.16).abs() < 0.01);
//!
//! // Hata computes, and says the gateway is below its base-height range.
//! let hata = Hata::suburban().estimate(&path)?;
//! assert!(hata.caveats.contains(Caveat::BaseHeightOutOfRange));
//! assert!(hata.loss_db > fspl_db);
//!
//! // Free space + Bullington over the profile: the ground intrudes into the
//! // first Fresnel zone of such low antennas, so diffraction costs a few dB.
//! let baseline_db = FreeSpaceBullington::default().path_loss_db(&path)?;
//! assert!(baseline_db > fspl_db);
//!
//! let geometry = PathGeometry::of(&path, hexcover_core::STANDARD_K_FACTOR)?;
//! assert!(geometry.line_of_sight());
//! assert!(!geometry.fresnel_zone_clear(0.6));
//! # Ok::<(), hexcover_propagation::Error>(())
//! ```
#![warn(missing_docs)]

mod combined;
mod coverage;
mod diffraction;
mod error;
mod evaluate;
mod features;
mod free_space;
mod gbm;
mod geometry;
mod hata;
mod knife_edge;
mod learned;
mod local_grid;
mod log_distance;
mod model;
mod path;
mod ranked;
mod rssi_model;

pub use combined::{FreeSpaceBullington, FreeSpaceDeygout, WithDiffraction};
pub use coverage::{
    CoverageParams, CoverageStats, DEFAULT_COVERAGE_RESOLUTION, DEFAULT_DEVICE_EIRP_DBM,
    DEFAULT_DEVICE_HEIGHT_AGL_M, DEFAULT_FREQ_MHZ, DEFAULT_RADIAL_SPACING_RATIO, DEFAULT_RADIUS_M,
    DEFAULT_SAMPLE_STEP_M, DEFAULT_SITE_GAIN_DBI, DEFAULT_SITE_HEIGHT_AGL_M, DEFAULT_THRESHOLD_DBM,
    MAX_RADIUS_M, SiteCoverage, point_features, site_coverage,
};
pub use diffraction::{Bullington, Deygout, DeygoutVariant, Diffraction, KnifeEdge};
pub use error::{Error, Result};
pub use evaluate::{
    EvalSample, Evaluation, HEX_WEIGHT_RES, HeldOut, LEARNED_MODEL_SLUG, PHYSICS_MODEL_SLUGS,
    PHYSICS_MODELS, PhysicsLosses, Score, cross_validate, receiver_folds,
};
pub use features::{
    FEATURE_COUNT, FRESNEL_RATIO_LIMIT, FeatureSet, FeatureSweep, LOCAL_GROUND_SCALE_M,
    PathFeatures, SweepSite,
};
pub use free_space::{FREE_SPACE_CONSTANT_DB, FreeSpace, free_space_loss_db};
pub use gbm::{Gbm, GbmParams, GbmValidParams};
pub use geometry::PathGeometry;
pub use hata::{
    COST231_FREQ_RANGE_MHZ, CitySize, Cost231City, Cost231Hata, HATA_BASE_HEIGHT_RANGE_M,
    HATA_DISTANCE_RANGE_M, HATA_FREQ_RANGE_MHZ, HATA_MOBILE_HEIGHT_RANGE_M, Hata, HataEnvironment,
};
pub use knife_edge::{
    KNIFE_EDGE_NU_MIN, first_fresnel_radius_m, fresnel_integrals, fresnel_nu, knife_edge_loss_db,
    knife_edge_loss_exact_db,
};
pub use learned::{
    Base, Calibration, LINEAR_BASE_FEATURES, LearnedModel, LearnedParams, LinearBase, LinkSample,
    MODEL_FORMAT, QUANTILE_LEVELS, RSSI_FALLS_WITH, RSSI_RISES_WITH, ReceiverModel, Selection,
    blocked_folds,
};
/// linfa, re-exported so callers use the same `Fit`/`Predict` traits and `Dataset`.
pub use linfa;
pub use log_distance::{LogDistance, LogDistanceFit};
pub use model::{Caveat, Caveats, Estimate, PathLoss};
pub use path::{DEFAULT_PROFILE_STEP_M, RadioPath, SPEED_OF_LIGHT_M_S};
pub use rssi_model::{
    LinkBudget, PHYSICS_BASELINE_SIGMA_DB, PhysicsBaseline, RssiModel, RssiPrediction, Z_90,
    normal_cdf,
};
