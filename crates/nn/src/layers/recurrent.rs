//! `Lstm`, `Gru` and `SimpleRnn`: recurrent layers over `[batch, time, features]`, stacked
//! (`num_layers`), optionally bidirectional, each layer and direction one fused op (the
//! cells' formulas are in nabla-core's `cpu/rnn_cell.rs`). Weights have PyTorch's names and
//! layout, so they can be exchanged with `nn.LSTM` / `nn.GRU` / `nn.RNN`:
//! `weight_ih_l{k}[_reverse] [G·units, in]`, `weight_hh_l{k} [G·units, units]`,
//! `bias_ih_l{k}`, `bias_hh_l{k}` `[G·units]` with gate blocks `[i, f, g, o]` (LSTM),
//! `[r, z, n]` (GRU), one block (RNN). Initialised as PyTorch does: U(±1/sqrt(units)).
//!
//! # Shapes
//! - input: `[batch, time, features]`
//! - output: `[batch, time, D·units]` with `return_sequences`, else `[batch, D·units]`: the
//!   last layer's final state (D = 2 when bidirectional: forward then backward features; the
//!   backward direction's final state is the one after reading step 0, as in Keras)
//!
//! `dropout` is applied between stacked layers while training (PyTorch's meaning). Initial
//! states and the final `(h, c)` of every layer are available from Rust through
//! [`Recurrent::forward_with_state`] (Keras's `initial_state` / `return_state`).

use super::default_true;
use crate::activations::Activation;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::init::Initializer;
use crate::layer::{Ctx, Layer, Param};
use nabla_core::{Rng, RnnCell, RnnParams, Tensor};
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;

/// The config of [`Recurrent`] (`lstm`, `gru` and `simple_rnn` in a spec).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecurrentConfig {
    /// Hidden units per layer and direction.
    pub units: usize,
    /// Stacked layers (default 1).
    #[serde(default = "one")]
    pub num_layers: usize,
    /// Output every step (`[time, D·units]`) instead of the final state (default false).
    #[serde(default)]
    pub return_sequences: bool,
    /// Also run the sequence backwards and join both directions' features (default false).
    #[serde(default)]
    pub bidirectional: bool,
    /// Dropout between stacked layers while training (default 0).
    #[serde(default)]
    pub dropout: f32,
    /// Whether the layers have biases (default true).
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// `simple_rnn` only: `tanh` (default) or `relu`.
    #[serde(default = "tanh")]
    pub activation: Activation,
    /// Input-weight initialiser (default: PyTorch's U(±1/sqrt(units))).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "crate::named::optional")]
    pub kernel_initializer: Option<Initializer>,
    /// Recurrent-weight initialiser (default: PyTorch's; Keras uses `orthogonal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "crate::named::optional")]
    pub recurrent_initializer: Option<Initializer>,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the weights are trained (default: true).
    #[serde(default = "default_true")]
    pub trainable: bool,
}

fn one() -> usize {
    1
}

fn tanh() -> Activation {
    Activation::Tanh
}

/// The state of one layer and direction: `h` and (LSTM) `c`, each `[batch, units]`.
#[derive(Clone, Debug)]
pub struct RnnState {
    /// Hidden state.
    pub h: Tensor,
    /// Cell state (LSTM only).
    pub c: Option<Tensor>,
}

/// A stack of recurrent layers of one cell type: [`Lstm`], [`Gru`] or [`SimpleRnn`].
pub struct Recurrent<K: CellKind> {
    cfg: RecurrentConfig,
    kind: RnnCell,
    /// Per layer and direction: w_ih, w_hh (and b_ih, b_hh with biases).
    params: Vec<Param>,
    cell: PhantomData<K>,
}

/// The cell type of a [`Recurrent`] layer, known to the type (`Lstm::new` gives an `Lstm`).
pub trait CellKind: Send + Sync + 'static {
    /// The cell (a simple RNN's may turn to ReLU by its `activation`).
    const CELL: RnnCell;
}

