//! Metrics reported by `fit` and `evaluate` besides the loss.
//!
//! accuracy: the fraction of samples whose predicted class (argmax) equals the true class,
//! read the way the loss reads targets (class index, one-hot, or for a single output a
//! 0.5 threshold), as Keras's `"accuracy"` does.

use crate::losses::Loss;
use nabla_core::cpu::reduce::argmax_rows;
use nabla_core::Tensor;
use serde::{Deserialize, Serialize};

/// A metric, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Fraction of correct predictions (`"acc"` also accepted).
    #[serde(alias = "acc")]
    Accuracy,
}

impl Metric {
    /// The name in logs and history (`accuracy`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
        }
    }

    /// `(sum, count)` over a batch, so batches can be combined exactly.
    pub fn batch_total(self, loss: Loss, y_pred: &Tensor, y_true: &Tensor) -> (f64, usize) {
        match self {
            Metric::Accuracy => {
                let batch = y_pred.shape()[0];
                let classes = y_pred.numel() / batch.max(1);
                let pred: Vec<usize> = if classes == 1 {
                    y_pred.data().iter().map(|&p| (p > 0.5) as usize).collect()
                } else {
                    argmax_rows(y_pred.data(), classes)
                };
                let truth: Vec<usize> = match loss {
                    Loss::SparseCategoricalCrossentropy => {
                        y_true.data().iter().map(|&v| v as usize).collect()
                    }
                    _ if classes == 1 => {
                        y_true.data().iter().map(|&v| (v > 0.5) as usize).collect()
                    }
                    _ => argmax_rows(y_true.data(), classes),
                };
                let correct = pred.iter().zip(&truth).filter(|(a, b)| a == b).count();
                (correct as f64, batch)
            }
        }
    }
}
