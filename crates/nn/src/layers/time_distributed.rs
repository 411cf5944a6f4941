//! `TimeDistributed`: applies one layer to every time step of a sequence, with the same
//! weights (Keras's `TimeDistributed`): the batch and time axes are folded into one batch,
//! `[B, T, ..] -> [B·T, ..]`, the layer runs once, and the result is unfolded.
//!
//! `{ type = "time_distributed", layer = { type = "conv2d", filters = 8, kernel_size = 3 } }`
//!
//! # Shapes
//! - input: `[batch, time, ..step]`; output: `[batch, time, ..layer's output for a step]`

use super::default_true;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer, Param};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of [`TimeDistributed`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeDistributedConfig {
    /// The layer applied to each step.
    #[serde(deserialize_with = "boxed_layer")]
    pub layer: Box<LayerConfig>,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the inner layer is trained (default: true).
    #[serde(default = "default_true")]
    pub trainable: bool,
}

fn boxed_layer<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Box<LayerConfig>, D::Error> {
    crate::config::layer_config(d).map(Box::new)
}

/// One layer over every time step.
pub struct TimeDistributed {
    cfg: TimeDistributedConfig,
    inner: Box<dyn Layer>,
}

impl TimeDistributed {
    /// Wraps `layer`.
    pub fn new(layer: impl Layer + 'static) -> TimeDistributed {
        TimeDistributed::from_config(TimeDistributedConfig {
            layer: Box::new(layer.config()),
            name: None,
            trainable: true,
        })
    }

    /// A layer from its config.
    pub fn from_config(cfg: TimeDistributedConfig) -> TimeDistributed {
        let inner = (*cfg.layer).clone().into_layer();
        TimeDistributed { cfg, inner }
    }
}

impl Layer for TimeDistributed {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("time_distributed")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        let mut cfg = self.cfg.clone();
        cfg.layer = Box::new(self.inner.config());
        cfg.trainable = self.trainable();
        LayerConfig::TimeDistributed(cfg)
    }

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        let Some((&t, step)) = input.split_first().filter(|(_, s)| !s.is_empty()) else {
            return Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "[time, ..step] with at least one step axis".into(),
                received: input.to_vec(),
            });
        };
        let out = self.inner.build(step, rng)?;
        if !self.cfg.trainable {
            self.inner.set_trainable(false);
        }
        Ok(std::iter::once(t).chain(out).collect())
    }

    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let (b, t) = (x.shape()[0], x.shape()[1]);
        let folded: Vec<usize> = std::iter::once(b * t)
            .chain(x.shape()[2..].iter().copied())
            .collect();
        let y = self.inner.forward(&x.reshape(&folded), ctx);
        let unfolded: Vec<usize> = [b, t]
            .into_iter()
            .chain(y.shape()[1..].iter().copied())
            .collect();
        y.reshape(&unfolded)
    }

    fn regularization(&self) -> Option<Tensor> {
        self.inner.regularization()
    }

    fn params(&self) -> Vec<&Param> {
        self.inner.params()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.inner.params_mut()
    }

    fn trainable(&self) -> bool {
        self.cfg.trainable && self.inner.trainable()
    }

    fn set_trainable(&mut self, on: bool) {
        self.cfg.trainable = on;
        self.inner.set_trainable(on);
    }
}
