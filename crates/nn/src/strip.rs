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
use crate::layer::Layer;
use crate::layers::RecurrentConfig;
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

/// Which axis of a sample the kept indices run along: a convolution's channels (first), a
/// dense layer's units (last).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Axis {
    First,
    Last,
}

/// The kept indices along one axis of the value flowing on (`None`: all of them).
type Kept = Option<(Vec<usize>, Axis)>;

/// Whether `a` keeps zero inputs at zero, unit by unit (softmax mixes its units: its zeros
/// become 1/n).
fn keeps_zero(a: Activation) -> bool {
    a.apply_owned(Tensor::zeros(&[1, 2]))
        .data()
        .iter()
        .all(|&v| v == 0.0)
}

/// `kept` after a layer with no units of its own (`cfg`, reading a sample of shape `inp`),
/// or an error (`why`) when the layer would mix or move the pruned units.
fn pass_through(cfg: &LayerConfig, inp: &[usize], kept: Kept) -> std::result::Result<Kept, String> {
    let Some((k, axis)) = kept else {
        return Ok(None);
    };
    let first = |k: Vec<usize>| match axis == Axis::First || inp.len() == 1 {
        true => Ok(Some((k, Axis::First))),
        false => Err(format!(
            "a channels-first '{}' layer over the pruned units' axis",
            cfg.type_name()
        )),
    };
    match cfg {
        LayerConfig::Dropout(_) => Ok(Some((k, axis))),
        LayerConfig::Activation(a) if keeps_zero(a.activation) => Ok(Some((k, axis))),
        LayerConfig::Activation(a) => Err(format!(
            "activation {:?} (not zero at zero, or mixing units)",
            a.activation
        )),
        LayerConfig::Flatten(_) => Ok(Some((
            match axis {
                Axis::First => {
                    let per: usize = inp[1..].iter().product();
                    k.iter().flat_map(|&c| c * per..(c + 1) * per).collect()
                }
                Axis::Last => {
                    let units = inp[inp.len() - 1];
                    let lead: usize = inp[..inp.len() - 1].iter().product();
                    (0..lead)
                        .flat_map(|l| k.iter().map(move |&u| l * units + u))
                        .collect()
                }
            },
            Axis::Last,
        ))),
        LayerConfig::SpatialDropout2d(_)
        | LayerConfig::MaxPool2d(_)
        | LayerConfig::AvgPool2d(_)
        | LayerConfig::MaxPool1d(_)
        | LayerConfig::AvgPool1d(_)
        | LayerConfig::ZeroPadding2d(_)
        | LayerConfig::UpSampling2d(_) => first(k),
        // [C, h, w] -> [C]: the channels become the features
        LayerConfig::GlobalAvgPool2d(_) | LayerConfig::GlobalMaxPool2d(_) => {
            first(k).map(|v| v.map(|(k, _)| (k, Axis::Last)))
        }
        other => Err(format!("a '{}' layer", other.type_name())),
    }
}

/// An attention's projections (weights `prefix` + `query/kernel` …) without its zero heads:
/// the new weights by file name, what it lost, and the head size.
fn strip_heads(
    name: &str,
    prefix: &str,
    heads: usize,
    layer: &dyn Layer,
) -> (NewWeights, Option<Stripped>, usize) {
    let params = layer.params();
    let get = |w: &str| {
        let full = format!("{prefix}{w}");
        params.iter().find(|p| p.name == full).map(|p| &p.value)
    };
    let Some(e) = get("query/kernel").map(|q| q.shape()[1]) else {
        return (Vec::new(), None, 0);
    };
    let dk = e / heads.max(1);
    // (weight, its values' heads: columns of Q/K/V, rows of the output)
    let mut members: Vec<(&str, &Tensor, usize)> = Vec::new();
    for w in ["query/kernel", "key/kernel", "value/kernel"] {
        members.extend(get(w).map(|t| (w, t, e)));
    }
    for w in ["query/bias", "key/bias", "value/bias"] {
        members.extend(get(w).map(|t| (w, t, t.numel())));
    }
    let live: Vec<bool> = (0..heads)
        .map(|h| {
            let cols = h * dk..(h + 1) * dk;
            let qkv = members.iter().any(|(_, t, width)| {
                t.data()
                    .chunks(*width)
                    .any(|row| row[cols.clone()].iter().any(|&v| v != 0.0))
            });
            let out = get("output/kernel").is_some_and(|o| {
                let d = o.shape()[1];
                o.data()[h * dk * d..(h + 1) * dk * d]
                    .iter()
                    .any(|&v| v != 0.0)
            });
            qkv || out
        })
        .collect();
    let mut keep: Vec<usize> = (0..heads).filter(|&h| live[h]).collect();
    if keep.is_empty() {
        keep.push(0); // an attention keeps one head (all zero) so shapes stay valid
    }
    if keep.len() == heads {
        return (Vec::new(), None, dk);
    }
    let mut out = Vec::new();
    for (w, t, width) in members {
        let v: Vec<f32> = t
            .data()
            .chunks(width)
            .flat_map(|row| {
                keep.iter()
                    .flat_map(move |&h| row[h * dk..(h + 1) * dk].iter().copied())
            })
            .collect();
        out.push((format!("{name}.{prefix}{w}"), v));
    }
    if let Some(o) = get("output/kernel") {
        let d = o.shape()[1];
        let rows = keep
            .iter()
            .flat_map(|&h| o.data()[h * dk * d..(h + 1) * dk * d].iter().copied());
        out.push((format!("{name}.{prefix}output/kernel"), rows.collect()));
    }
    let st = Stripped {
        layer: name.to_string(),
        before: heads,
        after: keep.len(),
    };
    (out, Some(st), dk)
}

