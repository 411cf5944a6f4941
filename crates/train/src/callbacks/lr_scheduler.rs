//! `LearningRateScheduler`: sets the learning rate at the start of each epoch from a function
//! of the epoch (0-based) and the current rate (Keras's `LearningRateScheduler`), or from a
//! schedule of `nabla_nn::schedules` evaluated at the epoch with the compiled rate as `lr0`
//! (so a resumed run gets the same rates as an uninterrupted one).

use crate::callback::{Callback, TrainState};
use crate::error::Result;
use nabla_nn::Schedule;
use serde::{Deserialize, Serialize};

/// The spec form: `{ type = "learning_rate_scheduler", schedule = { type = "step", step_size = 2 } }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    /// The schedule, evaluated per epoch.
    pub schedule: Schedule,
}

enum Rule {
    Function(Box<dyn FnMut(usize, f32) -> f32>),
    Schedule(Schedule),
}

/// Sets the learning rate at every epoch start.
pub struct LearningRateScheduler {
    rule: Rule,
}

impl LearningRateScheduler {
    /// Uses `f(epoch, current_lr)` (epoch 0-based).
    pub fn new(f: impl FnMut(usize, f32) -> f32 + 'static) -> LearningRateScheduler {
        LearningRateScheduler {
            rule: Rule::Function(Box::new(f)),
        }
    }

    /// Uses a schedule, per epoch (its `per` setting is ignored here), from the compiled rate.
    pub fn from_schedule(schedule: Schedule) -> LearningRateScheduler {
        LearningRateScheduler {
            rule: Rule::Schedule(schedule),
        }
    }
}

impl Callback for LearningRateScheduler {
    fn on_epoch_begin(&mut self, s: &mut TrainState) -> Result<()> {
        let c = s.model.compiled_mut()?;
        let current = if s.epoch == 1 {
            c.base_lr
        } else {
            c.optimizer.learning_rate()
        };
        let lr = match &mut self.rule {
            Rule::Function(f) => f(s.epoch - 1, current),
            Rule::Schedule(sched) => sched.learning_rate(c.base_lr, s.epoch as u64 - 1),
        };
        c.optimizer.set_learning_rate(lr);
        Ok(())
    }

    fn name(&self) -> &'static str {
        "learning_rate_scheduler"
    }

    fn changes_learning_rate(&self) -> bool {
        true
    }
}
