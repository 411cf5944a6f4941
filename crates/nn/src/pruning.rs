//! Magnitude pruning during training (the semantics of TF-MOT's `prune_low_magnitude` and
//! `torch.nn.utils.prune.l1_unstructured` / `global_unstructured`): at scheduled steps the
//! smallest weights by absolute value are set to zero, and from then on stay zero, with their
//! gradients and optimiser moments, through every step. A gradient hook
//! ([`crate::GradientHook::before_update`]), so it works with any optimiser and training loop.
//!
//! Sparsity at step `t` (steps taken before it), TF-MOT's `PolynomialDecay`:
//!
//! ```text
//! s(t) = s_f + (s_i − s_f) · (1 − (t − begin) / (end − begin))^power   for begin ≤ t ≤ end
//! ```
//!
//! and `ConstantSparsity` (no `end_step`): `s(t) = s_f` from `begin_step` on. The weights are
//! pruned again at `begin_step` and every `frequency` steps after it (until `end_step`).
//!
//! Which weights are pruned is known from the weights alone: once pruning has begun, a
//! pruned weight is an exact zero, and an exact zero stays zero until the next pruning step.
//! The hook thus keeps no state, and a run resumed from a checkpoint continues exactly.

use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::gradient_hook::GradientHook;
use crate::layer::Param;
use crate::optimizers::OptState;
use crate::structured_masks::unit_masks;
pub use crate::structured_masks::{unit_at, units_of};
use nabla_core::Gradients;
use serde::{Deserialize, Serialize};

/// How weights are ranked: each weight tensor on its own, or all together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PruneScope {
    /// Each weight tensor reaches the sparsity (TF-MOT, `l1_unstructured`).
    #[default]
    Layer,
    /// One threshold over every pruned weight (`global_unstructured`): layers with many
    /// small weights lose more.
    Global,
}

/// What is removed: single weights, or whole output units and channels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PruneStructure {
    /// Single weights (the file shrinks in the sparse form; the products stay dense).
    #[default]
    Unstructured,
    /// Whole units of dense and recurrent layers, filters of convolutions and heads of
    /// attention, smallest L2 norm first (PyTorch's `ln_structured`, n = 2):
    /// [`crate::Model::strip_pruned`] then removes them and the next layer's matching
    /// inputs, giving a smaller, faster model.
    Channels,
}

/// The `[prune]` table of a spec: magnitude pruning during training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneConfig {
    /// The final fraction of zeros in every pruned weight, in [0, 1).
    pub target_sparsity: f32,
    /// The fraction at `begin_step` with `end_step` (default 0).
    #[serde(default)]
    pub initial_sparsity: f32,
    /// The first pruning step (default 0: the first step).
    #[serde(default)]
    pub begin_step: u64,
    /// The step where `target_sparsity` is reached (polynomial schedule); absent: the target
    /// at once from `begin_step` (constant schedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_step: Option<u64>,
    /// Steps between pruning steps (default 100).
    #[serde(default = "hundred")]
    pub frequency: u64,
    /// The polynomial's exponent (default 3).
    #[serde(default = "three")]
    pub power: f32,
    /// `layer` (default) or `global` (unstructured only).
    #[serde(default)]
    pub scope: PruneScope,
    /// `unstructured` (default) or `channels`.
    #[serde(default)]
    pub structure: PruneStructure,
    /// The layers whose weights are pruned (default: every layer with a weight matrix or
    /// filter; biases and norms are never pruned).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
}

fn hundred() -> u64 {
    100
}

fn three() -> f32 {
    3.0
}

impl PruneConfig {
    /// The target sparsity at once from `begin_step` (TF-MOT's `ConstantSparsity`).
    pub fn constant(target: f32, begin_step: u64) -> PruneConfig {
        PruneConfig {
            target_sparsity: target,
            initial_sparsity: 0.0,
            begin_step,
            end_step: None,
            frequency: 100,
            power: 3.0,
            scope: PruneScope::Layer,
            structure: PruneStructure::Unstructured,
            layers: Vec::new(),
        }
    }

    /// From `initial` at `begin_step` to `target` at `end_step` (TF-MOT's `PolynomialDecay`).
    pub fn polynomial(initial: f32, target: f32, begin_step: u64, end_step: u64) -> PruneConfig {
        PruneConfig {
            initial_sparsity: initial,
            end_step: Some(end_step),
            ..PruneConfig::constant(target, begin_step)
        }
    }

