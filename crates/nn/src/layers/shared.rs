//! `shared`: a further call of an earlier layer of the model graph, with the same weights
//! (Keras's calling one layer object on two tensors).
//!
//! `{ type = "shared", layer = "encoder", inputs = ["text_b"], name = "encoder_b" }`

use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor};
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

/// A `shared` entry outside a model's layer list (inside `time_distributed`, say), where
/// there is no layer to repeat: it only fails to build, with a message that says so.
pub struct Unresolved {
    cfg: SharedConfig,
}

impl Unresolved {
    /// The placeholder for `cfg`.
    pub fn new(cfg: SharedConfig) -> Unresolved {
        Unresolved { cfg }
    }
}

impl Layer for Unresolved {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("shared")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::Shared(self.cfg.clone())
    }

    fn build(&mut self, _input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        Err(Error::config(
            format!("layer type 'shared' (of '{}')", self.cfg.layer),
            "it only as an entry of a model's layers, where it repeats an earlier layer",
            "it inside another layer",
        ))
    }

    fn forward(&self, _x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        unreachable!("an unresolved 'shared' layer never builds")
    }
}
