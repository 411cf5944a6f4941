//! `BatchNorm`: normalises each channel (axis 1: features of `[batch, features]`, channels of
//! `[batch, channels, h, w]`) with the batch's statistics while training and with running
//! statistics when evaluating (Ioffe & Szegedy, 2015):
//!
//! ```text
//! training:  y = γ (x - μ_batch) / sqrt(σ²_batch + ε) + β
//!            moving_mean = momentum · moving_mean + (1 - momentum) · μ_batch
//!            moving_variance = momentum · moving_variance + (1 - momentum) · σ²_batch (unbiased)
//! eval:      y = γ (x - moving_mean) / sqrt(moving_variance + ε) + β
//! ```
//! `momentum` is Keras's (the share kept; PyTorch's `momentum = 1 - this`). Defaults are
//! PyTorch's: momentum 0.9 (PyTorch 0.1), ε 1e-5 (Keras: 0.99 and 1e-3). A frozen layer
//! (`trainable = false`) always uses the moving statistics, as Keras does for fine-tuning.
//!
//! # Shapes
//! - input and output: `[batch, channels, ..]`
//! - γ, β, moving_mean, moving_variance: `[channels]`

use super::default_true;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer, Param};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of [`BatchNorm`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchNormConfig {
    /// Share of the moving statistics kept at each step (default 0.9).
    #[serde(default = "momentum")]
    pub momentum: f32,
    /// Added to the variance (default 1e-5).
    #[serde(default = "epsilon")]
    pub epsilon: f32,
    /// Learn the offset β (default true).
    #[serde(default = "default_true")]
    pub center: bool,
    /// Learn the scale γ (default true).
    #[serde(default = "default_true")]
    pub scale: bool,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether γ and β are trained (and batch statistics used).
    #[serde(default = "default_true")]
    pub trainable: bool,
}

fn momentum() -> f32 {
    0.9
}
fn epsilon() -> f32 {
    1e-5
}

/// Batch normalisation.
pub struct BatchNorm {
    cfg: BatchNormConfig,
    gamma: Option<Param>,
    beta: Option<Param>,
    moving_mean: Option<Param>,
    moving_variance: Option<Param>,
}

impl BatchNorm {
    /// Batch normalisation with PyTorch's defaults.
    pub fn new() -> BatchNorm {
        BatchNorm::from_config(super::with_defaults(serde_json::json!({})))
    }

    /// A layer from its config.
    pub fn from_config(cfg: BatchNormConfig) -> BatchNorm {
        BatchNorm {
            cfg,
            gamma: None,
            beta: None,
            moving_mean: None,
            moving_variance: None,
        }
    }
}

impl Default for BatchNorm {
    fn default() -> Self {
        BatchNorm::new()
    }
}

/// `[c]` values shaped to broadcast over `[batch, c, ..]` of rank `rank`.
fn per_channel(v: Vec<f32>, rank: usize) -> Tensor {
    let mut shape = vec![v.len()];
    shape.extend(std::iter::repeat_n(1, rank.saturating_sub(2)));
    Tensor::from_vec(v, &shape)
}

impl Layer for BatchNorm {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("batch_norm")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        let mut cfg = self.cfg.clone();
        cfg.trainable = self.trainable();
        LayerConfig::BatchNorm(cfg)
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        let c = &self.cfg;
        if !(0.0..1.0).contains(&c.momentum) || c.epsilon.is_nan() || c.epsilon <= 0.0 {
            return Err(Error::config(
                format!("momentum and epsilon of layer '{}'", self.name()),
                "momentum in [0, 1) and epsilon > 0",
                format!("{}, {}", c.momentum, c.epsilon),
            ));
        }
        let Some(&ch) = input.first().filter(|&&ch| ch > 0) else {
            return Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "[channels, ..]".into(),
                received: input.to_vec(),
            });
        };
        let param = |name: &str, v: f32, trainable: bool| {
            let mut p = Param::new(name, Tensor::full(&[ch], v));
            p.trainable = trainable;
            p
        };
        self.gamma = c.scale.then(|| param("gamma", 1.0, c.trainable));
        self.beta = c.center.then(|| param("beta", 0.0, c.trainable));
        self.moving_mean = Some(param("moving_mean", 0.0, false));
        self.moving_variance = Some(param("moving_variance", 1.0, false));
        Ok(input.to_vec())
    }

    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let ch = x.shape()[1];
        let ones = || Tensor::full(&[ch], 1.0);
        let zeros = || Tensor::zeros(&[ch]);
        let gamma = self
            .gamma
            .as_ref()
            .map(|p| p.value.clone())
            .unwrap_or_else(ones);
        let beta = self
            .beta
            .as_ref()
            .map(|p| p.value.clone())
            .unwrap_or_else(zeros);
        let (mm, mv) = (
            self.moving_mean.as_ref().expect("built"),
            self.moving_variance.as_ref().expect("built"),
        );
        if ctx.training && self.trainable() {
            let (y, mean, var, m) =
                x.batch_norm_sync(&gamma, &beta, self.cfg.epsilon, ctx.comm.clone());
            let m = m as f32; // values per channel, over every process when synchronised
            let k = self.cfg.momentum;
            let unbiased = if m > 1.0 { m / (m - 1.0) } else { 1.0 };
            let new_mean = mm
                .value
                .data()
                .iter()
                .zip(&mean)
                .map(|(r, b)| k * r + (1.0 - k) * b)
                .collect();
            let new_var = mv
                .value
                .data()
                .iter()
                .zip(&var)
                .map(|(r, b)| k * r + (1.0 - k) * b * unbiased)
                .collect();
            ctx.stat_updates.push((mm.value.id(), new_mean));
            ctx.stat_updates.push((mv.value.id(), new_var));
            return y;
        }
        // eval: y = x · a + b with a = γ / sqrt(var + ε), b = β - mean · a
        let eps = self.cfg.epsilon;
        let a: Vec<f32> = gamma
            .data()
            .iter()
            .zip(mv.value.data())
            .map(|(g, v)| g / (v + eps).sqrt())
            .collect();
        let b: Vec<f32> = beta
            .data()
            .iter()
            .zip(mm.value.data())
            .zip(&a)
            .map(|((b, m), a)| b - m * a)
            .collect();
        x.mul(&per_channel(a, x.rank()))
            .add(&per_channel(b, x.rank()))
    }

    fn params(&self) -> Vec<&Param> {
        [
            &self.gamma,
            &self.beta,
            &self.moving_mean,
            &self.moving_variance,
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        [
            &mut self.gamma,
            &mut self.beta,
            &mut self.moving_mean,
            &mut self.moving_variance,
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    fn trainable(&self) -> bool {
        self.cfg.trainable
    }

    fn set_trainable(&mut self, on: bool) {
        self.cfg.trainable = on;
        for p in [&mut self.gamma, &mut self.beta].into_iter().flatten() {
            p.trainable = on;
        }
    }
}
