//! Post-training int8 quantisation of a model, in place (Keras 3's `model.quantize("int8")`;
//! PyTorch's `quantize_dynamic`): each dense layer becomes a [`QuantizedDense`] whose kernel
//! is stored as 8-bit integers with one scale per output unit, its input quantised per row
//! when it runs. Static quantisation ([`Model::quantize_static`], PyTorch's
//! prepare-calibrate-convert) also makes each 2-d convolution a [`QuantizedConv2d`] whose
//! input range is calibrated on sample batches first. The saved model is one `.safetensors`
//! file with I8 kernels.
//!
//! Per output channel `c` of a float kernel `W [in, out]`:
//! `scale_c = max_i |W_ic| / 127`, `q_ic = round(W_ic / scale_c)`, so `|q| ≤ 127` and the
//! largest weight of each channel is exact.

use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::Layer;
use crate::layers::{QuantizedConv2d, QuantizedDense, QuantizedRecurrent};
use crate::model::Model;
use nabla_core::RnnCell;
use nabla_core::Tensor;

/// How a model is quantised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QuantMode {
    /// int8 weights, activations quantised per row at run time (dense, recurrent and
    /// attention layers).
    #[default]
    Dynamic,
    /// As `Dynamic`, and 2-d convolutions with int8 weights whose inputs are quantised with
    /// a range calibrated on sample batches beforehand ([`Model::quantize_static`]).
    Static,
}

impl std::str::FromStr for QuantMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<QuantMode> {
        match s {
            "dynamic" => Ok(QuantMode::Dynamic),
            "static" => Ok(QuantMode::Static),
            other => Err(Error::config(
                "quantisation mode",
                "dynamic or static",
                other,
            )),
        }
    }
}

/// Per-channel symmetric int8 quantisation of `w [rows, cols]` (a channel is a column): the
/// integers, row-major, and each column's scale. A column of zeros gets scale 1.
pub fn per_channel(w: &[f32], rows: usize, cols: usize) -> (Vec<i8>, Vec<f32>) {
    let mut amax = vec![0f32; cols];
    for row in w.chunks_exact(cols).take(rows) {
        for (a, &v) in amax.iter_mut().zip(row) {
            *a = a.max(v.abs());
        }
    }
    let scale: Vec<f32> = amax
        .iter()
        .map(|&a| if a > 0.0 { a / 127.0 } else { 1.0 })
        .collect();
    let q = w
        .iter()
        .enumerate()
        .map(|(i, &v)| (v / scale[i % cols]).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (q, scale)
}

/// [`per_channel`] where a channel is a row of `w [rows, cols]` (PyTorch's `[out, in]`
/// layout): the integers, row-major, and each row's scale.
pub fn per_row(w: &[f32], rows: usize, cols: usize) -> (Vec<i8>, Vec<f32>) {
    let mut t = vec![0f32; w.len()];
    for (r, row) in w.chunks_exact(cols).take(rows).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            t[c * rows + r] = v;
        }
    }
    let (q, scale) = per_channel(&t, cols, rows);
    let mut back = vec![0i8; q.len()];
    for (c, row) in q.chunks_exact(rows).enumerate() {
        for (r, &v) in row.iter().enumerate() {
            back[r * cols + c] = v;
        }
    }
    (back, scale)
}

/// Quantisation-aware training's simulation of a quantised dense layer's inputs: `x` takes
/// the values the int8 layer would see (`x [.., k]` quantised per row and back), with the
/// straight-through gradient (the identity: `dy/dx = 1`), as `x + stop_gradient(fq(x) − x)`.
pub fn fake_quant_input(x: &Tensor) -> Tensor {
    let k = x.shape().last().copied().unwrap_or(1);
    let fq = nabla_core::backend::int8::fake_quant_rows(x.data(), k);
    straight_through(x, fq)
}

