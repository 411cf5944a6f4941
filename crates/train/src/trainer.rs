//! `fit`, `evaluate`, `predict`: the training loop, read top to bottom like Keras's.

use crate::error::{Error, Result};
use crate::fit::Fit;
use crate::history::History;
use crate::logs::Logs;
use crate::metrics::{ClassReading, Tracker};
use crate::progress::Progress;
use crate::weights::sample_weights;
use nabla_core::Tensor;
use nabla_data::{DataLoader, Dataset};
use nabla_nn::{LossSpec, Metric, Model};

/// Batch size of `evaluate` and `predict`.
pub const EVAL_BATCH: usize = 1000;

/// Keras's `fit` / `evaluate` / `predict` on a compiled [`Model`].
pub trait Training {
    /// Trains for `opts.epochs` epochs and returns the per-epoch logs.
    fn fit(&mut self, train: &Dataset, opts: Fit) -> Result<History>;
    /// The mean loss and metrics over `data` (eval mode).
    fn evaluate(&mut self, data: &Dataset) -> Result<Logs>;
    /// The model's outputs for `x` `[n, ..input_shape]` (eval mode, in batches).
    fn predict(&self, x: &Tensor) -> Result<Tensor>;
}

/// The loss (weighted by batch size) and every metric's totals over an epoch.
struct Totals {
    loss: f64,
    n: usize,
    how: ClassReading,
    metrics: Vec<Tracker>,
}

impl Totals {
    fn new(loss: &LossSpec, metrics: &[Metric]) -> Totals {
        Totals {
            loss: 0.0,
            n: 0,
            how: ClassReading::of(loss),
            metrics: metrics.iter().map(|&m| Tracker::new(m)).collect(),
        }
    }

    fn add(&mut self, loss: f32, y_pred: &Tensor, y: &Tensor) {
        let b = y_pred.shape()[0];
        self.loss += loss as f64 * b as f64;
        self.n += b;
        for t in &mut self.metrics {
            t.add(self.how, y_pred, y);
        }
    }

    fn logs(&self, prefix: &str) -> Logs {
        let mut l = Logs::default();
        l.set(&format!("{prefix}loss"), self.loss / self.n.max(1) as f64);
        for t in &self.metrics {
            l.set(&format!("{prefix}{}", t.metric().name()), t.result());
        }
        l
    }
}

/// Checks that `data` fits the model's input and the loss's targets.
fn check_data(model: &Model, data: &Dataset, what: &str) -> Result<()> {
    if data.x_shape() != model.input_shape() {
        return Err(Error::Input(format!(
            "{what}: samples of shape {:?} expected by the model, received {:?}",
            model.input_shape(),
            data.x_shape()
        )));
    }
    if let Some(c) = model.compiled() {
        c.loss
            .check_targets(data.y(), data.y_shape(), model.output_shape())
            .map_err(|e| Error::Input(format!("{what}: {e}")))?;
        let outputs: usize = model.output_shape().iter().product();
        if c.metrics.contains(&Metric::Auc) && outputs != 1 {
            return Err(Error::Input(format!(
                "metric auc: expected a model with 1 output (binary classification), received {outputs} outputs"
            )));
        }
    }
    Ok(())
}

impl Training for Model {
    fn fit(&mut self, train: &Dataset, opts: Fit) -> Result<History> {
        let (loss, metrics) = {
            let c = self.compiled_mut()?;
            (c.loss.clone(), c.metrics.clone())
        };
        if opts.batch_size == 0 {
            return Err(Error::Input(
                "batch_size: expected a positive integer, received 0".into(),
            ));
        }
        let mut weights = sample_weights(train, &opts, &loss, self.output_shape())?;
        let split;
        let (train, val) = if opts.validation_split > 0.0 {
            split = train.split_last(opts.validation_split)?;
            (&split.0, Some(&split.1))
        } else {
            (train, opts.validation_data)
        };
        if let Some(w) = &mut weights {
            w.truncate(train.len()); // the held-out samples take their weights with them
        }
        check_data(self, train, "training data")?;
        if train.is_empty() {
            return Err(Error::Input(
                "training data: expected at least 1 sample, received 0".into(),
            ));
        }
        if let Some(v) = val {
            check_data(self, v, "validation data")?;
        }
        let mut history = History::default();
        for epoch in 1..=opts.epochs {
            let loader = if opts.shuffle {
                DataLoader::shuffled(train, opts.batch_size, &mut self.rng)
            } else {
                DataLoader::new(train, opts.batch_size)
            };
            let progress = Progress::new(epoch, opts.epochs, loader.steps(), opts.verbose);
            let mut totals = Totals::new(&loss, &metrics);
            let order = loader.order().to_vec();
            for (step, (x, y)) in loader.enumerate() {
                let y_pred = self.forward_train(&x);
                let l = match &weights {
                    None => loss.compute(&y_pred, &y),
                    Some(w) => {
                        let start = step * opts.batch_size;
                        let idx = &order[start..start + y_pred.shape()[0]];
                        let wb: Vec<f32> = idx.iter().map(|&i| w[i]).collect();
                        loss.compute_weighted(&y_pred, &y, &Tensor::from_vec(wb, &[idx.len()]))
                    }
                };
                let value = l.item();
                if !value.is_finite() {
                    return Err(Error::NonFinite {
                        epoch,
                        step: step + 1,
                        value,
                    });
                }
                totals.add(value, &y_pred, &y);
                let grads = l.backward();
                drop((l, y_pred)); // free the graph so weights update in place
                self.apply_gradients(&grads)?;
                progress.step(step + 1, || totals.logs(""));
            }
            let mut logs = totals.logs("");
            if let Some(v) = val {
                for (n, value) in self.evaluate(v)?.0 {
                    logs.set(&format!("val_{n}"), value);
                }
            }
            progress.finish(&logs);
            history.epochs.push(logs);
        }
        Ok(history)
    }

    fn evaluate(&mut self, data: &Dataset) -> Result<Logs> {
        let c = self.compiled().ok_or(nabla_nn::Error::NotCompiled)?;
        let (loss, metrics) = (c.loss.clone(), c.metrics.clone());
        check_data(self, data, "evaluation data")?;
        let mut totals = Totals::new(&loss, &metrics);
        for (x, y) in DataLoader::new(data, EVAL_BATCH) {
            let y_pred = self.forward_eval(&x);
            let l = nabla_core::no_grad(|| loss.compute(&y_pred, &y)).item();
            totals.add(l, &y_pred, &y);
        }
        Ok(totals.logs(""))
    }

    fn predict(&self, x: &Tensor) -> Result<Tensor> {
        if x.rank() == 0 || &x.shape()[1..] != self.input_shape() {
            return Err(Error::Input(format!(
                "predict input: expected shape [n, {}], received {:?}",
                self.input_shape()
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                x.shape()
            )));
        }
        let n = x.shape()[0];
        if n <= EVAL_BATCH {
            return Ok(self.forward_eval(x));
        }
        let per: usize = self.input_shape().iter().product();
        let mut out = Vec::new();
        let mut start = 0;
        while start < n {
            let end = (start + EVAL_BATCH).min(n);
            let mut shape = x.shape().to_vec();
            shape[0] = end - start;
            let xb = Tensor::from_vec(x.data()[start * per..end * per].to_vec(), &shape);
            out.extend_from_slice(self.forward_eval(&xb).data());
            start = end;
        }
        let shape: Vec<usize> = std::iter::once(n)
            .chain(self.output_shape().iter().copied())
            .collect();
        Ok(Tensor::from_vec(out, &shape))
    }
}
