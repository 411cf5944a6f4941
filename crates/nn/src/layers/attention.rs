//! `MultiHeadAttention`: self-attention over a sequence (Vaswani et al., 2017): the
//! projections, then one fused attention op (`Tensor::attention_dropout`, its gradient
//! checked against finite differences):
//!
//! ```text
//! Q = x Wq + bq,  K = x Wk + bk,  V = x Wv + bv          (each [B, T, H·dk], split into H heads)
//! A_h = softmax(Q_h K_hᵀ / sqrt(dk) + M)                 (M: -1e9 above the diagonal if causal)
//! y = concat_h(dropout(A_h) V_h) Wo + bo                 ([B, T, D])
//! ```
//! Weights are stored `[in, out]` like `Dense` (PyTorch's `in_proj_weight` rows are Wqᵀ, Wkᵀ, Wvᵀ
//! for `key_dim = D / H`). Dropout on `A` while training is drawn inside the fused op, one
//! seed per call from the layer's generator. Initialised as PyTorch's `nn.MultiheadAttention`: Wq, Wk, Wv
//! glorot uniform over the stacked `[D, 3·H·dk]` projection, Wo U(±1/sqrt(H·dk)), zero biases.
//!
//! # Shapes
//! - input: `[batch, time, features]`; output: the same
//! - optional second input: a padding mask `[batch, time]` (1: a token, 0: padding; a
//!   tokenizer's `attention_mask`): padded keys get no attention weight (BERT's extended mask)
//! - Wq, Wk, Wv: `[features, heads·key_dim]`, Wo: `[heads·key_dim, features]`

