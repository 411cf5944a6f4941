//! `Embedding`: a learned vector per token: `y[.., :] = table[x[..], :]`. Inputs are token
//! indices stored as floats (whole numbers in `0..input_dim`); the row of `padding_idx`
//! starts at zeros and is never trained, so padding maps to a zero vector (PyTorch's
//! `padding_idx`).
//!
//! # Shapes
//! - input: `[batch, ..]` of indices; table: `[input_dim, output_dim]`
//! - output: `[batch, .., output_dim]`
//!
//! An index that is not a whole number in `0..input_dim` is a bug in the data: `forward`
//! panics naming it (the trainer checks inputs before training starts, see
//! [`Embedding::check_indices`]).

use super::default_true;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::init::Initializer;
use crate::layer::{Ctx, Layer, Param};
use crate::named::name_or_table;
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of [`Embedding`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingConfig {
    /// Vocabulary size: indices run over `0..input_dim`.
    pub input_dim: usize,
    /// Length of each vector.
    pub output_dim: usize,
    /// This index maps to zeros and gets no gradient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding_idx: Option<usize>,
    /// Mark positions holding `padding_idx` as padding for the attention layers after this
    /// one (Keras's `mask_zero`, PyTorch's `key_padding_mask`; default false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mask_padding: bool,
    /// Table initialiser (default: PyTorch's N(0, 1); Keras's is uniform in [-0.05, 0.05]).
    #[serde(default = "unit_normal", deserialize_with = "name_or_table")]
    pub embeddings_initializer: Initializer,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the table is trained (default: true).
    #[serde(default = "default_true")]
    pub trainable: bool,
}

fn unit_normal() -> Initializer {
    Initializer::RandomNormal {
        mean: 0.0,
        stddev: 1.0,
    }
}

/// A lookup table of learned vectors.
pub struct Embedding {
    cfg: EmbeddingConfig,
    table: Option<Param>,
}

impl Embedding {
    /// `input_dim` tokens, vectors of `output_dim`.
    pub fn new(input_dim: usize, output_dim: usize) -> Embedding {
        Embedding::from_config(super::with_defaults(
            serde_json::json!({"input_dim": input_dim, "output_dim": output_dim}),
        ))
    }

    /// Sets the padding index.
    pub fn padding_idx(mut self, i: usize) -> Embedding {
        self.cfg.padding_idx = Some(i);
        self
    }

    /// Masks padding positions for later attention layers (needs a padding index).
    pub fn mask_padding(mut self, on: bool) -> Embedding {
        self.cfg.mask_padding = on;
        self
    }

    /// A layer from its config.
    pub fn from_config(cfg: EmbeddingConfig) -> Embedding {
        Embedding { cfg, table: None }
    }

    /// The indices in `x`, or an error naming the first value that is not a whole number
    /// in `0..input_dim`.
    pub fn check_indices(&self, x: &[f32]) -> Result<Vec<usize>> {
        let n = self.cfg.input_dim;
        x.iter()
            .map(|&v| {
                if v >= 0.0 && v.fract() == 0.0 && (v as usize) < n {
                    Ok(v as usize)
                } else {
                    Err(Error::config(
                        format!("input of layer '{}'", self.name()),
                        format!("token indices, whole numbers in [0, {n})"),
                        v,
                    ))
                }
            })
            .collect()
    }
}

impl Layer for Embedding {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("embedding")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        let mut cfg = self.cfg.clone();
        cfg.trainable = self.trainable();
        LayerConfig::Embedding(cfg)
    }

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        let c = &self.cfg;
        if c.input_dim == 0 || c.output_dim == 0 {
            return Err(Error::config(
                format!("input_dim and output_dim of layer '{}'", self.name()),
                "positive integers",
                format!("{}, {}", c.input_dim, c.output_dim),
            ));
        }
        if c.mask_padding && c.padding_idx.is_none() {
            return Err(Error::config(
                format!("mask_padding of layer '{}'", self.name()),
                "a padding_idx to mask",
                "none",
            ));
        }
        if let Some(p) = c.padding_idx.filter(|&p| p >= c.input_dim) {
            return Err(Error::config(
                format!("padding_idx of layer '{}'", self.name()),
                format!("an index below input_dim {}", c.input_dim),
                p,
            ));
        }
        let n = crate::budget::checked_weight(
            || format!("embeddings of layer '{}'", self.name()),
            &[c.input_dim, c.output_dim],
        )?;
        let mut t = c
            .embeddings_initializer
            .sample(n, c.input_dim, c.output_dim, rng);
        if let Some(p) = c.padding_idx {
            t[p * c.output_dim..(p + 1) * c.output_dim].fill(0.0);
        }
        let mut table = Param::new(
            "embeddings",
            Tensor::from_vec(t, &[c.input_dim, c.output_dim]),
        );
        table.trainable = c.trainable;
        self.table = Some(table);
        Ok(input.iter().copied().chain([c.output_dim]).collect())
    }

    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        if let (true, Some(pad)) = (self.cfg.mask_padding, self.cfg.padding_idx) {
            let keep = x
                .data()
                .iter()
                .map(|&v| f32::from(v as usize != pad))
                .collect();
            ctx.key_mask = Some(keep);
        }
        let table = &self
            .table
            .as_ref()
            .expect("Embedding::forward before build")
            .value;
        let idx = self
            .check_indices(x.data())
            .unwrap_or_else(|e| panic!("{e}"));
        table.embedding(&idx, x.shape(), self.cfg.padding_idx)
    }

    fn takes_ids(&self) -> bool {
        true
    }

    fn check_input(&self, x: &[f32]) -> Result<()> {
        self.check_indices(x).map(|_| ())
    }

    fn decode(
        &self,
        x: &Tensor,
        _start: usize,
        _s: &mut crate::decode::DecodeState,
    ) -> Option<Tensor> {
        Some(crate::decode::position_wise(self, x))
    }

    fn params(&self) -> Vec<&Param> {
        self.table.iter().collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.table.iter_mut().collect()
    }

    crate::layer::trainable_from_config!();
}