/// The LSTM cell: [`Lstm`].
pub struct LstmCell;
/// The GRU cell: [`Gru`].
pub struct GruCell;
/// The plain RNN cell: [`SimpleRnn`].
pub struct SimpleRnnCell;

impl CellKind for LstmCell {
    const CELL: RnnCell = RnnCell::Lstm;
}
impl CellKind for GruCell {
    const CELL: RnnCell = RnnCell::Gru;
}
impl CellKind for SimpleRnnCell {
    const CELL: RnnCell = RnnCell::RnnTanh;
}

/// The LSTM layer (PyTorch's `nn.LSTM`, Keras's `LSTM`): `Lstm::new(units)`.
pub type Lstm = Recurrent<LstmCell>;
/// The GRU layer (PyTorch's `nn.GRU`, Keras's `GRU`): `Gru::new(units)`.
pub type Gru = Recurrent<GruCell>;
/// The plain RNN layer (PyTorch's `nn.RNN`, Keras's `SimpleRNN`): `SimpleRnn::new(units)`,
/// tanh unless [`Recurrent::activation`] picks ReLU.
pub type SimpleRnn = Recurrent<SimpleRnnCell>;

impl<K: CellKind> Recurrent<K> {
    /// One layer of `units`.
    pub fn new(units: usize) -> Recurrent<K> {
        Recurrent::from_config(super::with_defaults(serde_json::json!({ "units": units })))
    }

    /// A layer from its config (a simple RNN's `activation` may pick ReLU).
    pub fn from_config(cfg: RecurrentConfig) -> Recurrent<K> {
        let kind = match (K::CELL, cfg.activation) {
            (RnnCell::RnnTanh | RnnCell::RnnRelu, Activation::Relu) => RnnCell::RnnRelu,
            (RnnCell::RnnRelu, _) => RnnCell::RnnTanh,
            (k, _) => k,
        };
        Recurrent {
            cfg,
            kind,
            params: Vec::new(),
            cell: PhantomData,
        }
    }

    /// Stacks `n` layers.
    pub fn num_layers(mut self, n: usize) -> Recurrent<K> {
        self.cfg.num_layers = n;
        self
    }

    /// Outputs every step.
    pub fn return_sequences(mut self, on: bool) -> Recurrent<K> {
        self.cfg.return_sequences = on;
        self
    }

    /// Runs both directions.
    pub fn bidirectional(mut self, on: bool) -> Recurrent<K> {
        self.cfg.bidirectional = on;
        self
    }

    /// Dropout between stacked layers.
    pub fn dropout(mut self, rate: f32) -> Recurrent<K> {
        self.cfg.dropout = rate;
        self
    }

    /// Without biases.
    pub fn use_bias(mut self, on: bool) -> Recurrent<K> {
        self.cfg.use_bias = on;
        self
    }

    /// `simple_rnn`'s non-linearity: `Tanh` or `Relu`.
    pub fn activation(self, a: Activation) -> Recurrent<K> {
        Recurrent::from_config(RecurrentConfig {
            activation: a,
            ..self.cfg
        })
    }

    fn directions(&self) -> usize {
        if self.cfg.bidirectional {
            2
        } else {
            1
        }
    }

