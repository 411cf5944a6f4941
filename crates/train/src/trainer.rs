//! `fit`, `evaluate`, `predict`: the training loop, read top to bottom like Keras's.

use crate::callback::{Callback, TrainState};
use crate::error::{Error, Result};
use crate::fit::Fit;
use crate::history::History;
use crate::logs::Logs;
use crate::progress::Progress;
use crate::totals::Totals;
use crate::weights::sample_weights;
use nabla_core::Tensor;
use nabla_data::{DataLoader, Dataset};
use nabla_nn::{Metric, Model, Per};

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

/// Checks that `data` fits the model's input and the loss's targets.
fn check_data(model: &Model, data: &Dataset, what: &str) -> Result<()> {
    if data.x_shape() != model.input_shape() {
        return Err(Error::Input(format!(
            "{what}: samples of shape {:?} expected by the model, received {:?}",
            model.input_shape(),
            data.x_shape()
        )));
    }
    model
        .check_input(data.x())
        .map_err(|e| Error::Input(format!("{what}: {e}")))?;
    if let Some(c) = model.compiled() {
        c.loss
            .check_targets(data.y(), data.y_shape(), model.output_shape())
            .map_err(|e| Error::Input(format!("{what}: {e}")))?;
        for &m in &c.metrics {
            crate::metrics::check_targets(m, c.loss.kind, data.y_shape(), model.output_shape())
                .map_err(|e| Error::Input(format!("{what}: {e}")))?;
        }
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
    fn fit(&mut self, data: &Dataset, mut opts: Fit) -> Result<History> {
        let (loss, metrics, schedule, base_lr) = {
            let c = self.compiled_mut()?;
            (
                c.loss.clone(),
                c.metrics.clone(),
                c.schedule.clone(),
                c.base_lr,
            )
        };
        if opts.batch_size == 0 {
            return Err(Error::Input(
                "batch_size: expected a positive integer, received 0".into(),
            ));
        }
        let mut weights = sample_weights(data, &opts, &loss, self.output_shape())?;
        let split;
        // as Keras: validation_data, when given, overrides validation_split
        let (train, val) = match (opts.validation_data, opts.validation_split > 0.0) {
            (Some(v), _) => (data, Some(v)),
            (None, true) => {
                split = data.split_last(opts.validation_split)?;
                (&split.0, Some(&split.1))
            }
            (None, false) => (data, None),
        };
        if let Some(w) = &mut weights {
            w.truncate(train.len()); // the held-out samples take their weights with them
        }
        if val.is_some_and(|v| v.is_empty()) {
            return Err(Error::Input(format!(
                "validation data: expected at least 1 sample, received 0 (validation_split {} of {} samples holds out none)",
                opts.validation_split,
                data.len()
            )));
        }
        if opts.accumulate == 0 {
            return Err(Error::Input(
                "fit: accumulate (micro-batches per step) expected >= 1, received 0".into(),
            ));
        }
        check_data(self, train, "training data")?;
        if opts.augment.is_some() {
            nabla_data::Pipeline::image_shape(train.x_shape())?;
        }
        if train.is_empty() {
            return Err(Error::Input(
                "training data: expected at least 1 sample, received 0".into(),
            ));
        }
        if let Some(v) = val {
            check_data(self, v, "validation data")?;
        }
        if self.needs_adapt() {
            let (x, _) = train.batch(&(0..train.len()).collect::<Vec<_>>());
            self.adapt(&x);
        }
        let mut callbacks = std::mem::take(&mut opts.callbacks);
        let mut history = std::mem::take(&mut opts.initial_history);
        let epochs = opts.epochs;
        crate::resume::restore(&mut callbacks, &opts.callback_states)?;
        if let (Some(_), Some(c)) = (
            &schedule,
            callbacks.iter().find(|c| c.changes_learning_rate()),
        ) {
            return Err(Error::Input(format!(
                "callback {} sets the learning rate, and the model is compiled with an lr_schedule that would undo it: use one or the other",
                c.name()
            )));
        }
        let mut hooks = Hooks {
            callbacks: &mut callbacks,
            epochs,
        };
        hooks.run(self, opts.initial_epoch, &history, |c, s| {
            c.on_train_begin(s)
        })?;
        for epoch in opts.initial_epoch + 1..=epochs {
            if let Some(s) = schedule.as_ref().filter(|s| s.per() == Per::Epoch) {
                set_lr(self, s.learning_rate(base_lr, epoch as u64 - 1))?;
            }
            let mut stop = hooks.run(self, epoch, &history, |c, s| c.on_epoch_begin(s))?;
            let loader = if opts.shuffle {
                DataLoader::shuffled(train, opts.batch_size, &mut self.rng)
            } else {
                DataLoader::new(train, opts.batch_size)
            };
            let mut progress = Progress::new(epoch, epochs, loader.steps(), opts.verbose);
            if opts.tokens_per_sample > 0 {
                progress = progress.with_tokens(train.len() * opts.tokens_per_sample);
            }
            // gradient accumulation: (sum, samples, micro-batches) not yet applied
            let mut pending: Option<(nabla_core::Gradients, usize, usize)> = None;
            let mut totals = Totals::new(&loss, &metrics);
            let mut penalty_sum = None;
            let order = loader.order().to_vec();
            for (step, (x, y)) in loader.enumerate() {
                let x = match &opts.augment {
                    Some(p) => p.apply_batch(&x, &mut self.rng)?,
                    None => x,
                };
                if let Some(s) = schedule.as_ref().filter(|s| s.per() == Per::Step) {
                    let t = self.compiled_mut()?.optimizer.state().t;
                    set_lr(self, s.learning_rate(base_lr, t))?;
                }
                let (y_pred, penalty) = self.forward_train_regularized(&x);
                let mut l = match &weights {
                    None => loss.compute(&y_pred, &y),
                    Some(w) => {
                        let start = step * opts.batch_size;
                        let idx = &order[start..start + y_pred.shape()[0]];
                        let wb: Vec<f32> = idx.iter().map(|&i| w[i]).collect();
                        loss.compute_weighted(&y_pred, &y, &Tensor::from_vec(wb, &[idx.len()]))
                    }
                };
                if let Some(p) = &penalty {
                    *penalty_sum.get_or_insert(0.0) += p.item() as f64 * y_pred.shape()[0] as f64;
                    l = l.add(p);
                }
                let value = l.item();
                if !value.is_finite() {
                    if hooks.run(self, epoch, &history, |c, s| {
                        c.on_batch_end(step + 1, value, s)
                    })? {
                        stop = true;
                        break;
                    }
                    return Err(Error::NonFinite {
                        epoch,
                        step: step + 1,
                        value,
                    });
                }
                totals.add(value, &y_pred, &y);
                let n = y_pred.shape()[0];
                let grads = l.backward();
                drop((l, y_pred, penalty)); // free the graph so weights update in place
                if opts.accumulate <= 1 {
                    self.apply_gradients(&grads)?;
                } else {
                    // Σ n_i · ∇(mean loss of micro-batch i), applied as the mean over them all
                    let mut g = grads;
                    g.scale(n as f32);
                    let (sum, count, batches) = pending.get_or_insert_with(Default::default);
                    sum.accumulate(g);
                    *count += n;
                    *batches += 1;
                    if *batches == opts.accumulate {
                        apply_pending(self, &mut pending)?;
                    }
                }
                stop |= hooks.run(self, epoch, &history, |c, s| {
                    c.on_batch_end(step + 1, value, s)
                })?;
                progress.step(step + 1, || totals.logs(""));
                if stop {
                    break;
                }
            }
            // an epoch's last micro-batches form a smaller step
            apply_pending(self, &mut pending)?;
            let mut logs = totals.logs("");
            if let Some(p) = penalty_sum {
                logs.set("regularization_loss", p / totals.samples().max(1) as f64);
            }
            if let Some(v) = val {
                for (n, value) in self.evaluate(v)?.0 {
                    logs.set(&format!("val_{n}"), value);
                }
            }
            logs.set(
                "learning_rate",
                self.compiled_mut()?.optimizer.learning_rate() as f64,
            );
            stop |= hooks.run_epoch_end(self, epoch, &history, &mut logs)?;
            progress.finish(&logs);
            history.epochs.push(logs);
            if let Some(path) = &opts.checkpoint {
                let (json, tensors) =
                    crate::resume::to_checkpoint(epoch, &history, stop, hooks.callbacks);
                self.save_checkpoint(path, json, tensors)?;
            }
            if stop {
                break;
            }
        }
        let last = opts.initial_epoch.max(history.epochs.len());
        hooks.run(self, last, &history, |c, s| c.on_train_end(s))?;
        Ok(history)
    }

    fn evaluate(&mut self, data: &Dataset) -> Result<Logs> {
        let c = self.compiled().ok_or(nabla_nn::Error::NotCompiled)?;
        let (loss, metrics) = (c.loss.clone(), c.metrics.clone());
        check_data(self, data, "evaluation data")?;
        if data.is_empty() {
            return Err(Error::Input(
                "evaluation data: expected at least 1 sample, received 0".into(),
            ));
        }
        let mut totals = Totals::new(&loss, &metrics);
        // the weight penalties are part of the loss, as in training (Keras does the same)
        let penalty = nabla_core::no_grad(|| self.regularization())
            .map(|p| p.item())
            .unwrap_or(0.0);
        for (x, y) in DataLoader::new(data, EVAL_BATCH) {
            let y_pred = self.forward_eval(&x);
            let l = nabla_core::no_grad(|| loss.compute(&y_pred, &y)).item();
            totals.add(l + penalty, &y_pred, &y);
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
        self.check_input(x.data())
            .map_err(|e| Error::Input(format!("predict input: {e}")))?;
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

/// Sets the optimiser's learning rate.
fn set_lr(model: &mut Model, lr: f32) -> Result<()> {
    model.compiled_mut()?.optimizer.set_learning_rate(lr);
    Ok(())
}

/// Runs one hook of every callback; returns whether any asked to stop.
struct Hooks<'c, 'a> {
    callbacks: &'c mut Vec<Box<dyn Callback + 'a>>,
    epochs: usize,
}

impl Hooks<'_, '_> {
    fn run(
        &mut self,
        model: &mut Model,
        epoch: usize,
        history: &History,
        mut f: impl FnMut(&mut dyn Callback, &mut TrainState) -> Result<()>,
    ) -> Result<bool> {
        let mut s = TrainState {
            model,
            stop_training: false,
            epoch,
            epochs: self.epochs,
            history,
        };
        for c in self.callbacks.iter_mut() {
            f(c.as_mut(), &mut s)?;
        }
        Ok(s.stop_training)
    }

    fn run_epoch_end(
        &mut self,
        model: &mut Model,
        epoch: usize,
        history: &History,
        logs: &mut Logs,
    ) -> Result<bool> {
        self.run(model, epoch, history, |c, s| c.on_epoch_end(logs, s))
    }
}

/// Applies accumulated micro-batch gradients, if any, as their sample-weighted mean.
fn apply_pending(
    model: &mut Model,
    pending: &mut Option<(nabla_core::Gradients, usize, usize)>,
) -> Result<()> {
    if let Some((mut sum, count, _)) = pending.take() {
        sum.scale(1.0 / count.max(1) as f32);
        model.apply_gradients(&sum)?;
    }
    Ok(())
}
