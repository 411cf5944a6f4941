//! Transfer learning: `load_weights` copies weights from another model's file into this model
//! by layer name (`dense.kernel` into `dense.kernel`), whatever the rest of the two
//! architectures, and reports what matched, what was skipped and why. Freeze layers with
//! `set_trainable(false)` (or `trainable = false` in a spec), then fine-tune the rest.

use crate::error::Result;
use crate::model::Model;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// What `load_weights` did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadReport {
    /// Weights copied, by name.
    pub loaded: Vec<String>,
    /// This model's weights left as they were: `(name, reason)`.
    pub skipped: Vec<(String, String)>,
    /// Weights in the file that no weight of this model took.
    pub unused: Vec<String>,
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "loaded {} weights: {}",
            self.loaded.len(),
            self.loaded.join(", ")
        )?;
        for (n, why) in &self.skipped {
            writeln!(f, "skipped {n}: {why}")?;
        }
        if !self.unused.is_empty() {
            writeln!(f, "unused in the file: {}", self.unused.join(", "))?;
        }
        Ok(())
    }
}

impl Model {
    /// Copies the weights of the model saved at `path` into this model, by name; weights of
    /// another shape, or missing from the file, are skipped (see the report).
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<LoadReport> {
        let source = Model::load(path)?;
        let mut theirs: HashMap<String, (Vec<usize>, Vec<f32>)> = source
            .named_params()
            .into_iter()
            .map(|(n, p)| (n, (p.value.shape().to_vec(), p.value.to_vec())))
            .collect();
        let mut report = LoadReport::default();
        let names: Vec<String> = self.named_params().into_iter().map(|(n, _)| n).collect();
        for (name, p) in names.into_iter().zip(self.params_mut()) {
            match theirs.remove(&name) {
                None => report.skipped.push((name, "not in the file".into())),
                Some((shape, _)) if shape != p.value.shape() => {
                    let why = format!("shape {:?} in the file, {:?} here", shape, p.value.shape());
                    report.skipped.push((name, why));
                }
                Some((_, values)) => {
                    p.value.update(|w| w.copy_from_slice(&values));
                    report.loaded.push(name);
                }
            }
        }
        report.unused = theirs.into_keys().collect();
        report.unused.sort();
        Ok(report)
    }
}
