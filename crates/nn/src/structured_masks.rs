//! The masks of structured pruning (`structure = "channels"`, [`crate::pruning`]): whole
//! units of dense layers, filters of convolutions, hidden units of recurrent layers and heads
//! of attention, each ranked by the L2 norm of all the weights that make it up (PyTorch's
//! `ln_structured`, n = 2). A mask marks the values to zero; a unit once zero stays marked.

use crate::layer::Param;
use crate::pruning::{count, kth, Pruning};

/// The output units of a kernel of `shape`: dense `[in, units]`, convolutions
/// `[filters, ..]`.
pub fn units_of(shape: &[usize]) -> usize {
    if shape.len() == 2 {
        shape[1]
    } else {
        shape[0]
    }
}

/// The unit of value `j` of a kernel of `shape` (a column of a dense kernel, a block of a
/// convolution's).
pub fn unit_at(shape: &[usize], j: usize) -> usize {
    let n: usize = shape.iter().product();
    if shape.len() == 2 {
        j % shape[1]
    } else {
        j / (n / shape[0]).max(1)
    }
}

/// Structured masks: for each kernel `chosen`, its units whose weights are all zero and (at
/// a pruning step) the ones of smallest L2 norm; returned as masks of the kernels and of
/// their layers' biases.
pub(crate) fn unit_masks(
    params: &[(String, &mut Param)],
    chosen: &[usize],
    sparsity: Option<f32>,
) -> (Vec<usize>, Vec<Vec<bool>>) {
    let (mut which, mut masks) = (Vec::new(), Vec::new());
    for &i in chosen {
        let (name, p) = (&params[i].0, &params[i].1);
        let shape = p.value.shape().to_vec();
        let units = units_of(&shape);
        let mut norm = vec![0f64; units];
        for (j, &w) in p.value.data().iter().enumerate() {
            norm[unit_at(&shape, j)] += (w as f64) * (w as f64);
        }
        let mut pruned: Vec<bool> = norm.iter().map(|&n| n == 0.0).collect();
        if let Some(s) = sparsity {
            let ranked: Vec<(f32, usize)> = norm.iter().map(|&n| n as f32).zip(0..).collect();
            if let Some(cut) = kth(&ranked, count(units, s)) {
                for (pu, r) in pruned.iter_mut().zip(&ranked) {
                    *pu |= *r <= cut;
                }
            }
        }
        masks.push(
            (0..p.value.numel())
                .map(|j| pruned[unit_at(&shape, j)])
                .collect(),
        );
        which.push(i);
        let bias = format!("{}.bias", name.rsplit_once('.').map_or("", |(l, _)| l));
        if let Some(b) = params.iter().position(|(n, _)| *n == bias) {
            if params[b].1.value.numel() == units {
                masks.push(pruned);
                which.push(b);
            }
        }
    }
    (which, masks)
}

