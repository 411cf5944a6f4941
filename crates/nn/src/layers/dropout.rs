//! `Dropout`: while training, zeroes each element with probability `rate` and scales the rest
//! by `1 / (1 - rate)` (inverted dropout, as Keras and PyTorch); identity in eval mode.

use super::default_true;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of [`Dropout`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropoutConfig {
    /// Fraction of the inputs to drop, in `[0, 1)`.
    pub rate: f32,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Has no weights; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

/// `n` factors of inverted dropout: 0 with probability `rate`, else `1 / (1 - rate)`.
pub(crate) fn keep_mask(rng: &mut Rng, n: usize, rate: f32) -> Vec<f32> {
    let scale = 1.0 / (1.0 - rate);
    let mut mask = vec![0.0; n];
    rng.fill_uniform(&mut mask);
    mask.iter_mut()
        .for_each(|m| *m = if *m < rate { 0.0 } else { scale });
    mask
}

/// Inverted dropout.
pub struct Dropout {
    cfg: DropoutConfig,
}

impl Dropout {
    /// Dropout with the given rate.
    pub fn new(rate: f32) -> Dropout {
        Dropout::from_config(super::with_defaults(serde_json::json!({"rate": rate})))
    }

    /// A layer from its config.
    pub fn from_config(cfg: DropoutConfig) -> Dropout {
        Dropout { cfg }
    }
}

impl Layer for Dropout {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("dropout")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::Dropout(self.cfg.clone())
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        let rate = self.cfg.rate;
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::config(
                format!("rate of layer '{}'", self.name()),
                "a number in [0, 1)",
                rate,
            ));
        }
        Ok(input.to_vec())
    }

    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let rate = self.cfg.rate;
        if !ctx.training || rate == 0.0 {
            return x.clone();
        }
        x.mul(&Tensor::from_vec(
            keep_mask(ctx.rng, x.numel(), rate),
            x.shape(),
        ))
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
