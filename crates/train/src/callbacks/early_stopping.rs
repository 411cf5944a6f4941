//! `EarlyStopping`: stops training when the monitored value has not improved by more than
//! `min_delta` for `patience` epochs; optionally puts back the best epoch's weights
//! (Keras's `EarlyStopping`, same fields and defaults).

use super::monitor::{improved, read, Mode};
use crate::callback::{Callback, TrainState};
use crate::error::Result;
use crate::logs::Logs;
use serde::{Deserialize, Serialize};

/// Stop when a metric stops improving.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EarlyStopping {
    /// The log value watched (default `val_loss`).
    pub monitor: String,
    /// Smallest change that counts as an improvement (default 0).
    pub min_delta: f64,
    /// Epochs without improvement before stopping (default 0).
    pub patience: usize,
    /// Whether lower or higher is better (default auto).
    pub mode: Mode,
    /// Put back the best epoch's weights when stopping (default false).
    pub restore_best_weights: bool,
    /// Epochs to wait before watching at all (default 0).
    pub start_from_epoch: usize,
    #[serde(skip)]
    wait: usize,
    #[serde(skip)]
    best: Option<f64>,
    #[serde(skip)]
    best_weights: Option<Vec<Vec<f32>>>,
    #[serde(skip)]
    stopped_epoch: Option<usize>,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping {
            monitor: "val_loss".into(),
            min_delta: 0.0,
            patience: 0,
            mode: Mode::Auto,
            restore_best_weights: false,
            start_from_epoch: 0,
            wait: 0,
            best: None,
            best_weights: None,
            stopped_epoch: None,
        }
    }
}

impl EarlyStopping {
    /// Watches `monitor` with the given patience.
    pub fn new(monitor: &str, patience: usize) -> EarlyStopping {
        EarlyStopping {
            monitor: monitor.into(),
            patience,
            ..Default::default()
        }
    }

    /// Puts back the best weights when stopping.
    pub fn restore_best_weights(mut self, on: bool) -> EarlyStopping {
        self.restore_best_weights = on;
        self
    }

    /// Sets the smallest improvement.
    pub fn min_delta(mut self, d: f64) -> EarlyStopping {
        self.min_delta = d;
        self
    }

    /// The epoch (1-based) training stopped at, if it stopped early.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }
}

impl Callback for EarlyStopping {
    fn on_epoch_end(&mut self, logs: &mut Logs, s: &mut TrainState) -> Result<()> {
        if s.epoch <= self.start_from_epoch {
            return Ok(());
        }
        let current = read(logs, &self.monitor, "early_stopping")?;
        let higher = self.mode.higher_is_better(&self.monitor);
        if improved(current, self.best, self.min_delta.abs(), higher) {
            self.best = Some(current);
            self.wait = 0;
            if self.restore_best_weights {
                self.best_weights = Some(
                    s.model
                        .named_params()
                        .iter()
                        .map(|(_, p)| p.value.to_vec())
                        .collect(),
                );
            }
            return Ok(());
        }
        self.wait += 1;
        if self.wait >= self.patience.max(1) {
            s.stop_training = true;
            self.stopped_epoch = Some(s.epoch);
            if let Some(best) = &self.best_weights {
                for (p, w) in s.model.params_mut().into_iter().zip(best) {
                    p.value.update(|v| v.copy_from_slice(w));
                }
            }
        }
        Ok(())
    }
    fn state(&self) -> Option<serde_json::Value> {
        Some(
            serde_json::json!({ "wait": self.wait, "best": self.best, "stopped_epoch": self.stopped_epoch }),
        )
    }

    fn state_tensors(&self) -> Vec<Vec<f32>> {
        self.best_weights.clone().unwrap_or_default()
    }

    fn load_state(&mut self, v: &serde_json::Value, tensors: Vec<Vec<f32>>) -> Result<()> {
        self.wait = v["wait"].as_u64().unwrap_or(0) as usize;
        self.best = v["best"].as_f64();
        self.stopped_epoch = v["stopped_epoch"].as_u64().map(|e| e as usize);
        self.best_weights = (!tensors.is_empty()).then_some(tensors);
        Ok(())
    }

    fn name(&self) -> &'static str {
        "early_stopping"
    }
}
