//! Errors of training and of reading specs.

/// A training or spec error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From building, compiling, saving or loading the model.
    #[error(transparent)]
    Model(#[from] nabla_nn::Error),
    /// From reading or shaping data.
    #[error(transparent)]
    Data(#[from] nabla_data::Error),
    /// The loss became NaN or infinite.
    #[error("the loss is {value} at epoch {epoch}, step {step}: training stopped (lower the learning rate, or check the data for NaN or huge values)")]
    NonFinite {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
        /// The loss value.
        value: f32,
    },
    /// The loss grew by orders of magnitude: training diverged without reaching NaN.
    #[error("the loss grew from {first} at the first step to {value} at epoch {epoch}, step {step} (more than {factor:e} times): training diverged and stopped (lower the learning rate)")]
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
        /// The loss at that step.
        value: f32,
        /// The loss at the first step of `fit`.
        first: f32,
        /// The growth that counts as divergence.
        factor: f32,
    },
    /// A spec file is malformed or inconsistent.
    #[error("{0}")]
    Spec(String),
    /// Bad input to `fit`, `evaluate` or `predict`.
    #[error("{0}")]
    Input(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
