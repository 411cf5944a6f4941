//! `MaxPool2d` and `AvgPool2d`: the maximum or the mean of each window of each channel.
//! Max ties send the gradient to the first cell (row-major), as PyTorch; the mean counts
//! only cells inside the input (padding excluded, as Keras).
//!
//! # Shapes
//! - input: `[batch, channels, height, width]`
//! - output: `[batch, channels, OH, OW]`, `OH = (H + pads - pool) / stride + 1` (floor)

use super::default_true;
use super::window::{Padding, Pair};
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor, Window2d};
use serde::{Deserialize, Serialize};

/// The config of [`Pool2d`] (`max_pool2d` and `avg_pool2d`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool2dConfig {
    /// Window size (default 2).
    #[serde(default = "two")]
    pub pool_size: Pair,
    /// Step between windows (default: the pool size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strides: Option<Pair>,
    /// `"valid"` (default), `"same"` or explicit numbers.
    #[serde(default)]
    pub padding: Padding,
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

/// Which reduction a pooling layer takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// Maximum.
    Max,
    /// Mean.
    Avg,
}

/// 2-d pooling.
pub struct Pool2d {
    kind: PoolKind,
    cfg: Pool2dConfig,
    win: Option<Window2d>,
}

impl Pool2d {
    /// Max pooling over `pool_size` windows, stride = pool size.
    pub fn max(pool_size: impl Into<Pair>) -> Pool2d {
        Pool2d::from_config(
            PoolKind::Max,
            super::with_defaults(serde_json::json!({"pool_size": pool_size.into()})),
        )
    }

    /// Average pooling over `pool_size` windows, stride = pool size.
    pub fn avg(pool_size: impl Into<Pair>) -> Pool2d {
        Pool2d {
            kind: PoolKind::Avg,
            ..Pool2d::max(pool_size)
        }
    }

    /// A layer from its config.
    pub fn from_config(kind: PoolKind, cfg: Pool2dConfig) -> Pool2d {
        Pool2d {
            kind,
            cfg,
            win: None,
        }
    }
}

impl Layer for Pool2d {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or(match self.kind {
            PoolKind::Max => "max_pool2d",
            PoolKind::Avg => "avg_pool2d",
        })
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        match self.kind {
            PoolKind::Max => LayerConfig::MaxPool2d(self.cfg.clone()),
            PoolKind::Avg => LayerConfig::AvgPool2d(self.cfg.clone()),
        }
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        let name = self.name().to_string();
        let k = self.cfg.pool_size;
        let s = self.cfg.strides.unwrap_or(k);
        if k.0 == 0 || k.1 == 0 || s.0 == 0 || s.1 == 0 {
            return Err(Error::config(
                format!("pool_size and strides of layer '{name}'"),
                "positive integers",
                format!("{k:?}, {s:?}"),
            ));
        }
        let [c, h, w] = *input else {
            return Err(Error::Shape {
                layer: name,
                expected: "[channels, height, width]".into(),
                received: input.to_vec(),
            });
        };
        let pad = self.cfg.padding.amounts(h, w, k, s, Pair(1, 1));
        let geom = nabla_core::backend::Pool2dGeom {
            planes: c,
            h,
            w,
            k: (k.0, k.1),
            stride: (s.0, s.1),
            pad,
        };
        let Some((oh, ow)) = geom.out_hw() else {
            return Err(Error::Shape {
                layer: name,
                expected: format!("an image at least as large as the pool {k:?}"),
                received: input.to_vec(),
            });
        };
        self.win = Some(Window2d {
            stride: (s.0, s.1),
            pad,
            dilation: (1, 1),
            groups: 1,
        });
        Ok(vec![c, oh, ow])
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let k = (self.cfg.pool_size.0, self.cfg.pool_size.1);
        let win = self.win.expect("Pool2d::forward before build");
        match self.kind {
            PoolKind::Max => x.max_pool2d(k, win),
            PoolKind::Avg => x.avg_pool2d(k, win),
        }
    }

    crate::layer::trainable_from_config!();
}

/// Keras's `MaxPool2D`: `MaxPool2d::new(2)` is [`Pool2d::max`].
pub struct MaxPool2d;

impl MaxPool2d {
    /// Max pooling over `pool_size` windows, stride = pool size.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(pool_size: impl Into<Pair>) -> Pool2d {
        Pool2d::max(pool_size)
    }
}

/// Keras's `AveragePooling2D`: `AvgPool2d::new(2)` is [`Pool2d::avg`].
pub struct AvgPool2d;

impl AvgPool2d {
    /// Average pooling over `pool_size` windows, stride = pool size.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(pool_size: impl Into<Pair>) -> Pool2d {
        Pool2d::avg(pool_size)
    }
}
