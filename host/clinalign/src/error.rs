//! Errors of the engine, as data: what went wrong and where.

use std::path::PathBuf;

/// Everything the engine's API can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    /// A manifest, `dimensions.toml` or another input file is malformed. The message starts
    /// with `file:line:` where a line is known.
    #[error("{0}")]
    Invalid(String),
    /// Building plugin crates with cargo failed; `log` holds the end of cargo's output.
    #[error("building plugin crates ({crates}) in {dir}: {message}\n{log}")]
    Build { dir: PathBuf, crates: String, message: String, log: String },
    /// A principle written in Python did not build: `file` is the Python file the error is
    /// in (the principle's module or one it imports), `line` its line when Python named
    /// one, `log` Python's excerpt of the source (or componentize-py's last lines).
    #[error("{}{}: {message}\n{log}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    PythonBuild { file: PathBuf, line: Option<u32>, message: String, log: String },
    /// The WebAssembly engine could not be set up.
    #[error("wasm engine: {0}")]
    Wasm(String),
    /// A query is not usable (e.g. a label outside the dimension vocabulary).
    #[error("query {id}: {message}")]
    Query { id: String, message: String },
    /// A new principle set was built but did not pass; the live set is unchanged.
    #[error("principle set rejected: {0}")]
    Rejected(String),
    /// The file watcher could not be started.
    #[error("watching {path}: {message}")]
    Watch { path: PathBuf, message: String },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), cause: source }
    }

    /// A copy of this error (`std::io::Error` is not `Clone`; its kind and message are kept).
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Io { path, cause } => {
                Error::Io { path: path.clone(), cause: std::io::Error::new(cause.kind(), cause.to_string()) }
            }
            Error::Invalid(m) => Error::Invalid(m.clone()),
            Error::Build { dir, crates, message, log } => {
                Error::Build { dir: dir.clone(), crates: crates.clone(), message: message.clone(), log: log.clone() }
            }
            Error::PythonBuild { file, line, message, log } => {
                Error::PythonBuild { file: file.clone(), line: *line, message: message.clone(), log: log.clone() }
            }
            Error::Wasm(m) => Error::Wasm(m.clone()),
            Error::Query { id, message } => Error::Query { id: id.clone(), message: message.clone() },
            Error::Rejected(m) => Error::Rejected(m.clone()),
            Error::Watch { path, message } => Error::Watch { path: path.clone(), message: message.clone() },
        }
    }
}
