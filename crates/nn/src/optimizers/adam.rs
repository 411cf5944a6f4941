//! Adam with bias correction, exactly as `torch.optim.Adam` (Kingma & Ba, "Adam: A Method for
//! Stochastic Optimization", 2015):
//!
//! ```text
//! m = β1 · m + (1 - β1) · g
//! v = β2 · v + (1 - β2) · g²
//! w = w - (lr / (1 - β1^t)) · m / (sqrt(v) / sqrt(1 - β2^t) + ε)
//! ```
//! Defaults are PyTorch's: lr 1e-3, β1 0.9, β2 0.999, ε 1e-8 (Keras uses ε 1e-7).

use super::{slot, Optimizer, OptimizerConfig};
use serde::{Deserialize, Serialize};

/// Adam.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Adam {
    /// Step size.
    pub learning_rate: f32,
    /// Decay of the first-moment estimate.
    pub beta_1: f32,
    /// Decay of the second-moment estimate.
    pub beta_2: f32,
    /// Added to the denominator for stability.
    pub epsilon: f32,
    #[serde(skip)]
    t: u64,
    #[serde(skip)]
    m: Vec<Vec<f32>>,
    #[serde(skip)]
    v: Vec<Vec<f32>>,
}

impl Default for Adam {
    fn default() -> Self {
        Adam::new(1e-3)
    }
}

impl Adam {
    /// Adam with step size `learning_rate` and PyTorch's other defaults.
    pub fn new(learning_rate: f32) -> Adam {
        Adam {
            learning_rate,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Sets β1 and β2.
    pub fn betas(mut self, beta_1: f32, beta_2: f32) -> Adam {
        self.beta_1 = beta_1;
        self.beta_2 = beta_2;
        self
    }

    /// Sets ε.
    pub fn epsilon(mut self, eps: f32) -> Adam {
        self.epsilon = eps;
        self
    }
}

impl Optimizer for Adam {
    fn begin_step(&mut self) {
        self.t += 1;
    }

    fn update(&mut self, index: usize, w: &mut [f32], g: &[f32]) {
        let (b1, b2, eps) = (self.beta_1, self.beta_2, self.epsilon);
        let t = self.t.max(1) as i32;
        let bc1 = 1.0 - b1.powi(t);
        let bc2_sqrt = (1.0 - b2.powi(t)).sqrt();
        let step_size = self.learning_rate / bc1;
        slot(&mut self.m, index, w.len());
        slot(&mut self.v, index, w.len());
        let (m, v) = (&mut self.m[index], &mut self.v[index]);
        for (((wi, &gi), mi), vi) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            *mi = b1 * *mi + (1.0 - b1) * gi;
            *vi = b2 * *vi + (1.0 - b2) * gi * gi;
            let denom = vi.sqrt() / bc2_sqrt + eps;
            *wi -= step_size * *mi / denom;
        }
    }

    fn learning_rate(&self) -> f32 {
        self.learning_rate
    }

    fn set_learning_rate(&mut self, lr: f32) {
        self.learning_rate = lr;
    }

    fn config(&self) -> OptimizerConfig {
        OptimizerConfig::Adam(Adam::new(self.learning_rate).betas(self.beta_1, self.beta_2).epsilon(self.epsilon))
    }
}
