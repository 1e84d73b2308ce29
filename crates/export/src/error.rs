use std::path::PathBuf;

/// Errors of the writers; each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Writing or renaming the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// polars failed building or writing a table.
    #[error("{path}: {source}")]
    Polars {
        /// The file.
        path: PathBuf,
        /// polars' error.
        source: polars::error::PolarsError,
    },
    /// A geometry could not be encoded.
    #[error("{path}: WKB encoding failed: {message}")]
    Geometry {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A file's content is not what the reader expects.
    #[error("{path}: {message}")]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the row where one is to blame.
        message: String,
    },
    /// File metadata could not be encoded as JSON.
    #[error("{path}: metadata encoding failed: {source}")]
    Metadata {
        /// The file.
        path: PathBuf,
        /// serde_json's error.
        source: serde_json::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error on `path` (for callers that write through [`crate::write_atomically`]).
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn polars(
        path: &std::path::Path,
    ) -> impl Fn(polars::error::PolarsError) -> Self + '_ {
        move |source| Self::Polars {
            path: path.to_owned(),
            source,
        }
    }
}
