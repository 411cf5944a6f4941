//! Stochastic gradient descent with momentum, dampening, Nesterov and weight decay, exactly as
//! `torch.optim.SGD`:
//!
//! ```text
//! g = g + weight_decay · w
//! b = g                                   (first step)
//! b = momentum · b + (1 - dampening) · g  (later steps)
//! g = g + momentum · b   if nesterov, else   g = b      (when momentum > 0)
//! w = w - lr · g
//! ```
//! Sutskever et al., "On the importance of initialization and momentum in deep learning", 2013.
//! Defaults: lr 0.01 (Keras's; PyTorch requires it), momentum 0, no Nesterov, no decay.

use super::{decayed, OptState, Optimizer};
use serde::{Deserialize, Serialize};

/// SGD. With `momentum = 0` and the whole dataset as one batch this is plain gradient descent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sgd {
    /// Step size.
    pub learning_rate: f32,
    /// Momentum factor.
    pub momentum: f32,
    /// Dampening of the momentum's new gradient.
    pub dampening: f32,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// Coupled weight decay (an L2 term added to the gradient).
    pub weight_decay: f32,
    #[serde(skip)]
    state: OptState,
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd::new(0.01)
    }
}

impl Sgd {
    /// Plain SGD with step size `learning_rate`.
    pub fn new(learning_rate: f32) -> Sgd {
        Sgd {
            learning_rate,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            state: OptState::default(),
        }
    }

    /// Sets the momentum.
    pub fn momentum(mut self, m: f32) -> Sgd {
        self.momentum = m;
        self
    }

    /// Turns on Nesterov momentum.
    pub fn nesterov(mut self, on: bool) -> Sgd {
        self.nesterov = on;
        self
    }

    /// Sets the (coupled) weight decay.
    pub fn weight_decay(mut self, wd: f32) -> Sgd {
        self.weight_decay = wd;
        self
    }
}

impl Optimizer for Sgd {
    fn update(&mut self, index: usize, w: &mut [f32], g: &[f32]) {
        let (lr, mu, damp) = (self.learning_rate, self.momentum, self.dampening);
        let mut buf = Vec::new();
        let g = decayed(g, w, self.weight_decay, &mut buf);
        if mu == 0.0 {
            w.iter_mut().zip(g).for_each(|(wi, gi)| *wi -= lr * gi);
            return;
        }
        let first = !self.state.has(0, index);
        let b = self.state.slot(0, index, w.len(), 0.0);
        for ((wi, &gi), bi) in w.iter_mut().zip(g).zip(b.iter_mut()) {
            *bi = if first {
                gi
            } else {
                mu * *bi + (1.0 - damp) * gi
            };
            let step = if self.nesterov { gi + mu * *bi } else { *bi };
            *wi -= lr * step;
        }
    }

    super::shared_accessors!(Sgd);
}
