//! NAdam, Adam with Nesterov momentum, exactly as `torch.optim.NAdam` (Dozat, "Incorporating
//! Nesterov Momentum into Adam", 2016):
//!
//! ```text
//! g = g + weight_decay · w
//! μ_t = β1 · (1 - 0.5 · 0.96^(t · ψ)),  Π_t = Π_{t-1} · μ_t      (ψ = momentum_decay)
//! m = β1 · m + (1 - β1) · g;   v = β2 · v + (1 - β2) · g²
//! d = sqrt(v / (1 - β2^t)) + ε
//! w = w - lr · (1 - μ_t) / (1 - Π_t) · g / d - lr · μ_{t+1} / (1 - Π_t · μ_{t+1}) · m / d
//! ```
//! Defaults are PyTorch's: lr 2e-3, β1 0.9, β2 0.999, ε 1e-8, ψ 4e-3 (Keras: lr 0.001, ε 1e-7).

use super::{decayed, OptState, Optimizer};
use serde::{Deserialize, Serialize};

/// NAdam.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Nadam {
    /// Step size.
    pub learning_rate: f32,
    /// Decay of the first-moment estimate.
    pub beta_1: f32,
    /// Decay of the second-moment estimate.
    pub beta_2: f32,
    /// Added to the denominator for stability.
    pub epsilon: f32,
    /// ψ, how fast the momentum schedule warms up.
    pub momentum_decay: f32,
    /// Coupled weight decay.
    pub weight_decay: f32,
    #[serde(skip)]
    state: OptState,
}

impl Default for Nadam {
    fn default() -> Self {
        Nadam::new(2e-3)
    }
}

impl Nadam {
    /// NAdam with step size `learning_rate` and PyTorch's other defaults.
    pub fn new(learning_rate: f32) -> Nadam {
        Nadam {
            learning_rate,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            momentum_decay: 4e-3,
            weight_decay: 0.0,
            state: OptState::default(),
        }
    }

    fn mu(&self, t: u64) -> f64 {
        self.beta_1 as f64 * (1.0 - 0.5 * 0.96f64.powf(t as f64 * self.momentum_decay as f64))
    }
}

impl Optimizer for Nadam {
    fn begin_step(&mut self) {
        // scalars[0] = Π μ over the steps so far
        let mu = self.mu(self.state.t);
        if self.state.scalars.is_empty() {
            self.state.scalars.push(1.0);
        }
        self.state.scalars[0] *= mu;
    }

    fn update(&mut self, index: usize, w: &mut [f32], g: &[f32]) {
        let t = self.state.t.max(1);
        let (b1, b2, eps, lr) = (
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.learning_rate as f64,
        );
        let (mu, mu_next) = (self.mu(t), self.mu(t + 1));
        let prod = self.state.scalars.first().copied().unwrap_or(mu);
        let c_grad = (lr * (1.0 - mu) / (1.0 - prod)) as f32;
        let c_m = (lr * mu_next / (1.0 - prod * mu_next)) as f32;
        let bc2 = 1.0 - b2.powi(t as i32);
        let mut buf = Vec::new();
        let g = decayed(g, w, self.weight_decay, &mut buf);
        let (m, v) = self.state.two(0, 1, index, w.len());
        for (((wi, mi), vi), gi) in w.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
            *mi = b1 * *mi + (1.0 - b1) * gi;
            *vi = b2 * *vi + (1.0 - b2) * gi * gi;
            let d = (*vi / bc2).sqrt() + eps;
            *wi -= c_grad * gi / d;
            *wi -= c_m * *mi / d;
        }
    }

    super::shared_accessors!(Nadam);
}
