//! Optimisers: the `Optimizer` trait, the shared driver that walks the parameters, and the
//! config enum (`optimizer = { type = "adam", learning_rate = 1e-3 }`).
//!
//! Each optimiser writes only its per-parameter update on slices; state is kept per
//! parameter position (the model's parameter order is fixed).

mod adam;
mod sgd;

pub use adam::Adam;
pub use sgd::Sgd;

use crate::error::{Error, Result};
use crate::layer::Param;
use nabla_core::Gradients;
use serde::{Deserialize, Serialize};

/// Updates weights from their gradients.
pub trait Optimizer: Send {
    /// One update of every trainable parameter that received a gradient.
    fn step(&mut self, params: &mut [&mut Param], grads: &Gradients) {
        self.begin_step();
        for (i, p) in params.iter_mut().enumerate() {
            if !p.trainable {
                continue;
            }
            let Some(g) = grads.get(&p.value) else {
                continue;
            };
            p.value.update(|w| self.update(i, w, g));
        }
    }
    /// Called once per step before the parameter updates (advances step counters).
    fn begin_step(&mut self) {}
    /// Updates parameter number `index` (`w`) with its gradient `g`.
    fn update(&mut self, index: usize, w: &mut [f32], g: &[f32]);
    /// The current learning rate.
    fn learning_rate(&self) -> f32;
    /// Changes the learning rate (schedules, callbacks).
    fn set_learning_rate(&mut self, lr: f32);
    /// The hyper-parameters, for saving.
    fn config(&self) -> OptimizerConfig;
}

/// An optimiser config, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// [`Sgd`]
    Sgd(Sgd),
    /// [`Adam`]
    Adam(Adam),
}

impl OptimizerConfig {
    /// The optimiser, with fresh state.
    pub fn into_optimizer(self) -> Box<dyn Optimizer> {
        match self {
            OptimizerConfig::Sgd(o) => Box::new(o),
            OptimizerConfig::Adam(o) => Box::new(o),
        }
    }

    /// Rejects hyper-parameters outside their domain.
    pub fn validate(&self) -> Result<()> {
        let check = |what: &str, v: f32, ok: bool, expected: &str| {
            if ok {
                Ok(())
            } else {
                Err(Error::config(what.to_string(), expected, v))
            }
        };
        match self {
            OptimizerConfig::Sgd(o) => {
                check(
                    "sgd learning_rate",
                    o.learning_rate,
                    o.learning_rate >= 0.0 && o.learning_rate.is_finite(),
                    "a finite number >= 0",
                )?;
                check(
                    "sgd momentum",
                    o.momentum,
                    o.momentum >= 0.0,
                    "a number >= 0",
                )?;
                check(
                    "sgd weight_decay",
                    o.weight_decay,
                    o.weight_decay >= 0.0,
                    "a number >= 0",
                )?;
                if o.nesterov && (o.momentum <= 0.0 || o.dampening != 0.0) {
                    return Err(Error::config(
                        "sgd nesterov",
                        "momentum > 0 and dampening = 0",
                        format!("momentum = {}, dampening = {}", o.momentum, o.dampening),
                    ));
                }
                Ok(())
            }
            OptimizerConfig::Adam(o) => {
                check(
                    "adam learning_rate",
                    o.learning_rate,
                    o.learning_rate >= 0.0 && o.learning_rate.is_finite(),
                    "a finite number >= 0",
                )?;
                check(
                    "adam beta_1",
                    o.beta_1,
                    (0.0..1.0).contains(&o.beta_1),
                    "a number in [0, 1)",
                )?;
                check(
                    "adam beta_2",
                    o.beta_2,
                    (0.0..1.0).contains(&o.beta_2),
                    "a number in [0, 1)",
                )?;
                check("adam epsilon", o.epsilon, o.epsilon >= 0.0, "a number >= 0")
            }
        }
    }
}

/// Grows per-parameter state so that `state[index]` exists with `n` zeros.
pub(crate) fn slot(state: &mut Vec<Vec<f32>>, index: usize, n: usize) -> &mut Vec<f32> {
    if state.len() <= index {
        state.resize_with(index + 1, Vec::new);
    }
    if state[index].len() != n {
        state[index] = vec![0.0; n];
    }
    &mut state[index]
}
