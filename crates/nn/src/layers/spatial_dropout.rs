//! `SpatialDropout2d`: dropout of whole feature maps. While training, each channel of each
//! sample is zeroed with probability `rate` and the kept ones scaled by `1 / (1 - rate)`
//! (Tompson et al., 2015; Keras's `SpatialDropout2D`, PyTorch's `Dropout2d`); identity in eval.
//! Neighbouring pixels are strongly correlated, so dropping single pixels regularises little.
//!
//! # Shapes
//! - input and output: `[batch, channels, ..]`

use super::default_true;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of [`SpatialDropout2d`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpatialDropoutConfig {
    /// Fraction of the channels to drop, in `[0, 1)`.
    pub rate: f32,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Has no weights; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

/// Channel-wise dropout.
pub struct SpatialDropout2d {
    cfg: SpatialDropoutConfig,
}

impl SpatialDropout2d {
    /// Drops each channel with probability `rate`.
    pub fn new(rate: f32) -> SpatialDropout2d {
        SpatialDropout2d::from_config(super::with_defaults(serde_json::json!({"rate": rate})))
    }

    /// A layer from its config.
    pub fn from_config(cfg: SpatialDropoutConfig) -> SpatialDropout2d {
        SpatialDropout2d { cfg }
    }
}

impl Layer for SpatialDropout2d {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("spatial_dropout2d")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::SpatialDropout2d(self.cfg.clone())
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
        if input.len() < 2 {
            return Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "[channels, height, width] (or [channels, length])".into(),
                received: input.to_vec(),
            });
        }
        Ok(input.to_vec())
    }

    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let rate = self.cfg.rate;
        if !ctx.training || rate == 0.0 {
            return x.clone();
        }
        let (n, c) = (x.shape()[0], x.shape()[1]);
        let mask = super::dropout::keep_mask(ctx.rng, n * c, rate);
        // [n, c, 1, ..] broadcasts over the maps
        let mut shape = vec![n, c];
        shape.extend(std::iter::repeat_n(1, x.rank() - 2));
        x.mul(&Tensor::from_vec(mask, &shape))
    }

    crate::layer::trainable_from_config!();
}
