//! Gradient clipping before the optimiser step (Keras's `global_clipnorm` and `clipvalue`):
//!
//! - by global norm: if `‖g‖ = sqrt(Σ over all trainable gradients g²) > c`, every gradient
//!   is scaled by `c / ‖g‖` (Pascanu et al., 2013; `torch.nn.utils.clip_grad_norm_`)
//! - by value: each element clamped to `[-c, c]` (`clip_grad_value_`)
//!
//! Value clipping runs first when both are set.

use nabla_core::Gradients;
use serde::{Deserialize, Serialize};

/// Which clipping to apply (none by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clipping {
    /// Largest allowed global norm of all gradients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_clipnorm: Option<f32>,
    /// Largest allowed absolute value of any gradient element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clipvalue: Option<f32>,
}

impl Clipping {
    /// Clip by global norm `c`.
    pub fn global_norm(c: f32) -> Clipping {
        Clipping {
            global_clipnorm: Some(c),
            clipvalue: None,
        }
    }

    /// Clip each element to `[-c, c]`.
    pub fn value(c: f32) -> Clipping {
        Clipping {
            global_clipnorm: None,
            clipvalue: Some(c),
        }
    }

    /// Whether any clipping is set.
    pub fn is_active(&self) -> bool {
        self.global_clipnorm.is_some() || self.clipvalue.is_some()
    }

    /// Clips `grads` of the tensors `ids` in place.
    pub fn clip(&self, grads: &mut Gradients, ids: &[u64]) {
        if let Some(c) = self.clipvalue {
            grads.map_each(ids, |g| g.iter_mut().for_each(|v| *v = v.clamp(-c, c)));
        }
        if let Some(c) = self.global_clipnorm {
            let norm = grads.global_norm(ids);
            if norm > c as f64 {
                let s = (c as f64 / norm) as f32;
                grads.map_each(ids, |g| g.iter_mut().for_each(|v| *v *= s));
            }
        }
    }
}
