//! `name_or_table`: lets a spec write a config enum as a bare name (`"he_normal"`) or as a
//! table with parameters (`{ type = "random_normal", stddev = 0.1 }`), for enums that serde
//! tags internally by `type`. Keys the chosen variant does not have are errors, so a typo
//! never passes silently.

use serde::de::{DeserializeOwned, Error};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Deserializes `T` from a name or a table (use with `#[serde(deserialize_with = ...)]`).
pub fn name_or_table<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Serialize,
{
    let v = match Value::deserialize(d)? {
        Value::String(s) => serde_json::json!({ "type": s }),
        other => other,
    };
    let keys: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let t: T = serde_json::from_value(v).map_err(D::Error::custom)?;
    let known = serde_json::to_value(&t).map_err(D::Error::custom)?;
    if let Some(bad) = keys.iter().find(|k| known.get(k.as_str()).is_none()) {
        let fields: Vec<String> = known
            .as_object()
            .map(|m| m.keys().map(|k| format!("`{k}`")).collect())
            .unwrap_or_default();
        return Err(D::Error::custom(format!(
            "unknown field `{bad}`, expected one of {}",
            fields.join(", ")
        )));
    }
    Ok(t)
}

/// [`name_or_table`] for an optional field (absent means `None`, the layer's own default).
pub fn optional<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Serialize,
{
    name_or_table(d).map(Some)
}
