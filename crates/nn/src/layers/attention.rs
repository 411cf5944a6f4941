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
//!
//! After dynamic int8 quantisation (`Model::quantize`, `quantized = true` in the config) the
//! four projections are [`QuantizedDense`] layers (`query/kernel` int8 with
//! `query/kernel_scale`, …); the attention itself stays float32.

use super::{default_true, QuantizedDense, QuantizedDenseConfig};
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::init::Initializer;
use crate::layer::{Ctx, Int8Param, Layer, Param};
use crate::quantize::QuantMode;
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
    /// Whether the projections are int8 (set by dynamic quantisation; default false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quantized: bool,
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
    /// `query/kernel`, …, `output/bias`); empty when quantised.
    params: Vec<Param>,
    /// The int8 query, key, value and output projections when quantised.
    int8: Vec<QuantizedDense>,
}

/// The projections' names, in order.
const PROJECTIONS: [&str; 4] = ["query", "key", "value", "output"];

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

    /// int8 projections (for a quantised model's file) on or off.
    pub(crate) fn quantized(mut self, on: bool) -> MultiHeadAttention {
        self.cfg.quantized = on;
        self
    }

    /// A layer from its config.
    pub fn from_config(cfg: AttentionConfig) -> MultiHeadAttention {
        MultiHeadAttention {
            cfg,
            params: Vec::new(),
            int8: Vec::new(),
        }
    }

    /// Projection `i` (query, key, value, output) of `x`.
    fn project(&self, i: usize, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        if let Some(q) = self.int8.get(i) {
            return q.forward(x, ctx);
        }
        let p = &self.params;
        x.linear(&p[i].value, self.cfg.use_bias.then(|| &p[4 + i].value))
    }
}

/// Names a projection's weights `prefix/…` (`query/kernel`) as the layer's own.
pub(crate) fn prefix_weights(layer: &mut dyn Layer, prefix: &str) {
    for p in layer.params_mut() {
        p.name = format!("{prefix}/{}", p.name);
    }
    for p in layer.int8_params_mut() {
        p.name = format!("{prefix}/{}", p.name);
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
        if c.quantized {
            let mut int8 = Vec::new();
            for (name, units) in PROJECTIONS.into_iter().zip([e, e, e, d]) {
                let mut q = QuantizedDense::from_config(QuantizedDenseConfig {
                    units,
                    activation: Default::default(),
                    use_bias: c.use_bias,
                    name: Some(name.into()),
                });
                q.build(&[if name == "output" { e } else { d }], rng)?;
                prefix_weights(&mut q, name);
                int8.push(q);
            }
            (self.int8, self.params) = (int8, Vec::new());
            return Ok(input.to_vec());
        }
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
        (self.params, self.int8) = (params, Vec::new());
        Ok(input.to_vec())
    }

    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let (b, t) = (x.shape()[0], x.shape()[1]);
        let (q, k, v) = (
            self.project(0, x, ctx),
            self.project(1, x, ctx),
            self.project(2, x, ctx),
        );
        // padding positions marked by an embedding with mask_padding, or a mask input
        let keep = ctx.key_mask.as_deref().filter(|m| m.len() == b * t);
        // one fused kernel: heads side by side, causal rows cut, dropout drawn inside
        let rate = self.cfg.dropout;
        let drop = (ctx.training && rate > 0.0).then(|| (rate, ctx.rng.next_u64()));
        let heads = (self.cfg.num_heads, self.cfg.causal);
        let out = Tensor::attention_dropout(&q, &k, &v, heads, keep, drop);
        self.project(3, &out, ctx)
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
        let mut rng = Rng::new(0);
        let ctx = &mut Ctx::new(false, &mut rng);
        let q = self.project(0, x, ctx);
        let (k, v) = state.append(self.project(1, x, ctx), self.project(2, x, ctx));
        let out = Tensor::attention(&q, &k, &v, self.cfg.num_heads, true);
        Some(self.project(3, &out, ctx))
    }

    fn params(&self) -> Vec<&Param> {
        let int8 = self.int8.iter().flat_map(|q| q.params());
        self.params.iter().chain(int8).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        let int8 = self.int8.iter_mut().flat_map(|q| q.params_mut());
        self.params.iter_mut().chain(int8).collect()
    }

    fn int8_params(&self) -> Vec<&Int8Param> {
        self.int8.iter().flat_map(|q| q.int8_params()).collect()
    }

    fn int8_params_mut(&mut self) -> Vec<&mut Int8Param> {
        self.int8
            .iter_mut()
            .flat_map(|q| q.int8_params_mut())
            .collect()
    }

    /// Dynamic quantisation of the four projections (the attention stays float32).
    fn quantize_inside(&mut self, mode: QuantMode) -> Result<Vec<String>> {
        let _ = mode; // both modes quantise projections dynamically
        if self.params.is_empty() {
            return Ok(Vec::new());
        }
        let (e, d) = (
            self.params[0].value.shape()[1],
            self.params[3].value.shape()[1],
        );
        let mut int8 = Vec::new();
        for (i, (name, units)) in PROJECTIONS.into_iter().zip([e, e, e, d]).enumerate() {
            let kernel = &self.params[i].value;
            crate::quantize::check_finite(&format!("{}.{name}/kernel", self.name()), kernel)?;
            let bias = self.cfg.use_bias.then(|| &self.params[4 + i].value);
            let mut q = QuantizedDense::quantize(name, units, Default::default(), kernel, bias)?;
            prefix_weights(&mut q, name);
            int8.push(q);
        }
        (self.int8, self.params) = (int8, Vec::new());
        self.cfg.quantized = true;
        Ok(PROJECTIONS.iter().map(|p| p.to_string()).collect())
    }

    crate::layer::trainable_from_config!();
}
