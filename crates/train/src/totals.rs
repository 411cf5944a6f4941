//! `Totals`: the running loss (weighted by batch size) and every metric's totals over an
//! epoch or an evaluation pass; for a model with several outputs also each output's loss and
//! metrics, logged as Keras does (`main_loss`, `aux_accuracy`).

use crate::distributed::Communicator;
use crate::logs::Logs;
use crate::metrics::{ClassReading, Tracker};
use nabla_core::Tensor;
use nabla_nn::{LossSpec, Metric};

/// One output's loss and metric totals.
struct Output {
    name: String,
    loss: f64,
    how: ClassReading,
    metrics: Vec<Tracker>,
}

/// The loss (weighted by batch size) and every metric's totals over an epoch.
pub(crate) struct Totals {
    loss: f64,
    n: usize,
    outputs: Vec<Output>,
}

impl Totals {
    /// Totals of `(name, loss, metrics)` per output.
    pub(crate) fn outputs(outs: &[(&str, &LossSpec, &[Metric])]) -> Totals {
        Totals {
            loss: 0.0,
            n: 0,
            outputs: outs
                .iter()
                .map(|(name, loss, metrics)| Output {
                    name: name.to_string(),
                    loss: 0.0,
                    how: ClassReading::of(loss),
                    metrics: metrics.iter().map(|&m| Tracker::new(m)).collect(),
                })
                .collect(),
        }
    }

    /// Adds a batch: the total loss, each output's loss, predictions and targets.
    pub(crate) fn add_all(&mut self, loss: f32, parts: &[f32], y_preds: &[Tensor], ys: &[Tensor]) {
        let b = y_preds[0].shape()[0];
        self.loss += loss as f64 * b as f64;
        self.n += b;
        for (((o, part), yp), y) in self.outputs.iter_mut().zip(parts).zip(y_preds).zip(ys) {
            o.loss += *part as f64 * b as f64;
            for t in &mut o.metrics {
                t.add(o.how, yp, y);
            }
        }
    }

    /// Sums the totals of every process of `comm` (data-parallel training).
    pub(crate) fn reduce(&mut self, comm: &dyn Communicator) {
        let mut v = vec![self.loss, self.n as f64];
        v.extend(self.outputs.iter().map(|o| o.loss));
        comm.all_reduce_f64(&mut v);
        (self.loss, self.n) = (v[0], v[1] as usize);
        for (o, l) in self.outputs.iter_mut().zip(&v[2..]) {
            o.loss = *l;
            for t in &mut o.metrics {
                t.reduce(comm);
            }
        }
    }

    /// Samples seen so far.
    pub(crate) fn samples(&self) -> usize {
        self.n
    }

    pub(crate) fn logs(&self, prefix: &str) -> Logs {
        let mut l = Logs::default();
        let n = self.n.max(1) as f64;
        l.set(&format!("{prefix}loss"), self.loss / n);
        let several = self.outputs.len() > 1;
        for o in &self.outputs {
            let name = if several {
                format!("{}_", o.name)
            } else {
                String::new()
            };
            if several {
                l.set(&format!("{prefix}{name}loss"), o.loss / n);
            }
            for t in &o.metrics {
                l.set(&format!("{prefix}{name}{}", t.metric().name()), t.result());
            }
        }
        l
    }
}
