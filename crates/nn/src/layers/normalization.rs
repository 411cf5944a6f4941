//! `Normalization`: feature scaling as part of the model, so a saved model takes raw inputs.
//! Adapted once from the training data (by `fit`, before the first epoch, or by
//! `Model::adapt`), per feature of the last axis:
//!
//! - standard: `y = (x - mean) / sqrt(var)` (Keras's `Normalization`; a zero variance counts as 1)
//! - minmax:   `y = (x - min) / (max - min)` (a zero range counts as 1)
//!
//! The statistics are non-trainable weights `offset` and `scale` (`y = (x - offset) · scale`).

use super::default_true;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer, Param};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// Which scaling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Zero mean, unit variance.
    #[default]
    Standard,
    /// Into [0, 1].
    Minmax,
}

/// The config of [`Normalization`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizationConfig {
    /// Standard (default) or minmax.
    #[serde(default)]
    pub method: Method,
    /// Whether the statistics have been computed (set by adapting; saved with the model).
    #[serde(default)]
    pub adapted: bool,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The statistics are never trained; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

/// Feature scaling adapted from data.
pub struct Normalization {
    cfg: NormalizationConfig,
    offset: Option<Param>,
    scale: Option<Param>,
}

impl Normalization {
    /// A layer that will standardise (`Method::Standard`) or min-max scale its input.
    pub fn new(method: Method) -> Normalization {
        Normalization::from_config(super::with_defaults(serde_json::json!({"method": method})))
    }

    /// A layer from its config.
    pub fn from_config(cfg: NormalizationConfig) -> Normalization {
        Normalization {
            cfg,
            offset: None,
            scale: None,
        }
    }
}

impl Layer for Normalization {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("normalization")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::Normalization(self.cfg.clone())
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        let n = match input.last() {
            Some(&n) if n > 0 => n,
            _ => {
                return Err(Error::Shape {
                    layer: self.name().to_string(),
                    expected: "at least 1 axis with a positive last size".into(),
                    received: input.to_vec(),
                })
            }
        };
        let frozen = |name: &str, v: f32| {
            let mut p = Param::new(name, Tensor::full(&[n], v));
            p.trainable = false;
            p
        };
        self.offset = Some(frozen("offset", 0.0));
        self.scale = Some(frozen("scale", 1.0));
        Ok(input.to_vec())
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let (o, s) = (
            self.offset.as_ref().expect("built"),
            self.scale.as_ref().expect("built"),
        );
        x.sub(&o.value.detach()).mul(&s.value.detach())
    }

    fn params(&self) -> Vec<&Param> {
        self.offset.iter().chain(self.scale.iter()).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.offset
            .iter_mut()
            .chain(self.scale.iter_mut())
            .collect()
    }

    fn trainable(&self) -> bool {
        false
    }

    fn set_trainable(&mut self, _on: bool) {}

    fn needs_adapt(&self) -> bool {
        !self.cfg.adapted
    }

    fn adapt(&mut self, x: &Tensor) {
        let n = self.offset.as_ref().map(|p| p.value.numel()).unwrap_or(0);
        if n == 0 || x.numel() == 0 {
            return;
        }
        let rows = x.numel() / n;
        let (mut offset, mut scale) = (vec![0.0f32; n], vec![1.0f32; n]);
        for j in 0..n {
            let col = (0..rows).map(|r| x.data()[r * n + j] as f64);
            let (o, range) = match self.cfg.method {
                Method::Standard => {
                    let mean = col.clone().sum::<f64>() / rows as f64;
                    let var = col.map(|v| (v - mean) * (v - mean)).sum::<f64>() / rows as f64;
                    (mean, var.sqrt())
                }
                Method::Minmax => {
                    let (lo, hi) = col.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
                    (lo, hi - lo)
                }
            };
            offset[j] = o as f32;
            scale[j] = if range > 0.0 {
                (1.0 / range) as f32
            } else {
                1.0
            };
        }
        self.offset
            .as_mut()
            .unwrap()
            .value
            .update(|w| w.copy_from_slice(&offset));
        self.scale
            .as_mut()
            .unwrap()
            .value
            .update(|w| w.copy_from_slice(&scale));
        self.cfg.adapted = true;
    }
}