    /// The forward pass from optional initial states (one per layer and direction, in
    /// PyTorch's order: layer 0 forward, layer 0 backward, layer 1 ..), returning the output
    /// and the final state of every layer and direction in the same order.
    ///
    /// # Panics
    /// If `initial` does not hold one state per layer and direction, `[batch, units]` each
    /// (and a cell state exactly for the LSTM).
    pub fn forward_with_state(
        &self,
        x: &Tensor,
        initial: Option<&[RnnState]>,
        ctx: &mut Ctx,
    ) -> (Tensor, Vec<RnnState>) {
        let (h, dirs) = (self.cfg.units, self.directions());
        if let Some(init) = initial {
            let b = x.shape()[0];
            let ok = init.len() == self.cfg.num_layers * dirs
                && init.iter().all(|s| {
                    s.h.shape() == [b, h]
                        && s.c.as_ref().map(|c| c.shape() == [b, h])
                            == (self.kind == RnnCell::Lstm).then_some(true)
                });
            assert!(
                ok,
                "{}: expected {} initial states of [{b}, {h}] (h{}), received {}",
                self.name(),
                self.cfg.num_layers * dirs,
                if self.kind == RnnCell::Lstm {
                    " and c"
                } else {
                    ""
                },
                init.len()
            );
        }
        let lstm = self.kind == RnnCell::Lstm;
        let per = if self.cfg.use_bias { 4 } else { 2 };
        let (training, rate) = (ctx.training, self.cfg.dropout);
        let between = |x: Tensor| {
            if training && rate > 0.0 {
                let mask = super::dropout::keep_mask(ctx.rng, x.numel(), rate);
                x.mul(&Tensor::from_vec(mask, x.shape()))
            } else {
                x
            }
        };
        let pass = |k: usize, x: &Tensor, reverse: bool| {
            let p = &self.params[k * per..(k + 1) * per];
            let w = RnnParams {
                w_ih: &p[0].value,
                w_hh: &p[1].value,
                b_ih: p.get(2).map(|p| &p.value),
                b_hh: p.get(3).map(|p| &p.value),
            };
            let init = initial.map(|s| &s[k]);
            let c0 = init.and_then(|s| s.c.as_ref());
            x.recurrent(self.kind, w, init.map(|s| &s.h), c0, reverse)
        };
        run_stack(&self.cfg, lstm, x, between, pass)
    }
}

/// The layers and directions of a recurrent stack: `pass(k, x, reverse)` runs layer and
/// direction `k` (PyTorch's order) over `x`, giving every step's state (`[B, T, 2H]` with
/// `[h, c]` for the LSTM, `[B, T, H]` otherwise); `between` goes between stacked layers.
/// Returns the output and the final state of every layer and direction.
pub(crate) fn run_stack(
    cfg: &RecurrentConfig,
    lstm: bool,
    x: &Tensor,
    mut between: impl FnMut(Tensor) -> Tensor,
    mut pass: impl FnMut(usize, &Tensor, bool) -> Tensor,
) -> (Tensor, Vec<RnnState>) {
    let (h, dirs) = (cfg.units, if cfg.bidirectional { 2 } else { 1 });
    let mut x = x.clone();
    let mut finals = Vec::new();
    let mut last = Vec::new();
    for layer in 0..cfg.num_layers {
        if layer > 0 {
            x = between(x);
        }
        let t = x.shape()[1];
        let mut outs = Vec::new();
        last.clear();
        for d in 0..dirs {
            let y = pass(layer * dirs + d, &x, d == 1);
            // the top layer's sequence is not needed when only final states are returned
            let top = layer + 1 == cfg.num_layers;
            if !top || cfg.return_sequences {
                outs.push(if lstm { y.narrow(2, 0, h) } else { y.clone() });
            }
            // the final state: after step T-1 going forward, after step 0 going back
            let at = if d == 1 { 0 } else { t - 1 };
            let state = |off: usize| {
                y.narrow(1, at, 1)
                    .narrow(2, off, h)
                    .reshape(&[y.shape()[0], h])
            };
            let hf = state(0);
            finals.push(RnnState {
                h: hf.clone(),
                c: lstm.then(|| state(h)),
            });
            last.push(hf);
        }
        x = match outs.len() {
            0 => x,
            1 => outs.pop().expect("one direction"),
            _ => Tensor::concat(&[&outs[0], &outs[1]], 2),
        };
    }
    let out = if cfg.return_sequences {
        x
    } else if dirs == 1 {
        last.pop().expect("one direction")
    } else {
        Tensor::concat(&[&last[0], &last[1]], 1)
    };
    (out, finals)
}

