//! `Activation` as a layer: applies an activation function to its input.

use super::default_true;
use crate::activations::Activation;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of [`ActivationLayer`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivationConfig {
    /// The function.
    pub activation: Activation,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Has no weights; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

/// Applies an [`Activation`].
pub struct ActivationLayer {
    cfg: ActivationConfig,
}

impl ActivationLayer {
    /// A layer applying `activation`.
    pub fn new(activation: Activation) -> ActivationLayer {
        ActivationLayer::from_config(super::with_defaults(
            serde_json::json!({"activation": activation}),
        ))
    }

    /// A layer from its config.
    pub fn from_config(cfg: ActivationConfig) -> ActivationLayer {
        ActivationLayer { cfg }
    }
}

impl Layer for ActivationLayer {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("activation")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::Activation(self.cfg.clone())
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        let over_last_axis = matches!(
            self.cfg.activation,
            Activation::Softmax | Activation::LogSoftmax
        );
        if over_last_axis && input.is_empty() {
            return Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "at least 1 axis for softmax".into(),
                received: input.to_vec(),
            });
        }
        Ok(input.to_vec())
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        self.cfg.activation.apply(x)
    }

    fn decode(
        &self,
        x: &Tensor,
        _start: usize,
        _s: &mut crate::decode::DecodeState,
    ) -> Option<Tensor> {
        Some(crate::decode::position_wise(self, x))
    }

    crate::layer::trainable_from_config!();
}
