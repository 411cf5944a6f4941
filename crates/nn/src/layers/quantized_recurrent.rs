//! `QuantizedRecurrent`: an [`super::Lstm`], [`super::Gru`] or [`super::SimpleRnn`] stack
//! after dynamic int8 quantisation (PyTorch's `quantize_dynamic` of `nn.LSTM`, `nn.GRU`):
//! `W_ih` and `W_hh` of every layer and direction held as 8-bit integers with one scale per
//! gate row, each step's input and state quantised per row as the layer runs
//! (`nabla_core::backend::int8::recurrent`). Weight names are the float layer's
//! (`weight_ih_l0 [G·units, in]` as I8), with `weight_ih_l0_scale [G·units]` beside each.
//! Its config's type is `quantized_lstm`, `quantized_gru` or `quantized_simple_rnn`.
//!
//! # Shapes
//! As the float layer: `[batch, time, features]` in; `[batch, D·units]` out, or
//! `[batch, time, D·units]` with `return_sequences`.
//!
//! Inference only: it has no gradient, and nothing it holds is trained.

use super::default_true;
use super::recurrent::{run_stack, RecurrentConfig};
use crate::activations::Activation;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Int8Param, Layer, Param};
use crate::quantize::{check_inputs, frozen};
use nabla_core::backend::int8::{self, Int8Path, PackedInt8, RnnGeom, RnnInt8};
use nabla_core::RnnCell as Cell;
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// The config of [`QuantizedRecurrent`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantizedRecurrentConfig {
    /// Hidden units per layer and direction.
    pub units: usize,
    /// Stacked layers (default 1).
    #[serde(default = "one")]
    pub num_layers: usize,
    /// Output every step instead of the final state (default false).
    #[serde(default)]
    pub return_sequences: bool,
    /// Also run the sequence backwards and join both directions' features (default false).
    #[serde(default)]
    pub bidirectional: bool,
    /// Whether the layers have biases (default true).
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// A simple RNN's activation: tanh (default) or relu.
    #[serde(default = "tanh", skip_serializing_if = "is_tanh")]
    pub activation: Activation,
    /// Layer name (default: `quantized_lstm`, `quantized_gru`, `quantized_simple_rnn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

fn one() -> usize {
    1
}

fn tanh() -> Activation {
    Activation::Tanh
}

fn is_tanh(a: &Activation) -> bool {
    *a == Activation::Tanh
}

/// One layer and direction: the two int8 matrices, their scales, the biases.
struct Direction {
    w_ih: Int8Param,
    w_hh: Int8Param,
    /// `weight_ih_scale`, `weight_hh_scale`, then `bias_ih`, `bias_hh` with biases.
    floats: Vec<Param>,
}

/// A recurrent stack with int8 weights.
pub struct QuantizedRecurrent {
    cfg: QuantizedRecurrentConfig,
    cell: Cell,
    dirs: Vec<Direction>,
    /// The weights packed for the kernels, made at the first pass after any change.
    packed: OnceLock<Vec<RnnInt8>>,
}

impl QuantizedRecurrent {
    /// A layer of `cell`s (`Lstm`, `Gru`, or a simple RNN, whose activation the config
    /// gives) from its config (unbuilt).
    pub fn from_config(cfg: QuantizedRecurrentConfig, cell: Cell) -> QuantizedRecurrent {
        let cell = match (cell, cfg.activation) {
            (Cell::RnnTanh | Cell::RnnRelu, Activation::Relu) => Cell::RnnRelu,
            (Cell::RnnTanh | Cell::RnnRelu, _) => Cell::RnnTanh,
            (other, _) => other,
        };
        QuantizedRecurrent {
            cfg,
            cell,
            dirs: Vec::new(),
            packed: OnceLock::new(),
        }
    }

    /// Quantises a float stack of `cell`s named `name` with config `cfg` and its weights in
    /// the float layer's order (per layer and direction: w_ih, w_hh, then b_ih, b_hh).
    pub fn quantize(
        name: &str,
        cfg: &RecurrentConfig,
        cell: Cell,
        params: &[&Param],
    ) -> Result<QuantizedRecurrent> {
        let simple = matches!(cell, Cell::RnnTanh | Cell::RnnRelu);
        let qcfg = QuantizedRecurrentConfig {
            units: cfg.units,
            num_layers: cfg.num_layers,
            return_sequences: cfg.return_sequences,
            bidirectional: cfg.bidirectional,
            use_bias: cfg.use_bias,
            activation: if simple {
                cfg.activation
            } else {
                Activation::Tanh
            },
            name: Some(name.to_string()),
        };
        let mut layer = QuantizedRecurrent::from_config(qcfg, cell);
        let per = if cfg.use_bias { 4 } else { 2 };
        for p in params.chunks(per) {
            let int8 = |w: &Param| -> Result<(Int8Param, Param)> {
                let (n, k) = (w.value.shape()[0], w.value.shape()[1]);
                check_inputs("inputs", name, k)?;
                let (q, scale) = crate::quantize::per_row(w.value.data(), n, k);
                let int8 = Int8Param {
                    name: w.name.clone(),
                    shape: vec![n, k],
                    values: q,
                };
                Ok((int8, frozen(&format!("{}_scale", w.name), scale)))
            };
            let ((w_ih, s_ih), (w_hh, s_hh)) = (int8(p[0])?, int8(p[1])?);
            let mut floats = vec![s_ih, s_hh];
            floats.extend(p[2..].iter().map(|b| frozen(&b.name, b.value.to_vec())));
            layer.dirs.push(Direction { w_ih, w_hh, floats });
        }
        Ok(layer)
    }

    fn directions(&self) -> usize {
        if self.cfg.bidirectional {
            2
        } else {
            1
        }
    }

