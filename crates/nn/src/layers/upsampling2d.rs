//! `UpSampling2d`: each image enlarged by integer factors (Keras's `UpSampling2D`), by
//! repeating cells (`"nearest"`, the default) or by bilinear interpolation with half-pixel
//! centres (`"bilinear"`, as Keras and PyTorch's `align_corners=False`).
//!
//! # Shapes
//! - input: `[batch, channels, height, width]`
//! - output: `[batch, channels, size_h · height, size_w · width]`

use super::default_true;
use super::window::Pair;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Interpolation, Rng, Tensor};
use serde::{Deserialize, Serialize};

/// How new cells are filled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpsampleMode {
    /// Repeat each cell.
    #[default]
    Nearest,
    /// Interpolate between the 4 nearest cells.
    Bilinear,
}

/// The config of [`UpSampling2d`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpSampling2dConfig {
    /// Factors: `2` or `[2, 3]` (default 2).
    #[serde(default = "two")]
    pub size: Pair,
    /// `"nearest"` (default) or `"bilinear"`.
    #[serde(default)]
    pub interpolation: UpsampleMode,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Has no weights; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

fn two() -> Pair {
    Pair(2, 2)
}

/// Enlarges images.
pub struct UpSampling2d {
    cfg: UpSampling2dConfig,
}

impl UpSampling2d {
    /// Upsampling by `size` with `interpolation`.
    pub fn new(size: impl Into<Pair>, interpolation: UpsampleMode) -> UpSampling2d {
        UpSampling2d::from_config(super::with_defaults(
            serde_json::json!({"size": size.into(), "interpolation": interpolation}),
        ))
    }

    /// A layer from its config.
    pub fn from_config(cfg: UpSampling2dConfig) -> UpSampling2d {
        UpSampling2d { cfg }
    }
}

impl Layer for UpSampling2d {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("up_sampling2d")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::UpSampling2d(self.cfg.clone())
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        let Pair(fh, fw) = self.cfg.size;
        if fh == 0 || fw == 0 {
            return Err(Error::config(
                format!("size of layer '{}'", self.name()),
                "positive integers",
                format!("{:?}", self.cfg.size),
            ));
        }
        let [c, h, w] = *input else {
            return Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "[channels, height, width]".into(),
                received: input.to_vec(),
            });
        };
        let what = || format!("size of layer '{}'", self.name());
        let (oh, ow) = (
            crate::budget::checked_mul(what, h, fh)?,
            crate::budget::checked_mul(what, w, fw)?,
        );
        Ok(vec![c, oh, ow])
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let mode = match self.cfg.interpolation {
            UpsampleMode::Nearest => Interpolation::Nearest,
            UpsampleMode::Bilinear => Interpolation::Bilinear,
        };
        x.upsample2d((self.cfg.size.0, self.cfg.size.1), mode)
    }

    crate::layer::trainable_from_config!();
}
