//! Optimisers: the `Optimizer` trait with the shared driver that walks the parameters, the
//! per-parameter state every optimiser keeps (`OptState`, saved in checkpoints), and the
//! config enum (`optimizer = { type = "adam", learning_rate = 1e-3 }`).
//!
//! Each optimiser writes only its per-parameter update on slices, with its formula and paper
//! in its file's doc comment. Defaults are PyTorch's; each file says where Keras differs.
//! One step counter `t` serves every parameter (as Keras's `iterations`); PyTorch counts per
//! parameter, which differs only for a parameter that starts training late (unfrozen midway).
//! `weight_decay` means PyTorch's coupled decay (`g += wd · w`, an L2 term in the gradient)
//! everywhere except AdamW, whose decay is decoupled (`w -= lr · wd · w`).

mod adadelta;
mod adagrad;
mod adam;
mod adamax;
mod adamw;
mod clip;
mod nadam;
mod rmsprop;
mod sgd;
mod state;

pub use adadelta::Adadelta;
pub use adagrad::Adagrad;
pub use adam::Adam;
pub use adamax::Adamax;
pub use adamw::AdamW;
pub use clip::Clipping;
pub use nadam::Nadam;
pub use rmsprop::RmsProp;
pub use sgd::Sgd;
pub use state::OptState;

use crate::error::{Error, Result};
use crate::layer::Param;
use nabla_core::Gradients;
use serde::{Deserialize, Serialize};

/// Updates weights from their gradients.
pub trait Optimizer: Send + Sync {
    /// One update of every trainable parameter that received a gradient.
    fn step(&mut self, params: &mut [&mut Param], grads: &Gradients) {
        self.state_mut().t += 1;
        self.begin_step();
        for (i, p) in params.iter_mut().enumerate() {
            if !p.trainable {
                continue;
            }
            let Some(g) = grads.get(&p.value) else {
                continue;
            };
            self.begin_param(&p.name);
            p.value.update(|w| self.update(i, w, g));
        }
    }
    /// Called once per step after the step counter `t` advanced (shared per-step terms).
    fn begin_step(&mut self) {}
    /// Called before each parameter's update with its name inside its layer (`kernel`,
    /// `bias`, `attn/query/kernel`): optimisers that treat some weights differently look here.
    fn begin_param(&mut self, _name: &str) {}
    /// Updates parameter number `index` (`w`) with its gradient `g`.
    fn update(&mut self, index: usize, w: &mut [f32], g: &[f32]);
    /// The current learning rate.
    fn learning_rate(&self) -> f32;
    /// Changes the learning rate (schedules, callbacks).
    fn set_learning_rate(&mut self, lr: f32);
    /// The hyper-parameters, for saving.
    fn config(&self) -> OptimizerConfig;
    /// The step counter and per-parameter buffers.
    fn state(&self) -> &OptState;
    /// The state, mutable (restoring a checkpoint).
    fn state_mut(&mut self) -> &mut OptState;
}

/// An optimiser config, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// [`Sgd`]; plain gradient descent with a full batch
    Sgd(Sgd),
    /// [`Adam`]
    Adam(Adam),
    /// [`AdamW`]
    #[serde(rename = "adamw")]
    AdamW(AdamW),
    /// [`RmsProp`]
    #[serde(rename = "rmsprop")]
    RmsProp(RmsProp),
    /// [`Adagrad`]
    Adagrad(Adagrad),
    /// [`Adadelta`]
    Adadelta(Adadelta),
    /// [`Adamax`]
    Adamax(Adamax),
    /// [`Nadam`]
    Nadam(Nadam),
}

/// Reads an optimiser as a name with its defaults (`optimizer = "adam"`, as Keras takes) or
/// as a table (`{ type = "adam", learning_rate = 3e-4 }`).
pub fn name_or_table<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<OptimizerConfig, D::Error> {
    use serde::de::Error as _;
    let v = match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(name) => serde_json::json!({ "type": name }),
        other => other,
    };
    serde_json::from_value(v).map_err(D::Error::custom)
}

impl OptimizerConfig {
    /// The optimiser, with fresh state.
    pub fn into_optimizer(self) -> Box<dyn Optimizer> {
        match self {
            OptimizerConfig::Sgd(o) => Box::new(o),
            OptimizerConfig::Adam(o) => Box::new(o),
            OptimizerConfig::AdamW(o) => Box::new(o),
            OptimizerConfig::RmsProp(o) => Box::new(o),
            OptimizerConfig::Adagrad(o) => Box::new(o),
            OptimizerConfig::Adadelta(o) => Box::new(o),
            OptimizerConfig::Adamax(o) => Box::new(o),
            OptimizerConfig::Nadam(o) => Box::new(o),
        }
    }

