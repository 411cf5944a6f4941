//! `Totals`: the running loss (weighted by batch size) and every metric's totals over an
//! epoch or an evaluation pass.

use crate::logs::Logs;
use crate::metrics::{ClassReading, Tracker};
use nabla_core::Tensor;
use nabla_nn::{LossSpec, Metric};

/// The loss (weighted by batch size) and every metric's totals over an epoch.
pub(crate) struct Totals {
    loss: f64,
    n: usize,
    how: ClassReading,
    metrics: Vec<Tracker>,
}

impl Totals {
    pub(crate) fn new(loss: &LossSpec, metrics: &[Metric]) -> Totals {
        Totals {
            loss: 0.0,
            n: 0,
            how: ClassReading::of(loss),
            metrics: metrics.iter().map(|&m| Tracker::new(m)).collect(),
        }
    }

    pub(crate) fn add(&mut self, loss: f32, y_pred: &Tensor, y: &Tensor) {
        let b = y_pred.shape()[0];
        self.loss += loss as f64 * b as f64;
        self.n += b;
        for t in &mut self.metrics {
            t.add(self.how, y_pred, y);
        }
    }

    /// Samples seen so far.
    pub(crate) fn samples(&self) -> usize {
        self.n
    }

    pub(crate) fn logs(&self, prefix: &str) -> Logs {
        let mut l = Logs::default();
        l.set(&format!("{prefix}loss"), self.loss / self.n.max(1) as f64);
        for t in &self.metrics {
            l.set(&format!("{prefix}{}", t.metric().name()), t.result());
        }
        l
    }
}
