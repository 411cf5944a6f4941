//! Custom callbacks from user code, by name in a spec (as custom layers, losses and metrics):
//! `register_callback("name", make)` where `make` turns the callback's table (a serde struct)
//! into a [`Callback`]; a spec then writes `callbacks = [{ type = "name", ..fields }]`, and
//! `nabla train` runs it. A spec written back (`spec.toml`) stores
//! `{ type = "custom", registered_name = "name", ..fields }`, which reads back the same.

use crate::callback::Callback;
use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

type Factory = Arc<dyn Fn(Value) -> Result<Box<dyn Callback>> + Send + Sync>;

static CALLBACKS: RwLock<BTreeMap<String, Factory>> = RwLock::new(BTreeMap::new());

/// The `type` names of nabla's callbacks (a custom one may use none of them).
pub const CALLBACK_TYPES: &[&str] = &[
    "early_stopping",
    "model_checkpoint",
    "reduce_lr_on_plateau",
    "learning_rate_scheduler",
    "terminate_on_nan",
    "csv_logger",
    "custom",
];

/// Registers a callback type: `make` turns its config (deserialised from the callback's
/// table, less `type`) into the callback. A name of ours, or one registered before, is an
/// error.
pub fn register_callback<C, B>(
    type_name: &str,
    make: impl Fn(C) -> B + Send + Sync + 'static,
) -> Result<()>
where
    C: DeserializeOwned,
    B: Callback + 'static,
{
    let refuse = |why: &str| {
        Err(Error::Spec(format!(
            "custom callback type: expected {why}, received '{type_name}'"
        )))
    };
    if CALLBACK_TYPES.contains(&type_name) {
        return refuse("a name nabla does not use");
    }
    let owned = type_name.to_string();
    let factory: Factory = Arc::new(move |v: Value| {
        let cfg: C =
            serde_json::from_value(v).map_err(|e| Error::Spec(format!("callback {owned}: {e}")))?;
        Ok(Box::new(make(cfg)) as Box<dyn Callback>)
    });
    let mut map = CALLBACKS.write().unwrap_or_else(|e| e.into_inner());
    if map.contains_key(type_name) {
        return refuse("a name registered once");
    }
    map.insert(type_name.to_string(), factory);
    Ok(())
}

/// Whether `type_name` is a registered custom callback.
pub fn is_registered(type_name: &str) -> bool {
    CALLBACKS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .contains_key(type_name)
}

/// A custom callback's spec entry: its registered `type` and its other fields.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomCallback {
    /// The registered name.
    pub type_name: String,
    /// Every field but `type`.
    pub fields: Map<String, Value>,
}

impl CustomCallback {
    /// The callback, from its registered factory (an error names a field that does not fit).
    pub fn make(&self) -> Result<Box<dyn Callback>> {
        let f = CALLBACKS
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&self.type_name)
            .cloned()
            .ok_or_else(|| Error::Spec(unknown(&self.type_name)))?;
        f(Value::Object(self.fields.clone()))
    }
}

fn unknown(t: &str) -> String {
    format!(
        "callback type: expected one of {}, or a type registered with nabla::train::callbacks::register_callback, received '{t}'",
        CALLBACK_TYPES[..CALLBACK_TYPES.len() - 1].join(", ")
    )
}

/// The key of a custom callback's registered name (Keras's).
const NAME_KEY: &str = "registered_name";

impl Serialize for CustomCallback {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = self.fields.clone();
        m.insert(NAME_KEY.into(), Value::String(self.type_name.clone()));
        m.serialize(s)
    }
}

impl<'de> Deserialize<'de> for CustomCallback {
    /// The fields after `type = "custom"`: a registered name and the callback's own fields.
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut fields = Map::<String, Value>::deserialize(d)?;
        let Some(Value::String(t)) = fields.remove(NAME_KEY) else {
            return Err(D::Error::custom(
                "a custom callback needs its `registered_name`",
            ));
        };
        if !is_registered(&t) {
            return Err(D::Error::custom(unknown(&t)));
        }
        Ok(CustomCallback {
            type_name: t,
            fields,
        })
    }
}

/// Reads a spec's callbacks: a registered custom `type`, else one of ours (the derived
/// deserialiser, whose errors list our types and name missing or unknown fields).
pub fn callback_configs<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<super::CallbackConfig>, D::Error> {
    use serde::de::Error as _;
    let mut list = Vec::<Value>::deserialize(d)?;
    for v in &mut list {
        let registered = v
            .get("type")
            .and_then(|t| t.as_str())
            .filter(|t| is_registered(t))
            .map(str::to_string);
        if let (Some(t), Some(m)) = (registered, v.as_object_mut()) {
            m.insert("type".into(), "custom".into());
            m.insert(NAME_KEY.into(), t.into());
        }
    }
    list.into_iter()
        .map(|v| serde_json::from_value(v).map_err(D::Error::custom))
        .collect()
}
