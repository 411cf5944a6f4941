//! AdamW: Adam with decoupled weight decay, exactly as `torch.optim.AdamW` (Loshchilov &
//! Hutter, "Decoupled Weight Decay Regularization", 2019):
//!
//! ```text
//! w = w - lr · weight_decay · w        (decay applied to the weights, not the gradient)
//! then the Adam update of adam.rs with the raw gradient
//! ```
//! Defaults are PyTorch's: lr 1e-3, β1 0.9, β2 0.999, ε 1e-8, weight_decay 0.01 (Keras: ε
//! 1e-7, weight_decay 0.004).

use super::adam::{adam_update, AdamStep};
use super::{OptState, Optimizer};
use serde::{Deserialize, Serialize};

/// AdamW.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamW {
    /// Step size.
    pub learning_rate: f32,
    /// Decay of the first-moment estimate.
    pub beta_1: f32,
    /// Decay of the second-moment estimate.
    pub beta_2: f32,
    /// Added to the denominator for stability.
    pub epsilon: f32,
    /// Decoupled weight decay.
    pub weight_decay: f32,
    /// Use the maximum of past second moments (AMSGrad).
    pub amsgrad: bool,
    #[serde(skip)]
    state: OptState,
}

impl Default for AdamW {
    fn default() -> Self {
        AdamW::new(1e-3)
    }
}

impl AdamW {
    /// AdamW with step size `learning_rate` and PyTorch's other defaults.
    pub fn new(learning_rate: f32) -> AdamW {
        AdamW {
            learning_rate,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.01,
            amsgrad: false,
            state: OptState::default(),
        }
    }

    /// Sets the decoupled weight decay.
    pub fn weight_decay(mut self, wd: f32) -> AdamW {
        self.weight_decay = wd;
        self
    }
}

impl Optimizer for AdamW {
    fn update(&mut self, index: usize, w: &mut [f32], g: &[f32]) {
        let shrink = 1.0 - self.learning_rate * self.weight_decay;
        w.iter_mut().for_each(|wi| *wi *= shrink);
        let h = AdamStep::new(
            self.learning_rate,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.state.t,
        );
        adam_update(&mut self.state, index, w, g, self.amsgrad, h);
    }

    super::shared_accessors!(AdamW);
}
