//! `GradientHook`: what runs between backward and the optimiser step, in order: the
//! collective hooks (the all-reduce of data-parallel training), clipping (from `compile`),
//! then the hooks a user or a library adds (pruning masks, custom logic). Gradient
//! accumulation sums micro-batches before.

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
    /// [`GradientHook::apply`], told how many samples `grads` average over (the micro-batches'
    /// total with accumulation; `Some(0)` for a process whose slice of the batch was empty;
    /// `None` when unknown, as in `Model::apply_gradients`).
    fn apply_step(
        &mut self,
        grads: &mut Gradients,
        params: &[(String, &Param)],
        samples: Option<usize>,
    ) {
        let _ = samples;
        self.apply(grads, params)
    }
    /// Runs after every hook's [`GradientHook::apply_step`], just before the optimiser: may
    /// change the weights (`params`, named as in the model file, in `named_params` order),
    /// the gradients, and the optimiser's per-weight buffers (`opt.slots[kind][i]` belongs
    /// to `params[i]`; `opt.t` counts the steps taken). Pruning zeroes its weights here.
    fn before_update(
        &mut self,
        grads: &mut Gradients,
        params: &mut [(String, &mut Param)],
        opt: &mut crate::optimizers::OptState,
    ) {
        let _ = (grads, params, opt);
    }
    /// Whether every process runs this hook at every step, before clipping (the all-reduce
    /// of data-parallel training). With such a hook a step whose gradients come out
    /// non-finite changes no weight, on every process alike.
    fn collective(&self) -> bool {
        false
    }
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
