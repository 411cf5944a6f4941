//! Merge layers (Keras's `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`,
//! `Concatenate`, `Dot`): several inputs in, one output; no weights.
//!
//! `{ type = "add", inputs = ["conv_2", "block_1"] }`
//!
//! # Shapes
//! - element-wise merges: inputs of one shape → that shape (`subtract` takes exactly two)
//! - `concatenate`: inputs equal off `axis` → the sizes along `axis` summed
//! - `dot`: `[n]·[n] → [1]`; `[t, d]·[s, d]` with `axes = [2, 2]` → `[t, s]`

use super::default_true;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of an element-wise merge ([`Merge`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeConfig {
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Has no weights; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

/// The function an element-wise merge applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeOp {
    /// `a + b + ..`
    Add,
    /// `a - b`
    Subtract,
    /// `a · b · ..`
    Multiply,
    /// `(a + b + ..) / n`
    Average,
    /// `max(a, b, ..)`
    Maximum,
    /// `min(a, b, ..)`
    Minimum,
}

/// An element-wise merge of inputs of one shape.
pub struct Merge {
    cfg: MergeConfig,
    op: MergeOp,
}

macro_rules! merge_constructors {
    ($($ty:ident => $op:ident, $doc:literal;)*) => {$(
        #[doc = $doc]
        pub struct $ty;
        impl $ty {
            /// The merge layer.
            #[allow(clippy::new_ret_no_self)]
            pub fn new() -> Merge {
                Merge::from_config(MergeOp::$op, MergeConfig { name: None, trainable: true })
            }
        }
    )*};
}

merge_constructors! {
    Add => Add, "Keras's `Add`: the sum of the inputs (`Add::new()` is a [`Merge`]).";
    Subtract => Subtract, "Keras's `Subtract`: the first input minus the second.";
    Multiply => Multiply, "Keras's `Multiply`: the element-wise product of the inputs.";
    Average => Average, "Keras's `Average`: the element-wise mean of the inputs.";
    Maximum => Maximum, "Keras's `Maximum`: the element-wise maximum of the inputs.";
    Minimum => Minimum, "Keras's `Minimum`: the element-wise minimum of the inputs.";
}

impl Merge {
    /// A layer from its config.
    pub fn from_config(op: MergeOp, cfg: MergeConfig) -> Merge {
        Merge { cfg, op }
    }
}

/// `layer 'x' takes 2 or more inputs` as a build error.
fn too_few(name: &str, want: &str, got: usize) -> Error {
    Error::config(
        format!("inputs of layer '{name}'"),
        want,
        format!("{got} input(s)"),
    )
}

impl Layer for Merge {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or(match self.op {
            MergeOp::Add => "add",
            MergeOp::Subtract => "subtract",
            MergeOp::Multiply => "multiply",
            MergeOp::Average => "average",
            MergeOp::Maximum => "maximum",
            MergeOp::Minimum => "minimum",
        })
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        let c = self.cfg.clone();
        match self.op {
            MergeOp::Add => LayerConfig::Add(c),
            MergeOp::Subtract => LayerConfig::Subtract(c),
            MergeOp::Multiply => LayerConfig::Multiply(c),
            MergeOp::Average => LayerConfig::Average(c),
            MergeOp::Maximum => LayerConfig::Maximum(c),
            MergeOp::Minimum => LayerConfig::Minimum(c),
        }
    }

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        self.build_multi(&[input.to_vec()], rng)
    }

    fn build_multi(&mut self, inputs: &[Vec<usize>], _rng: &mut Rng) -> Result<Vec<usize>> {
        let n = inputs.len();
        if self.op == MergeOp::Subtract && n != 2 {
            return Err(too_few(self.name(), "exactly 2 inputs", n));
        }
        if n < 2 {
            return Err(too_few(self.name(), "2 or more inputs", n));
        }
        if inputs.iter().any(|s| *s != inputs[0]) {
            return Err(Error::config(
                format!("inputs of layer '{}'", self.name()),
                "inputs of one shape",
                format!("{inputs:?}"),
            ));
        }
        Ok(inputs[0].clone())
    }

    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        self.forward_multi(std::slice::from_ref(x), ctx)
    }

    /// `y = a ∘ b ∘ ..` folded left to right; `average` is the sum scaled by `1/n`.
    fn forward_multi(&self, xs: &[Tensor], _ctx: &mut Ctx) -> Tensor {
        let fold = |f: fn(&Tensor, &Tensor) -> Tensor| {
            xs[1..].iter().fold(xs[0].clone(), |acc, x| f(&acc, x))
        };
        match self.op {
            MergeOp::Add => fold(Tensor::add),
            MergeOp::Subtract => xs[0].sub(&xs[1]),
            MergeOp::Multiply => fold(Tensor::mul),
            MergeOp::Average => fold(Tensor::add).scale(1.0 / xs.len() as f32),
            MergeOp::Maximum => fold(Tensor::maximum),
            MergeOp::Minimum => fold(Tensor::minimum),
        }
    }

    crate::layer::trainable_from_config!();
}

