//! `TransformerBlock`: attention and an MLP, each with a residual connection and layer norm.
//!
//! ```text
//! pre-norm (norm_first, GPT-2's):  x = x + drop(attn(ln1(x)));  y = x + drop(mlp(ln2(x)))
//! post-norm (Vaswani et al.):      x = ln1(x + drop(attn(x)));  y = ln2(x + drop(mlp(x)))
//! mlp(x) = act(x W1 + b1) W2 + b2,  W1: [D, mlp_ratio·D]
//! ```
//! Built from [`MultiHeadAttention`], [`LayerNorm`] and [`Dense`]; their weights are named
//! `attn/query/kernel`, `ln1/gamma`, `mlp1/kernel`, … inside the block. Initialised as
//! PyTorch's `nn.TransformerEncoderLayer`: the attention as `nn.MultiheadAttention`, W1 and W2
//! U(±1/sqrt(fan_in)) ([`Initializer::torch_linear`]).
//!
//! Dynamic int8 quantisation (`Model::quantize`; `quantized = true` in the config) makes the
//! attention's projections and the MLP [`QuantizedDense`] layers (`mlp1/kernel` int8 with
//! `mlp1/kernel_scale`, …); attention, layer norms and residuals stay float32.
//!
//! # Shapes
//! - input: `[batch, time, features]`; output: the same
//! - optional second input: the padding mask `[batch, time]` of the attention (1: a token,
//!   0: padding), as a BERT encoder layer takes it

