//! `LearningRateScheduler`: sets the learning rate at the start of each epoch from a function
//! of the epoch (0-based) and the current rate (Keras's `LearningRateScheduler`), or from a
//! schedule of `nabla_nn::schedules` evaluated at the epoch with the compiled rate as `lr0`.

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

/// `lr = f(epoch, lr)` at every epoch start.
pub struct LearningRateScheduler {
    f: Box<dyn FnMut(usize, f32) -> f32>,
}

impl LearningRateScheduler {
    /// Uses `f(epoch, current_lr)` (epoch 0-based).
    pub fn new(f: impl FnMut(usize, f32) -> f32 + 'static) -> LearningRateScheduler {
        LearningRateScheduler { f: Box::new(f) }
    }

    /// Uses a schedule, per epoch (its `per` setting is ignored here), from the compiled rate.
    pub fn from_schedule(schedule: Schedule) -> LearningRateScheduler {
        let mut base: Option<f32> = None;
        LearningRateScheduler::new(move |epoch, lr| {
            let lr0 = *base.get_or_insert(lr);
            schedule.learning_rate(lr0, epoch as u64)
        })
    }
}

impl Callback for LearningRateScheduler {
    fn on_epoch_begin(&mut self, s: &mut TrainState) -> Result<()> {
        let base = s.model.compiled_mut()?.base_lr;
        let opt = &mut s.model.compiled_mut()?.optimizer;
        let current = if s.epoch == 1 {
            base
        } else {
            opt.learning_rate()
        };
        let lr = (self.f)(s.epoch - 1, current);
        opt.set_learning_rate(lr);
        Ok(())
    }
}
