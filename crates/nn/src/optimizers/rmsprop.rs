//! RMSprop, exactly as `torch.optim.RMSprop` (Hinton, Lecture 6e of "Neural Networks for
//! Machine Learning", 2012; centred form from Graves, 2013):
//!
//! ```text
//! g = g + weight_decay · w
//! v = ρ · v + (1 - ρ) · g²
//! ḡ = ρ · ḡ + (1 - ρ) · g                 (centered only)
//! d = sqrt(v - ḡ²) + ε if centered, else sqrt(v) + ε
//! b = momentum · b + g / d;  w = w - lr · b     (momentum > 0)
//! w = w - lr · g / d                            (otherwise)
//! ```
//! Defaults are PyTorch's: lr 0.01, ρ (PyTorch's `alpha`) 0.99, ε 1e-8 (Keras: lr 0.001,
//! ρ 0.9, ε 1e-7).

use super::{decayed, OptState, Optimizer};
use serde::{Deserialize, Serialize};

const V: usize = 0;
const MOMENTUM: usize = 1;
const MEAN: usize = 2;

/// RMSprop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RmsProp {
    /// Step size.
    pub learning_rate: f32,
    /// Decay of the squared-gradient average (PyTorch's `alpha`).
    pub rho: f32,
    /// Momentum factor.
    pub momentum: f32,
    /// Added to the denominator for stability.
    pub epsilon: f32,
    /// Divide by the variance rather than the raw second moment.
    pub centered: bool,
    /// Coupled weight decay.
    pub weight_decay: f32,
    #[serde(skip)]
    state: OptState,
}

impl Default for RmsProp {
    fn default() -> Self {
        RmsProp::new(0.01)
    }
}

impl RmsProp {
    /// RMSprop with step size `learning_rate` and PyTorch's other defaults.
    pub fn new(learning_rate: f32) -> RmsProp {
        RmsProp {
            learning_rate,
            rho: 0.99,
            momentum: 0.0,
            epsilon: 1e-8,
            centered: false,
            weight_decay: 0.0,
            state: OptState::default(),
        }
    }
}

impl Optimizer for RmsProp {
    fn update(&mut self, index: usize, w: &mut [f32], g: &[f32]) {
        let (lr, rho, mu, eps) = (self.learning_rate, self.rho, self.momentum, self.epsilon);
        let mut buf = Vec::new();
        let g = decayed(g, w, self.weight_decay, &mut buf);
        let n = w.len();
        let mut d = self.state.slot(V, index, n, 0.0).to_vec();
        for (vi, gi) in d.iter_mut().zip(g) {
            *vi = rho * *vi + (1.0 - rho) * gi * gi;
        }
        self.state.slot(V, index, n, 0.0).copy_from_slice(&d);
        if self.centered {
            let mean = self.state.slot(MEAN, index, n, 0.0);
            for ((di, mi), gi) in d.iter_mut().zip(mean.iter_mut()).zip(g) {
                *mi = rho * *mi + (1.0 - rho) * gi;
                *di -= *mi * *mi;
            }
        }
        d.iter_mut().for_each(|di| *di = di.sqrt() + eps);
        if mu > 0.0 {
            let b = self.state.slot(MOMENTUM, index, n, 0.0);
            for (((wi, bi), gi), di) in w.iter_mut().zip(b.iter_mut()).zip(g).zip(&d) {
                *bi = mu * *bi + gi / di;
                *wi -= lr * *bi;
            }
        } else {
            for ((wi, gi), di) in w.iter_mut().zip(g).zip(&d) {
                *wi -= lr * gi / di;
            }
        }
    }

    super::shared_accessors!(RmsProp);
}
