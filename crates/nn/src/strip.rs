//! `Model::strip_pruned`: the model without the units and filters that structured pruning
//! zeroed (`pruning.rs`, `structure = "channels"`), and without the next layer's inputs that
//! read them: a smaller model computing the same function, faster with the same kernels.
//!
//! A unit is removed when its weights and its bias are all zero and its activation maps 0
//! to 0 (its output is then always 0). Between a layer and the one that reads its units
//! only layers that keep each channel where it is and keep zeros zero may stand (dropout,
//! pooling, padding, up-sampling, an activation with f(0) = 0); `flatten` turns channel `c`
//! of `[C, ..rest]` into features `c·|rest| .. (c+1)·|rest|`. Chains only (a `Sequential`).

use crate::activations::Activation;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::pruning::{unit_at, units_of};
use nabla_core::Tensor;
use std::collections::HashMap;

/// What [`Model::strip_pruned`] removed from one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Stripped {
    /// The layer.
    pub layer: String,
    /// Its units (or filters) before.
    pub before: usize,
    /// After.
    pub after: usize,
}

/// Whether `a` keeps a zero input at zero.
fn keeps_zero(a: Activation) -> bool {
    a.apply_owned(Tensor::zeros(&[1, 1])).data()[0] == 0.0
}

impl Model {
    /// The model without its pruned units and filters (see the module doc), and what was
    /// removed from each layer. Weights are copied; `self` is unchanged.
    pub fn strip_pruned(&self) -> Result<(Model, Vec<Stripped>)> {
        if !self.graph().is_chain() {
            return Err(Error::config(
                "strip_pruned",
                "a chain of layers (a Sequential model)",
                "a graph with branches or several inputs or outputs",
            ));
        }
        let mut cfg = self.config();
        let n_layers = cfg.layers.len();
        let mut weights: HashMap<String, Vec<f32>> = HashMap::new();
        let mut report = Vec::new();
        // the kept indices along the channel axis of the value flowing on (None: all)
        let mut kept: Option<Vec<usize>> = None;
        let shapes: Vec<Vec<usize>> = self.graph().nodes.iter().map(|n| n.shape.clone()).collect();
        for (i, node) in cfg.layers.iter_mut().enumerate() {
            let layer = &self.layers()[i];
            let name = layer.name().to_string();
            let get = |w: &str| {
                layer
                    .params()
                    .into_iter()
                    .find(|p| p.name == w)
                    .map(|p| p.value.clone())
            };
            let last = i + 1 == n_layers;
            let blocked = |why: &str| {
                Error::config(
                    format!("strip_pruned at layer '{name}'"),
                    "only layers that keep channels and zeros between a pruned layer and the next one that reads it",
                    why.to_string(),
                )
            };
            let (activation, units_field): (Option<Activation>, Option<&mut usize>) =
                match &mut node.layer {
                    LayerConfig::Dense(d) => (Some(d.activation), Some(&mut d.units)),
                    LayerConfig::Conv2d(c) if c.groups == 1 => {
                        (Some(c.activation), Some(&mut c.filters))
                    }
                    LayerConfig::Conv1d(c) if c.groups == 1 => {
                        (Some(c.activation), Some(&mut c.filters))
                    }
                    LayerConfig::Flatten(_) => {
                        if let Some(k) = kept.take() {
                            let inp = if i == 0 {
                                self.input_shape().to_vec()
                            } else {
                                shapes[i - 1].clone()
                            };
                            let per: usize = inp[1..].iter().product();
                            kept = Some(k.iter().flat_map(|&c| c * per..(c + 1) * per).collect());
                        }
                        (None, None)
                    }
                    LayerConfig::Activation(a) => {
                        if kept.is_some() && !keeps_zero(a.activation) {
                            return Err(blocked(&format!(
                                "activation {:?} (f(0) is not 0)",
                                a.activation
                            )));
                        }
                        (None, None)
                    }
                    LayerConfig::Dropout(_)
                    | LayerConfig::SpatialDropout2d(_)
                    | LayerConfig::MaxPool2d(_)
                    | LayerConfig::AvgPool2d(_)
                    | LayerConfig::MaxPool1d(_)
                    | LayerConfig::AvgPool1d(_)
                    | LayerConfig::GlobalAvgPool2d(_)
                    | LayerConfig::GlobalMaxPool2d(_)
                    | LayerConfig::ZeroPadding2d(_)
                    | LayerConfig::UpSampling2d(_) => (None, None),
                    other => {
                        if kept.is_some() {
                            return Err(blocked(&format!("a '{}' layer", other.type_name())));
                        }
                        (None, None)
                    }
                };
            let (Some(act), Some(units_field)) = (activation, units_field) else {
                for p in layer.params() {
                    weights.insert(format!("{name}.{}", p.name), p.value.to_vec());
                }
                continue;
            };
            let kernel = get("kernel").expect("dense and convolution layers have a kernel");
            let bias = get("bias");
            let shape = kernel.shape().to_vec();
            let units = units_of(&shape);
            // the units this layer keeps: all unless pruned ones can go
            let mut zero = vec![true; units];
            for (j, &w) in kernel.data().iter().enumerate() {
                if w != 0.0 {
                    zero[unit_at(&shape, j)] = false;
                }
            }
            if let Some(b) = &bias {
                for (z, &v) in zero.iter_mut().zip(b.data()) {
                    *z &= v == 0.0;
                }
            }
            let mut out: Vec<usize> = (0..units)
                .filter(|&u| last || !keeps_zero(act) || !zero[u])
                .collect();
            if out.is_empty() {
                out.push(0); // a layer keeps one unit (all zero) so shapes stay valid
            }
            let inputs: Vec<usize> = kept.take().unwrap_or_else(|| {
                let n_in = if shape.len() == 2 { shape[0] } else { shape[1] };
                (0..n_in).collect()
            });
            let new_kernel: Vec<f32> = if shape.len() == 2 {
                let d = kernel.data();
                inputs
                    .iter()
                    .flat_map(|&r| out.iter().map(move |&u| d[r * units + u]))
                    .collect()
            } else {
                let (spatial, channels): (usize, usize) = (shape[2..].iter().product(), shape[1]);
                let d = kernel.data();
                out.iter()
                    .flat_map(|&f| {
                        inputs.iter().flat_map(move |&c| {
                            let at = (f * channels + c) * spatial;
                            d[at..at + spatial].iter().copied()
                        })
                    })
                    .collect()
            };
            weights.insert(format!("{name}.kernel"), new_kernel);
            if let Some(b) = &bias {
                weights.insert(
                    format!("{name}.bias"),
                    out.iter().map(|&u| b.data()[u]).collect(),
                );
            }
            if out.len() < units {
                report.push(Stripped {
                    layer: name.clone(),
                    before: units,
                    after: out.len(),
                });
                *units_field = out.len();
                kept = Some(out);
            }
        }
        let mut model = cfg.build(self.seed())?;
        for (name, p) in model.params_mut_named() {
            let v = weights.get(&name).ok_or_else(|| {
                Error::config(
                    "strip_pruned",
                    format!("a weight '{name}'"),
                    "none (a layer type it does not know)",
                )
            })?;
            if v.len() != p.value.numel() {
                return Err(Error::config(
                    format!("strip_pruned, weight '{name}'"),
                    format!("{} values", p.value.numel()),
                    v.len(),
                ));
            }
            p.value.update(|w| w.copy_from_slice(v));
        }
        if let Some(c) = self.compile_config() {
            model.compile_from_config(&c)?;
        }
        model.tokenizer = self.tokenizer.clone();
        model.class_names = self.class_names.clone();
        model.hf_config = self.hf_config.clone();
        model.data_recipe = self.data_recipe.clone();
        Ok((model, report))
    }
}
