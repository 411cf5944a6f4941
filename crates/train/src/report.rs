//! The per-class report of a classifier on a dataset (`nabla evaluate` prints it): the
//! confusion matrix and each class's precision, recall, F1 and support, with macro averages.

use crate::error::{Error, Result};
use crate::metrics::{per_class, ClassReading, ClassScores};
use crate::trainer::{Training, EVAL_BATCH};
use nabla_data::{DataLoader, Dataset};
use nabla_nn::Model;
use std::fmt;

/// Confusion matrix and per-class scores.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassReport {
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
    /// Scores of each class.
    pub classes: Vec<ClassScores>,
    /// The classes' names, when the model file keeps them (printed instead of indices).
    pub names: Option<Vec<String>>,
}

impl ClassReport {
    /// Mean over classes with samples or predictions of (precision, recall, f1).
    pub fn macro_avg(&self) -> (f64, f64, f64) {
        let present: Vec<&ClassScores> = self
            .classes
            .iter()
            .filter(|s| s.support > 0 || s.predicted > 0)
            .collect();
        let n = present.len().max(1) as f64;
        (
            present.iter().map(|s| s.precision).sum::<f64>() / n,
            present.iter().map(|s| s.recall).sum::<f64>() / n,
            present.iter().map(|s| s.f1).sum::<f64>() / n,
        )
    }
}

/// Runs the model over `data` and counts predicted against true classes.
pub fn class_report(model: &mut Model, data: &Dataset) -> Result<ClassReport> {
    let loss = model
        .compiled()
        .map(|c| c.losses[0].clone())
        .ok_or(nabla_nn::Error::NotCompiled)?;
    if !loss.kind.is_probabilistic() {
        return Err(Error::Input(format!(
            "a per-class report needs a classifier: the model's loss is {}",
            loss.kind.name()
        )));
    }
    let how = ClassReading::of(&loss);
    let mut c = 0;
    let mut m: Vec<u64> = Vec::new();
    let binding = crate::binding::Binding::new(model, data, "report data")?;
    let mut loader = DataLoader::new(data, EVAL_BATCH);
    while let Some(arrays) = loader.next_all() {
        let (xs, ys) = binding.pick(arrays);
        let y_pred = model.predict_multi(&xs)?.swap_remove(0);
        let (pred, truth, cls) = how.classes(&y_pred, &ys[0]);
        if m.is_empty() {
            c = cls;
            m = vec![0; c * c];
        }
        for (&p, &t) in pred.iter().zip(&truth) {
            m[t.min(c - 1) * c + p.min(c - 1)] += 1;
        }
    }
    Ok(ClassReport {
        confusion: m.chunks(c.max(1)).map(|r| r.to_vec()).collect(),
        classes: per_class(&m, c),
        names: model.class_names().map(<[String]>::to_vec),
    })
}

impl ClassReport {
    /// Class `i` as printed: its name when known, else its index.
    fn label(&self, i: usize) -> String {
        self.names
            .as_ref()
            .and_then(|n| n.get(i).cloned())
            .unwrap_or_else(|| i.to_string())
    }
}

impl fmt::Display for ClassReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = (0..self.classes.len())
            .map(|i| self.label(i).chars().count())
            .fold(8, usize::max);
        writeln!(
            f,
            "{:>w$} {:>9} {:>9} {:>9} {:>9}",
            "class", "precision", "recall", "f1", "support"
        )?;
        for (i, s) in self.classes.iter().enumerate() {
            writeln!(
                f,
                "{:>w$} {:>9.4} {:>9.4} {:>9.4} {:>9}",
                self.label(i),
                s.precision,
                s.recall,
                s.f1,
                s.support
            )?;
        }
        let (p, r, f1) = self.macro_avg();
        let total: u64 = self.classes.iter().map(|s| s.support).sum();
        writeln!(f, "{:>w$} {p:>9.4} {r:>9.4} {f1:>9.4} {total:>9}", "macro")?;
        writeln!(
            f,
            "confusion matrix (rows: true class, columns: predicted, in the order above):"
        )?;
        for (i, row) in self.confusion.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:>5}")).collect();
            writeln!(f, "{:>w$} {}", self.label(i), cells.join(""))?;
        }
        Ok(())
    }
}
