//! Adamax, Adam with the infinity norm, exactly as `torch.optim.Adamax` (Kingma & Ba, 2015,
//! section 7.1):
//!
//! ```text
//! g = g + weight_decay · w
//! m = β1 · m + (1 - β1) · g
//! u = max(β2 · u, |g| + ε)
//! w = w - (lr / (1 - β1^t)) · m / u
//! ```
//! Defaults are PyTorch's: lr 2e-3, β1 0.9, β2 0.999, ε 1e-8 (Keras: lr 0.001, ε 1e-7).

use super::{decayed, OptState, Optimizer};
use serde::{Deserialize, Serialize};

/// Adamax.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Adamax {
    /// Step size.
    pub learning_rate: f32,
    /// Decay of the first-moment estimate.
    pub beta_1: f32,
    /// Decay of the infinity norm.
    pub beta_2: f32,
    /// Added to the norm for stability.
    pub epsilon: f32,
    /// Coupled weight decay.
    pub weight_decay: f32,
    #[serde(skip)]
    state: OptState,
}

impl Default for Adamax {
    fn default() -> Self {
        Adamax::new(2e-3)
    }
}

impl Adamax {
    /// Adamax with step size `learning_rate` and PyTorch's other defaults.
    pub fn new(learning_rate: f32) -> Adamax {
        Adamax {
            learning_rate,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.0,
            state: OptState::default(),
        }
    }
}

impl Optimizer for Adamax {
    fn update(&mut self, index: usize, w: &mut [f32], g: &[f32]) {
        let (b1, b2, eps) = (self.beta_1, self.beta_2, self.epsilon);
        let clr = self.learning_rate / (1.0 - b1.powi(self.state.t.max(1) as i32));
        let mut buf = Vec::new();
        let g = decayed(g, w, self.weight_decay, &mut buf);
        let (m, u) = self.state.two(0, 1, index, w.len());
        for (((wi, mi), ui), gi) in w.iter_mut().zip(m.iter_mut()).zip(u.iter_mut()).zip(g) {
            *mi = b1 * *mi + (1.0 - b1) * gi;
            *ui = (b2 * *ui).max(gi.abs() + eps);
            *wi -= clr * *mi / *ui;
        }
    }

    super::shared_accessors!(Adamax);
}
