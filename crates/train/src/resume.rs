//! Exact resume: what the trainer adds to a model checkpoint (the epochs done, their history
//! and every callback's state), written by `fit` after each epoch when
//! [`Fit::checkpoint`](crate::Fit::checkpoint) is set, and read back by [`resume`].
//!
//! Together with the optimiser state and the RNG state that the model checkpoint carries
//! (nabla_nn::checkpoint), a run stopped after epoch k and resumed gives the same numbers as
//! an uninterrupted run: the next epoch's data order and dropout masks come from the restored
//! RNG.

use crate::error::{Error, Result};
use crate::history::History;
use crate::logs::Logs;
use nabla_nn::Model;
use serde_json::{json, Value};
use std::path::Path;

/// Where a checkpointed run stood.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resume {
    /// Epochs finished.
    pub epoch: usize,
    /// Their logs.
    pub history: History,
    /// Each callback's state, in the order the callbacks were given.
    pub callbacks: Vec<Value>,
}

/// The trainer's JSON for a checkpoint.
pub(crate) fn to_json(epoch: usize, history: &History, callbacks: Vec<Value>) -> Value {
    // NaN has no JSON form: written as null, read back as NaN
    let rows: Vec<Vec<(String, Option<f64>)>> = history
        .epochs
        .iter()
        .map(|l| {
            l.0.iter()
                .map(|(n, v)| (n.clone(), v.is_finite().then_some(*v)))
                .collect()
        })
        .collect();
    json!({ "epoch": epoch, "history": rows, "callbacks": callbacks })
}

/// Loads a checkpoint written by `fit`: the model (weights, optimiser, RNG) and where to go on.
pub fn resume(path: impl AsRef<Path>) -> Result<(Model, Resume)> {
    let path = path.as_ref();
    let (model, v) = Model::load_checkpoint(path)?;
    let bad = |what: &str| {
        Error::Input(format!(
            "checkpoint {}: {what} cannot be read",
            path.display()
        ))
    };
    let rows: Vec<Vec<(String, Option<f64>)>> =
        serde_json::from_value(v["history"].clone()).map_err(|_| bad("history"))?;
    let history = History {
        epochs: rows
            .into_iter()
            .map(|r| {
                Logs(
                    r.into_iter()
                        .map(|(n, v)| (n, v.unwrap_or(f64::NAN)))
                        .collect(),
                )
            })
            .collect(),
    };
    let epoch = v["epoch"].as_u64().ok_or_else(|| bad("epoch"))? as usize;
    let callbacks = v["callbacks"].as_array().cloned().unwrap_or_default();
    Ok((
        model,
        Resume {
            epoch,
            history,
            callbacks,
        },
    ))
}
