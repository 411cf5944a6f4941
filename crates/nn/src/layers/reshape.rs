//! `Reshape`: the same values per sample seen with another shape (`-1` once: inferred).
//!
//! # Shapes
//! - input: `[batch, ..]` with Π.. = Π target_shape
//! - output: `[batch, ..target_shape]`

use super::default_true;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of [`Reshape`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReshapeConfig {
    /// Per-sample shape; one entry may be -1.
    pub target_shape: Vec<i64>,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Has no weights; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

/// Reshapes each sample.
pub struct Reshape {
    cfg: ReshapeConfig,
    shape: Vec<usize>,
}

impl Reshape {
    /// Reshape each sample to `target_shape` (one -1 allowed).
    pub fn new(target_shape: &[i64]) -> Reshape {
        Reshape::from_config(super::with_defaults(
            serde_json::json!({"target_shape": target_shape}),
        ))
    }

    /// A layer from its config.
    pub fn from_config(cfg: ReshapeConfig) -> Reshape {
        Reshape {
            cfg,
            shape: Vec::new(),
        }
    }
}

impl Layer for Reshape {
    fn passes_values(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("reshape")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::Reshape(self.cfg.clone())
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        let n: usize = input.iter().product();
        let t = &self.cfg.target_shape;
        let known: i64 = t.iter().filter(|&&d| d != -1).product();
        let unknown = t.iter().filter(|&&d| d == -1).count();
        let bad = || Error::Shape {
            layer: self.name().to_string(),
            expected: format!("{n} values to fill target_shape {t:?}"),
            received: input.to_vec(),
        };
        if t.iter().any(|&d| d == 0 || d < -1) || unknown > 1 || known <= 0 {
            return Err(bad());
        }
        let shape: Vec<usize> = if unknown == 1 {
            if n as i64 % known != 0 {
                return Err(bad());
            }
            t.iter()
                .map(|&d| {
                    if d == -1 {
                        (n as i64 / known) as usize
                    } else {
                        d as usize
                    }
                })
                .collect()
        } else {
            t.iter().map(|&d| d as usize).collect()
        };
        if shape.iter().product::<usize>() != n {
            return Err(bad());
        }
        self.shape = shape.clone();
        Ok(shape)
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let s: Vec<usize> = std::iter::once(x.shape()[0])
            .chain(self.shape.iter().copied())
            .collect();
        x.reshape(&s)
    }

    crate::layer::trainable_from_config!();
}
