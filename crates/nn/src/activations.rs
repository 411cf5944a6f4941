//! Activation functions by name, as used in `activation = "relu"` and the `Activation` layer.

use nabla_core::{Tensor, UnaryOp};
use serde::{Deserialize, Serialize};

/// An activation function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `x` (no activation)
    #[default]
    Linear,
    /// `max(x, 0)`
    Relu,
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// `tanh x`
    Tanh,
    /// `e^x_i / Σ_j e^x_j` over the last axis
    Softmax,
    /// `x_i - ln Σ_j e^x_j` over the last axis
    LogSoftmax,
    /// `x · Φ(x)` (exact, PyTorch's default)
    Gelu,
}

impl Activation {
    /// Applies the function.
    pub fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Linear => x.clone(),
            Activation::Relu => x.relu(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Tanh => x.tanh(),
            Activation::Softmax => x.softmax(),
            Activation::LogSoftmax => x.log_softmax(),
            Activation::Gelu => x.gelu(),
        }
    }

    /// Applies the function to a tensor this caller owns, in place when nothing is recorded
    /// (inference), so an activation allocates nothing.
    pub fn apply_owned(self, x: Tensor) -> Tensor {
        match self {
            Activation::Linear => x,
            Activation::Relu => x.unary_owned(UnaryOp::Relu),
            Activation::Sigmoid => x.unary_owned(UnaryOp::Sigmoid),
            Activation::Tanh => x.unary_owned(UnaryOp::Tanh),
            Activation::Gelu => x.unary_owned(UnaryOp::Gelu),
            _ => self.apply(&x),
        }
    }

    /// The spec name (`"relu"`).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}
