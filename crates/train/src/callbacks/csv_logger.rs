//! `CSVLogger`: writes each epoch's logs as a CSV row (`epoch` first), rewriting the file
//! atomically after every epoch so it is always complete (Keras's `CSVLogger`).

use crate::callback::{Callback, TrainState};
use crate::error::{Error, Result};
use crate::logs::Logs;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Log epochs to a CSV file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvLogger {
    /// The file. Relative paths are relative to the `--out` folder when run from a spec.
    pub filename: PathBuf,
    /// Keep an existing file's rows and add to them (default false).
    #[serde(default)]
    pub append: bool,
    #[serde(skip)]
    rows: Vec<String>,
    #[serde(skip)]
    columns: Vec<String>,
}

impl CsvLogger {
    /// Logs to `filename`.
    pub fn new(filename: impl Into<PathBuf>) -> CsvLogger {
        CsvLogger {
            filename: filename.into(),
            append: false,
            rows: Vec::new(),
            columns: Vec::new(),
        }
    }

    /// Resolves a relative `filename` against `dir`.
    pub fn under(mut self, dir: &std::path::Path) -> CsvLogger {
        if self.filename.is_relative() {
            self.filename = dir.join(&self.filename);
        }
        self
    }
}

impl Callback for CsvLogger {
    fn on_train_begin(&mut self, _s: &mut TrainState) -> Result<()> {
        if self.append && self.rows.is_empty() {
            if let Ok(text) = std::fs::read_to_string(&self.filename) {
                let mut lines = text.lines();
                if let Some(h) = lines.next() {
                    self.columns = h.split(',').skip(1).map(String::from).collect();
                }
                self.rows = lines.map(String::from).collect();
            }
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, logs: &mut Logs, s: &mut TrainState) -> Result<()> {
        if self.columns.is_empty() {
            self.columns = logs.0.iter().map(|(n, _)| n.clone()).collect();
        }
        let vals: Vec<String> = self
            .columns
            .iter()
            .map(|c| logs.get(c).map(|v| v.to_string()).unwrap_or_default())
            .collect();
        self.rows.push(format!("{},{}", s.epoch, vals.join(",")));
        let text = format!(
            "epoch,{}\n{}\n",
            self.columns.join(","),
            self.rows.join("\n")
        );
        if s.rank != 0 {
            return Ok(()); // data-parallel training: rank 0 alone writes
        }
        nabla_nn::saving::write_atomic(&self.filename, text.as_bytes()).map_err(|e| {
            Error::Input(format!(
                "csv_logger: cannot write {}: {e}",
                self.filename.display()
            ))
        })
    }

    fn state(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({ "rows": self.rows, "columns": self.columns }))
    }

    fn name(&self) -> &'static str {
        "csv_logger"
    }

    fn load_state(&mut self, v: &serde_json::Value, _t: Vec<Vec<f32>>) -> Result<()> {
        self.rows = serde_json::from_value(v["rows"].clone()).unwrap_or_default();
        self.columns = serde_json::from_value(v["columns"].clone()).unwrap_or_default();
        Ok(())
    }
}
