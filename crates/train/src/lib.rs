//! nabla-train: `fit`, `evaluate` and `predict` for any [`Model`](nabla_nn::Model) (the
//! [`Training`] extension trait), the [`History`], Keras-style progress, and the TOML [`Spec`]
//! that drives the CLI.

pub mod error;
pub mod fit;
pub mod history;
pub mod logs;
pub mod metrics;
pub mod progress;
pub mod spec;
pub mod trainer;
pub mod weights;

pub use error::{Error, Result};
pub use fit::Fit;
pub use history::History;
pub use logs::Logs;
pub use spec::Spec;
pub use trainer::Training;
