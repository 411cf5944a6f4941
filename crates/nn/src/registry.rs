//! Custom layers from user code (Keras's `register_keras_serializable`): a type implemented
//! outside nabla, registered under a `type` name, builds from a spec, saves and loads like
//! ours. Its config is any serde struct. A spec writes `{ type = "<name>", ..fields }`; a
//! saved model stores `{ "type": "custom", "registered_name": "<name>", ..fields }` (also
//! accepted in a spec).
//!
//! ```
//! # use nabla_nn::{registry, Layer, LayerConfig, Ctx, Result};
//! # use nabla_core::{Rng, Tensor};
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct ScaleConfig { factor: f32, name: Option<String> }
//! struct Scale(ScaleConfig);
//! impl Layer for Scale {
//!     fn name(&self) -> &str { self.0.name.as_deref().unwrap_or("scale") }
//!     fn set_name(&mut self, n: String) { self.0.name = Some(n) }
//!     fn config(&self) -> LayerConfig { LayerConfig::custom("scale", &self.0) }
//!     fn build(&mut self, input: &[usize], _: &mut Rng) -> Result<Vec<usize>> { Ok(input.to_vec()) }
//!     fn forward(&self, x: &Tensor, _: &mut Ctx) -> Tensor { x.scale(self.0.factor) }
//! }
//! registry::register_layer("scale", Scale).unwrap();
//! ```

use crate::error::{Error, Result};
use crate::layer::Layer;
use nabla_core::Tensor;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

type Factory = Arc<dyn Fn(Value) -> Result<Box<dyn Layer>> + Send + Sync>;

static LAYERS: RwLock<BTreeMap<String, Factory>> = RwLock::new(BTreeMap::new());

/// Registers a layer type: `make` turns its config (deserialised from the layer's table, less
/// `type`) into the layer. A name of ours, or one registered before, is an error.
pub fn register_layer<C, L>(
    type_name: &str,
    make: impl Fn(C) -> L + Send + Sync + 'static,
) -> Result<()>
where
    C: DeserializeOwned,
    L: Layer + 'static,
{
    if crate::config::LAYER_TYPES.contains(&type_name) {
        return Err(Error::config(
            "custom layer type",
            "a name nabla does not use",
            type_name,
        ));
    }
    let owned = type_name.to_string();
    let factory: Factory = Arc::new(move |v: Value| {
        let cfg: C = serde_json::from_value(v)
            .map_err(|e| Error::config(format!("layer of type '{owned}'"), "its config", e))?;
        Ok(Box::new(make(cfg)) as Box<dyn Layer>)
    });
    let mut map = LAYERS.write().unwrap_or_else(|e| e.into_inner());
    if map.contains_key(type_name) {
        return Err(Error::config(
            "custom layer type",
            "a name registered once",
            type_name,
        ));
    }
    map.insert(type_name.to_string(), factory);
    Ok(())
}

/// Whether `type_name` is a registered custom layer.
pub fn is_registered(type_name: &str) -> bool {
    LAYERS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .contains_key(type_name)
}

/// A custom loss: the loss of each sample, `[batch]`, from `(y_pred, y_true)`.
pub type LossFn = Arc<dyn Fn(&Tensor, &Tensor) -> Tensor + Send + Sync>;

static LOSSES: RwLock<BTreeMap<String, LossFn>> = RwLock::new(BTreeMap::new());

/// Registers a loss (Keras's custom loss function): `per_sample(y_pred, y_true)` gives each
/// sample's loss, `[batch]`, built from tensor ops so it has gradients; `fit` takes the mean
/// (weighted per sample when asked). Specs name it like ours (`loss = "name"`); a saved model
/// stores `{ type = "custom", registered_name = "name" }`. Our loss names are refused.
pub fn register_loss(
    name: &str,
    per_sample: impl Fn(&Tensor, &Tensor) -> Tensor + Send + Sync + 'static,
) -> Result<()> {
    if crate::losses::NAMES.contains(&name) || name == "custom" {
        return Err(Error::config(
            "custom loss name",
            "a name nabla does not use",
            name,
        ));
    }
    let mut map = LOSSES.write().unwrap_or_else(|e| e.into_inner());
    if map.contains_key(name) {
        return Err(Error::config(
            "custom loss name",
            "a name registered once",
            name,
        ));
    }
    map.insert(name.to_string(), Arc::new(per_sample));
    Ok(())
}

