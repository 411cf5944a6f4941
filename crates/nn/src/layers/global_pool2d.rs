//! `GlobalAvgPool2d` / `GlobalMaxPool2d`: one value per channel, the mean or the maximum over
//! the whole image.
//!
//! # Shapes
//! - input: `[batch, channels, height, width]`
//! - output: `[batch, channels]`

use super::default_true;
use super::pool2d::PoolKind;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor, Window2d};
use serde::{Deserialize, Serialize};

/// The config of the global pooling layers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalPoolConfig {
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Has no weights; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

/// Global pooling over height and width.
pub struct GlobalPool2d {
    kind: PoolKind,
    cfg: GlobalPoolConfig,
}

impl GlobalPool2d {
    /// Mean over each channel's image.
    pub fn avg() -> GlobalPool2d {
        GlobalPool2d::from_config(PoolKind::Avg, super::with_defaults(serde_json::json!({})))
    }

    /// Maximum over each channel's image.
    pub fn max() -> GlobalPool2d {
        GlobalPool2d {
            kind: PoolKind::Max,
            ..GlobalPool2d::avg()
        }
    }

    /// A layer from its config.
    pub fn from_config(kind: PoolKind, cfg: GlobalPoolConfig) -> GlobalPool2d {
        GlobalPool2d { kind, cfg }
    }
}

impl Layer for GlobalPool2d {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or(match self.kind {
            PoolKind::Max => "global_max_pool2d",
            PoolKind::Avg => "global_avg_pool2d",
        })
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        match self.kind {
            PoolKind::Max => LayerConfig::GlobalMaxPool2d(self.cfg.clone()),
            PoolKind::Avg => LayerConfig::GlobalAvgPool2d(self.cfg.clone()),
        }
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        match *input {
            [c, h, w] if h > 0 && w > 0 => Ok(vec![c]),
            _ => Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "[channels, height, width]".into(),
                received: input.to_vec(),
            }),
        }
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let s = x.shape();
        let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
        match self.kind {
            PoolKind::Avg => x.reshape(&[n, c, h * w]).mean_axis(2),
            PoolKind::Max => {
                let win = Window2d {
                    stride: (1, 1),
                    pad: (0, 0, 0, 0),
                    dilation: (1, 1),
                    groups: 1,
                };
                x.max_pool2d((h, w), win).reshape(&[n, c])
            }
        }
    }

    crate::layer::trainable_from_config!();
}