impl<K: CellKind> Layer for Recurrent<K> {
    fn name(&self) -> &str {
        let default = match self.kind {
            RnnCell::Lstm => "lstm",
            RnnCell::Gru => "gru",
            RnnCell::RnnTanh | RnnCell::RnnRelu => "simple_rnn",
        };
        self.cfg.name.as_deref().unwrap_or(default)
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        let mut cfg = self.cfg.clone();
        cfg.trainable = self.trainable();
        match self.kind {
            RnnCell::Lstm => LayerConfig::Lstm(cfg),
            RnnCell::Gru => LayerConfig::Gru(cfg),
            RnnCell::RnnTanh | RnnCell::RnnRelu => LayerConfig::SimpleRnn(cfg),
        }
    }

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        let c = self.cfg.clone();
        let field = |f: &str| format!("{f} of layer '{}'", self.name());
        if c.units == 0 || c.num_layers == 0 {
            return Err(Error::config(
                field("units and num_layers"),
                "positive integers",
                format!("{}, {}", c.units, c.num_layers),
            ));
        }
        if !(0.0..1.0).contains(&c.dropout) {
            return Err(Error::config(
                field("dropout"),
                "a number in [0, 1)",
                c.dropout,
            ));
        }
        let simple = matches!(self.kind, RnnCell::RnnTanh | RnnCell::RnnRelu);
        let allowed =
            c.activation == Activation::Tanh || (simple && c.activation == Activation::Relu);
        if !allowed {
            let want = if simple {
                "tanh or relu"
            } else {
                "tanh (the cell's own)"
            };
            return Err(Error::config(
                field("activation"),
                want,
                format!("{:?}", c.activation),
            ));
        }
        let [t, features] = *input else {
            return Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "[time, features]".into(),
                received: input.to_vec(),
            });
        };
        if t == 0 || features == 0 {
            return Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "[time > 0, features > 0]".into(),
                received: input.to_vec(),
            });
        }
        let name = self.name().to_string();
        let gh = crate::budget::checked_mul(
            || format!("units of layer '{name}'"),
            self.kind.gates(),
            c.units,
        )?;
        let (h, dirs) = (c.units, self.directions());
        // the largest weight: [gates · units, the widest of features, units and (when
        // layers are stacked) directions · units]
        let stacked = if c.num_layers > 1 {
            dirs.saturating_mul(h)
        } else {
            0
        };
        let widest = features.max(h).max(stacked);
        crate::budget::checked_weight(|| format!("weights of layer '{name}'"), &[gh, widest])?;
        let bound = 1.0 / (h as f32).sqrt();
        let default = Initializer::RandomUniform {
            minval: -bound,
            maxval: bound,
        };
        self.params.clear();
        for layer in 0..c.num_layers {
            let fan_in = if layer == 0 { features } else { dirs * h };
            for d in 0..dirs {
                let suffix = format!("l{layer}{}", if d == 1 { "_reverse" } else { "" });
                let mut add = |name: &str, shape: &[usize], init: Initializer| {
                    let n = shape.iter().product();
                    let v = init.sample(n, shape[shape.len() - 1], shape[0], rng);
                    let mut p = Param::new(&format!("{name}_{suffix}"), Tensor::from_vec(v, shape));
                    p.trainable = c.trainable;
                    self.params.push(p);
                };
                add(
                    "weight_ih",
                    &[gh, fan_in],
                    c.kernel_initializer.unwrap_or(default),
                );
                add(
                    "weight_hh",
                    &[gh, h],
                    c.recurrent_initializer.unwrap_or(default),
                );
                if c.use_bias {
                    add("bias_ih", &[gh], default);
                    add("bias_hh", &[gh], default);
                }
            }
        }
        let width = dirs * h;
        Ok(if c.return_sequences {
            vec![t, width]
        } else {
            vec![width]
        })
    }

    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        self.forward_with_state(x, None, ctx).0
    }

    fn params(&self) -> Vec<&Param> {
        self.params.iter().collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.params.iter_mut().collect()
    }

    crate::layer::trainable_from_config!();
}
