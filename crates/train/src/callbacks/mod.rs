//! The built-in callbacks, one file each, and `CallbackConfig`, their spec form
//! (`callbacks = [{ type = "early_stopping", monitor = "val_loss", patience = 3 }]`).

mod csv_logger;
mod custom;
mod early_stopping;
mod lambda;
mod lr_scheduler;
mod model_checkpoint;
mod monitor;
mod reduce_lr;
mod terminate_on_nan;

pub use csv_logger::CsvLogger;
pub use custom::{callback_configs, register_callback, CustomCallback, CALLBACK_TYPES};
pub use early_stopping::EarlyStopping;
pub use lambda::LambdaCallback;
pub use lr_scheduler::LearningRateScheduler;
pub use model_checkpoint::ModelCheckpoint;
pub use monitor::Mode;
pub use reduce_lr::ReduceLrOnPlateau;
pub use terminate_on_nan::TerminateOnNaN;

use crate::callback::Callback;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A callback as a spec writes it: one of ours, or one registered by user code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallbackConfig {
    /// [`EarlyStopping`]
    EarlyStopping(EarlyStopping),
    /// [`ModelCheckpoint`]
    ModelCheckpoint(ModelCheckpoint),
    /// [`ReduceLrOnPlateau`]
    #[serde(rename = "reduce_lr_on_plateau")]
    ReduceLrOnPlateau(ReduceLrOnPlateau),
    /// [`LearningRateScheduler`] with a schedule from `nabla_nn::schedules`
    #[serde(rename = "learning_rate_scheduler")]
    LearningRateScheduler(lr_scheduler::SchedulerConfig),
    /// [`TerminateOnNaN`]
    #[serde(rename = "terminate_on_nan")]
    TerminateOnNaN(TerminateOnNaN),
    /// [`CsvLogger`]
    #[serde(rename = "csv_logger")]
    CsvLogger(CsvLogger),
    /// A callback registered with [`register_callback`]
    Custom(CustomCallback),
}

impl CallbackConfig {
    /// Rejects settings that cannot work, naming the callback and the field.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |what: &str, expected: &str, got: String| {
            Err(crate::Error::Spec(format!(
                "callback {what}: expected {expected}, received {got}"
            )))
        };
        match self {
            CallbackConfig::LearningRateScheduler(c) => c
                .schedule
                .validate()
                .map_err(|e| crate::Error::Spec(format!("callback learning_rate_scheduler: {e}"))),
            CallbackConfig::ReduceLrOnPlateau(c) if !(c.factor > 0.0 && c.factor < 1.0) => bad(
                "reduce_lr_on_plateau factor",
                "a number in (0, 1)",
                c.factor.to_string(),
            ),
            CallbackConfig::ReduceLrOnPlateau(c) if c.min_lr < 0.0 || c.min_lr.is_nan() => bad(
                "reduce_lr_on_plateau min_lr",
                "a number >= 0",
                c.min_lr.to_string(),
            ),
            CallbackConfig::ModelCheckpoint(c) if c.every == 0 => {
                bad("model_checkpoint every", "a positive integer", "0".into())
            }
            CallbackConfig::Custom(c) => c.make().map(drop),
            _ => Ok(()),
        }
    }

    /// The callback, ready to run; relative file paths are resolved against `dir`.
    pub fn build(&self, dir: &Path) -> crate::Result<Box<dyn Callback>> {
        Ok(match self.clone() {
            CallbackConfig::EarlyStopping(c) => Box::new(c),
            CallbackConfig::ModelCheckpoint(c) => Box::new(c.under(dir)),
            CallbackConfig::ReduceLrOnPlateau(c) => Box::new(c),
            CallbackConfig::LearningRateScheduler(c) => {
                Box::new(LearningRateScheduler::from_schedule(c.schedule))
            }
            CallbackConfig::TerminateOnNaN(c) => Box::new(c),
            CallbackConfig::CsvLogger(c) => Box::new(c.under(dir)),
            CallbackConfig::Custom(c) => c.make()?,
        })
    }
}
