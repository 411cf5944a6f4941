//! Per-sample loss weights from `fit`'s `sample_weight` and `class_weight` (multiplied when
//! both are given, as Keras does).

use crate::error::{Error, Result};
use crate::fit::Fit;
use nabla_core::backend::argmax_rows;
use nabla_data::Dataset;
use nabla_nn::{Loss, LossSpec};

/// The class of each sample, read from its target the way the loss reads it.
fn classes(data: &Dataset, loss: &LossSpec) -> Vec<usize> {
    let per: usize = data.y_shape().iter().product();
    if loss.kind == Loss::SparseCategoricalCrossentropy || per == 1 {
        let binary = loss.kind != Loss::SparseCategoricalCrossentropy;
        data.y()
            .iter()
            .map(|&v| {
                if binary {
                    (v > 0.5) as usize
                } else {
                    v as usize
                }
            })
            .collect()
    } else {
        argmax_rows(data.y(), per)
    }
}

/// `None` when neither option is set; otherwise one weight per sample of `data` (the whole
/// input of `fit`, before `validation_split` takes its last samples away).
pub fn sample_weights(
    data: &Dataset,
    opts: &Fit,
    loss: &LossSpec,
    out_shape: &[usize],
) -> Result<Option<Vec<f32>>> {
    if opts.sample_weight.is_none() && opts.class_weight.is_none() {
        return Ok(None);
    }
    let n = data.len();
    let mut w = vec![1.0f32; n];
    if let Some(sw) = opts.sample_weight {
        if sw.len() != n {
            return Err(Error::Input(format!(
                "sample_weight: expected one weight per training sample ({n}), received {}",
                sw.len()
            )));
        }
        if let Some((i, v)) = first_bad(sw) {
            return Err(Error::Input(format!(
                "sample_weight: weight {v} of sample {i} is not a finite number >= 0"
            )));
        }
        w.copy_from_slice(sw);
    }
    if let Some(cw) = &opts.class_weight {
        let outputs: usize = out_shape.iter().product();
        let needed = if outputs == 1 { 2 } else { outputs };
        if cw.len() < needed {
            return Err(Error::Input(format!(
                "class_weight: expected a weight for each of the {needed} classes, received {}",
                cw.len()
            )));
        }
        if let Some((c, v)) = first_bad(cw) {
            return Err(Error::Input(format!(
                "class_weight: weight {v} of class {c} is not a finite number >= 0"
            )));
        }
        for (i, (wi, c)) in w.iter_mut().zip(classes(data, loss)).enumerate() {
            let f = cw.get(c).ok_or_else(|| {
                Error::Input(format!(
                    "class_weight: sample {i} is of class {c}, but weights cover classes 0 to {}",
                    cw.len() - 1
                ))
            })?;
            *wi *= f;
        }
    }
    Ok(Some(w))
}

/// The first weight that is not a finite number >= 0, with its index.
fn first_bad(w: &[f32]) -> Option<(usize, f32)> {
    w.iter()
        .copied()
        .enumerate()
        .find(|(_, v)| !v.is_finite() || *v < 0.0)
}
