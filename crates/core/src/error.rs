/// Errors of the domain types.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An H3 resolution outside 0..=15, or a list of them that does not parse.
    #[error(
        "invalid H3 resolution `{0}`: expected integers 0..=15 separated by commas, e.g. 8,9,12"
    )]
    Resolution(String),
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
