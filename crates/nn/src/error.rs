//! The error of everything a user can get wrong in `nabla-nn`: configs, shapes at build time,
//! labels, model files. Messages name the thing, the expected and the received value.

use std::path::PathBuf;

/// An error from building, compiling, saving or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A layer cannot take the shape it is given.
    #[error(
        "layer '{layer}' cannot take its input: expected {expected}, received shape {received:?}"
    )]
    Shape {
        /// The layer's name.
        layer: String,
        /// What the layer accepts.
        expected: String,
        /// The per-sample shape it was given.
        received: Vec<usize>,
    },
    /// A configuration value is invalid.
    #[error("invalid {what}: expected {expected}, received {received}")]
    Config {
        /// The field or option.
        what: String,
        /// What is allowed.
        expected: String,
        /// What was given.
        received: String,
    },
    /// Targets (labels) do not fit the loss or the model's output.
    #[error("{0}")]
    Targets(String),
    /// A model file is missing, unreadable or not a nabla model.
    #[error("model file {path}: {msg}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// The layers of a model do not form a valid graph (unknown names, a cycle, a layer or
    /// input that leads to no output, shapes that do not meet at a merge).
    #[error("model graph: {0}")]
    Graph(String),
    /// The model was used before `compile`.
    #[error("the model is not compiled: call compile(optimizer, loss, metrics) first")]
    NotCompiled,
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A [`Error::Config`] from displayable parts.
    pub fn config(
        what: impl Into<String>,
        expected: impl Into<String>,
        received: impl std::fmt::Display,
    ) -> Error {
        Error::Config {
            what: what.into(),
            expected: expected.into(),
            received: received.to_string(),
        }
    }

    /// A [`Error::File`] for `path`.
    pub fn file(path: impl Into<PathBuf>, msg: impl Into<String>) -> Error {
        Error::File {
            path: path.into(),
            msg: msg.into(),
        }
    }
}