use super::default_true;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::init::Initializer;
use crate::layer::{Ctx, Layer, Param};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of [`MultiHeadAttention`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttentionConfig {
    /// Number of heads.
    pub num_heads: usize,
    /// Size of each head's queries and keys (and values).
    pub key_dim: usize,
    /// Each position attends only to itself and earlier positions (default false).
    #[serde(default)]
    pub causal: bool,
    /// Dropout on the attention weights while training (default 0).
    #[serde(default)]
    pub dropout: f32,
    /// Biases on the four projections (default true).
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Projection initialiser (default: PyTorch's `nn.MultiheadAttention`: glorot uniform over
    /// the stacked `[features, 3·heads·key_dim]` Q/K/V projection, U(±1/sqrt(fan_in)) for the
    /// output projection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "crate::named::optional")]
    pub kernel_initializer: Option<Initializer>,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the weights are trained (default: true).
    #[serde(default = "default_true")]
    pub trainable: bool,
}

/// Multi-head self-attention.
pub struct MultiHeadAttention {
    cfg: AttentionConfig,
    /// Wq, Wk, Wv, Wo, then bq, bk, bv, bo when `use_bias` (named as Keras names them:
    /// `query/kernel`, …, `output/bias`).
    params: Vec<Param>,
}

impl MultiHeadAttention {
    /// `num_heads` heads of size `key_dim`.
    pub fn new(num_heads: usize, key_dim: usize) -> MultiHeadAttention {
        MultiHeadAttention::from_config(super::with_defaults(
            serde_json::json!({"num_heads": num_heads, "key_dim": key_dim}),
        ))
    }

    /// Causal masking on or off.
    pub fn causal(mut self, on: bool) -> MultiHeadAttention {
        self.cfg.causal = on;
        self
    }

    /// Sets the dropout on the attention weights.
    pub fn dropout(mut self, rate: f32) -> MultiHeadAttention {
        self.cfg.dropout = rate;
        self
    }

    /// A layer from its config.
    pub fn from_config(cfg: AttentionConfig) -> MultiHeadAttention {
        MultiHeadAttention {
            cfg,
            params: Vec::new(),
        }
    }
}

/// Builds a layer that takes a sequence `[time, ..]` and, optionally, its padding mask
/// `[time]` as a second input.
pub(crate) fn build_with_mask(
    layer: &mut dyn Layer,
    inputs: &[Vec<usize>],
    rng: &mut Rng,
) -> Result<Vec<usize>> {
    match inputs {
        [x] => layer.build(x, rng),
        [x, m] if x.first().is_some_and(|t| m == &[*t]) => layer.build(x, rng),
        _ => Err(Error::config(
            format!("inputs of layer '{}'", layer.name()),
            "a sequence [time, ..], and optionally its padding mask [time]",
            format!("{inputs:?}"),
        )),
    }
}

/// Runs `f` on the sequence with the padding mask of `xs[1]` (when given) in `ctx`, where
/// attention reads it, and restores the mask that was there.
pub(crate) fn with_mask(
    xs: &[Tensor],
    ctx: &mut Ctx,
    f: impl FnOnce(&Tensor, &mut Ctx) -> Tensor,
) -> Tensor {
    let Some(mask) = xs.get(1) else {
        return f(&xs[0], ctx);
    };
    let saved = ctx.key_mask.replace(mask.to_vec());
    let y = f(&xs[0], ctx);
    ctx.key_mask = saved;
    y
}

impl Layer for MultiHeadAttention {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("multi_head_attention")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        let mut cfg = self.cfg.clone();
        cfg.trainable = self.trainable();
        LayerConfig::MultiHeadAttention(cfg)
    }

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        let c = &self.cfg;
        if c.num_heads == 0 || c.key_dim == 0 || !(0.0..1.0).contains(&c.dropout) {
            return Err(Error::config(
                format!("num_heads, key_dim and dropout of layer '{}'", self.name()),
                "positive integers and a dropout in [0, 1)",
                format!("{}, {}, {}", c.num_heads, c.key_dim, c.dropout),
            ));
        }
        let [_, d] = *input else {
            return Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "[time, features]".into(),
                received: input.to_vec(),
            });
        };
        let what = || format!("projections of layer '{}'", self.name());
        let e = crate::budget::checked_mul(what, c.num_heads, c.key_dim)?;
        crate::budget::checked_weight(what, &[d, e])?; // each of query, key, value, output
        let mut params = Vec::new();
        // PyTorch's defaults: glorot over the stacked [d, 3e] in-projection, nn.Linear's for
        // the output; a given initialiser uses each matrix's own fans
        let in_proj = (Initializer::GlorotUniform, (d, 3 * e));
        for (name, (i, o), (default, fans)) in [
            ("query/kernel", (d, e), in_proj),
            ("key/kernel", (d, e), in_proj),
            ("value/kernel", (d, e), in_proj),
            (
                "output/kernel",
                (e, d),
                (Initializer::torch_linear(), (e, d)),
            ),
        ] {
            let (init, (fi, fo)) = c
                .kernel_initializer
                .map_or((default, fans), |given| (given, (i, o)));
            let w = init.sample(i * o, fi, fo, rng);
            params.push(Param::new(name, Tensor::from_vec(w, &[i, o])));
        }
        if c.use_bias {
            for (name, n) in [
                ("query/bias", e),
                ("key/bias", e),
                ("value/bias", e),
                ("output/bias", d),
            ] {
                params.push(Param::new(name, Tensor::zeros(&[n])));
            }
        }
        for p in &mut params {
            p.trainable = c.trainable;
        }
        self.params = params;
        Ok(input.to_vec())
    }

    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let p = &self.params;
        let bias = |i: usize| self.cfg.use_bias.then(|| &p[4 + i].value);
        let (b, t) = (x.shape()[0], x.shape()[1]);
        let (q, k, v) = (
            x.linear(&p[0].value, bias(0)),
            x.linear(&p[1].value, bias(1)),
            x.linear(&p[2].value, bias(2)),
        );
        // padding positions marked by an embedding with mask_padding, or a mask input
        let keep = ctx.key_mask.as_deref().filter(|m| m.len() == b * t);
        // one fused kernel: heads side by side, causal rows cut, dropout drawn inside
        let rate = self.cfg.dropout;
        let drop = (ctx.training && rate > 0.0).then(|| (rate, ctx.rng.next_u64()));
        let heads = (self.cfg.num_heads, self.cfg.causal);
        let out = Tensor::attention_dropout(&q, &k, &v, heads, keep, drop);
        out.linear(&p[3].value, bias(3))
    }

    fn build_multi(&mut self, inputs: &[Vec<usize>], rng: &mut Rng) -> Result<Vec<usize>> {
        build_with_mask(self, inputs, rng)
    }

    fn forward_multi(&self, xs: &[Tensor], ctx: &mut Ctx) -> Tensor {
        with_mask(xs, ctx, |x, ctx| self.forward(x, ctx))
    }

    /// Causal attention only: the new positions' keys and values join the cache and the
    /// queries attend to every cached position up to their own.
    fn decode(
        &self,
        x: &Tensor,
        _start: usize,
        state: &mut crate::decode::DecodeState,
    ) -> Option<Tensor> {
        if !self.cfg.causal {
            return None;
        }
        let p = &self.params;
        let bias = |i: usize| self.cfg.use_bias.then(|| &p[4 + i].value);
        let q = x.linear(&p[0].value, bias(0));
        let (k, v) = state.append(
            x.linear(&p[1].value, bias(1)),
            x.linear(&p[2].value, bias(2)),
        );
        let out = Tensor::attention(&q, &k, &v, self.cfg.num_heads, true);
        Some(out.linear(&p[3].value, bias(3)))
    }

    fn params(&self) -> Vec<&Param> {
        self.params.iter().collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.params.iter_mut().collect()
    }

    crate::layer::trainable_from_config!();
}
