//! Training checkpoints: one `.safetensors` file holding what a saved model holds (weights,
//! model and compile configs) plus what resuming needs to continue exactly: the optimiser's
//! step counter, buffers and scalars, its current learning rate, the model's RNG state (which
//! also fixes the data order of the coming epochs), and an opaque JSON of the trainer's own
//! (epoch, history, callback states). Written atomically: a crash mid-write leaves the
//! previous checkpoint intact.

use crate::error::{Error, Result};
use crate::model::Model;
use crate::saving::{write_atomic, NamedTensor};
use nabla_core::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Metadata key of the checkpoint's JSON.
pub const CHECKPOINT_KEY: &str = "nabla.checkpoint";

#[derive(Serialize, Deserialize)]
struct Meta {
    t: u64,
    scalars: Vec<f64>,
    learning_rate: f32,
    rng: Rng,
    /// buffer shapes: slots[kind][param] = number of values (0: none yet)
    slots: Vec<Vec<usize>>,
    trainer: serde_json::Value,
}

fn slot_name(kind: usize, index: usize) -> String {
    format!("optimizer.slot{kind}.param{index}")
}

impl Model {
    /// Writes a training checkpoint (atomically) with `trainer`'s JSON and extra tensors
    /// (named freely, e.g. callbacks' weight copies) inside.
    pub fn save_checkpoint(
        &self,
        path: impl AsRef<Path>,
        trainer: serde_json::Value,
        tensors: Vec<NamedTensor>,
    ) -> Result<()> {
        let path = path.as_ref();
        let c = self.compiled().ok_or(Error::NotCompiled)?;
        let state = c.optimizer.state();
        let mut extra: Vec<NamedTensor> = tensors;
        for (k, per_param) in state.slots.iter().enumerate() {
            for (i, buf) in per_param.iter().enumerate().filter(|(_, b)| !b.is_empty()) {
                extra.push((slot_name(k, i), vec![buf.len()], buf.clone()));
            }
        }
        let meta = Meta {
            t: state.t,
            scalars: state.scalars.clone(),
            learning_rate: c.optimizer.learning_rate(),
            rng: self.rng.clone(),
            slots: state
                .slots
                .iter()
                .map(|p| p.iter().map(|b| b.len()).collect())
                .collect(),
            trainer,
        };
        let json = serde_json::to_string(&meta)
            .map_err(|e| Error::config("checkpoint", "serialisable state", e))?;
        let bytes =
            self.to_bytes_with(extra, HashMap::from([(CHECKPOINT_KEY.to_string(), json)]))?;
        write_atomic(path, &bytes).map_err(|e| Error::file(path, format!("cannot write: {e}")))
    }

    /// Reads a checkpoint: the model with its optimiser state, learning rate and RNG restored,
    /// the trainer's JSON and its extra tensors.
    pub fn load_checkpoint(
        path: impl AsRef<Path>,
    ) -> Result<(Model, serde_json::Value, Vec<NamedTensor>)> {
        let path = path.as_ref();
        let (mut model, meta, extra) = Model::load_with(path)?;
        let bad = |msg: String| Error::file(path, msg);
        let json = meta.get(CHECKPOINT_KEY).ok_or_else(|| {
            bad(format!(
                "has no '{CHECKPOINT_KEY}' metadata: a saved model, not a training checkpoint"
            ))
        })?;
        let m: Meta = serde_json::from_str(json)
            .map_err(|e| bad(format!("checkpoint state cannot be read: {e}")))?;
        let (optim, others): (Vec<NamedTensor>, Vec<NamedTensor>) = extra
            .into_iter()
            .partition(|(n, _, _)| n.starts_with("optimizer."));
        let tensors: HashMap<String, Vec<f32>> =
            optim.into_iter().map(|(n, _, v)| (n, v)).collect();
        let opt = &mut model.compiled_mut()?.optimizer;
        opt.set_learning_rate(m.learning_rate);
        let state = opt.state_mut();
        state.t = m.t;
        state.scalars = m.scalars;
        state.slots = Vec::new();
        for (k, per_param) in m.slots.iter().enumerate() {
            for (i, &n) in per_param.iter().enumerate().filter(|(_, n)| **n > 0) {
                let name = slot_name(k, i);
                let v = tensors.get(&name).filter(|v| v.len() == n).ok_or_else(|| {
                    bad(format!(
                        "optimizer buffer '{name}' is missing or not {n} values"
                    ))
                })?;
                state.slot(k, i, n, 0.0).copy_from_slice(v);
            }
        }
        model.rng = m.rng;
        Ok((model, m.trainer, others))
    }
}
