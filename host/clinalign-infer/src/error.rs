//! Errors of model loading and inference: what went wrong and in which file.

use std::path::PathBuf;

/// Everything loading or running a model can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A model, tokenizer or config file is malformed or unsupported.
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// The model cannot run the request (e.g. a token id outside the vocabulary).
    #[error("{0}")]
    Invalid(String),
    /// Fetching a model failed.
    #[error("fetching {what}: {message}")]
    Fetch { what: String, message: String },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Error {
        Error::Format { path: path.into(), message: message.into() }
    }
}
