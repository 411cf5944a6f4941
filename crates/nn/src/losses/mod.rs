//! Losses, by name: each is a function returning the per-sample loss `[batch]`
//! (`regression.rs`, `crossentropy.rs`); `LossSpec` picks one with its options and reduces
//! it to the training loss, the mean over the batch, optionally weighted per sample:
//!
//! Formula: `loss = (1/B) Σ_b w_b · ℓ(y_pred_b, y_true_b)` (`w_b = 1` without weights; Keras's
//! `sum_over_batch_size`, so class weights scale a sample's pull, not the batch size).

pub mod crossentropy;
pub mod regression;

use crate::error::{Error, Result};
use nabla_core::Tensor;
use serde::{Deserialize, Serialize};

/// A loss function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Mean squared error (`"mse"` also accepted).
    #[serde(alias = "mse")]
    MeanSquaredError,
    /// Mean absolute error (`"mae"` also accepted).
    #[serde(alias = "mae")]
    MeanAbsoluteError,
    /// Huber loss (quadratic within `delta`, linear outside).
    Huber,
    /// `ln cosh(y_pred - y_true)`.
    LogCosh,
    /// Cross-entropy of independent yes/no outputs, targets in [0, 1].
    BinaryCrossentropy,
    /// Cross-entropy against one-hot (or probability) targets `[batch, classes]`.
    CategoricalCrossentropy,
    /// Cross-entropy against class indices `[batch]`.
    SparseCategoricalCrossentropy,
    /// Kullback–Leibler divergence of the prediction from target distributions.
    #[serde(alias = "kld")]
    KlDivergence,
    /// Hinge loss, targets in {-1, 1} (or 0/1).
    Hinge,
    /// A loss registered by user code ([`crate::registry::register_loss`]), named in
    /// [`LossSpec::registered_name`].
    Custom,
}

/// Every loss name a spec accepts (aliases included).
pub const NAMES: &[&str] = &[
    "mean_squared_error",
    "mse",
    "mean_absolute_error",
    "mae",
    "huber",
    "log_cosh",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "kl_divergence",
    "kld",
    "hinge",
];

impl Loss {
    /// This loss on logits (`from_logits = true`).
    pub fn from_logits(self) -> LossSpec {
        LossSpec {
            from_logits: true,
            ..self.into()
        }
    }

    /// This loss with default options.
    pub fn into_spec(self) -> LossSpec {
        self.into()
    }

    /// The spec name.
    pub fn name(self) -> &'static str {
        match self {
            Loss::MeanSquaredError => "mean_squared_error",
            Loss::MeanAbsoluteError => "mean_absolute_error",
            Loss::Huber => "huber",
            Loss::LogCosh => "log_cosh",
            Loss::BinaryCrossentropy => "binary_crossentropy",
            Loss::CategoricalCrossentropy => "categorical_crossentropy",
            Loss::SparseCategoricalCrossentropy => "sparse_categorical_crossentropy",
            Loss::KlDivergence => "kl_divergence",
            Loss::Hinge => "hinge",
            Loss::Custom => "custom",
        }
    }

    /// Whether the loss reads probabilities or logits (and so takes `from_logits`).
    pub fn is_probabilistic(self) -> bool {
        matches!(
            self,
            Loss::BinaryCrossentropy
                | Loss::CategoricalCrossentropy
                | Loss::SparseCategoricalCrossentropy
                | Loss::KlDivergence
        )
    }
}

/// A loss with its options: `loss = "mse"` or
/// `loss = { type = "categorical_crossentropy", from_logits = true, label_smoothing = 0.1 }`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LossSpec {
    /// Which loss.
    #[serde(rename = "type")]
    pub kind: Loss,
    /// Whether `y_pred` holds logits rather than probabilities (cross-entropies, KL).
    pub from_logits: bool,
    /// Label smoothing ε in [0, 1) (the three cross-entropies).
    pub label_smoothing: f32,
    /// Huber's threshold δ > 0 (default 1, as Keras and PyTorch).
    pub delta: f32,
    /// The registered name of a custom loss (`type = "custom"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_name: Option<String>,
}

impl From<Loss> for LossSpec {
    fn from(kind: Loss) -> Self {
        LossSpec {
            kind,
            from_logits: false,
            label_smoothing: 0.0,
            delta: 1.0,
            registered_name: None,
        }
    }
}