impl Pruning {
    /// Structured masks of recurrent layers (LSTM, GRU, simple RNN): per layer and
    /// direction, the hidden units whose gate rows in `weight_ih`, `weight_hh`, `bias_ih`
    /// and `bias_hh` are all zero and (at a pruning step) those of smallest L2 norm over all
    /// four. A unit with zero rows outputs exactly 0 at every step (from zero states), so
    /// `strip_pruned` can remove it with the inputs that read it.
    pub(crate) fn recurrent_masks(
        &self,
        params: &[(String, &mut Param)],
        sparsity: Option<f32>,
    ) -> (Vec<usize>, Vec<Vec<bool>>) {
        let (mut which, mut masks) = (Vec::new(), Vec::new());
        let find = |n: &str| params.iter().position(|(name, _)| name == n);
        for (hh, (name, p)) in params.iter().enumerate() {
            let Some((layer, rest)) = name.rsplit_once('.') else {
                continue;
            };
            let Some(suffix) = rest.strip_prefix("weight_hh_") else {
                continue;
            };
            let chosen = self.cfg.layers.is_empty() || self.cfg.layers.iter().any(|l| l == layer);
            if !p.trainable || !chosen || self.outputs.iter().any(|o| o == layer) {
                continue;
            }
            let group: Vec<usize> = ["weight_ih_", "weight_hh_", "bias_ih_", "bias_hh_"]
                .iter()
                .filter_map(|w| find(&format!("{layer}.{w}{suffix}")))
                .collect();
            let h = p.value.shape().get(1).copied().unwrap_or(0);
            if h == 0 || group.len() < 2 || group[1] != hh {
                continue;
            }
            // row r of every member belongs to unit r % h
            let mut norm = vec![0f64; h];
            for &i in &group {
                let v = &params[i].1.value;
                let cols = v.numel() / v.shape()[0].max(1);
                for (j, &w) in v.data().iter().enumerate() {
                    norm[(j / cols) % h] += (w as f64) * (w as f64);
                }
            }
            let mut pruned: Vec<bool> = norm.iter().map(|&n| n == 0.0).collect();
            if let Some(s) = sparsity {
                let ranked: Vec<(f32, usize)> = norm.iter().map(|&n| n as f32).zip(0..).collect();
                if let Some(cut) = kth(&ranked, count(h, s)) {
                    for (pu, r) in pruned.iter_mut().zip(&ranked) {
                        *pu |= *r <= cut;
                    }
                }
            }
            for &i in &group {
                let v = &params[i].1.value;
                let cols = v.numel() / v.shape()[0].max(1);
                masks.push((0..v.numel()).map(|j| pruned[(j / cols) % h]).collect());
                which.push(i);
            }
        }
        (which, masks)
    }
}

impl Pruning {
    /// Structured masks of attention heads: per attention layer, the heads whose query, key
    /// and value columns (with their biases) and output rows are all zero and (at a pruning
    /// step) those of smallest L2 norm over all of them. A zeroed head adds exactly 0 to
    /// the output (its values are 0), so `strip_pruned` can remove it.
    pub(crate) fn head_masks(
        &self,
        params: &[(String, &mut Param)],
        sparsity: Option<f32>,
    ) -> (Vec<usize>, Vec<Vec<bool>>) {
        let (mut which, mut masks) = (Vec::new(), Vec::new());
        let find = |n: String| params.iter().position(|(name, _)| *name == n);
        for (prefix, layer, heads) in &self.heads {
            let chosen = self.cfg.layers.is_empty() || self.cfg.layers.contains(layer);
            let Some(q) = find(format!("{prefix}query/kernel")) else {
                continue;
            };
            let e = params[q].1.value.shape()[1];
            if !chosen || !params[q].1.trainable || *heads == 0 || !e.is_multiple_of(*heads) {
                continue;
            }
            let dk = e / heads;
            // (param, m, div): value j belongs to head (j % m) / div — the columns of Q, K,
            // V and their biases, the rows of the output projection
            let mut group: Vec<(usize, usize, usize)> = Vec::new();
            for w in ["query", "key", "value"] {
                for part in ["kernel", "bias"] {
                    group.extend(find(format!("{prefix}{w}/{part}")).map(|i| (i, e, dk)));
                }
            }
            if let Some(i) = find(format!("{prefix}output/kernel")) {
                let d = params[i].1.value.shape()[1];
                group.push((i, usize::MAX, d * dk));
            }
            let mut norm = vec![0f64; *heads];
            for &(i, m, div) in &group {
                for (j, &w) in params[i].1.value.data().iter().enumerate() {
                    norm[(j % m) / div] += (w as f64) * (w as f64);
                }
            }
            let mut pruned: Vec<bool> = norm.iter().map(|&n| n == 0.0).collect();
            if let Some(s) = sparsity {
                let ranked: Vec<(f32, usize)> = norm.iter().map(|&n| n as f32).zip(0..).collect();
                if let Some(cut) = kth(&ranked, count(*heads, s)) {
                    for (pu, r) in pruned.iter_mut().zip(&ranked) {
                        *pu |= *r <= cut;
                    }
                }
            }
            for &(i, m, div) in &group {
                let n = params[i].1.value.numel();
                masks.push((0..n).map(|j| pruned[(j % m) / div]).collect());
                which.push(i);
            }
        }
        (which, masks)
    }
}