/// The config of [`Concatenate`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcatenateConfig {
    /// The axis joined, counting the batch axis as 0; negative counts from the end
    /// (default -1, the last, as Keras).
    #[serde(default = "last_axis")]
    pub axis: i64,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Has no weights; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

fn last_axis() -> i64 {
    -1
}

/// Joins its inputs along one axis (Keras's `Concatenate`).
pub struct Concatenate {
    cfg: ConcatenateConfig,
    /// The axis in the batched tensor, known after `build`.
    axis: usize,
}

impl Concatenate {
    /// Joins along `axis` (batch axis 0, -1 the last).
    pub fn new(axis: i64) -> Concatenate {
        Concatenate::from_config(super::with_defaults(serde_json::json!({"axis": axis})))
    }

    /// A layer from its config.
    pub fn from_config(cfg: ConcatenateConfig) -> Concatenate {
        Concatenate { cfg, axis: 0 }
    }
}

impl Layer for Concatenate {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("concatenate")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::Concatenate(self.cfg.clone())
    }

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        self.build_multi(&[input.to_vec()], rng)
    }

    fn build_multi(&mut self, inputs: &[Vec<usize>], _rng: &mut Rng) -> Result<Vec<usize>> {
        if inputs.len() < 2 {
            return Err(too_few(self.name(), "2 or more inputs", inputs.len()));
        }
        let rank = inputs[0].len() + 1; // with the batch axis
        let a = self.cfg.axis;
        let axis = if a < 0 { rank as i64 + a } else { a };
        if axis < 1 || axis >= rank as i64 {
            return Err(Error::config(
                format!("axis of layer '{}'", self.name()),
                format!(
                    "an axis in 1..{rank} or -{}..-1 (the batch axis 0 cannot be joined)",
                    rank - 1
                ),
                a,
            ));
        }
        let axis = axis as usize;
        let agree = inputs.iter().all(|s| {
            s.len() == rank - 1 && (0..rank - 1).all(|d| d + 1 == axis || s[d] == inputs[0][d])
        });
        if !agree {
            return Err(Error::config(
                format!("inputs of layer '{}'", self.name()),
                format!("shapes equal except along axis {axis}"),
                format!("{inputs:?}"),
            ));
        }
        self.axis = axis;
        let mut out = inputs[0].clone();
        out[axis - 1] = inputs.iter().map(|s| s[axis - 1]).sum();
        Ok(out)
    }

    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        self.forward_multi(std::slice::from_ref(x), ctx)
    }

    fn forward_multi(&self, xs: &[Tensor], _ctx: &mut Ctx) -> Tensor {
        Tensor::concat(&xs.iter().collect::<Vec<_>>(), self.axis)
    }

    crate::layer::trainable_from_config!();
}

