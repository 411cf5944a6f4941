//! Errors of reading and shaping data; messages name the file or field, the expected and the
//! received value.

/// A data error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file cannot be read or is not what it claims to be.
    #[error("{path}: {msg}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// Data of the wrong size or shape.
    #[error("{0}")]
    Shape(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
