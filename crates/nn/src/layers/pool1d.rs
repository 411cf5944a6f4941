//! `MaxPool1d` and `AvgPool1d`: the maximum or the mean of each window of each channel of a
//! sequence, computed as a `1 × L` image through the 2-d pooling kernels (same tie rule:
//! the first maximum gets the gradient; the mean counts only cells inside the input).
//!
//! # Shapes
//! - input: `[batch, channels, length]`
//! - output: `[batch, channels, OL]`, `OL = (L + pads - pool) / stride + 1` (floor)

use super::default_true;
use super::pool2d::PoolKind;
use super::window::Padding1d;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor, Window2d};
use serde::{Deserialize, Serialize};

/// The config of [`Pool1d`] (`max_pool1d` and `avg_pool1d`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool1dConfig {
    /// Window length (default 2).
    #[serde(default = "two")]
    pub pool_size: usize,
    /// Step between windows (default: the pool size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strides: Option<usize>,
    /// `"valid"` (default), `"same"`, `p` or `[left, right]`.
    #[serde(default)]
    pub padding: Padding1d,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Has no weights; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

fn two() -> usize {
    2
}

/// 1-d pooling.
pub struct Pool1d {
    kind: PoolKind,
    cfg: Pool1dConfig,
    win: Option<Window2d>,
}

impl Pool1d {
    /// Max pooling over `pool_size` windows, stride = pool size.
    pub fn max(pool_size: usize) -> Pool1d {
        let cfg = super::with_defaults(serde_json::json!({"pool_size": pool_size}));
        Pool1d::from_config(PoolKind::Max, cfg)
    }

    /// Average pooling over `pool_size` windows, stride = pool size.
    pub fn avg(pool_size: usize) -> Pool1d {
        Pool1d {
            kind: PoolKind::Avg,
            ..Pool1d::max(pool_size)
        }
    }

    /// A layer from its config.
    pub fn from_config(kind: PoolKind, cfg: Pool1dConfig) -> Pool1d {
        Pool1d {
            kind,
            cfg,
            win: None,
        }
    }
}

impl Layer for Pool1d {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or(match self.kind {
            PoolKind::Max => "max_pool1d",
            PoolKind::Avg => "avg_pool1d",
        })
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        match self.kind {
            PoolKind::Max => LayerConfig::MaxPool1d(self.cfg.clone()),
            PoolKind::Avg => LayerConfig::AvgPool1d(self.cfg.clone()),
        }
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        let name = self.name().to_string();
        let k = self.cfg.pool_size;
        let s = self.cfg.strides.unwrap_or(k);
        if k == 0 || s == 0 || self.cfg.padding == Padding1d::Causal {
            return Err(Error::config(
                format!("pool_size, strides and padding of layer '{name}'"),
                "positive integers and padding valid, same or explicit",
                format!("{k}, {s}, {:?}", self.cfg.padding),
            ));
        }
        let [c, len] = *input else {
            return Err(Error::Shape {
                layer: name,
                expected: "[channels, length]".into(),
                received: input.to_vec(),
            });
        };
        let (l, r) = self.cfg.padding.amounts(len, k, s, 1);
        let geom = nabla_core::backend::Pool2dGeom {
            planes: c,
            h: 1,
            w: len,
            k: (1, k),
            stride: (1, s),
            pad: (0, 0, l, r),
        };
        let Some((_, out_len)) = geom.out_hw() else {
            return Err(Error::Shape {
                layer: name,
                expected: format!("a sequence at least as long as the pool {k}"),
                received: input.to_vec(),
            });
        };
        self.win = Some(Window2d {
            stride: (1, s),
            pad: (0, 0, l, r),
            dilation: (1, 1),
            groups: 1,
        });
        Ok(vec![c, out_len])
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let k = (1, self.cfg.pool_size);
        let win = self.win.expect("Pool1d::forward before build");
        let (n, c, len) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let x = x.reshape(&[n, c, 1, len]);
        let y = match self.kind {
            PoolKind::Max => x.max_pool2d(k, win),
            PoolKind::Avg => x.avg_pool2d(k, win),
        };
        let out = y.shape()[3];
        y.reshape(&[n, c, out])
    }

    crate::layer::trainable_from_config!();
}
