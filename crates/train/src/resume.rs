//! Exact resume: what the trainer adds to a model checkpoint (the epochs done, their history,
//! whether training had stopped, and every callback's state), written by `fit` after each
//! epoch when [`Fit::checkpoint`](crate::Fit::checkpoint) is set, and read back by [`resume`].
//!
//! Together with the optimiser state and the RNG state that the model checkpoint carries
//! (nabla_nn::checkpoint), a run stopped after epoch k and resumed gives the same numbers as
//! an uninterrupted run: the next epoch's data order and dropout masks come from the restored
//! RNG.

use crate::callback::Callback;
use crate::error::{Error, Result};
use crate::history::History;
use crate::logs::Logs;
use nabla_nn::saving::NamedTensor;
use nabla_nn::Model;
use serde_json::{json, Value};
use std::path::Path;

/// One callback's saved state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SavedCallback {
    /// The callback's name (checked against the callback it is given back to).
    pub name: String,
    /// Its small state.
    pub state: Value,
    /// Its large state (weight copies).
    pub tensors: Vec<Vec<f32>>,
}

/// Where a checkpointed run stood.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resume {
    /// Epochs finished.
    pub epoch: usize,
    /// Their logs.
    pub history: History,
    /// Whether a callback had stopped training (then there is nothing to resume).
    pub stopped: bool,
    /// Each callback's state, in the order the callbacks were given.
    pub callbacks: Vec<SavedCallback>,
}

/// The trainer's JSON and tensors for a checkpoint.
pub(crate) fn to_checkpoint(
    epoch: usize,
    history: &History,
    stopped: bool,
    callbacks: &[Box<dyn Callback + '_>],
) -> (Value, Vec<NamedTensor>) {
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
    let mut tensors = Vec::new();
    let mut saved = Vec::new();
    for (i, c) in callbacks.iter().enumerate() {
        let ts = c.state_tensors();
        for (j, t) in ts.iter().enumerate() {
            tensors.push((format!("callback{i}.tensor{j}"), vec![t.len()], t.clone()));
        }
        saved.push(json!({ "name": c.name(), "state": c.state(), "tensors": ts.len() }));
    }
    (
        json!({ "epoch": epoch, "history": rows, "stopped": stopped, "callbacks": saved }),
        tensors,
    )
}

/// Gives each callback its saved state, refusing states saved by other callbacks.
pub(crate) fn restore(
    callbacks: &mut [Box<dyn Callback + '_>],
    saved: &[SavedCallback],
) -> Result<()> {
    if saved.is_empty() {
        return Ok(());
    }
    let names = |v: Vec<&str>| v.join(", ");
    let given: Vec<&str> = callbacks.iter().map(|c| c.name()).collect();
    let stored: Vec<&str> = saved.iter().map(|s| s.name.as_str()).collect();
    if given != stored {
        return Err(Error::Input(format!(
            "resume: the checkpoint holds the states of callbacks [{}], received callbacks [{}]: give the same callbacks in the same order",
            names(stored),
            names(given)
        )));
    }
    for (c, s) in callbacks.iter_mut().zip(saved) {
        c.load_state(&s.state, s.tensors.clone())?;
    }
    Ok(())
}

/// Loads a checkpoint written by `fit`: the model (weights, optimiser, RNG) and where to go on.
pub fn resume(path: impl AsRef<Path>) -> Result<(Model, Resume)> {
    let path = path.as_ref();
    let (model, v, tensors) = Model::load_checkpoint(path)?;
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
    let mut callbacks = Vec::new();
    for (i, c) in v["callbacks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let n = c["tensors"].as_u64().unwrap_or(0) as usize;
        let ts = (0..n)
            .map(|j| {
                let name = format!("callback{i}.tensor{j}");
                tensors
                    .iter()
                    .find(|t| t.0 == name)
                    .map(|t| t.2.clone())
                    .ok_or_else(|| bad(&name))
            })
            .collect::<Result<Vec<_>>>()?;
        callbacks.push(SavedCallback {
            name: c["name"].as_str().unwrap_or("callback").to_string(),
            state: c["state"].clone(),
            tensors: ts,
        });
    }
    let stopped = v["stopped"].as_bool().unwrap_or(false);
    Ok((
        model,
        Resume {
            epoch,
            history,
            stopped,
            callbacks,
        },
    ))
}