/// [`fake_quant_input`] for a kernel `[in, out]`: per output channel, symmetric int8
/// (`q·scale`, [`per_channel`]).
pub fn fake_quant_kernel(w: &Tensor) -> Tensor {
    let (rows, cols) = (w.shape()[0], w.numel() / w.shape()[0].max(1));
    let (q, scale) = per_channel(w.data(), rows, cols);
    let fq = q
        .iter()
        .enumerate()
        .map(|(i, &v)| v as f32 * scale[i % cols])
        .collect();
    straight_through(w, fq)
}

/// `x + stop_gradient(values − x)`: `values` forward, `x`'s gradient unchanged backward.
fn straight_through(x: &Tensor, values: Vec<f32>) -> Tensor {
    let fq = Tensor::from_vec(values, x.shape());
    x.add(&fq.sub(&x.detach()).detach())
}

impl Model {
    /// Quantises the model's dense, recurrent (LSTM, GRU, simple RNN) and attention layers
    /// to int8 in place (dynamic mode) and returns
    /// their names. The model then predicts and evaluates as before, within quantisation
    /// error; it is not trained further (its quantised layers pass no gradient). Layers
    /// inside a model used as a layer are quantised too. Static mode needs calibration data:
    /// [`Model::quantize_static`].
    pub fn quantize(&mut self, mode: QuantMode) -> Result<Vec<String>> {
        if mode == QuantMode::Static {
            return Err(Error::config(
                "static quantisation",
                "calibration batches (Model::quantize_static)",
                "none",
            ));
        }
        quantize_layers(self.layers_mut(), mode)
    }

    /// Static int8 quantisation, in place: dense, recurrent and attention layers as [`QuantMode::Dynamic`],
    /// and each 2-d convolution with int8 weights and its input range calibrated on
    /// `batches` (each `[n, ..input]`, run through the model first, as PyTorch's observers
    /// see them). Returns the quantised layers' names.
    pub fn quantize_static(&mut self, batches: &[Tensor]) -> Result<Vec<String>> {
        let multi: Vec<Vec<Tensor>> = batches.iter().map(|b| vec![b.clone()]).collect();
        self.quantize_static_multi(&multi)
    }

    /// [`Model::quantize_static`] with one tensor per input in each batch.
    pub fn quantize_static_multi(&mut self, batches: &[Vec<Tensor>]) -> Result<Vec<String>> {
        if batches.is_empty() {
            return Err(Error::config("calibration batches", "at least one", 0));
        }
        for (i, batch) in batches.iter().enumerate() {
            let inputs = self.inputs();
            if batch.len() != inputs.len() {
                return Err(Error::config(
                    format!("calibration batch {i}"),
                    format!("{} tensors (one per input)", inputs.len()),
                    batch.len(),
                ));
            }
            for (x, input) in batch.iter().zip(inputs) {
                if x.shape().is_empty() || x.shape()[1..] != input.shape[..] {
                    return Err(Error::config(
                        format!("calibration batch {i}, input '{}'", input.name),
                        format!("shape [n, {:?}]", input.shape),
                        format!("{:?}", x.shape()),
                    ));
                }
            }
            self.check_inputs(&batch.iter().map(|x| x.data()).collect::<Vec<_>>())?;
        }
        let done = quantize_layers(self.layers_mut(), QuantMode::Static)?;
        for batch in batches {
            self.adapt_multi(batch);
        }
        // the second pass ends each convolution's calibration
        quantize_layers(self.layers_mut(), QuantMode::Static)?;
        Ok(done)
    }
}

/// A float weight of a quantised layer (scales, biases, ranges): 1-d, not trained.
pub(crate) fn frozen(name: &str, values: Vec<f32>) -> crate::layer::Param {
    let n = values.len();
    let mut p = crate::layer::Param::new(name, Tensor::from_vec(values, &[n]));
    p.trainable = false;
    p
}

/// Refuses an int8 product over more than `MAX_INPUTS` inputs (`what`: `inputs`, `window
/// inputs`) in layer `name`: beyond it the i32 sums could overflow.
pub(crate) fn check_inputs(what: &str, name: &str, n: usize) -> Result<()> {
    use nabla_core::backend::int8::MAX_INPUTS;
    if n > MAX_INPUTS {
        return Err(Error::config(
            format!("{what} of quantised layer '{name}'"),
            format!("at most {MAX_INPUTS} (beyond, the int8 sums could overflow)"),
            n,
        ));
    }
    Ok(())
}

