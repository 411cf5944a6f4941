//! Reducing a sequence `[time, features]` to one vector per sample (Keras's
//! channels-last layout for sequences, as the recurrent and attention layers use):
//!
//! - `global_avg_pool1d`: the mean over time (Keras's `GlobalAveragePooling1D`);
//! - `global_max_pool1d`: the maximum over time (the first maximum gets the gradient);
//! - `last_step`: the last time step (what a recurrent classifier reads, `y = x[:, -1, :]`).
//! - `first_token`: the first time step (BERT's `[CLS]` token, `y = x[:, 0, :]`).
//!
//! # Shapes
//! - input: `[batch, time, features]`; output: `[batch, features]`

use super::default_true;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor, Window2d};
use serde::{Deserialize, Serialize};

/// How the time axis is reduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceReduce {
    /// Mean over time.
    Mean,
    /// Maximum over time.
    Max,
    /// The last step.
    Last,
    /// The first step.
    First,
}

/// The config of [`SequencePool`] (a name and `trainable`, like every layer).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequencePoolConfig {
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Has no weights; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

/// One vector per sequence.
pub struct SequencePool {
    how: SequenceReduce,
    cfg: SequencePoolConfig,
}

impl SequencePool {
    /// A layer reducing time `how`.
    pub fn new(how: SequenceReduce) -> SequencePool {
        SequencePool::from_config(how, super::with_defaults(serde_json::json!({})))
    }

    /// A layer from its config.
    pub fn from_config(how: SequenceReduce, cfg: SequencePoolConfig) -> SequencePool {
        SequencePool { how, cfg }
    }
}

impl Layer for SequencePool {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or(match self.how {
            SequenceReduce::Mean => "global_avg_pool1d",
            SequenceReduce::Max => "global_max_pool1d",
            SequenceReduce::Last => "last_step",
            SequenceReduce::First => "first_token",
        })
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        let c = self.cfg.clone();
        match self.how {
            SequenceReduce::Mean => LayerConfig::GlobalAvgPool1d(c),
            SequenceReduce::Max => LayerConfig::GlobalMaxPool1d(c),
            SequenceReduce::Last => LayerConfig::LastStep(c),
            SequenceReduce::First => LayerConfig::FirstToken(c),
        }
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        match *input {
            [t, f] if t > 0 => Ok(vec![f]),
            _ => Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "[time, features] with time > 0".into(),
                received: input.to_vec(),
            }),
        }
    }

    fn build_multi(&mut self, inputs: &[Vec<usize>], rng: &mut Rng) -> Result<Vec<usize>> {
        if inputs.len() == 2 && matches!(self.how, SequenceReduce::Last | SequenceReduce::First) {
            return Err(Error::config(
                format!("inputs of layer '{}'", self.name()),
                "1 input (a padding mask is for global_avg_pool1d and global_max_pool1d)",
                "2 inputs",
            ));
        }
        super::attention::build_with_mask(self, inputs, rng)
    }

    /// With a padding mask `m [batch, time]` (1: a token, 0: padding), only the tokens count:
    /// mean `Σ_t m_t x_t / max(Σ_t m_t, 1e-9)` (sentence-transformers' mean pooling), max
    /// over the tokens (padding set to -1e9 first).
    fn forward_multi(&self, xs: &[Tensor], ctx: &mut Ctx) -> Tensor {
        let [x, mask] = xs else {
            return self.forward(&xs[0], ctx);
        };
        let (b, t) = (x.shape()[0], x.shape()[1]);
        let m = mask.reshape(&[b, t, 1]);
        match self.how {
            SequenceReduce::Mean => {
                let count = mask.sum_axis(1).reshape(&[b, 1]).clamp(1e-9, f32::MAX);
                x.mul(&m).sum_axis(1).div(&count)
            }
            _ => self.forward(&x.add(&m.add_scalar(-1.0).scale(1e9)), ctx),
        }
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let (b, t, f) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        match self.how {
            SequenceReduce::Mean => x.mean_axis(1),
            SequenceReduce::Last => x.narrow(1, t - 1, 1).reshape(&[b, f]),
            SequenceReduce::First => x.narrow(1, 0, 1).reshape(&[b, f]),
            SequenceReduce::Max => {
                // [B, T, F] -> [B, F, T, 1] planes, pooled over the whole time axis
                let planes = x.permute(&[0, 2, 1]).reshape(&[b, f, t, 1]);
                let win = Window2d {
                    stride: (t, 1),
                    pad: (0, 0, 0, 0),
                    dilation: (1, 1),
                    groups: 1,
                };
                planes.max_pool2d((t, 1), win).reshape(&[b, f])
            }
        }
    }

    crate::layer::trainable_from_config!();
}
