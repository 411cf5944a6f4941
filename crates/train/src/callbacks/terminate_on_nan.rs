//! `TerminateOnNaN`: ends training at the first NaN or infinite loss, as Keras's does: the
//! batch that gave it has been applied and counts in the epoch's logs (so the epoch's loss
//! reads NaN), the epoch then ends as usual (validation, `on_epoch_end`, the checkpoint and
//! history row) and `fit` returns its history. Without it, `fit` returns an error naming
//! the epoch and step.

use crate::callback::{Callback, TrainState};
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// Stop (instead of failing) on a non-finite loss.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminateOnNaN {}

impl Callback for TerminateOnNaN {
    fn name(&self) -> &'static str {
        "terminate_on_nan"
    }

    fn on_batch_end(&mut self, step: usize, loss: f32, s: &mut TrainState) -> Result<()> {
        if !loss.is_finite() {
            eprintln!(
                "terminate_on_nan: loss {loss} at epoch {}, step {step}: training stopped",
                s.epoch
            );
            s.stop_training = true;
        }
        Ok(())
    }
}
