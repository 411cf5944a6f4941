//! Metrics by name, as listed in `compile` and the spec's `metrics = [...]`. Their
//! computation over batches lives in `nabla-train` (`metrics.rs`).
//!
//! - accuracy: predicted class (argmax; a 0.5 threshold for one output) equals the true
//!   class, reading targets the way the loss does (index, one-hot, 0/1), as Keras's `"accuracy"`
//! - binary_accuracy / categorical_accuracy / sparse_categorical_accuracy: the explicit forms
//! - top_k_categorical_accuracy (k = 5): the true class is among the k highest outputs
//! - precision, recall, f1: for one output, of the positive class (threshold 0.5); for
//!   several classes, the macro average over classes (per-class values in the report)
//! - auc: area under the ROC curve of one output (exact, from ranks)
//! - mae, mse, rmse: regression errors over all outputs

use serde::{Deserialize, Serialize};

/// A metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Accuracy, read the way the loss reads targets.
    Accuracy,
    /// Threshold 0.5 on each output against 0/1 targets.
    BinaryAccuracy,
    /// argmax of the output against argmax of one-hot targets.
    CategoricalAccuracy,
    /// argmax of the output against class indices.
    SparseCategoricalAccuracy,
    /// The true class among the `k` highest outputs.
    TopKCategoricalAccuracy {
        /// How many classes count as a hit.
        k: usize,
    },
    /// Precision (macro over classes).
    Precision,
    /// Recall (macro over classes).
    Recall,
    /// F1 score (macro over classes).
    F1,
    /// Area under the ROC curve (one output).
    Auc,
    /// Mean absolute error.
    MeanAbsoluteError,
    /// Mean squared error.
    MeanSquaredError,
    /// Square root of the mean squared error.
    RootMeanSquaredError,
    /// `exp` of the mean cross-entropy per row (per token for a language model): as many
    /// equally likely choices as the model hesitates between (76 at chance on 76 characters).
    Perplexity,
    /// A metric registered by user code ([`crate::registry::register_metric`]), by its
    /// index in the registry.
    Custom(usize),
}

/// Every metric name a spec accepts.
pub const NAMES: &[&str] = &[
    "accuracy",
    "acc",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "precision",
    "recall",
    "f1",
    "auc",
    "mae",
    "mse",
    "rmse",
    "perplexity",
];

impl Metric {
    /// The metric called `name` (default parameters).
    pub fn from_name(name: &str) -> Option<Metric> {
        Some(match name {
            "accuracy" | "acc" => Metric::Accuracy,
            "binary_accuracy" => Metric::BinaryAccuracy,
            "categorical_accuracy" => Metric::CategoricalAccuracy,
            "sparse_categorical_accuracy" => Metric::SparseCategoricalAccuracy,
            "top_k_categorical_accuracy" => Metric::TopKCategoricalAccuracy { k: 5 },
            "precision" => Metric::Precision,
            "recall" => Metric::Recall,
            "f1" => Metric::F1,
            "auc" => Metric::Auc,
            "mae" | "mean_absolute_error" => Metric::MeanAbsoluteError,
            "mse" | "mean_squared_error" => Metric::MeanSquaredError,
            "rmse" | "root_mean_squared_error" => Metric::RootMeanSquaredError,
            "perplexity" => Metric::Perplexity,
            other => return crate::registry::metric_index(other).map(Metric::Custom),
        })
    }

    /// The name in logs and history (`accuracy`, `top_3_accuracy`).
    pub fn name(self) -> String {
        match self {
            Metric::Accuracy => "accuracy".into(),
            Metric::BinaryAccuracy => "binary_accuracy".into(),
            Metric::CategoricalAccuracy => "categorical_accuracy".into(),
            Metric::SparseCategoricalAccuracy => "sparse_categorical_accuracy".into(),
            Metric::TopKCategoricalAccuracy { k } => format!("top_{k}_accuracy"),
            Metric::Precision => "precision".into(),
            Metric::Recall => "recall".into(),
            Metric::F1 => "f1".into(),
            Metric::Auc => "auc".into(),
            Metric::MeanAbsoluteError => "mae".into(),
            Metric::MeanSquaredError => "mse".into(),
            Metric::RootMeanSquaredError => "rmse".into(),
            Metric::Perplexity => "perplexity".into(),
            Metric::Custom(i) => crate::registry::metric_name(i),
        }
    }
}

impl Serialize for Metric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match *self {
            Metric::TopKCategoricalAccuracy { k } if k != 5 => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("type", "top_k_categorical_accuracy")?;
                m.serialize_entry("k", &k)?;
                m.end()
            }
            Metric::TopKCategoricalAccuracy { .. } => s.serialize_str("top_k_categorical_accuracy"),
            other => s.serialize_str(&other.name()),
        }
    }
}

impl<'de> Deserialize<'de> for Metric {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, Visitor};
        #[derive(Clone, Copy)]
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Metric;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a metric name or { type = \"top_k_categorical_accuracy\", k = ... }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Metric, E> {
                Metric::from_name(s).ok_or_else(|| de::Error::unknown_variant(s, NAMES))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Metric, A::Error> {
                let (mut metric, mut k) = (None, None);
                while let Some(key) = m.next_key::<String>()? {
                    match key.as_str() {
                        "type" => metric = Some(self.visit_str(&m.next_value::<String>()?)?),
                        "k" => k = Some(m.next_value::<usize>()?),
                        other => return Err(de::Error::unknown_field(other, &["type", "k"])),
                    }
                }
                match (metric.ok_or_else(|| de::Error::missing_field("type"))?, k) {
                    (Metric::TopKCategoricalAccuracy { .. }, Some(k)) if k > 0 => {
                        Ok(Metric::TopKCategoricalAccuracy { k })
                    }
                    (Metric::TopKCategoricalAccuracy { .. }, Some(k)) => Err(de::Error::custom(
                        format!("k: expected a positive integer, received {k}"),
                    )),
                    (m, None) => Ok(m),
                    (m, Some(_)) => Err(de::Error::custom(format!(
                        "metric '{}' takes no parameter 'k'",
                        m.name()
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}
