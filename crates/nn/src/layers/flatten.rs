//! `Flatten`: `[batch, d1, d2, ..] -> [batch, d1·d2·..]`.

use super::default_true;
use crate::config::LayerConfig;
use crate::error::Result;
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of [`Flatten`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlattenConfig {
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Has no weights; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

/// Flattens every axis but the batch axis.
pub struct Flatten {
    cfg: FlattenConfig,
}

impl Flatten {
    /// A flatten layer.
    pub fn new() -> Flatten {
        Flatten::from_config(super::with_defaults(serde_json::json!({})))
    }

    /// A layer from its config.
    pub fn from_config(cfg: FlattenConfig) -> Flatten {
        Flatten { cfg }
    }
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten::new()
    }
}

impl Layer for Flatten {
    fn passes_values(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("flatten")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::Flatten(self.cfg.clone())
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        Ok(vec![input.iter().product()])
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        x.flatten()
    }

    crate::layer::trainable_from_config!();
}
