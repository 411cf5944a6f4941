//! `Binding`: which array of a dataset feeds each model input and which holds each output's
//! targets (by name; a one-input, one-output model takes a one-array dataset whatever the
//! names), checked against the model's shapes, values and losses.

use crate::error::{Error, Result};
use nabla_core::Tensor;
use nabla_data::{Array, Dataset};
use nabla_nn::{Metric, Model};

/// Dataset array indices, in the model's input and output order.
pub(crate) struct Binding {
    x: Vec<usize>,
    y: Vec<usize>,
}

/// The array of each name in `want`, or an error listing what the data has.
fn by_name(arrays: &[Array], want: &[&str], kind: &str, what: &str) -> Result<Vec<usize>> {
    if want.len() == 1 && arrays.len() == 1 {
        return Ok(vec![0]);
    }
    want.iter()
        .map(|n| {
            arrays.iter().position(|a| a.name == *n).ok_or_else(|| {
                let have: Vec<&str> = arrays.iter().map(|a| a.name.as_str()).collect();
                Error::Input(format!(
                    "{what}: the model's {kind} '{n}' expects an array of that name, and the data has [{}]",
                    have.join(", ")
                ))
            })
        })
        .collect()
}

impl Binding {
    /// Binds `data` to `model` (targets only when the model is compiled) and checks every
    /// array: input shapes and values, targets against each output's loss and metrics.
    pub(crate) fn new(model: &Model, data: &Dataset, what: &str) -> Result<Binding> {
        let inputs: Vec<&str> = model.inputs().iter().map(|i| i.name.as_str()).collect();
        let x = by_name(data.inputs(), &inputs, "input", what)?;
        for (input, &k) in model.inputs().iter().zip(&x) {
            let a = &data.inputs()[k];
            if a.shape != input.shape {
                let which = if inputs.len() > 1 {
                    format!(" '{}'", input.name)
                } else {
                    String::new()
                };
                return Err(Error::Input(format!(
                    "{what}: samples of shape {:?} expected by the model input{which}, received {:?}",
                    input.shape, a.shape
                )));
            }
        }
        let values: Vec<&[f32]> = x
            .iter()
            .map(|&k| data.inputs()[k].data.as_slice())
            .collect();
        model
            .check_inputs(&values)
            .map_err(|e| Error::Input(format!("{what}: {e}")))?;
        let Some(c) = model.compiled() else {
            return Ok(Binding { x, y: Vec::new() });
        };
        let outputs = model.outputs();
        let names: Vec<&str> = outputs.iter().map(|o| o.0).collect();
        let y = by_name(data.targets(), &names, "output", what)?;
        for (o, ((name, shape), &k)) in outputs.iter().zip(&y).enumerate() {
            let t = &data.targets()[k];
            let at = |e: String| {
                let which = if names.len() > 1 {
                    format!(" (output '{name}')")
                } else {
                    String::new()
                };
                Error::Input(format!("{what}{which}: {e}"))
            };
            c.losses[o]
                .check_targets(&t.data, &t.shape, shape)
                .map_err(|e| at(e.to_string()))?;
            for &m in &c.metrics[o] {
                crate::metrics::check_targets(m, c.losses[o].kind, &t.shape, shape)
                    .map_err(|e| at(e.to_string()))?;
            }
            let n: usize = shape.iter().product();
            if c.metrics[o].contains(&Metric::Auc) && n != 1 {
                return Err(at(format!(
                    "metric auc: expected a model with 1 output (binary classification), received {n} outputs"
                )));
            }
        }
        Ok(Binding { x, y })
    }

    /// A batch of every dataset array put in the model's order.
    pub(crate) fn pick(&self, (xs, ys): (Vec<Tensor>, Vec<Tensor>)) -> (Vec<Tensor>, Vec<Tensor>) {
        let take = |v: &[Tensor], at: &[usize]| at.iter().map(|&k| v[k].clone()).collect();
        (take(&xs, &self.x), take(&ys, &self.y))
    }
}
