//! `PerOutput`: one setting for every output of a model, or one per output by name (Keras's
//! `loss={"main": ..., "aux": ...}`, `loss_weights`, `metrics`).
//!
//! `loss = "mse"` or `loss = { type = "huber", delta = 2.0 }` is one loss for every output;
//! `loss = { main = "sparse_categorical_crossentropy", aux = "mse" }` (a table without `type`)
//! names one per output.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One value for every output, or one per output name.
#[derive(Clone, Debug, PartialEq)]
pub enum PerOutput<T> {
    /// The same for every output.
    All(T),
    /// By output name, in the order given.
    Each(Vec<(String, T)>),
}

impl<T: Default> Default for PerOutput<T> {
    fn default() -> Self {
        PerOutput::All(T::default())
    }
}

impl<T> From<T> for PerOutput<T> {
    fn from(v: T) -> Self {
        PerOutput::All(v)
    }
}

impl From<crate::losses::Loss> for PerOutput<crate::losses::LossSpec> {
    fn from(l: crate::losses::Loss) -> Self {
        PerOutput::All(l.into())
    }
}

impl<T: Clone> PerOutput<T> {
    /// The value of each output, in the model's output order; every name must be an output,
    /// and an output without a value takes `missing` (an error when `None`). `what` names the
    /// setting in errors (`loss`).
    pub fn resolve(&self, outputs: &[&str], what: &str, missing: Option<T>) -> Result<Vec<T>> {
        match self {
            PerOutput::All(v) => Ok(vec![v.clone(); outputs.len()]),
            PerOutput::Each(by_name) => {
                if let Some((n, _)) = by_name.iter().find(|(n, _)| !outputs.contains(&n.as_str())) {
                    return Err(Error::config(
                        format!("{what} for output '{n}'"),
                        format!("an output of the model ({})", outputs.join(", ")),
                        n,
                    ));
                }
                outputs
                    .iter()
                    .map(|o| {
                        let found = by_name.iter().find(|(n, _)| n == o).map(|(_, v)| v.clone());
                        found.or_else(|| missing.clone()).ok_or_else(|| {
                            Error::config(
                                what,
                                format!("one for every output ({})", outputs.join(", ")),
                                format!("none for '{o}'"),
                            )
                        })
                    })
                    .collect()
            }
        }
    }
}

impl<T: Serialize> Serialize for PerOutput<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            PerOutput::All(v) => v.serialize(s),
            PerOutput::Each(by_name) => {
                let mut m = s.serialize_map(Some(by_name.len()))?;
                for (k, v) in by_name {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for PerOutput<T> {
    /// A table without a `type` key is per output; anything else is one value for all.
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let v = serde_json::Value::deserialize(d)?;
        let one = |v: serde_json::Value| serde_json::from_value::<T>(v).map_err(D::Error::custom);
        match v {
            serde_json::Value::Object(m) if !m.contains_key("type") => {
                let each = m
                    .into_iter()
                    .map(|(k, v)| {
                        let t = serde_json::from_value::<T>(v)
                            .map_err(|e| D::Error::custom(format!("output '{k}': {e}")))?;
                        Ok((k, t))
                    })
                    .collect::<std::result::Result<Vec<_>, D::Error>>()?;
                Ok(PerOutput::Each(each))
            }
            other => one(other).map(PerOutput::All),
        }
    }
}