use super::attention::prefix_weights;
use super::default_true;
use super::{Dense, LayerNorm, MultiHeadAttention, QuantizedDense, QuantizedDenseConfig};
use crate::activations::Activation;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::init::Initializer;
use crate::layer::{Ctx, Int8Param, Layer, Param};
use crate::quantize::QuantMode;
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of [`TransformerBlock`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformerConfig {
    /// Attention heads.
    pub num_heads: usize,
    /// Size of each head (default: features / num_heads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_dim: Option<usize>,
    /// Hidden width of the MLP as a multiple of the features (default 4).
    #[serde(default = "four")]
    pub mlp_ratio: usize,
    /// The MLP's activation (default gelu).
    #[serde(default = "gelu")]
    pub activation: Activation,
    /// Causal attention (default false; true for a GPT).
    #[serde(default)]
    pub causal: bool,
    /// Dropout on the attention weights and on both residual branches (default 0).
    #[serde(default)]
    pub dropout: f32,
    /// Layer norm before each branch (default true) or after each residual sum (false).
    #[serde(default = "default_true")]
    pub norm_first: bool,
    /// The layer norms' ε (default 1e-5).
    #[serde(default = "epsilon")]
    pub epsilon: f32,
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

fn four() -> usize {
    4
}
fn gelu() -> Activation {
    Activation::Gelu
}
fn epsilon() -> f32 {
    1e-5
}

/// One transformer block.
pub struct TransformerBlock {
    cfg: TransformerConfig,
    /// ln1, attn, ln2, mlp1, mlp2 once built.
    parts: Vec<(&'static str, Box<dyn Layer>)>,
}

impl TransformerBlock {
    /// A pre-norm block with `num_heads` heads.
    pub fn new(num_heads: usize) -> TransformerBlock {
        TransformerBlock::from_config(super::with_defaults(
            serde_json::json!({"num_heads": num_heads}),
        ))
    }

    /// Causal attention on or off.
    pub fn causal(mut self, on: bool) -> TransformerBlock {
        self.cfg.causal = on;
        self
    }

    /// A layer from its config.
    pub fn from_config(cfg: TransformerConfig) -> TransformerBlock {
        TransformerBlock {
            cfg,
            parts: Vec::new(),
        }
    }

    fn dropout(&self, x: Tensor, ctx: &mut Ctx) -> Tensor {
        if !ctx.training || self.cfg.dropout == 0.0 {
            return x;
        }
        let mask = super::dropout::keep_mask(ctx.rng, x.numel(), self.cfg.dropout);
        x.mul(&Tensor::from_vec(mask, x.shape()))
    }
}

impl Layer for TransformerBlock {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("transformer_block")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        let mut cfg = self.cfg.clone();
        cfg.trainable = self.trainable();
        LayerConfig::TransformerBlock(cfg)
    }

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        let c = &self.cfg;
        let [_, d] = *input else {
            return Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "[time, features]".into(),
                received: input.to_vec(),
            });
        };
        let key_dim = c.key_dim.unwrap_or(d / c.num_heads.max(1));
        if c.num_heads == 0 || key_dim == 0 || c.mlp_ratio == 0 || !(0.0..1.0).contains(&c.dropout)
        {
            return Err(Error::config(
                format!("num_heads, key_dim, mlp_ratio and dropout of layer '{}'", self.name()),
                "positive integers (key_dim defaults to features / num_heads) and a dropout in [0, 1)",
                format!("{}, {key_dim}, {}, {}", c.num_heads, c.mlp_ratio, c.dropout),
            ));
        }
        let attn = MultiHeadAttention::new(c.num_heads, key_dim)
            .causal(c.causal)
            .dropout(c.dropout)
            .quantized(c.quantized);
        let norm = || LayerNorm::new().epsilon(c.epsilon);
        let mlp = |units: usize, activation: Activation| -> Box<dyn Layer> {
            match c.quantized {
                true => Box::new(QuantizedDense::from_config(QuantizedDenseConfig {
                    units,
                    activation,
                    use_bias: true,
                    name: None,
                })),
                false => Box::new(
                    Dense::new(units)
                        .activation(activation)
                        .kernel_initializer(Initializer::torch_linear()),
                ),
            }
        };
        let mut parts: Vec<(&'static str, Box<dyn Layer>)> = vec![
            ("ln1", Box::new(norm())),
            ("attn", Box::new(attn)),
            ("ln2", Box::new(norm())),
            ("mlp1", mlp(c.mlp_ratio * d, c.activation)),
            ("mlp2", mlp(d, Activation::Linear)),
        ];
        let mut shape = input.to_vec();
        for (prefix, l) in &mut parts {
            // mlp1 widens the features, mlp2 brings them back
            shape = l.build(&shape, rng)?;
            prefix_weights(l.as_mut(), prefix);
            if !c.quantized {
                l.set_trainable(c.trainable);
            }
        }
        self.parts = parts;
        Ok(input.to_vec())
    }

    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let run = |i: usize, x: &Tensor, ctx: &mut Ctx| self.parts[i].1.forward(x, ctx);
        if self.cfg.norm_first {
            let h = run(0, x, ctx);
            let a = run(1, &h, ctx);
            let x = x.add(&self.dropout(a, ctx));
            let h = run(2, &x, ctx);
            let m = run(4, &run(3, &h, ctx), ctx);
            x.add(&self.dropout(m, ctx))
        } else {
            let a = run(1, x, ctx);
            let x = run(0, &x.add(&self.dropout(a, ctx)), ctx);
            let m = run(4, &run(3, &x, ctx), ctx);
            run(2, &x.add(&self.dropout(m, ctx)), ctx)
        }
    }

    fn build_multi(&mut self, inputs: &[Vec<usize>], rng: &mut Rng) -> Result<Vec<usize>> {
        super::attention::build_with_mask(self, inputs, rng)
    }

    fn forward_multi(&self, xs: &[Tensor], ctx: &mut Ctx) -> Tensor {
        super::attention::with_mask(xs, ctx, |x, ctx| self.forward(x, ctx))
    }

    fn decode(
        &self,
        x: &Tensor,
        start: usize,
        state: &mut crate::decode::DecodeState,
    ) -> Option<Tensor> {
        state.parts.resize_with(1, Default::default);
        let attn = &mut state.parts[0];
        let pw = |i: usize, x: &Tensor| crate::decode::position_wise(self.parts[i].1.as_ref(), x);
        if self.cfg.norm_first {
            let a = self.parts[1].1.decode(&pw(0, x), start, attn)?;
            let x = x.add(&a);
            Some(x.add(&pw(4, &pw(3, &pw(2, &x)))))
        } else {
            let a = self.parts[1].1.decode(x, start, attn)?;
            let x = pw(0, &x.add(&a));
            Some(pw(2, &x.add(&pw(4, &pw(3, &x)))))
        }
    }

    fn params(&self) -> Vec<&Param> {
        self.parts.iter().flat_map(|(_, l)| l.params()).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.parts
            .iter_mut()
            .flat_map(|(_, l)| l.params_mut())
            .collect()
    }

    fn int8_params(&self) -> Vec<&Int8Param> {
        self.parts
            .iter()
            .flat_map(|(_, l)| l.int8_params())
            .collect()
    }

    fn int8_params_mut(&mut self) -> Vec<&mut Int8Param> {
        self.parts
            .iter_mut()
            .flat_map(|(_, l)| l.int8_params_mut())
            .collect()
    }

    /// Dynamic quantisation of the attention's projections and the MLP.
    fn quantize_inside(&mut self, mode: QuantMode) -> Result<Vec<String>> {
        if self.cfg.quantized || self.parts.is_empty() {
            return Ok(Vec::new());
        }
        let block = self.name().to_string();
        let attn = &mut self.parts[1].1;
        let mut done: Vec<String> = attn.quantize_inside(mode)?;
        // its new weights get the block's names for them (`attn/query/kernel`)
        prefix_weights(attn.as_mut(), "attn");
        done.iter_mut().for_each(|p| *p = format!("attn/{p}"));
        for (i, activation) in [(3, self.cfg.activation), (4, Activation::Linear)] {
            let (prefix, layer) = &self.parts[i];
            let params = layer.params();
            let find = |w: &str| {
                let p = params.iter().find(|p| p.name == format!("{prefix}/{w}"));
                p.map(|p| &p.value)
            };
            let kernel = find("kernel").expect("a built block's MLP has a kernel");
            crate::quantize::check_finite(&format!("{block}.{prefix}/kernel"), kernel)?;
            let units = kernel.shape()[1];
            let mut q = QuantizedDense::quantize(prefix, units, activation, kernel, find("bias"))?;
            prefix_weights(&mut q, prefix);
            done.push(prefix.to_string());
            self.parts[i].1 = Box::new(q);
        }
        self.cfg.quantized = true;
        Ok(done)
    }

    crate::layer::trainable_from_config!();
}
