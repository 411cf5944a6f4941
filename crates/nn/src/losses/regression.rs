//! Element-wise losses, each returning the per-sample loss `[batch]` (the mean over every
//! non-batch axis, as Keras reduces the last axis).
//!
//! With `d = y_pred - y_true`:
//! - mean_squared_error:   `d²`
//! - mean_absolute_error:  `|d|`
//! - huber (δ):            `0.5 d²` if `|d| ≤ δ`, else `δ (|d| - 0.5 δ)`
//! - log_cosh:             `ln cosh d = d + softplus(-2d) - ln 2` (stable for large `|d|`)
//! - hinge:                `max(1 - y_true · y_pred, 0)`, labels in {-1, 1} (0/1 labels are
//!   mapped to -1/1, as Keras does)

use nabla_core::Tensor;

/// Mean over every axis but the first: `[B, ..] -> [B]`.
pub(crate) fn per_sample_mean(x: &Tensor) -> Tensor {
    let b = x.shape()[0];
    x.reshape(&[b, x.numel() / b.max(1)]).mean_axis(1)
}

/// `d²` per element.
pub fn mean_squared_error(y_pred: &Tensor, y_true: &Tensor) -> Tensor {
    per_sample_mean(&y_pred.sub(y_true).square())
}

/// `|d|` per element.
pub fn mean_absolute_error(y_pred: &Tensor, y_true: &Tensor) -> Tensor {
    per_sample_mean(&y_pred.sub(y_true).abs())
}

/// Huber with threshold `delta`, as `0.5 q² + δ (|d| - q)` with `q = min(|d|, δ)`, which is
/// the two-piece formula without a branch.
pub fn huber(y_pred: &Tensor, y_true: &Tensor, delta: f32) -> Tensor {
    let a = y_pred.sub(y_true).abs();
    let q = a.clamp(0.0, delta);
    per_sample_mean(&q.square().scale(0.5).add(&a.sub(&q).scale(delta)))
}

/// `ln cosh d`.
pub fn log_cosh(y_pred: &Tensor, y_true: &Tensor) -> Tensor {
    let d = y_pred.sub(y_true);
    let v = d
        .add(&d.scale(-2.0).softplus())
        .add_scalar(-std::f32::consts::LN_2);
    per_sample_mean(&v)
}

/// `max(1 - t · y_pred, 0)`, with 0/1 targets mapped to -1/1.
pub fn hinge(y_pred: &Tensor, y_true: &Tensor) -> Tensor {
    let binary = y_true.data().iter().all(|&v| v == 0.0 || v == 1.0);
    let t = if binary {
        y_true.scale(2.0).add_scalar(-1.0)
    } else {
        y_true.clone()
    };
    per_sample_mean(&y_pred.mul(&t).neg().add_scalar(1.0).relu())
}