/// New weights by file name.
type NewWeights = Vec<(String, Vec<f32>)>;

/// A recurrent stack's new weights, what it lost, its kept output features.
type StrippedStack = (NewWeights, Option<Stripped>, Kept);

/// A recurrent stack without its zero units (see the module doc), reading the kept features
/// `kept` of `inp`: its new weights, what it lost, and its kept output features.
fn strip_recurrent(
    name: &str,
    c: &mut RecurrentConfig,
    layer: &dyn Layer,
    inp: &[usize],
    kept: Kept,
    keep_all: bool,
) -> std::result::Result<StrippedStack, String> {
    if kept.as_ref().is_some_and(|(_, a)| *a != Axis::Last) {
        return Err("a recurrent layer reading another axis than the pruned units'".into());
    }
    let params = layer.params();
    let get = |w: &str| params.iter().find(|p| p.name == w).map(|p| &p.value);
    let (h, dirs) = (c.units, if c.bidirectional { 2 } else { 1 });
    let suffix = |l: usize, d: usize| format!("l{l}{}", if d == 1 { "_reverse" } else { "" });
    let members = ["weight_ih_", "weight_hh_", "bias_ih_", "bias_hh_"];
    // the units with a non-zero weight, per layer and direction (row r is unit r % h)
    let mut live = Vec::new();
    for l in 0..c.num_layers {
        for d in 0..dirs {
            let mut on = vec![keep_all; h];
            for w in members {
                if let Some(v) = get(&format!("{w}{}", suffix(l, d))) {
                    let cols = v.numel() / v.shape()[0].max(1);
                    for (j, &x) in v.data().iter().enumerate() {
                        on[(j / cols) % h] |= x != 0.0;
                    }
                }
            }
            live.push(on);
        }
    }
    let count = |on: &Vec<bool>| on.iter().filter(|&&b| b).count();
    let keep = live.iter().map(count).max().unwrap_or(h).max(1);
    let units: Vec<Vec<usize>> = live
        .iter()
        .map(|on| {
            let mut k: Vec<usize> = (0..h).filter(|&j| on[j]).collect();
            let extra: Vec<usize> = (0..h).filter(|&j| !on[j]).take(keep - k.len()).collect();
            k.extend(extra);
            k.sort_unstable();
            k
        })
        .collect();
    let n_in = inp.last().copied().unwrap_or(0);
    let inputs: Vec<usize> = kept.map_or_else(|| (0..n_in).collect(), |(k, _)| k);
    if inputs.iter().any(|&r| r >= n_in) {
        return Err("inputs that do not line up with the pruned units".into());
    }
    // the features of a layer's output: each direction's kept units, side by side
    let features = |l: usize| -> Vec<usize> {
        (0..dirs)
            .flat_map(|d| units[l * dirs + d].iter().map(move |&j| d * h + j))
            .collect()
    };
    let mut weights = Vec::new();
    for l in 0..c.num_layers {
        let cols_in = if l == 0 {
            inputs.clone()
        } else {
            features(l - 1)
        };
        for d in 0..dirs {
            let ku = &units[l * dirs + d];
            for w in members {
                let key = format!("{w}{}", suffix(l, d));
                let Some(v) = get(&key) else { continue };
                let (n, k) = (v.shape()[0], v.numel() / v.shape()[0].max(1));
                let rows: Vec<usize> = (0..n / h)
                    .flat_map(|g| ku.iter().map(move |&j| g * h + j))
                    .collect();
                let cols: Vec<usize> = match w {
                    "weight_ih_" => cols_in.clone(),
                    "weight_hh_" => ku.clone(),
                    _ => vec![0],
                };
                let data = v.data();
                let picked = rows
                    .iter()
                    .flat_map(|&r| cols.iter().map(move |&cc| data[r * k + cc]))
                    .collect();
                weights.push((format!("{name}.{key}"), picked));
            }
        }
    }
    c.units = keep;
    let changed = keep < h;
    let stripped = changed.then(|| Stripped {
        layer: name.to_string(),
        before: h,
        after: keep,
    });
    let out = changed.then(|| (features(c.num_layers - 1), Axis::Last));
    Ok((weights, stripped, out))
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
        let mut weights: HashMap<String, Vec<f32>> = HashMap::new();
        let mut report = Vec::new();
        let mut kept: Kept = None;
        let shapes: Vec<Vec<usize>> = self.graph().nodes.iter().map(|n| n.shape.clone()).collect();
        let protected = crate::pruning::output_layers(self);
        for (i, node) in cfg.layers.iter_mut().enumerate() {
            let layer = &self.layers()[i];
            let name = layer.name().to_string();
            let inp = if i == 0 {
                self.input_shape().to_vec()
            } else {
                shapes[i - 1].clone()
            };
            let blocked = |why: String| {
                Error::config(
                    format!("strip_pruned at layer '{name}'"),
                    "only layers that keep channels and zeros between a pruned layer and the next one that reads it",
                    why,
                )
            };
            let attention = match &mut node.layer {
                LayerConfig::MultiHeadAttention(c) => Some(("", &mut c.num_heads, None)),
                LayerConfig::TransformerBlock(c) => {
                    Some(("attn/", &mut c.num_heads, Some(&mut c.key_dim)))
                }
                _ => None,
            };
            if let Some((prefix, heads, key_dim)) = attention {
                if kept.is_some() {
                    return Err(blocked(format!(
                        "attention in '{name}' (it mixes the features)"
                    )));
                }
                for p in layer.params() {
                    weights.insert(format!("{name}.{}", p.name), p.value.to_vec());
                }
                let (w, stripped, dk) = strip_heads(&name, prefix, *heads, layer.as_ref());
                if let Some(st) = stripped {
                    *heads = st.after;
                    if let Some(k) = key_dim {
                        *k = Some(dk); // its default (features / heads) would change
                    }
                    report.push(st);
                }
                weights.extend(w);
                continue;
            }
            if let LayerConfig::Lstm(c) | LayerConfig::Gru(c) | LayerConfig::SimpleRnn(c) =
                &mut node.layer
            {
                let keep_all = protected.contains(&name);
                let (w, stripped, out) =
                    strip_recurrent(&name, c, layer.as_ref(), &inp, kept.take(), keep_all)
                        .map_err(blocked)?;
                weights.extend(w);
                report.extend(stripped);
                kept = out;
                continue;
            }
            let (act, units_field, axis) = match &mut node.layer {
                LayerConfig::Dense(d) => (d.activation, &mut d.units, Axis::Last),
                LayerConfig::Conv2d(c) if c.groups == 1 => {
                    (c.activation, &mut c.filters, Axis::First)
                }
                LayerConfig::Conv1d(c) if c.groups == 1 => {
                    (c.activation, &mut c.filters, Axis::First)
                }
                other => {
                    kept = pass_through(other, &inp, kept).map_err(blocked)?;
                    for p in layer.params() {
                        weights.insert(format!("{name}.{}", p.name), p.value.to_vec());
                    }
                    continue;
                }
            };
            // the inputs this layer keeps: those of the pruned units before it
            if let Some((_, a)) = &kept {
                if *a != axis && inp.len() > 1 {
                    return Err(blocked(
                        "a layer reading another axis than the pruned units'".into(),
                    ));
                }
            }
            let get = |w: &str| {
                layer
                    .params()
                    .into_iter()
                    .find(|p| p.name == w)
                    .map(|p| p.value.clone())
            };
            let kernel = get("kernel").expect("dense and convolution layers have a kernel");
            let bias = get("bias");
            let shape = kernel.shape().to_vec();
            let (units, n_in) = (
                units_of(&shape),
                if shape.len() == 2 { shape[0] } else { shape[1] },
            );
            let inputs: Vec<usize> = kept.take().map_or_else(|| (0..n_in).collect(), |(k, _)| k);
            if inputs.iter().any(|&r| r >= n_in) {
                return Err(blocked(
                    "inputs that do not line up with the pruned units".into(),
                ));
            }
            // the units it keeps: all, unless pruned ones (zero weights and bias, zero output) can go
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
            let keep_all = protected.contains(&name) || !keeps_zero(act);
            let mut out: Vec<usize> = (0..units).filter(|&u| keep_all || !zero[u]).collect();
            if out.is_empty() {
                out.push(0); // a layer keeps one unit (all zero) so shapes stay valid
            }
            let d = kernel.data();
            let new_kernel: Vec<f32> = if shape.len() == 2 {
                inputs
                    .iter()
                    .flat_map(|&r| out.iter().map(move |&u| d[r * units + u]))
                    .collect()
            } else {
                let spatial: usize = shape[2..].iter().product();
                out.iter()
                    .flat_map(|&f| {
                        inputs.iter().flat_map(move |&c| {
                            let at = (f * n_in + c) * spatial;
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
                kept = Some((out, axis));
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
