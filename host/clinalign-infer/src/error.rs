//! Errors of model loading and inference: what went wrong and in which file.

use std::path::PathBuf;

/// Everything loading or running a model can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read. The cause is part of the message (not a separate source,
    /// so that error chains do not print it twice).
    #[error("{path}: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    /// A model, tokenizer or config file is malformed or unsupported.
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// The model cannot run the request (e.g. a token id outside the vocabulary).
    #[error("{0}")]
    Invalid(String),
    /// The model cannot do what was asked (e.g. judge without single-token "yes"/"no").
    #[error("{0}")]
    Unsupported(String),
    /// Fetching a model failed.
    #[error("fetching {what}: {message}")]
    Fetch { what: String, message: String },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), cause: source }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Error {
        Error::Format { path: path.into(), message: message.into() }
    }
}

impl From<Error> for clinalign_core::ModelError {
    fn from(e: Error) -> Self {
        use clinalign_core::ModelError;
        match e {
            Error::Invalid(m) => ModelError::Invalid(m),
            Error::Unsupported(m) => ModelError::Unsupported(m),
            other => ModelError::Failed(other.to_string()),
        }
    }
}
