//! `GradientHook`: what runs between backward and the optimiser step, in order: clipping
//! (from `compile`), then the hooks a user or a library adds (pruning masks, the all-reduce of
//! data-parallel training, custom logic). Gradient accumulation sums micro-batches before.

use crate::layer::Param;
use crate::optimizers::Clipping;
use nabla_core::Gradients;

/// Changes the gradients of a step before the optimiser uses them.
pub trait GradientHook: Send + Sync {
    /// A name for messages.
    fn name(&self) -> &str;
    /// Changes `grads` in place; `params` are the model's weights as `(name, weight)`, in
    /// `named_params` order (a gradient is found by `grads.get(&param.value)`).
    fn apply(&mut self, grads: &mut Gradients, params: &[(String, &Param)]);
}

/// The ids of the trainable weights (what clipping and the optimiser touch).
pub fn trainable_ids(params: &[(String, &Param)]) -> Vec<u64> {
    params
        .iter()
        .filter(|(_, p)| p.trainable)
        .map(|(_, p)| p.value.id())
        .collect()
}

impl GradientHook for Clipping {
    fn name(&self) -> &str {
        "clipping"
    }

    fn apply(&mut self, grads: &mut Gradients, params: &[(String, &Param)]) {
        if self.is_active() {
            self.clip(grads, &trainable_ids(params));
        }
    }
}
