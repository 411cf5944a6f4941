//! `PositionalEmbedding`: adds each position's vector to a sequence, `y[t] = x[t] + P[t]`,
//! with `P` learned (`"learned"`, GPT's) or fixed sinusoids (`"sinusoidal"`, Vaswani et al.):
//! `P[t, 2i] = sin(t / 10000^(2i/D))`, `P[t, 2i+1] = cos(t / 10000^(2i/D))`.
//!
//! # Shapes
//! - input: `[batch, time, features]` with `time <= max_length`; output: the same
//! - learned table: `[max_length, features]`, drawn from N(0, 1) (an `nn.Embedding` of
//!   positions, as PyTorch GPTs write it)

use super::default_true;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer, Param};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// Where the position vectors come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PositionKind {
    /// A trained table.
    #[default]
    Learned,
    /// Fixed sines and cosines.
    Sinusoidal,
}

/// The config of [`PositionalEmbedding`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PositionalConfig {
    /// `"learned"` (default) or `"sinusoidal"`.
    #[serde(default)]
    pub kind: PositionKind,
    /// Longest sequence (default: the input's length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the table is trained (default: true).
    #[serde(default = "default_true")]
    pub trainable: bool,
}

/// Adds position vectors.
pub struct PositionalEmbedding {
    cfg: PositionalConfig,
    table: Option<Param>,
    fixed: Option<Tensor>,
}

impl PositionalEmbedding {
    /// Positions of the given kind, up to the input's length.
    pub fn new(kind: PositionKind) -> PositionalEmbedding {
        PositionalEmbedding::from_config(super::with_defaults(serde_json::json!({"kind": kind})))
    }

    /// A layer from its config.
    pub fn from_config(cfg: PositionalConfig) -> PositionalEmbedding {
        PositionalEmbedding {
            cfg,
            table: None,
            fixed: None,
        }
    }
}

/// `[len, d]` sinusoids.
fn sinusoids(len: usize, d: usize) -> Tensor {
    let p = (0..len * d)
        .map(|i| {
            let (t, j) = ((i / d) as f64, i % d);
            let angle = t / 10000f64.powf((j - j % 2) as f64 / d as f64);
            (if j % 2 == 0 { angle.sin() } else { angle.cos() }) as f32
        })
        .collect();
    Tensor::from_vec(p, &[len, d])
}

impl Layer for PositionalEmbedding {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("positional_embedding")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        let mut cfg = self.cfg.clone();
        cfg.trainable = self.trainable();
        LayerConfig::PositionalEmbedding(cfg)
    }

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        let [t, d] = *input else {
            return Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "[time, features]".into(),
                received: input.to_vec(),
            });
        };
        let len = self.cfg.max_length.unwrap_or(t);
        if len < t {
            return Err(Error::config(
                format!("max_length of layer '{}'", self.name()),
                format!("at least the input's length {t}"),
                len,
            ));
        }
        let what = || format!("positions of layer '{}'", self.name());
        let n = match self.cfg.kind {
            PositionKind::Learned => crate::budget::checked_weight(what, &[len, d])?,
            PositionKind::Sinusoidal => crate::budget::checked_values(what, &[len, d])?,
        };
        match self.cfg.kind {
            PositionKind::Learned => {
                let v = (0..n).map(|_| rng.normal()).collect();
                let mut p = Param::new("positions", Tensor::from_vec(v, &[len, d]));
                p.trainable = self.cfg.trainable;
                self.table = Some(p);
            }
            PositionKind::Sinusoidal => self.fixed = Some(sinusoids(len, d)),
        }
        Ok(input.to_vec())
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let t = x.shape()[1];
        let table = match (&self.table, &self.fixed) {
            (Some(p), _) => &p.value,
            (None, Some(f)) => f,
            _ => panic!("PositionalEmbedding::forward before build"),
        };
        let table = if table.shape()[0] == t {
            table.clone()
        } else {
            table.narrow(0, 0, t)
        };
        x.add(&table)
    }

    fn decode(
        &self,
        x: &Tensor,
        start: usize,
        _s: &mut crate::decode::DecodeState,
    ) -> Option<Tensor> {
        let n = x.shape()[1];
        let table = self
            .table
            .as_ref()
            .map(|p| &p.value)
            .or(self.fixed.as_ref())?;
        (start + n <= table.shape()[0]).then(|| x.add(&table.narrow(0, start, n)))
    }

    fn params(&self) -> Vec<&Param> {
        self.table.iter().collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.table.iter_mut().collect()
    }

    crate::layer::trainable_from_config!();
}
