//! Adagrad, exactly as `torch.optim.Adagrad` (Duchi, Hazan & Singer, "Adaptive Subgradient
//! Methods for Online Learning and Stochastic Optimization", 2011):
//!
//! ```text
//! g = g + weight_decay · w
//! s = s + g²                              (s starts at initial_accumulator_value)
//! w = w - lr / (1 + (t - 1) · lr_decay) · g / (sqrt(s) + ε)
//! ```
//! Defaults are PyTorch's: lr 0.01, lr_decay 0, initial_accumulator_value 0, ε 1e-10
//! (Keras: lr 0.001, initial_accumulator_value 0.1, ε 1e-7).

use super::{decayed, OptState, Optimizer};
use serde::{Deserialize, Serialize};

/// Adagrad.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Adagrad {
    /// Step size.
    pub learning_rate: f32,
    /// Decay of the step size per step.
    pub lr_decay: f32,
    /// Starting value of the sum of squared gradients.
    pub initial_accumulator_value: f32,
    /// Added to the denominator for stability.
    pub epsilon: f32,
    /// Coupled weight decay.
    pub weight_decay: f32,
    #[serde(skip)]
    state: OptState,
}

impl Default for Adagrad {
    fn default() -> Self {
        Adagrad::new(0.01)
    }
}

impl Adagrad {
    /// Adagrad with step size `learning_rate` and PyTorch's other defaults.
    pub fn new(learning_rate: f32) -> Adagrad {
        Adagrad {
            learning_rate,
            lr_decay: 0.0,
            initial_accumulator_value: 0.0,
            epsilon: 1e-10,
            weight_decay: 0.0,
            state: OptState::default(),
        }
    }
}

impl Optimizer for Adagrad {
    fn update(&mut self, index: usize, w: &mut [f32], g: &[f32]) {
        let clr = self.learning_rate / (1.0 + (self.state.t.max(1) - 1) as f32 * self.lr_decay);
        let eps = self.epsilon;
        let mut buf = Vec::new();
        let g = decayed(g, w, self.weight_decay, &mut buf);
        let s = self
            .state
            .slot(0, index, w.len(), self.initial_accumulator_value);
        for ((wi, si), gi) in w.iter_mut().zip(s.iter_mut()).zip(g) {
            *si += gi * gi;
            *wi -= clr * gi / (si.sqrt() + eps);
        }
    }

    super::shared_accessors!(Adagrad);
}