    /// The `type` name.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerConfig::Sgd(_) => "sgd",
            OptimizerConfig::Adam(_) => "adam",
            OptimizerConfig::AdamW(_) => "adamw",
            OptimizerConfig::RmsProp(_) => "rmsprop",
            OptimizerConfig::Adagrad(_) => "adagrad",
            OptimizerConfig::Adadelta(_) => "adadelta",
            OptimizerConfig::Adamax(_) => "adamax",
            OptimizerConfig::Nadam(_) => "nadam",
        }
    }

    /// Rejects hyper-parameters outside their domain, naming optimiser, field and value.
    pub fn validate(&self) -> Result<()> {
        let name = self.name();
        let check = |field: &str, v: f32, ok: bool, expected: &str| -> Result<()> {
            if ok && v.is_finite() {
                Ok(())
            } else {
                Err(Error::config(format!("{name} {field}"), expected, v))
            }
        };
        let non_neg = |field: &str, v: f32| check(field, v, v >= 0.0, "a finite number >= 0");
        let unit =
            |field: &str, v: f32| check(field, v, (0.0..1.0).contains(&v), "a number in [0, 1)");
        match self {
            OptimizerConfig::Sgd(o) => {
                non_neg("learning_rate", o.learning_rate)?;
                non_neg("momentum", o.momentum)?;
                non_neg("dampening", o.dampening)?;
                non_neg("weight_decay", o.weight_decay)?;
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
                non_neg("learning_rate", o.learning_rate)?;
                unit("beta_1", o.beta_1)?;
                unit("beta_2", o.beta_2)?;
                non_neg("epsilon", o.epsilon)?;
                non_neg("weight_decay", o.weight_decay)
            }
            OptimizerConfig::AdamW(o) => {
                non_neg("learning_rate", o.learning_rate)?;
                unit("beta_1", o.beta_1)?;
                unit("beta_2", o.beta_2)?;
                non_neg("epsilon", o.epsilon)?;
                non_neg("weight_decay", o.weight_decay)
            }
            OptimizerConfig::RmsProp(o) => {
                non_neg("learning_rate", o.learning_rate)?;
                unit("rho", o.rho)?;
                non_neg("momentum", o.momentum)?;
                non_neg("epsilon", o.epsilon)?;
                non_neg("weight_decay", o.weight_decay)
            }
            OptimizerConfig::Adagrad(o) => {
                non_neg("learning_rate", o.learning_rate)?;
                non_neg("lr_decay", o.lr_decay)?;
                non_neg("initial_accumulator_value", o.initial_accumulator_value)?;
                non_neg("epsilon", o.epsilon)?;
                non_neg("weight_decay", o.weight_decay)
            }
            OptimizerConfig::Adadelta(o) => {
                non_neg("learning_rate", o.learning_rate)?;
                unit("rho", o.rho)?;
                non_neg("epsilon", o.epsilon)?;
                non_neg("weight_decay", o.weight_decay)
            }
            OptimizerConfig::Adamax(o) => {
                non_neg("learning_rate", o.learning_rate)?;
                unit("beta_1", o.beta_1)?;
                unit("beta_2", o.beta_2)?;
                non_neg("epsilon", o.epsilon)?;
                non_neg("weight_decay", o.weight_decay)
            }
            OptimizerConfig::Nadam(o) => {
                non_neg("learning_rate", o.learning_rate)?;
                unit("beta_1", o.beta_1)?;
                unit("beta_2", o.beta_2)?;
                non_neg("epsilon", o.epsilon)?;
                non_neg("momentum_decay", o.momentum_decay)?;
                non_neg("weight_decay", o.weight_decay)
            }
        }
    }
}

/// The accessors every optimiser shares (learning rate, config without state, state),
/// for a struct with `learning_rate` and `state` fields and its `OptimizerConfig` variant.
macro_rules! shared_accessors {
    ($variant:ident) => {
        fn learning_rate(&self) -> f32 {
            self.learning_rate
        }
        fn set_learning_rate(&mut self, lr: f32) {
            self.learning_rate = lr;
        }
        fn config(&self) -> $crate::optimizers::OptimizerConfig {
            $crate::optimizers::OptimizerConfig::$variant(Self {
                state: $crate::optimizers::OptState::default(),
                ..self.clone()
            })
        }
        fn state(&self) -> &$crate::optimizers::OptState {
            &self.state
        }
        fn state_mut(&mut self) -> &mut $crate::optimizers::OptState {
            &mut self.state
        }
    };
}
pub(crate) use shared_accessors;

/// `g + wd · w` when weight decay is on (PyTorch's coupled decay), else `g` as is.
pub(crate) fn decayed<'a>(g: &'a [f32], w: &[f32], wd: f32, buf: &'a mut Vec<f32>) -> &'a [f32] {
    if wd == 0.0 {
        return g;
    }
    buf.clear();
    buf.extend(g.iter().zip(w).map(|(g, w)| g + wd * w));
    buf
}
