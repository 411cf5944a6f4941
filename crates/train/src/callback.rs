//! The `Callback` trait: hooks `fit` calls at the start and end of training, of each epoch,
//! and after each batch; each defaults to doing nothing. A callback sees the model and can
//! stop training (`state.stop_training = true`, as Keras's `model.stop_training`).

use crate::error::Result;
use crate::history::History;
use crate::logs::Logs;
use nabla_nn::Model;

/// What hooks see and may change.
pub struct TrainState<'a> {
    /// The model being trained.
    pub model: &'a mut Model,
    /// Set to end training after the current epoch (or batch).
    pub stop_training: bool,
    /// The current epoch, 1-based (0 before the first).
    pub epoch: usize,
    /// The last epoch `fit` will run.
    pub epochs: usize,
    /// The finished epochs' logs.
    pub history: &'a History,
    /// This process's rank in data-parallel training (0 otherwise): a callback that writes
    /// files writes them on rank 0 only.
    pub rank: usize,
}

/// Hooks into `fit`. Every method has a default that does nothing.
pub trait Callback {
    /// Before the first epoch.
    fn on_train_begin(&mut self, _s: &mut TrainState) -> Result<()> {
        Ok(())
    }
    /// At the start of `s.epoch`.
    fn on_epoch_begin(&mut self, _s: &mut TrainState) -> Result<()> {
        Ok(())
    }
    /// After each optimiser step (`step` is 1-based within the epoch) with its loss. Also
    /// called, before failing, with a NaN or infinite loss (so `TerminateOnNaN` can stop).
    fn on_batch_end(&mut self, _step: usize, _loss: f32, _s: &mut TrainState) -> Result<()> {
        Ok(())
    }
    /// At the end of `s.epoch`, with its logs (training and validation); may add to them.
    fn on_epoch_end(&mut self, _logs: &mut Logs, _s: &mut TrainState) -> Result<()> {
        Ok(())
    }
    /// After the last epoch (or an early stop).
    fn on_train_end(&mut self, _s: &mut TrainState) -> Result<()> {
        Ok(())
    }
    /// The callback's progress (counters, best values), for exact resume from checkpoints.
    fn state(&self) -> Option<serde_json::Value> {
        None
    }
    /// Large state (weight copies) saved as tensors beside [`Callback::state`].
    fn state_tensors(&self) -> Vec<Vec<f32>> {
        Vec::new()
    }
    /// Restores what [`Callback::state`] and [`Callback::state_tensors`] returned.
    fn load_state(&mut self, _state: &serde_json::Value, _tensors: Vec<Vec<f32>>) -> Result<()> {
        Ok(())
    }
    /// The callback's name, checked when a checkpoint's states are given back on resume.
    fn name(&self) -> &'static str {
        "callback"
    }
    /// Whether it sets the learning rate (then it cannot be combined with a compiled
    /// `lr_schedule`, which would undo it).
    fn changes_learning_rate(&self) -> bool {
        false
    }
}
