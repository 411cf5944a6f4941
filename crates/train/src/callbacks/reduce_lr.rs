//! `ReduceLROnPlateau`: multiplies the learning rate by `factor` when the monitored value has
//! not improved by more than `min_delta` for `patience` epochs, then waits `cooldown` epochs,
//! never going below `min_lr` (Keras's `ReduceLROnPlateau`, same fields and defaults).

use super::monitor::{improved, read, Mode};
use crate::callback::{Callback, TrainState};
use crate::error::Result;
use crate::logs::Logs;
use serde::{Deserialize, Serialize};

/// Lower the learning rate on a plateau.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReduceLrOnPlateau {
    /// The log value watched (default `val_loss`).
    pub monitor: String,
    /// New rate = rate · factor (default 0.1).
    pub factor: f32,
    /// Epochs without improvement before reducing (default 10).
    pub patience: usize,
    /// Whether lower or higher is better (default auto).
    pub mode: Mode,
    /// Smallest change that counts as an improvement (default 1e-4).
    pub min_delta: f64,
    /// Epochs to wait after a reduction (default 0).
    pub cooldown: usize,
    /// Lower bound of the rate (default 0).
    pub min_lr: f32,
    #[serde(skip)]
    wait: usize,
    #[serde(skip)]
    cooldown_left: usize,
    #[serde(skip)]
    best: Option<f64>,
}

impl Default for ReduceLrOnPlateau {
    fn default() -> Self {
        ReduceLrOnPlateau {
            monitor: "val_loss".into(),
            factor: 0.1,
            patience: 10,
            mode: Mode::Auto,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            wait: 0,
            cooldown_left: 0,
            best: None,
        }
    }
}

impl ReduceLrOnPlateau {
    /// Watches `monitor`, multiplying the rate by `factor` after `patience` flat epochs.
    pub fn new(monitor: &str, factor: f32, patience: usize) -> ReduceLrOnPlateau {
        ReduceLrOnPlateau {
            monitor: monitor.into(),
            factor,
            patience,
            ..Default::default()
        }
    }
}

impl Callback for ReduceLrOnPlateau {
    fn on_epoch_end(&mut self, logs: &mut Logs, s: &mut TrainState) -> Result<()> {
        let current = read(logs, &self.monitor, "reduce_lr_on_plateau")?;
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.wait = 0;
        }
        if improved(
            current,
            self.best,
            self.min_delta,
            self.mode.higher_is_better(&self.monitor),
        ) {
            self.best = Some(current);
            self.wait = 0;
        } else if self.cooldown_left == 0 {
            self.wait += 1;
            if self.wait >= self.patience {
                let opt = &mut s.model.compiled_mut()?.optimizer;
                let lr = opt.learning_rate();
                if lr > self.min_lr {
                    opt.set_learning_rate((lr * self.factor).max(self.min_lr));
                    self.cooldown_left = self.cooldown;
                    self.wait = 0;
                }
            }
        }
        Ok(())
    }

    fn state(&self) -> Option<serde_json::Value> {
        Some(
            serde_json::json!({ "wait": self.wait, "cooldown_left": self.cooldown_left, "best": self.best }),
        )
    }

    fn name(&self) -> &'static str {
        "reduce_lr_on_plateau"
    }

    fn changes_learning_rate(&self) -> bool {
        true
    }

    fn load_state(&mut self, v: &serde_json::Value, _t: Vec<Vec<f32>>) -> Result<()> {
        self.wait = v["wait"].as_u64().unwrap_or(0) as usize;
        self.cooldown_left = v["cooldown_left"].as_u64().unwrap_or(0) as usize;
        self.best = v["best"].as_f64();
        Ok(())
    }
}
