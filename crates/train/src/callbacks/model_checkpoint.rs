//! `ModelCheckpoint`: saves the model (atomically) at the end of epochs: every `every`
//! epochs, or only when the monitored value improved (`save_best_only`). `{epoch}` in the
//! path is replaced by the epoch number (Keras's `ModelCheckpoint`).

use super::monitor::{improved, read, Mode};
use crate::callback::{Callback, TrainState};
use crate::error::Result;
use crate::logs::Logs;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Save the model during training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelCheckpoint {
    /// Where to save; `{epoch}` becomes the epoch number. Relative paths are relative to the
    /// `nabla train --out` folder when run from a spec.
    pub filepath: PathBuf,
    /// The log value watched with `save_best_only` (default `val_loss`).
    pub monitor: String,
    /// Save only when `monitor` improved (default false).
    pub save_best_only: bool,
    /// Whether lower or higher is better (default auto).
    pub mode: Mode,
    /// Save every this many epochs (default 1).
    pub every: usize,
    #[serde(skip)]
    best: Option<f64>,
}

impl Default for ModelCheckpoint {
    fn default() -> Self {
        ModelCheckpoint {
            filepath: PathBuf::from("model-{epoch}.safetensors"),
            monitor: "val_loss".into(),
            save_best_only: false,
            mode: Mode::Auto,
            every: 1,
            best: None,
        }
    }
}

impl ModelCheckpoint {
    /// Saves to `filepath` every epoch.
    pub fn new(filepath: impl Into<PathBuf>) -> ModelCheckpoint {
        ModelCheckpoint {
            filepath: filepath.into(),
            ..Default::default()
        }
    }

    /// Saves only when `monitor` improved.
    pub fn save_best_only(mut self, monitor: &str) -> ModelCheckpoint {
        self.save_best_only = true;
        self.monitor = monitor.into();
        self
    }

    /// Resolves a relative `filepath` against `dir`.
    pub fn under(mut self, dir: &std::path::Path) -> ModelCheckpoint {
        if self.filepath.is_relative() {
            self.filepath = dir.join(&self.filepath);
        }
        self
    }
}

impl Callback for ModelCheckpoint {
    fn on_epoch_end(&mut self, logs: &mut Logs, s: &mut TrainState) -> Result<()> {
        if self.save_best_only {
            let current = read(logs, &self.monitor, "model_checkpoint")?;
            if !improved(
                current,
                self.best,
                0.0,
                self.mode.higher_is_better(&self.monitor),
            ) {
                return Ok(());
            }
            self.best = Some(current);
        } else if !s.epoch.is_multiple_of(self.every.max(1)) {
            return Ok(());
        }
        let path = self
            .filepath
            .to_string_lossy()
            .replace("{epoch}", &s.epoch.to_string());
        if s.rank == 0 {
            s.model.save(path)?; // data-parallel training: rank 0 alone writes
        }
        Ok(())
    }

    fn state(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({ "best": self.best }))
    }

    fn load_state(&mut self, v: &serde_json::Value, _t: Vec<Vec<f32>>) -> Result<()> {
        self.best = v["best"].as_f64();
        Ok(())
    }

    fn name(&self) -> &'static str {
        "model_checkpoint"
    }
}