/// The config of [`Dot`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DotConfig {
    /// The axis of each input summed over, counting the batch axis as 0 (Keras's `axes`:
    /// one number for both, or one per input).
    pub axes: Axes,
    /// L2-normalise both inputs along their axes first: the dot is then the cosine
    /// similarity (default false).
    #[serde(default)]
    pub normalize: bool,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Has no weights; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

/// `axes = 1` or `axes = [2, 2]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Axes {
    /// The same axis of both inputs.
    One(usize),
    /// An axis per input.
    Two([usize; 2]),
}

/// The dot product of two inputs along one axis each (Keras's `Dot`).
pub struct Dot {
    cfg: DotConfig,
    /// Whether each input is transposed before `a · bᵀ`-style products (rank-2 samples).
    axes: [usize; 2],
}

impl Dot {
    /// Dot product along `axes` (batch axis 0).
    pub fn new(axes: usize) -> Dot {
        Dot::from_config(super::with_defaults(serde_json::json!({"axes": axes})))
    }

    /// L2-normalises the inputs first (cosine similarity).
    pub fn normalize(mut self, on: bool) -> Dot {
        self.cfg.normalize = on;
        self
    }

    /// A layer from its config.
    pub fn from_config(cfg: DotConfig) -> Dot {
        let axes = match cfg.axes {
            Axes::One(a) => [a, a],
            Axes::Two(a) => a,
        };
        Dot { cfg, axes }
    }
}

/// `x / sqrt(max(Σ x², 1e-12))` along `axis` (Keras's `l2_normalize`).
fn l2_normalize(x: &Tensor, axis: usize) -> Tensor {
    let mut keep = x.shape().to_vec();
    keep[axis] = 1;
    let norm = x.square().sum_axis(axis).clamp(1e-12, f32::MAX).sqrt();
    x.div(&norm.reshape(&keep))
}

impl Layer for Dot {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("dot")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::Dot(self.cfg.clone())
    }

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        self.build_multi(&[input.to_vec()], rng)
    }

    fn build_multi(&mut self, inputs: &[Vec<usize>], _rng: &mut Rng) -> Result<Vec<usize>> {
        let [a, b] = inputs else {
            return Err(too_few(self.name(), "exactly 2 inputs", inputs.len()));
        };
        let [i, j] = self.axes;
        let bad = || {
            Error::config(
                format!("inputs of layer '{}' (axes [{i}, {j}])", self.name()),
                "two [n] inputs with axes 1, or two rank-2 inputs with axes in 1..=2 of one size",
                format!("{a:?} and {b:?}"),
            )
        };
        match (a.len(), b.len()) {
            (1, 1) if i == 1 && j == 1 && a == b => Ok(vec![1]),
            (2, 2) if (1..=2).contains(&i) && (1..=2).contains(&j) && a[i - 1] == b[j - 1] => {
                Ok(vec![a[2 - i], b[2 - j]])
            }
            _ => Err(bad()),
        }
    }

    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        self.forward_multi(std::slice::from_ref(x), ctx)
    }

    /// `y = Σ_k a[.., k] b[.., k]`: for rank-2 samples a batched product with the summed axis
    /// of `a` last and that of `b` first.
    fn forward_multi(&self, xs: &[Tensor], _ctx: &mut Ctx) -> Tensor {
        let [i, j] = self.axes;
        let (mut a, mut b) = (xs[0].clone(), xs[1].clone());
        if self.cfg.normalize {
            a = l2_normalize(&a, i);
            b = l2_normalize(&b, j);
        }
        if a.rank() == 2 {
            let n = a.shape()[0];
            return a.mul(&b).sum_axis(1).reshape(&[n, 1]);
        }
        let a = if i == 2 { a } else { a.transpose() }; // [batch, m, k]
        let b = if j == 1 { b } else { b.transpose() }; // [batch, k, n]
        a.matmul(&b)
    }

    crate::layer::trainable_from_config!();
}
