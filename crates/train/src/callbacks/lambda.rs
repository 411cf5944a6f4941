//! `LambdaCallback`: a callback made of closures (Keras's `LambdaCallback`).

use crate::callback::{Callback, TrainState};
use crate::error::Result;
use crate::logs::Logs;

type EpochFn = Box<dyn FnMut(usize, &Logs)>;
type BatchFn = Box<dyn FnMut(usize, f32)>;

/// Runs user closures at epoch and batch ends.
#[derive(Default)]
pub struct LambdaCallback {
    on_epoch_end: Option<EpochFn>,
    on_batch_end: Option<BatchFn>,
}

impl LambdaCallback {
    /// A callback that does nothing yet.
    pub fn new() -> LambdaCallback {
        LambdaCallback::default()
    }

    /// `f(epoch, logs)` after each epoch (1-based).
    pub fn on_epoch_end(mut self, f: impl FnMut(usize, &Logs) + 'static) -> LambdaCallback {
        self.on_epoch_end = Some(Box::new(f));
        self
    }

    /// `f(step, loss)` after each batch (1-based within the epoch).
    pub fn on_batch_end(mut self, f: impl FnMut(usize, f32) + 'static) -> LambdaCallback {
        self.on_batch_end = Some(Box::new(f));
        self
    }
}

impl Callback for LambdaCallback {
    fn name(&self) -> &'static str {
        "lambda"
    }

    fn on_batch_end(&mut self, step: usize, loss: f32, _s: &mut TrainState) -> Result<()> {
        if let Some(f) = &mut self.on_batch_end {
            f(step, loss);
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, logs: &mut Logs, s: &mut TrainState) -> Result<()> {
        if let Some(f) = &mut self.on_epoch_end {
            f(s.epoch, logs);
        }
        Ok(())
    }
}
