use std::path::PathBuf;

/// Errors that stop an ingest: the input cannot be read as a whole.
///
/// A bad *row* is never an error: it becomes a [`crate::Reject`]. Every variant
/// prints as one line naming the file and, where known, the line and field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file's content is malformed at a known place.
    #[error("{path}:{line}: field `{field}`: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when the place is a whole-file property).
        line: u64,
        /// The field, column or JSON key concerned (`-` when none).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A JSON value is unusable at a known JSON path (JSON values carry no
    /// line numbers once parsed; the path names the place exactly).
    #[error("{path}: at {at}: {message}")]
    MalformedJson {
        /// The file.
        path: PathBuf,
        /// The JSON path, e.g. `[2].path[0].witnesses[3].gateway`.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// The file as a whole is not usable (empty, unknown layout, missing option).
    #[error("{path}: {message}")]
    Unusable {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// polars failed reading a Parquet input.
    #[error("{path}: {source}")]
    Polars {
        /// The file.
        path: PathBuf,
        /// polars' error.
        source: polars::error::PolarsError,
    },
    /// An invalid option, found before any work starts.
    #[error("invalid option: {0}")]
    Option(String),
    /// The consumer of a streaming ingest (the writer of `links.parquet` or
    /// `rejects.csv`) failed; its error says which file.
    #[error(transparent)]
    Sink(Box<dyn std::error::Error + Send + Sync>),
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn malformed(
        path: &std::path::Path,
        line: u64,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::Malformed {
            path: path.to_owned(),
            line,
            field: field.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn unusable(path: &std::path::Path, message: impl Into<String>) -> Self {
        Self::Unusable {
            path: path.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}