/// Whether `name` is a registered loss.
pub fn is_registered_loss(name: &str) -> bool {
    LOSSES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .contains_key(name)
}

/// The registered loss `name`. Only specs that passed registration checks reach here.
pub(crate) fn custom_loss(name: &str) -> LossFn {
    LOSSES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("loss '{name}' was registered when the spec was read"))
}

/// A custom metric: one batch's value from `(y_pred, y_true)`.
pub type MetricFn = Arc<dyn Fn(&Tensor, &Tensor) -> f64 + Send + Sync>;

static METRICS: RwLock<Vec<(String, MetricFn)>> = RwLock::new(Vec::new());

/// Registers a metric: `batch_value(y_pred, y_true)` is its value on one batch, and the
/// value reported for an epoch is the mean over batches weighted by their sizes (Keras's
/// `MeanMetricWrapper`). Specs and saved models name it like ours; our names are refused.
pub fn register_metric(
    name: &str,
    batch_value: impl Fn(&Tensor, &Tensor) -> f64 + Send + Sync + 'static,
) -> Result<()> {
    if crate::metrics::Metric::from_name(name).is_some() {
        return Err(Error::config(
            "custom metric name",
            "a name not taken",
            name,
        ));
    }
    let mut v = METRICS.write().unwrap_or_else(|e| e.into_inner());
    v.push((name.to_string(), Arc::new(batch_value)));
    Ok(())
}

/// The registry index of metric `name`.
pub(crate) fn metric_index(name: &str) -> Option<usize> {
    let v = METRICS.read().unwrap_or_else(|e| e.into_inner());
    v.iter().position(|(n, _)| n == name)
}

/// The name of registered metric `i`.
pub(crate) fn metric_name(i: usize) -> String {
    let v = METRICS.read().unwrap_or_else(|e| e.into_inner());
    v.get(i)
        .map_or_else(|| format!("metric_{i}"), |m| m.0.clone())
}

/// The function of registered metric `i` (a `Metric::Custom` exists only after registration).
pub fn custom_metric(i: usize) -> MetricFn {
    let v = METRICS.read().unwrap_or_else(|e| e.into_inner());
    v[i].1.clone()
}

/// The config of a custom layer: its registered `type` and its other fields.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomConfig {
    /// The registered name.
    pub type_name: String,
    /// Every field but `type`.
    pub fields: Map<String, Value>,
}

impl CustomConfig {
    /// The layer, from its registered factory.
    pub fn make(&self) -> Result<Box<dyn Layer>> {
        let f = LAYERS
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&self.type_name)
            .cloned()
            .ok_or_else(|| unknown(&self.type_name))?;
        f(Value::Object(self.fields.clone()))
    }
}

fn unknown(t: &str) -> Error {
    Error::config(
        "layer type",
        format!(
            "one of {}, or a custom type registered with nabla::nn::registry::register_layer",
            crate::config::LAYER_TYPES.join(", ")
        ),
        format!("'{t}'"),
    )
}

/// The key of a custom layer's registered name (Keras's).
const NAME_KEY: &str = "registered_name";

impl Serialize for CustomConfig {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = self.fields.clone();
        m.insert(NAME_KEY.into(), Value::String(self.type_name.clone()));
        m.serialize(s)
    }
}

impl<'de> Deserialize<'de> for CustomConfig {
    /// The fields after `type = "custom"`: a registered name and the layer's own fields.
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut fields = Map::<String, Value>::deserialize(d)?;
        let t = match fields.remove(NAME_KEY) {
            Some(Value::String(t)) => t,
            _ => {
                return Err(D::Error::custom(
                    "a custom layer needs its `registered_name`",
                ))
            }
        };
        if !is_registered(&t) {
            return Err(D::Error::custom(unknown(&t)));
        }
        Ok(CustomConfig {
            type_name: t,
            fields,
        })
    }
}
