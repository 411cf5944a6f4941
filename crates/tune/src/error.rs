//! The tuner's errors: each names the thing, what was expected and what was received.

/// What can go wrong in a search.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `[tune]` table or a search space is not valid.
    #[error("{0}")]
    Config(String),
    /// A spec built from a trial's values, or its training, failed for the whole search.
    #[error(transparent)]
    Train(#[from] nabla_train::Error),
    /// Reading or writing the search's files.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    /// `what`: expected `expected`, received `received`.
    pub fn config(
        what: impl std::fmt::Display,
        expected: &str,
        received: impl std::fmt::Display,
    ) -> Error {
        Error::Config(format!("{what}: expected {expected}, received {received}"))
    }
}

/// The tuner's result type.
pub type Result<T> = std::result::Result<T, Error>;
