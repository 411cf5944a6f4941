//! `TerminateOnNaN`: ends training, keeping what was learnt, at the first NaN or infinite
//! loss (without it, `fit` returns an error naming the epoch and step).

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
