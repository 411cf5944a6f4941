//! Adadelta, exactly as `torch.optim.Adadelta` (Zeiler, "ADADELTA: An Adaptive Learning Rate
//! Method", 2012):
//!
//! ```text
//! g = g + weight_decay · w
//! v = ρ · v + (1 - ρ) · g²
//! Δ = sqrt(u + ε) / sqrt(v + ε) · g
//! u = ρ · u + (1 - ρ) · Δ²
//! w = w - lr · Δ
//! ```
//! Defaults are PyTorch's: lr 1.0, ρ 0.9, ε 1e-6 (Keras: lr 0.001, ρ 0.95, ε 1e-7).

use super::{decayed, OptState, Optimizer};
use serde::{Deserialize, Serialize};

/// Adadelta.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Adadelta {
    /// Scale of the update.
    pub learning_rate: f32,
    /// Decay of both running averages.
    pub rho: f32,
    /// Added inside the square roots.
    pub epsilon: f32,
    /// Coupled weight decay.
    pub weight_decay: f32,
    #[serde(skip)]
    state: OptState,
}

impl Default for Adadelta {
    fn default() -> Self {
        Adadelta::new(1.0)
    }
}

impl Adadelta {
    /// Adadelta scaled by `learning_rate`, PyTorch's other defaults.
    pub fn new(learning_rate: f32) -> Adadelta {
        Adadelta {
            learning_rate,
            rho: 0.9,
            epsilon: 1e-6,
            weight_decay: 0.0,
            state: OptState::default(),
        }
    }
}

impl Optimizer for Adadelta {
    fn update(&mut self, index: usize, w: &mut [f32], g: &[f32]) {
        let (lr, rho, eps) = (self.learning_rate, self.rho, self.epsilon);
        let mut buf = Vec::new();
        let g = decayed(g, w, self.weight_decay, &mut buf);
        let (v, u) = self.state.two(0, 1, index, w.len());
        for (((wi, vi), ui), gi) in w.iter_mut().zip(v.iter_mut()).zip(u.iter_mut()).zip(g) {
            *vi = rho * *vi + (1.0 - rho) * gi * gi;
            let delta = (*ui + eps).sqrt() / (*vi + eps).sqrt() * gi;
            *ui = rho * *ui + (1.0 - rho) * delta * delta;
            *wi -= lr * delta;
        }
    }

    super::shared_accessors!(Adadelta);
}