impl LossSpec {
    /// A loss registered by user code under `name`.
    pub fn custom(name: &str) -> LossSpec {
        LossSpec {
            registered_name: Some(name.to_string()),
            ..Loss::Custom.into()
        }
    }
}

impl<'de> Deserialize<'de> for LossSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::{self, value::StrDeserializer, MapAccess, Visitor};
        const FIELDS: &[&str] = &[
            "type",
            "from_logits",
            "label_smoothing",
            "delta",
            "registered_name",
        ];
        /// A loss by name: ours, or one registered by user code.
        fn named<E: de::Error>(s: &str) -> std::result::Result<LossSpec, E> {
            if crate::registry::is_registered_loss(s) {
                return Ok(LossSpec::custom(s));
            }
            Loss::deserialize(StrDeserializer::<E>::new(s))
                .map(LossSpec::from)
                .map_err(|_| de::Error::unknown_variant(s, NAMES))
        }
        #[derive(Clone, Copy)]
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LossSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a loss name or a table { type = \"...\", from_logits = ... }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<LossSpec, E> {
                let spec = named::<E>(s)?;
                if spec.kind == Loss::Custom && spec.registered_name.is_none() {
                    return Err(de::Error::missing_field("registered_name"));
                }
                Ok(spec)
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<LossSpec, A::Error> {
                let mut spec: Option<LossSpec> = None;
                let (mut from_logits, mut smoothing, mut delta) = (None, None, None);
                let mut registered: Option<String> = None;
                while let Some(key) = m.next_key::<String>()? {
                    match key.as_str() {
                        "type" => spec = Some(named(&m.next_value::<String>()?)?),
                        "from_logits" => from_logits = Some(m.next_value()?),
                        "label_smoothing" => smoothing = Some(m.next_value()?),
                        "delta" => delta = Some(m.next_value()?),
                        "registered_name" => registered = Some(m.next_value()?),
                        other => return Err(de::Error::unknown_field(other, FIELDS)),
                    }
                }
                let mut spec = spec.ok_or_else(|| de::Error::missing_field("type"))?;
                if spec.kind == Loss::Custom && spec.registered_name.is_none() {
                    // a saved custom loss: `{ type = "custom", registered_name = "..." }`
                    let name =
                        registered.ok_or_else(|| de::Error::missing_field("registered_name"))?;
                    if !crate::registry::is_registered_loss(&name) {
                        return Err(de::Error::custom(format!(
                            "loss '{name}' is not registered (nabla::nn::registry::register_loss)"
                        )));
                    }
                    spec.registered_name = Some(name);
                }
                spec.from_logits = from_logits.unwrap_or(false);
                spec.label_smoothing = smoothing.unwrap_or(0.0);
                spec.delta = delta.unwrap_or(1.0);
                Ok(spec)
            }
        }
        d.deserialize_any(V)
    }
}

impl LossSpec {
    /// Sets label smoothing.
    pub fn label_smoothing(mut self, eps: f32) -> LossSpec {
        self.label_smoothing = eps;
        self
    }

    /// Sets Huber's δ.
    pub fn delta(mut self, delta: f32) -> LossSpec {
        self.delta = delta;
        self
    }

    /// Rejects option combinations that mean nothing.
    pub fn validate(&self) -> Result<()> {
        let name = self.kind.name();
        if self.kind == Loss::Custom {
            // checked here, so `per_sample` never meets an unregistered name
            let r = self.registered_name.as_deref().unwrap_or("");
            if !crate::registry::is_registered_loss(r) {
                return Err(Error::config(
                    "custom loss",
                    "a name registered with register_loss",
                    format!("'{r}'"),
                ));
            }
        }
        if self.from_logits && !self.kind.is_probabilistic() {
            return Err(Error::config(
                format!("from_logits of {name}"),
                "false (only cross-entropies and kl_divergence take logits)",
                true,
            ));
        }
        let smoothing_ok = matches!(
            self.kind,
            Loss::BinaryCrossentropy
                | Loss::CategoricalCrossentropy
                | Loss::SparseCategoricalCrossentropy
        );
        if self.label_smoothing != 0.0 && !smoothing_ok {
            return Err(Error::config(
                format!("label_smoothing of {name}"),
                "0 (only cross-entropies smooth labels)",
                self.label_smoothing,
            ));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(Error::config(
                format!("label_smoothing of {name}"),
                "a number in [0, 1)",
                self.label_smoothing,
            ));
        }
        if !(self.delta > 0.0 && self.delta.is_finite()) {
            return Err(Error::config(
                format!("delta of {name}"),
                "a positive number",
                self.delta,
            ));
        }
        Ok(())
    }

