//! `LayerNorm` and `RmsNorm`: each sample's last axis normalised on its own (no batch
//! statistics, the same in training and evaluation), then scaled by `γ` (and shifted by `β`):
//!
//! ```text
//! layer_norm: y = γ (x - mean(x)) / sqrt(var(x) + ε) + β     (Keras's LayerNormalization)
//! rms_norm:   y = γ x / sqrt(mean(x²) + ε)                   (PyTorch's RMSNorm)
//! ```
//! over the last axis, with a fused kernel for forward and backward.
//!
//! # Shapes
//! - input: `[batch, .., features]`; output: the same; `γ`, `β`: `[features]`

use super::default_true;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer, Param};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of [`LayerNorm`] (`layer_norm` and `rms_norm`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerNormConfig {
    /// Added to the variance (default 1e-5, PyTorch's; Keras 1e-3).
    #[serde(default = "epsilon")]
    pub epsilon: f32,
    /// Learn the shift `β` (default true; layer norm only).
    #[serde(default = "default_true")]
    pub center: bool,
    /// Learn the scale `γ` (default true).
    #[serde(default = "default_true")]
    pub scale: bool,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether `γ` and `β` are trained (default: true).
    #[serde(default = "default_true")]
    pub trainable: bool,
}

fn epsilon() -> f32 {
    1e-5
}

/// Layer (or RMS) normalisation over the last axis.
pub struct LayerNorm {
    cfg: LayerNormConfig,
    rms: bool,
    gamma: Option<Param>,
    beta: Option<Param>,
    features: usize,
}

impl LayerNorm {
    /// Layer normalisation with Keras's arguments at PyTorch's ε.
    pub fn new() -> LayerNorm {
        LayerNorm::from_config(super::with_defaults(serde_json::json!({})), false)
    }

    /// RMS normalisation.
    pub fn rms() -> LayerNorm {
        let mut l = LayerNorm::new();
        l.rms = true;
        l.cfg.center = false;
        l
    }

    /// Sets ε.
    pub fn epsilon(mut self, eps: f32) -> LayerNorm {
        self.cfg.epsilon = eps;
        self
    }

    /// A layer from its config (`rms`: RMS norm).
    pub fn from_config(cfg: LayerNormConfig, rms: bool) -> LayerNorm {
        LayerNorm {
            cfg,
            rms,
            gamma: None,
            beta: None,
            features: 0,
        }
    }
}

impl Default for LayerNorm {
    fn default() -> Self {
        LayerNorm::new()
    }
}

impl Layer for LayerNorm {
    fn name(&self) -> &str {
        let default = if self.rms { "rms_norm" } else { "layer_norm" };
        self.cfg.name.as_deref().unwrap_or(default)
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        let mut cfg = self.cfg.clone();
        cfg.trainable = self.trainable();
        if self.rms {
            LayerConfig::RmsNorm(cfg)
        } else {
            LayerConfig::LayerNorm(cfg)
        }
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        let c = &self.cfg;
        if c.epsilon.is_nan() || c.epsilon <= 0.0 {
            return Err(Error::config(
                format!("epsilon of layer '{}'", self.name()),
                "a number > 0",
                c.epsilon,
            ));
        }
        if self.rms && c.center {
            return Err(Error::config(
                format!("center of layer '{}'", self.name()),
                "false (RMS norm has no shift)",
                true,
            ));
        }
        let Some(&d) = input.last().filter(|&&d| d > 0) else {
            return Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "[.., features]".into(),
                received: input.to_vec(),
            });
        };
        let param = |name: &str, v: f32| {
            let mut p = Param::new(name, Tensor::full(&[d], v));
            p.trainable = c.trainable;
            p
        };
        self.gamma = c.scale.then(|| param("gamma", 1.0));
        self.beta = c.center.then(|| param("beta", 0.0));
        self.features = d;
        Ok(input.to_vec())
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let d = self.features;
        let gamma = self
            .gamma
            .as_ref()
            .map_or_else(|| Tensor::full(&[d], 1.0), |p| p.value.clone());
        if self.rms {
            return x.rms_norm(&gamma, self.cfg.epsilon);
        }
        let beta = self
            .beta
            .as_ref()
            .map_or_else(|| Tensor::zeros(&[d]), |p| p.value.clone());
        x.layer_norm(&gamma, &beta, self.cfg.epsilon)
    }

    fn decode(
        &self,
        x: &Tensor,
        _start: usize,
        _s: &mut crate::decode::DecodeState,
    ) -> Option<Tensor> {
        Some(crate::decode::position_wise(self, x))
    }

    fn params(&self) -> Vec<&Param> {
        self.gamma.iter().chain(self.beta.iter()).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.gamma.iter_mut().chain(self.beta.iter_mut()).collect()
    }

    crate::layer::trainable_from_config!();
}