    /// Checks the numbers; the error names the field.
    pub fn validate(&self) -> Result<()> {
        for (what, v) in [
            ("target_sparsity", self.target_sparsity),
            ("initial_sparsity", self.initial_sparsity),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(Error::config(
                    format!("prune.{what}"),
                    "a number in [0, 1)",
                    v,
                ));
            }
        }
        if self.structure == PruneStructure::Channels && self.scope == PruneScope::Global {
            return Err(Error::config(
                "prune.scope",
                "layer with structure = \"channels\" (norms of units of different layers do not compare)",
                "global",
            ));
        }
        if self.frequency == 0 {
            return Err(Error::config("prune.frequency", "at least 1 step", 0));
        }
        if self.end_step.is_some_and(|e| e <= self.begin_step) {
            return Err(Error::config(
                "prune.end_step",
                format!("a step after begin_step ({})", self.begin_step),
                self.end_step.unwrap_or(0),
            ));
        }
        if self.power.is_nan() || self.power <= 0.0 {
            return Err(Error::config(
                "prune.power",
                "a positive number",
                self.power,
            ));
        }
        Ok(())
    }

    /// The sparsity the schedule asks for at step `t`, or `None` when `t` is not a pruning
    /// step.
    pub fn sparsity_at(&self, t: u64) -> Option<f32> {
        let since = t.checked_sub(self.begin_step)?;
        let last = self.end_step.map_or(u64::MAX, |e| e - self.begin_step);
        if since > last || (since % self.frequency != 0 && since != last) {
            return None;
        }
        Some(match self.end_step {
            None => self.target_sparsity,
            Some(_) => {
                let left = 1.0 - since as f64 / last as f64;
                let (si, sf) = (self.initial_sparsity as f64, self.target_sparsity as f64);
                (sf + (si - sf) * left.powf(self.power as f64)) as f32
            }
        })
    }
}

/// The gradient hook that prunes `model`: `model.add_gradient_hook(Pruning::new(cfg, &model)?)`.
pub struct Pruning {
    pub(crate) cfg: PruneConfig,
    /// The layers whose units are the model's outputs (through layers without weights:
    /// activations, dropout), never pruned whole.
    pub(crate) outputs: Vec<String>,
    /// Each attention's weight-name prefix (`mha.`, `block.attn/`), its layer and its heads.
    pub(crate) heads: Vec<(String, String, usize)>,
}

impl Pruning {
    /// The hook for `cfg` (checked) on `model`.
    pub fn new(cfg: PruneConfig, model: &crate::Model) -> Result<Pruning> {
        cfg.validate()?;
        let heads = model
            .layers()
            .iter()
            .filter_map(|l| {
                let name = l.name().to_string();
                match l.config() {
                    LayerConfig::MultiHeadAttention(c) => {
                        Some((format!("{name}."), name, c.num_heads))
                    }
                    LayerConfig::TransformerBlock(c) => {
                        Some((format!("{name}.attn/"), name, c.num_heads))
                    }
                    _ => None,
                }
            })
            .collect();
        Ok(Pruning {
            cfg,
            outputs: output_layers(model),
            heads,
        })
    }

    /// Whether the weight `name` (`layer.weight`) is pruned.
    fn prunes(&self, name: &str, p: &Param) -> bool {
        let (layer, weight) = name.rsplit_once('.').unwrap_or((name, ""));
        let chosen = self.cfg.layers.is_empty() || self.cfg.layers.iter().any(|l| l == layer);
        let shape_fits = match self.cfg.structure {
            PruneStructure::Unstructured => p.value.rank() >= 2,
            PruneStructure::Channels => {
                weight == "kernel"
                    && (2..=4).contains(&p.value.rank())
                    && !self.outputs.iter().any(|o| o == layer)
            }
        };
        p.trainable && chosen && shape_fits
    }
}

/// The layers whose units reach an output of `model` through layers without weights.
pub fn output_layers(model: &crate::Model) -> Vec<String> {
    use crate::graph::Source;
    let g = model.graph();
    let mut found = Vec::new();
    for &out in &g.outputs {
        let mut src = out;
        while let Source::Node(j) = src {
            let layer = &g.layers[g.nodes[j].layer];
            if !layer.params().is_empty() {
                found.push(layer.name().to_string());
                break;
            }
            match g.nodes[j].inputs.first() {
                Some(&s) => src = s,
                None => break,
            }
        }
    }
    found
}

/// The number of the `n` values of `w` to zero for `sparsity`.
pub(crate) fn count(n: usize, sparsity: f32) -> usize {
    ((n as f64 * sparsity as f64).floor() as usize).min(n)
}

/// The threshold below which the `k` smallest of `mags` fall: `(magnitude, index)` of the
/// k-th smallest, ties broken by position so the choice is exact and repeatable.
pub(crate) fn kth(mags: &[(f32, usize)], k: usize) -> Option<(f32, usize)> {
    if k == 0 {
        return None;
    }
    let mut v = mags.to_vec();
    let (_, nth, _) =
        v.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    Some(*nth)
}

