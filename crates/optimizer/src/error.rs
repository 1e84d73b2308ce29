/// Errors of the optimizer: bad problems and bad parameters, found before any work starts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A demand weight is negative, NaN or infinite.
    #[error("demand {index} (id {id}): weight {weight} is not a finite number ≥ 0")]
    BadWeight {
        /// Position of the demand point.
        index: usize,
        /// Its id.
        id: String,
        /// The offending weight.
        weight: f64,
    },
    /// A coverage entry names a demand point or site that does not exist, or a probability outside 0..=1.
    #[error("coverage: {0}")]
    BadCoverage(String),
    /// A candidate or existing site is malformed (cost, position, id).
    #[error("site {id}: {reason}")]
    BadSite {
        /// The site id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// Two sites, or two demand points, share an id.
    #[error("duplicate {kind} id `{id}`")]
    DuplicateId {
        /// "demand" or "site".
        kind: &'static str,
        /// The repeated id.
        id: String,
    },
    /// A parameter is out of range or parameters contradict each other.
    #[error("invalid parameter: {0}")]
    Parameter(String),
    /// The constraints admit no solution at all (e.g. the locked sites already break the spacing rule).
    #[error("infeasible: {0}")]
    Infeasible(String),
    /// An error from argmin (simulated annealing).
    #[error("simulated annealing: {0}")]
    Argmin(#[from] argmin::core::Error),
}

/// Result with the optimizer's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
