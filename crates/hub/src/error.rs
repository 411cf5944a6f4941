//! Errors of reading a Hugging Face model folder.

use std::path::PathBuf;

/// A model folder that cannot be read, or does not fit what nabla builds.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file that cannot be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file whose content is not what its format says, or a model nabla does not build:
    /// the message names the file, the field or tensor, the expected and the received value.
    #[error("{0}")]
    Format(String),
    /// From building or running the nabla model.
    #[error(transparent)]
    Model(#[from] nabla_nn::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Reads a whole file, naming it on failure.
pub(crate) fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
