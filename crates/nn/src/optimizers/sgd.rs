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

use super::{slot, Optimizer, OptimizerConfig};
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
    /// L2 penalty added to the gradient (coupled weight decay, as PyTorch).
    pub weight_decay: f32,
    #[serde(skip)]
    buffers: Vec<Vec<f32>>,
    #[serde(skip)]
    started: Vec<bool>,
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
            buffers: Vec::new(),
            started: Vec::new(),
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
        let (lr, mu, damp, wd) = (
            self.learning_rate,
            self.momentum,
            self.dampening,
            self.weight_decay,
        );
        if mu == 0.0 {
            for (wi, &gi) in w.iter_mut().zip(g) {
                *wi -= lr * (gi + wd * *wi);
            }
            return;
        }
        if self.started.len() <= index {
            self.started.resize(index + 1, false);
        }
        let first = !self.started[index];
        self.started[index] = true;
        let b = slot(&mut self.buffers, index, w.len());
        for ((wi, &gi), bi) in w.iter_mut().zip(g).zip(b.iter_mut()) {
            let d = gi + wd * *wi;
            *bi = if first {
                d
            } else {
                mu * *bi + (1.0 - damp) * d
            };
            let step = if self.nesterov { d + mu * *bi } else { *bi };
            *wi -= lr * step;
        }
    }

    fn learning_rate(&self) -> f32 {
        self.learning_rate
    }

    fn set_learning_rate(&mut self, lr: f32) {
        self.learning_rate = lr;
    }

    fn config(&self) -> OptimizerConfig {
        OptimizerConfig::Sgd(Sgd {
            buffers: Vec::new(),
            started: Vec::new(),
            ..self.clone()
        })
    }
}