    fn pack(&self) -> Vec<RnnInt8> {
        let gru = self.cell == Cell::Gru;
        self.dirs
            .iter()
            .map(|d| {
                let f = |i: usize| d.floats[i].value.data();
                let (n, h) = (d.w_ih.shape[0], d.w_hh.shape[1]);
                // the GRU keeps b_hh on the recurrent side (its reset gate scales it)
                let (ih_bias, hh_bias) = match (self.cfg.use_bias, gru) {
                    (false, _) => (None, None),
                    (true, true) => (Some(f(2).to_vec()), Some(f(3))),
                    (true, false) => (
                        Some(f(2).iter().zip(f(3)).map(|(a, b)| a + b).collect()),
                        None,
                    ),
                };
                RnnInt8 {
                    ih: PackedInt8::new(
                        &d.w_ih.values,
                        f(0),
                        ih_bias.as_deref(),
                        n,
                        d.w_ih.shape[1],
                    ),
                    hh: PackedInt8::new(&d.w_hh.values, f(1), hh_bias, n, h),
                }
            })
            .collect()
    }
}

impl Layer for QuantizedRecurrent {
    fn name(&self) -> &str {
        let default = match self.cell {
            Cell::Lstm => "quantized_lstm",
            Cell::Gru => "quantized_gru",
            Cell::RnnTanh | Cell::RnnRelu => "quantized_simple_rnn",
        };
        self.cfg.name.as_deref().unwrap_or(default)
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        let c = self.cfg.clone();
        match self.cell {
            Cell::Lstm => LayerConfig::QuantizedLstm(c),
            Cell::Gru => LayerConfig::QuantizedGru(c),
            Cell::RnnTanh | Cell::RnnRelu => LayerConfig::QuantizedSimpleRnn(c),
        }
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        let c = self.cfg.clone();
        if c.units == 0 || c.num_layers == 0 {
            return Err(Error::config(
                format!("units and num_layers of layer '{}'", self.name()),
                "positive integers",
                format!("{}, {}", c.units, c.num_layers),
            ));
        }
        let [t, features] = *input else {
            return Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "[time, features]".into(),
                received: input.to_vec(),
            });
        };
        let (h, dirs) = (c.units, self.directions());
        let name = self.name().to_string();
        check_inputs("inputs", &name, features.max(dirs * h))?;
        let gates = self.cell.gates();
        let gh = crate::budget::checked_mul(|| format!("units of layer '{name}'"), gates, h)?;
        crate::budget::checked_weight(
            || format!("weights of layer '{name}'"),
            &[gh, features.max(dirs * h)],
        )?;
        if t == 0 || features == 0 {
            return Err(Error::Shape {
                layer: name,
                expected: "[time > 0, features > 0]".into(),
                received: input.to_vec(),
            });
        }
        self.dirs.clear();
        for layer in 0..c.num_layers {
            let fan_in = if layer == 0 { features } else { dirs * h };
            for d in 0..dirs {
                let suffix = format!("l{layer}{}", if d == 1 { "_reverse" } else { "" });
                let int8 = |w: &str, k: usize| Int8Param {
                    name: format!("{w}_{suffix}"),
                    shape: vec![gh, k],
                    values: vec![0; gh * k],
                };
                let mut floats = vec![
                    frozen(&format!("weight_ih_{suffix}_scale"), vec![1.0; gh]),
                    frozen(&format!("weight_hh_{suffix}_scale"), vec![1.0; gh]),
                ];
                if c.use_bias {
                    floats.push(frozen(&format!("bias_ih_{suffix}"), vec![0.0; gh]));
                    floats.push(frozen(&format!("bias_hh_{suffix}"), vec![0.0; gh]));
                }
                self.dirs.push(Direction {
                    w_ih: int8("weight_ih", fan_in),
                    w_hh: int8("weight_hh", h),
                    floats,
                });
            }
        }
        self.packed = OnceLock::new();
        let width = dirs * h;
        Ok(if c.return_sequences {
            vec![t, width]
        } else {
            vec![width]
        })
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let packed = self.packed.get_or_init(|| self.pack());
        let (h, cell) = (self.cfg.units, self.cell);
        let pass = |k: usize, x: &Tensor, reverse: bool| {
            let s = x.shape();
            let g = RnnGeom {
                cell,
                batch: s[0],
                time: s[1],
                input: s[2],
                hidden: h,
                reverse,
            };
            let y = int8::recurrent(&g, x.data(), &packed[k], None, None, Int8Path::best());
            Tensor::from_vec(y, &[s[0], s[1], cell.states() * h])
        };
        let cfg = RecurrentConfig {
            units: h,
            num_layers: self.cfg.num_layers,
            return_sequences: self.cfg.return_sequences,
            bidirectional: self.cfg.bidirectional,
            ..super::with_defaults(serde_json::json!({ "units": h }))
        };
        run_stack(&cfg, cell == Cell::Lstm, x, |x| x, pass).0
    }

    fn params(&self) -> Vec<&Param> {
        self.dirs.iter().flat_map(|d| d.floats.iter()).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.packed = OnceLock::new(); // the caller may change them
        self.dirs
            .iter_mut()
            .flat_map(|d| d.floats.iter_mut())
            .collect()
    }

    fn int8_params(&self) -> Vec<&Int8Param> {
        self.dirs.iter().flat_map(|d| [&d.w_ih, &d.w_hh]).collect()
    }

    fn int8_params_mut(&mut self) -> Vec<&mut Int8Param> {
        self.packed = OnceLock::new();
        self.dirs
            .iter_mut()
            .flat_map(|d| [&mut d.w_ih, &mut d.w_hh])
            .collect()
    }

    fn trainable(&self) -> bool {
        false
    }

    fn set_trainable(&mut self, _on: bool) {}
}
