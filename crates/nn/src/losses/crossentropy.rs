//! Cross-entropies and the KL divergence, each returning the per-sample loss `[batch]`.
//!
//! - categorical:        `-Σ_c t_c · log p_c`, with smoothing `t ← t (1 - ε) + ε / C`
//! - sparse categorical: `-(1 - ε) log p_y - (ε / C) Σ_c log p_c` (PyTorch's smoothing)
//! - binary:             `-mean(t log p + (1 - t) log(1 - p))`, smoothing `t ← t (1 - ε) + ε / 2`;
//!   from logits x: `softplus(x) - x · t` (never takes the log of a rounded 0)
//! - kl_divergence:      `Σ_c t_c (log t_c - log p_c)`, t and p clipped to `[1e-7, 1]` (Keras)
//!
//! `log p` is computed the stable way in each case: `log_softmax` of logits; from a softmax
//! (or sigmoid) activation the logits before it are used, as Keras does; otherwise
//! probabilities are clipped to `[1e-7, 1 - 1e-7]` before the log.

use super::regression::per_sample_mean;
use nabla_core::Tensor;

/// Clip applied to probabilities before a log (Keras's `epsilon()`).
pub const EPSILON: f32 = 1e-7;

/// `log p` as `[rows, classes]` for predictions over the last axis (rows = batch, or
/// batch · positions for outputs like `[batch, T, classes]`).
pub(crate) fn log_probs(y_pred: &Tensor, from_logits: bool) -> Tensor {
    let classes = y_pred.shape().last().copied().unwrap_or(1).max(1);
    let rows = y_pred.numel() / classes;
    let logp = if from_logits {
        y_pred.log_softmax()
    } else if let Some(logits) = y_pred.softmax_input() {
        logits.log_softmax()
    } else {
        y_pred.clamp(EPSILON, 1.0 - EPSILON).log()
    };
    logp.reshape(&[rows, classes])
}

/// Row losses `[rows]` to per-sample losses `[batch]` (mean over positions).
fn per_sample(rows: Tensor, batch: usize) -> Tensor {
    per_sample_mean(&rows.reshape(&[batch, rows.numel() / batch.max(1)]))
}

/// Categorical cross-entropy against one-hot or probability targets.
pub fn categorical(y_pred: &Tensor, y_true: &Tensor, from_logits: bool, smoothing: f32) -> Tensor {
    let logp = log_probs(y_pred, from_logits);
    let classes = logp.shape()[1];
    let mut t = y_true.reshape(logp.shape());
    if smoothing > 0.0 {
        t = t
            .scale(1.0 - smoothing)
            .add_scalar(smoothing / classes as f32);
    }
    per_sample(logp.mul(&t).sum_axis(1).neg(), y_pred.shape()[0])
}

/// Sparse categorical cross-entropy against class indices.
pub fn sparse_categorical(
    y_pred: &Tensor,
    labels: &[usize],
    from_logits: bool,
    smoothing: f32,
) -> Tensor {
    let logp = log_probs(y_pred, from_logits);
    let picked = logp.pick(labels).neg();
    let rows = if smoothing == 0.0 {
        picked
    } else {
        let classes = logp.shape()[1] as f32;
        picked
            .scale(1.0 - smoothing)
            .add(&logp.sum_axis(1).scale(-smoothing / classes))
    };
    per_sample(rows, y_pred.shape()[0])
}

/// Binary cross-entropy, element-wise over the outputs, mean per sample.
pub fn binary(y_pred: &Tensor, y_true: &Tensor, from_logits: bool, smoothing: f32) -> Tensor {
    let t = if smoothing > 0.0 {
        y_true.scale(1.0 - smoothing).add_scalar(0.5 * smoothing)
    } else {
        y_true.clone()
    };
    let logits = if from_logits {
        Some(y_pred)
    } else {
        y_pred.sigmoid_input()
    };
    let v = match logits {
        Some(x) => x.softplus().sub(&x.mul(&t)),
        None => {
            let p = y_pred.clamp(EPSILON, 1.0 - EPSILON);
            let one_minus = p.neg().add_scalar(1.0);
            let pos = t.mul(&p.log());
            let neg = t.neg().add_scalar(1.0).mul(&one_minus.log());
            pos.add(&neg).neg()
        }
    };
    per_sample_mean(&v)
}

/// Kullback–Leibler divergence `KL(t ‖ p)` over the last axis.
pub fn kl_divergence(y_pred: &Tensor, y_true: &Tensor, from_logits: bool) -> Tensor {
    let logp = if from_logits || y_pred.softmax_input().is_some() {
        log_probs(y_pred, from_logits)
    } else {
        let c = y_pred.shape().last().copied().unwrap_or(1).max(1);
        y_pred
            .clamp(EPSILON, 1.0)
            .log()
            .reshape(&[y_pred.numel() / c, c])
    };
    let t = y_true.reshape(logp.shape()).clamp(EPSILON, 1.0);
    per_sample(t.mul(&t.log().sub(&logp)).sum_axis(1), y_pred.shape()[0])
}
