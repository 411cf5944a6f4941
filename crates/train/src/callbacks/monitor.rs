//! What `EarlyStopping`, `ModelCheckpoint` and `ReduceLROnPlateau` watch: a log value, and
//! whether lower or higher is better (`auto`: higher for accuracy-like names, else lower).

use crate::error::{Error, Result};
use crate::logs::Logs;
use serde::{Deserialize, Serialize};

/// Direction of improvement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Higher for names containing accuracy, auc, precision, recall or f1; lower otherwise.
    #[default]
    Auto,
    /// Lower is better.
    Min,
    /// Higher is better.
    Max,
}

impl Mode {
    /// Whether higher values of `monitor` are better.
    pub fn higher_is_better(self, monitor: &str) -> bool {
        match self {
            Mode::Min => false,
            Mode::Max => true,
            Mode::Auto => ["acc", "auc", "precision", "recall", "f1"]
                .iter()
                .any(|k| monitor.contains(k)),
        }
    }
}

/// Whether `current` beats `best` by more than `min_delta`.
pub fn improved(current: f64, best: Option<f64>, min_delta: f64, higher: bool) -> bool {
    match best {
        None => current.is_finite(),
        Some(b) if higher => current > b + min_delta,
        Some(b) => current < b - min_delta,
    }
}

/// The value of `monitor` in `logs`, or an error listing what the logs hold.
pub fn read(logs: &Logs, monitor: &str, who: &str) -> Result<f64> {
    logs.get(monitor).ok_or_else(|| {
        let names: Vec<&str> = logs.0.iter().map(|(n, _)| n.as_str()).collect();
        Error::Input(format!(
            "{who}: monitor '{monitor}' is not in the logs; expected one of {names:?}"
        ))
    })
}
