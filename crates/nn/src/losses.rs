//! Losses, by name, computed as the mean over the batch.
//!
//! - mean_squared_error:  Formula: `loss = mean((y_pred - y_true)²)`
//! - categorical_crossentropy: Formula: `loss = -mean_b Σ_c y_true[b,c] · log p[b,c]`
//! - sparse_categorical_crossentropy: Formula: `loss = -mean_b log p[b, y_true[b]]`
//!
//! where `p = softmax(y_pred)` when `from_logits`, else `p = y_pred`. Cross-entropies are
//! numerically stable either way: with logits they use `log_softmax`; on probabilities that
//! came from a softmax activation they go back to its logits (as Keras does); on other
//! probabilities they clip to `[1e-7, 1 - 1e-7]` before the log.

use crate::error::{Error, Result};
use nabla_core::Tensor;
use serde::{Deserialize, Serialize};

/// Clip applied to probabilities before a log (Keras's `epsilon()`).
const EPSILON: f32 = 1e-7;

/// A loss function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Mean squared error (`"mse"` also accepted).
    #[serde(alias = "mse")]
    MeanSquaredError,
    /// Cross-entropy against one-hot (or probability) targets `[batch, classes]`.
    CategoricalCrossentropy,
    /// Cross-entropy against class indices `[batch]`.
    SparseCategoricalCrossentropy,
}

impl Loss {
    /// This loss on logits (`from_logits = true`).
    pub fn from_logits(self) -> LossSpec {
        LossSpec {
            kind: self,
            from_logits: true,
        }
    }

    /// This loss on probabilities (`from_logits = false`).
    pub fn into_spec(self) -> LossSpec {
        self.into()
    }

    /// The spec name.
    pub fn name(self) -> &'static str {
        match self {
            Loss::MeanSquaredError => "mean_squared_error",
            Loss::CategoricalCrossentropy => "categorical_crossentropy",
            Loss::SparseCategoricalCrossentropy => "sparse_categorical_crossentropy",
        }
    }
}

/// A loss with its options: `loss = "mse"` or `loss = { type = "...", from_logits = true }`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LossSpec {
    /// Which loss.
    #[serde(rename = "type")]
    pub kind: Loss,
    /// Whether `y_pred` holds logits rather than probabilities (cross-entropies only).
    pub from_logits: bool,
}

impl<'de> Deserialize<'de> for LossSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::{self, value::StrDeserializer, MapAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LossSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a loss name or a table { type = \"...\", from_logits = ... }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<LossSpec, E> {
                let kind = Loss::deserialize(StrDeserializer::<E>::new(s))?;
                Ok(kind.into())
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<LossSpec, A::Error> {
                let (mut kind, mut from_logits) = (None, false);
                while let Some(key) = m.next_key::<String>()? {
                    match key.as_str() {
                        "type" => kind = Some(m.next_value::<Loss>()?),
                        "from_logits" => from_logits = m.next_value()?,
                        other => {
                            return Err(de::Error::unknown_field(other, &["type", "from_logits"]))
                        }
                    }
                }
                let kind = kind.ok_or_else(|| de::Error::missing_field("type"))?;
                Ok(LossSpec { kind, from_logits })
            }
        }
        d.deserialize_any(V)
    }
}

impl From<Loss> for LossSpec {
    fn from(kind: Loss) -> Self {
        LossSpec {
            kind,
            from_logits: false,
        }
    }
}

impl LossSpec {
    /// Rejects option combinations that mean nothing.
    pub fn validate(&self) -> Result<()> {
        if self.from_logits && self.kind == Loss::MeanSquaredError {
            return Err(Error::config(
                "from_logits of mean_squared_error",
                "false (only cross-entropies take logits)",
                true,
            ));
        }
        Ok(())
    }

    /// Checks targets before training: `y` holds `n` samples of `y_shape` for a model whose
    /// per-sample output is `out_shape`. Names the first bad value.
    pub fn check_targets(&self, y: &[f32], y_shape: &[usize], out_shape: &[usize]) -> Result<()> {
        let classes = out_shape.last().copied().unwrap_or(1);
        match self.kind {
            Loss::SparseCategoricalCrossentropy => {
                if !(y_shape.is_empty() || y_shape == [1]) {
                    return Err(Error::Targets(format!(
                        "sparse_categorical_crossentropy expects one class index per sample, received targets of shape {y_shape:?}"
                    )));
                }
                if let Some((i, v)) = y
                    .iter()
                    .enumerate()
                    .find(|(_, &v)| v < 0.0 || v.fract() != 0.0 || v as usize >= classes)
                {
                    return Err(Error::Targets(format!(
                        "label {v} of sample {i} is out of range for sparse_categorical_crossentropy: expected an integer in [0, {}], the model has {classes} outputs",
                        classes - 1
                    )));
                }
            }
            Loss::CategoricalCrossentropy | Loss::MeanSquaredError => {
                if y_shape != out_shape {
                    let hint = if self.kind == Loss::CategoricalCrossentropy && y_shape.is_empty() {
                        " (class indices: use sparse_categorical_crossentropy, or one-hot encode the labels)"
                    } else {
                        ""
                    };
                    return Err(Error::Targets(format!(
                        "{} expects targets shaped like the model output {out_shape:?}, received {y_shape:?}{hint}",
                        self.kind.name()
                    )));
                }
            }
        }
        Ok(())
    }

    /// The mean loss over the batch: `y_pred` `[batch, ..]`, `y_true` the matching targets.
    pub fn compute(&self, y_pred: &Tensor, y_true: &Tensor) -> Tensor {
        let batch = y_pred.shape()[0];
        match self.kind {
            Loss::MeanSquaredError => y_pred.sub(y_true).square().mean(),
            Loss::SparseCategoricalCrossentropy => {
                let labels: Vec<usize> = y_true.data().iter().map(|&v| v as usize).collect();
                self.log_probs(y_pred).nll(&labels)
            }
            Loss::CategoricalCrossentropy => {
                let logp = self.log_probs(y_pred);
                let t = y_true.reshape(logp.shape());
                logp.mul(&t).sum().scale(-1.0 / batch as f32)
            }
        }
    }

    /// `log p` as `[batch, classes]`, the stable way for each case (see the module docs).
    fn log_probs(&self, y_pred: &Tensor) -> Tensor {
        let batch = y_pred.shape()[0];
        let classes = y_pred.numel() / batch.max(1);
        let logp = if self.from_logits {
            y_pred.log_softmax()
        } else if let Some(logits) = y_pred.softmax_input() {
            logits.log_softmax()
        } else {
            y_pred.clamp(EPSILON, 1.0 - EPSILON).log()
        };
        logp.reshape(&[batch, classes])
    }
}