/// Refuses to quantise the weight `name` holding NaN or infinite values.
pub(crate) fn check_finite(name: &str, w: &Tensor) -> Result<()> {
    if w.data().iter().any(|v| !v.is_finite()) {
        return Err(Error::config(
            format!("weight '{name}'"),
            "finite values to quantise",
            "NaN or infinite values",
        ));
    }
    Ok(())
}

/// [`Model::quantize`] of `slots`, in place: dense and recurrent layers replaced, models inside
/// quantised in turn (`outer.inner` in the names returned).
pub(crate) fn quantize_layers(
    slots: &mut [Box<dyn Layer>],
    mode: QuantMode,
) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for slot in slots {
        let cfg = slot.config();
        let name = slot.name().to_string();
        let conv = mode == QuantMode::Static && matches!(cfg, LayerConfig::Conv2d(_));
        let recurrent = matches!(
            cfg,
            LayerConfig::Lstm(_) | LayerConfig::Gru(_) | LayerConfig::SimpleRnn(_)
        );
        if !conv && !recurrent && !matches!(cfg, LayerConfig::Dense(_)) {
            let inner = slot.quantize_inside(mode)?;
            done.extend(inner.into_iter().map(|n| format!("{name}.{n}")));
            continue;
        }
        let params = slot.params();
        for p in &params {
            // inside a model layer the weight names already start with the layer's
            let full = match p.name.starts_with(&format!("{name}.")) {
                true => p.name.clone(),
                false => format!("{name}.{}", p.name),
            };
            check_finite(&full, &p.value)?;
        }
        let find = |w: &str| {
            params
                .iter()
                .find(|p| p.name == w || p.name.ends_with(&format!(".{w}")))
                .map(|p| &p.value)
        };
        let q: Box<dyn Layer> = match &cfg {
            LayerConfig::Conv2d(c) => {
                let window = find("kernel").map_or(0, |k| k.numel() / c.filters.max(1));
                check_inputs("window inputs", &name, window)?;
                drop(params);
                let float = std::mem::replace(slot, Box::new(crate::layers::Flatten::new()));
                Box::new(QuantizedConv2d::calibrating(float, c))
            }
            LayerConfig::Lstm(c) => Box::new(QuantizedRecurrent::quantize(
                &name,
                c,
                RnnCell::Lstm,
                &params,
            )?),
            LayerConfig::Gru(c) => Box::new(QuantizedRecurrent::quantize(
                &name,
                c,
                RnnCell::Gru,
                &params,
            )?),
            LayerConfig::SimpleRnn(c) => Box::new(QuantizedRecurrent::quantize(
                &name,
                c,
                RnnCell::RnnTanh,
                &params,
            )?),
            LayerConfig::Dense(c) => {
                let kernel = find("kernel").ok_or_else(|| {
                    Error::config(
                        format!("layer '{name}'"),
                        "a built dense layer",
                        "no kernel",
                    )
                })?;
                Box::new(QuantizedDense::quantize(
                    &name,
                    c.units,
                    c.activation,
                    kernel,
                    find("bias"),
                )?)
            }
            _ => continue,
        };
        *slot = q;
        done.push(name);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_channel_keeps_each_columns_largest_weight_exact() {
        // columns: [0.5, -1.0, 0.25], [0, 0, 0], [2, -0.01, 1]
        let w = [0.5, 0.0, 2.0, -1.0, 0.0, -0.01, 0.25, 0.0, 1.0];
        let (q, s) = per_channel(&w, 3, 3);
        assert_eq!(s, vec![1.0 / 127.0, 1.0, 2.0 / 127.0]);
        assert_eq!(q, vec![64, 0, 127, -127, 0, -1, 32, 0, 64]);
    }
}
