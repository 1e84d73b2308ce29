use hexcover_core::LatLon;

use crate::Caveats;

/// Errors of the propagation models: bad inputs and bad parameters, found
/// before any work starts. A model used outside its published validity range
/// is *not* an error unless the caller asked for strict checking (see
/// [`crate::Caveats`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input of a path or a formula is outside its domain: a distance or
    /// frequency ≤ 0, a negative antenna height, a NaN or infinite number.
    #[error("invalid {name} = {value}: expected {expected}")]
    InvalidInput {
        /// The input, with its unit (`distance_m`, `freq_mhz`, ...).
        name: &'static str,
        /// The offending value.
        value: f64,
        /// What the input must be.
        expected: &'static str,
    },
    /// A model parameter is out of range (k-factor ≤ 0, a negative
    /// path-loss exponent, ...).
    #[error("invalid parameter {name} = {value}: expected {expected}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// What the parameter must be.
        expected: &'static str,
    },
    /// A terrain profile is malformed (too few samples, columns of different
    /// lengths, distances not starting at 0 or decreasing, non-finite values).
    #[error("invalid path profile: {0}")]
    InvalidProfile(String),
    /// The terrain source has no elevation for some point of the path.
    #[error(
        "no terrain elevation along the path from ({}, {}) to ({}, {})",
        .from.lat, .from.lon, .to.lat, .to.lon
    )]
    NoElevation {
        /// Start of the path.
        from: LatLon,
        /// End of the path.
        to: LatLon,
    },
    /// A model set to strict checking was used outside its validity range.
    #[error("{model} used outside its validity range: {caveats}")]
    OutsideValidity {
        /// The model.
        model: &'static str,
        /// Which ranges were left.
        caveats: Caveats,
    },
    /// A computation needs a terrain profile and the path has none.
    #[error("{0} needs a terrain profile and the path has none")]
    MissingProfile(&'static str),
    /// The log-distance fit cannot be made from the samples given.
    #[error("cannot fit the log-distance model: {0}")]
    Fit(String),
    /// A learned model cannot be trained or evaluated on the data given (no
    /// rows, non-finite values, too few rows for the folds asked for).
    #[error("cannot train the model: {0}")]
    Training(String),
    /// A learned model (e.g. read from a file) is inconsistent: wrong
    /// feature list, malformed trees or calibration.
    #[error("invalid model: {0}")]
    Model(String),
    /// The terrain has no elevation at a coverage site (outside the DEM).
    #[error("the site ({}, {}) is outside the terrain (no elevation there)", .at.lat, .at.lon)]
    SiteOutsideTerrain {
        /// The site.
        at: LatLon,
    },
    /// An error reported by linfa.
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// `value` if it is finite, else an [`Error::InvalidInput`].
pub(crate) fn finite(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::InvalidInput {
            name,
            value,
            expected: "a finite number",
        })
    }
}

/// `value` if it is finite and > 0, else an [`Error::InvalidInput`].
pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::InvalidInput {
            name,
            value,
            expected: "a finite number > 0",
        })
    }
}

/// `value` if it is finite and ≥ 0, else an [`Error::InvalidInput`].
pub(crate) fn non_negative(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(Error::InvalidInput {
            name,
            value,
            expected: "a finite number ≥ 0",
        })
    }
}

/// Checks an effective-earth-radius factor: > 0, `f64::INFINITY` allowed (flat earth).
pub(crate) fn check_k_factor(k_factor: f64) -> Result<()> {
    if k_factor > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "k_factor",
            value: k_factor,
            expected: "a number > 0 (4/3 standard; infinity for a flat earth)",
        })
    }
}
