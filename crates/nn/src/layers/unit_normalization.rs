//! `UnitNormalization`: each vector scaled to length 1 along the last axis (Keras's
//! `UnitNormalization`, PyTorch's `F.normalize`, sentence-transformers' `Normalize`):
//! `y = x / max(‖x‖₂, 1e-12)`.
//!
//! # Shapes
//! - input: `[batch, .., features]`; output: the same

use super::default_true;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of [`UnitNormalization`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitNormalizationConfig {
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Has no weights; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

/// Scales each vector of the last axis to unit L2 norm.
pub struct UnitNormalization {
    cfg: UnitNormalizationConfig,
}

impl UnitNormalization {
    /// L2 normalisation over the last axis.
    pub fn new() -> UnitNormalization {
        UnitNormalization::from_config(super::with_defaults(serde_json::json!({})))
    }

    /// A layer from its config.
    pub fn from_config(cfg: UnitNormalizationConfig) -> UnitNormalization {
        UnitNormalization { cfg }
    }
}

impl Default for UnitNormalization {
    fn default() -> Self {
        UnitNormalization::new()
    }
}

impl Layer for UnitNormalization {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("unit_normalization")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::UnitNormalization(self.cfg.clone())
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        if input.last().is_none_or(|&f| f == 0) {
            return Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "[.., features > 0]".into(),
                received: input.to_vec(),
            });
        }
        Ok(input.to_vec())
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let shape = x.shape();
        let last = shape.len() - 1;
        let mut keep = shape.to_vec();
        keep[last] = 1;
        let norm = x.square().sum_axis(last).sqrt().clamp(1e-12, f32::MAX);
        x.div(&norm.reshape(&keep))
    }

    crate::layer::trainable_from_config!();
}
