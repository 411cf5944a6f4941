//! `shared`: a further call of an earlier layer of the model graph, with the same weights
//! (Keras's calling one layer object on two tensors).
//!
//! `{ type = "shared", layer = "encoder", inputs = ["text_b"], name = "encoder_b" }`

use serde::{Deserialize, Serialize};

/// The config of a repeated call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedConfig {
    /// The name of the layer called again.
    pub layer: String,
    /// This call's name, to refer to its output (default `shared`, `shared_1`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}