impl Pruning {
    /// Unstructured masks of the weights `chosen`: their zeros, and (at a pruning step of
    /// `sparsity`) the smallest magnitudes.
    fn weight_masks(
        &self,
        params: &[(String, &mut Param)],
        chosen: &[usize],
        sparsity: Option<f32>,
    ) -> Vec<Vec<bool>> {
        let mut masks: Vec<Vec<bool>> = chosen
            .iter()
            .map(|&i| params[i].1.value.data().iter().map(|&w| w == 0.0).collect())
            .collect();
        let Some(s) = sparsity else {
            return masks;
        };
        let mags = |i: usize, base: usize| {
            let d = params[i].1.value.data();
            d.iter().enumerate().map(move |(j, w)| (w.abs(), base + j))
        };
        match self.cfg.scope {
            PruneScope::Layer => {
                for (m, &i) in masks.iter_mut().zip(chosen) {
                    let all: Vec<(f32, usize)> = mags(i, 0).collect();
                    if let Some(cut) = kth(&all, count(all.len(), s)) {
                        for (mj, a) in m.iter_mut().zip(&all) {
                            *mj |= *a <= cut;
                        }
                    }
                }
            }
            PruneScope::Global => {
                let mut all = Vec::new();
                for &i in chosen {
                    let base = all.len();
                    all.extend(mags(i, base));
                }
                if let Some(cut) = kth(&all, count(all.len(), s)) {
                    let flat = masks.iter_mut().flat_map(|m| m.iter_mut());
                    for (mj, a) in flat.zip(&all) {
                        *mj |= *a <= cut;
                    }
                }
            }
        }
        masks
    }
}

impl GradientHook for Pruning {
    fn name(&self) -> &str {
        "pruning"
    }

    fn apply(&mut self, _grads: &mut Gradients, _params: &[(String, &Param)]) {}

    fn before_update(
        &mut self,
        grads: &mut Gradients,
        params: &mut [(String, &mut Param)],
        opt: &mut OptState,
    ) {
        let t = opt.t;
        if t < self.cfg.begin_step {
            return;
        }
        let chosen: Vec<usize> = (0..params.len())
            .filter(|&i| self.prunes(&params[i].0, params[i].1))
            .collect();
        let sparsity = self.cfg.sparsity_at(t);
        let (chosen, masks) = match self.cfg.structure {
            PruneStructure::Unstructured => {
                let masks = self.weight_masks(params, &chosen, sparsity);
                (chosen, masks)
            }
            PruneStructure::Channels => {
                let (mut which, mut masks) = unit_masks(params, &chosen, sparsity);
                for (w, m) in [
                    self.recurrent_masks(params, sparsity),
                    self.head_masks(params, sparsity),
                ] {
                    which.extend(w);
                    masks.extend(m);
                }
                (which, masks)
            }
        };
        for (m, i) in masks.iter().zip(chosen) {
            let n = m.len();
            let zero = |v: &mut [f32]| {
                v.iter_mut()
                    .zip(m)
                    .filter(|(_, &z)| z)
                    .for_each(|(x, _)| *x = 0.0)
            };
            params[i].1.value.update(zero);
            let id = params[i].1.value.id();
            grads.map_each(&[id], zero);
            for slots in opt.slots.iter_mut() {
                if let Some(buf) = slots.get_mut(i).filter(|b| b.len() == n) {
                    zero(buf);
                }
            }
        }
    }
}

/// The fraction of exact zeros in `w`.
pub fn sparsity(w: &[f32]) -> f32 {
    if w.is_empty() {
        return 0.0;
    }
    w.iter().filter(|&&v| v == 0.0).count() as f32 / w.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedules_follow_tf_mot() {
        let c = PruneConfig::constant(0.8, 10);
        assert_eq!(c.sparsity_at(9), None);
        assert_eq!(c.sparsity_at(10), Some(0.8));
        assert_eq!(c.sparsity_at(11), None);
        assert_eq!(c.sparsity_at(110), Some(0.8));
        let mut p = PruneConfig::polynomial(0.0, 0.8, 0, 400);
        p.frequency = 100;
        let s: Vec<Option<f32>> = [0, 50, 100, 200, 400, 401, 500]
            .iter()
            .map(|&t| p.sparsity_at(t))
            .collect();
        // 0.8 + (0 - 0.8) (1 - t/400)^3
        let want = |t: f64| Some((0.8 - 0.8 * (1.0 - t / 400.0).powi(3)) as f32);
        assert_eq!(
            s,
            vec![
                want(0.0),
                None,
                want(100.0),
                want(200.0),
                Some(0.8),
                None,
                None
            ]
        );
        let mut bad = PruneConfig::constant(1.0, 0);
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("prune.target_sparsity"));
        bad = PruneConfig::polynomial(0.0, 0.5, 10, 10);
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("prune.end_step"));
    }
}
