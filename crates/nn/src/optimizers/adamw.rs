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
    /// Weights left undecayed: those whose name (inside their layer) contains one of these
    /// strings (Keras's `exclude_from_weight_decay(var_names=..)`; for a GPT, PyTorch users'
    /// parameter groups: `["bias", "gamma", "beta", "embeddings", "positions"]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_from_weight_decay: Vec<String>,
    #[serde(skip)]
    state: OptState,
    /// Whether the parameter being updated is decayed.
    #[serde(skip)]
    decay_this: bool,
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
            exclude_from_weight_decay: Vec::new(),
            state: OptState::default(),
            decay_this: true,
        }
    }

    /// Leaves weights whose names contain any of `names` undecayed.
    pub fn exclude_from_weight_decay(mut self, names: &[&str]) -> AdamW {
        self.exclude_from_weight_decay = names.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Sets the decoupled weight decay.
    pub fn weight_decay(mut self, wd: f32) -> AdamW {
        self.weight_decay = wd;
        self
    }
}

impl Optimizer for AdamW {
    fn begin_param(&mut self, name: &str) {
        self.decay_this = !self
            .exclude_from_weight_decay
            .iter()
            .any(|s| name.contains(s.as_str()));
    }

    fn update(&mut self, index: usize, w: &mut [f32], g: &[f32]) {
        if self.decay_this {
            let shrink = 1.0 - self.learning_rate * self.weight_decay;
            w.iter_mut().for_each(|wi| *wi *= shrink);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::Param;
    use nabla_core::Tensor;

    #[test]
    fn excluded_weights_are_not_decayed() {
        let mut kernel = Param::new("attn/query/kernel", Tensor::full(&[2], 1.0));
        let mut bias = Param::new("attn/query/bias", Tensor::full(&[2], 1.0));
        // a zero gradient: Adam moves nothing, only the decay acts
        let loss = kernel
            .value
            .mul(&Tensor::zeros(&[2]))
            .sum()
            .add(&bias.value.mul(&Tensor::zeros(&[2])).sum());
        let grads = loss.backward();
        let mut opt = AdamW::new(0.1)
            .weight_decay(0.5)
            .exclude_from_weight_decay(&["bias"]);
        opt.step(&mut [&mut kernel, &mut bias], &grads);
        assert_eq!(kernel.value.data(), &[0.95, 0.95]); // 1 - 0.1 · 0.5
        assert_eq!(bias.value.data(), &[1.0, 1.0]);
        let back: AdamW = serde_json::from_str(&serde_json::to_string(&opt).unwrap()).unwrap();
        assert_eq!(back.exclude_from_weight_decay, ["bias"]);
    }
}