    /// Checks targets before training: `y` holds samples of `y_shape` for a model whose
    /// per-sample output is `out_shape`. Names the first bad value.
    pub fn check_targets(&self, y: &[f32], y_shape: &[usize], out_shape: &[usize]) -> Result<()> {
        if self.kind == Loss::Custom {
            return Ok(()); // a custom loss reads targets its own way
        }
        let classes = out_shape.last().copied().unwrap_or(1);
        let name = self.kind.name();
        if self.kind == Loss::SparseCategoricalCrossentropy {
            // one class index per row of outputs: [] for an output [C], [T] for [T, C]
            let positions = &out_shape[..out_shape.len().saturating_sub(1)];
            let fits = y_shape == positions || (positions.is_empty() && y_shape == [1]);
            if !fits {
                return Err(Error::Targets(format!(
                    "{name} expects one class index per output row, targets of shape {positions:?} for outputs {out_shape:?}, received targets of shape {y_shape:?}"
                )));
            }
            if let Some((i, v)) = y
                .iter()
                .enumerate()
                .find(|(_, &v)| v < 0.0 || v.fract() != 0.0 || v as usize >= classes)
            {
                return Err(Error::Targets(format!(
                    "label {v} of sample {i} is out of range for {name}: expected an integer in [0, {}], the model has {classes} outputs",
                    classes - 1
                )));
            }
            return Ok(());
        }
        if y_shape != out_shape {
            let hint = if self.kind == Loss::CategoricalCrossentropy && y_shape.is_empty() {
                " (class indices: use sparse_categorical_crossentropy, or one-hot encode the labels)"
            } else {
                ""
            };
            return Err(Error::Targets(format!(
                "{name} expects targets shaped like the model output {out_shape:?}, received {y_shape:?}{hint}"
            )));
        }
        if self.kind == Loss::BinaryCrossentropy {
            if let Some((i, v)) = y
                .iter()
                .enumerate()
                .find(|(_, v)| !(0.0..=1.0).contains(*v))
            {
                let n: usize = out_shape.iter().product();
                return Err(Error::Targets(format!(
                    "target {v} of sample {} is out of range for {name}: expected a value in [0, 1]",
                    i / n.max(1)
                )));
            }
        }
        Ok(())
    }

    /// The loss of each sample, `[batch]`.
    pub fn per_sample(&self, y_pred: &Tensor, y_true: &Tensor) -> Tensor {
        let (logits, eps) = (self.from_logits, self.label_smoothing);
        match self.kind {
            Loss::MeanSquaredError => regression::mean_squared_error(y_pred, y_true),
            Loss::MeanAbsoluteError => regression::mean_absolute_error(y_pred, y_true),
            Loss::Huber => regression::huber(y_pred, y_true, self.delta),
            Loss::LogCosh => regression::log_cosh(y_pred, y_true),
            Loss::Hinge => regression::hinge(y_pred, y_true),
            Loss::BinaryCrossentropy => crossentropy::binary(y_pred, y_true, logits, eps),
            Loss::CategoricalCrossentropy => crossentropy::categorical(y_pred, y_true, logits, eps),
            Loss::SparseCategoricalCrossentropy => {
                let labels: Vec<usize> = y_true.data().iter().map(|&v| v as usize).collect();
                crossentropy::sparse_categorical(y_pred, &labels, logits, eps)
            }
            Loss::KlDivergence => crossentropy::kl_divergence(y_pred, y_true, logits),
            Loss::Custom => {
                let name = self.registered_name.as_deref().unwrap_or("");
                crate::registry::custom_loss(name)(y_pred, y_true)
            }
        }
    }

    /// The mean loss over the batch: `y_pred` `[batch, ..]`, `y_true` the matching targets.
    pub fn compute(&self, y_pred: &Tensor, y_true: &Tensor) -> Tensor {
        self.per_sample(y_pred, y_true).mean()
    }

    /// `(1/B) Σ_b w_b ℓ_b` with per-sample weights `w` `[batch]`.
    pub fn compute_weighted(&self, y_pred: &Tensor, y_true: &Tensor, weights: &Tensor) -> Tensor {
        let l = self.per_sample(y_pred, y_true);
        l.mul(weights).sum().scale(1.0 / l.numel().max(1) as f32)
    }
}
