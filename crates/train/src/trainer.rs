//! `fit`, `evaluate`, `predict`: the training loop, read top to bottom like Keras's.

use crate::binding::Binding;
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
    /// Every output of the model for one tensor per input (eval mode, in batches).
    fn predict_multi(&self, xs: &[Tensor]) -> Result<Vec<Tensor>>;
}

impl Training for Model {
    fn fit(&mut self, data: &Dataset, mut opts: Fit) -> Result<History> {
        let (losses, loss_weights, schedule, base_lr) = {
            let c = self.compiled_mut()?;
            (
                c.losses.clone(),
                c.loss_weights.clone(),
                c.schedule.clone(),
                c.base_lr,
            )
        };
        if opts.batch_size == 0 {
            return Err(Error::Input(
                "batch_size: expected a positive integer, received 0".into(),
            ));
        }
        if opts.class_weight.is_some() && losses.len() > 1 {
            return Err(Error::Input(format!(
                "class_weight: expected a model with one output, received {} outputs (weigh samples with sample_weight)",
                losses.len()
            )));
        }
        let mut weights = sample_weights(data, &opts, &losses[0], self.output_shape())?;
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
        let binding = Binding::new(self, train, "training data")?;
        if opts.augment.is_some() {
            if self.inputs().len() > 1 {
                return Err(Error::Input(format!(
                    "augment: expected a model with one image input, received {} inputs",
                    self.inputs().len()
                )));
            }
            nabla_data::Pipeline::image_shape(train.x_shape())?;
        }
        if train.is_empty() {
            return Err(Error::Input(
                "training data: expected at least 1 sample, received 0".into(),
            ));
        }
        if let Some(v) = val {
            Binding::new(self, v, "validation data")?;
        }
        if self.needs_adapt() {
            let all: Vec<usize> = (0..train.len()).collect();
            let (xs, _) = binding.pick(train.batch_all(&all));
            self.adapt_multi(&xs);
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
            let mut loader = if opts.shuffle {
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
            let mut totals = self.totals()?;
            let mut penalty_sum = None;
            let order = loader.order().to_vec();
            let mut step = 0;
            while let Some(batch) = loader.next_all() {
                let (mut xs, ys) = binding.pick(batch);
                if let Some(p) = &opts.augment {
                    xs[0] = p.apply_batch(&xs[0], &mut self.rng)?;
                }
                if let Some(s) = schedule.as_ref().filter(|s| s.per() == Per::Step) {
                    let t = self.compiled_mut()?.optimizer.state().t;
                    set_lr(self, s.learning_rate(base_lr, t))?;
                }
                let (y_preds, penalty) = self.forward_train_multi(&xs);
                let n = y_preds[0].shape()[0];
                let wb = weights.as_ref().map(|w| {
                    let start = step * opts.batch_size;
                    let idx = &order[start..start + n];
                    Tensor::from_vec(idx.iter().map(|&i| w[i]).collect(), &[n])
                });
                let parts: Vec<Tensor> = (0..losses.len())
                    .map(|o| match &wb {
                        None => losses[o].compute(&y_preds[o], &ys[o]),
                        Some(w) => losses[o].compute_weighted(&y_preds[o], &ys[o], w),
                    })
                    .collect();
                let mut l = weighted_sum(&parts, &loss_weights);
                if let Some(p) = &penalty {
                    *penalty_sum.get_or_insert(0.0) += p.item() as f64 * n as f64;
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
                let part_values = part_values(&parts, value);
                totals.add_all(value, &part_values, &y_preds, &ys);
                let grads = l.backward();
                drop((l, parts, y_preds, penalty)); // free the graph so weights update in place
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
                step += 1;
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
        let (losses, loss_weights) = (c.losses.clone(), c.loss_weights.clone());
        let binding = Binding::new(self, data, "evaluation data")?;
        if data.is_empty() {
            return Err(Error::Input(
                "evaluation data: expected at least 1 sample, received 0".into(),
            ));
        }
        let mut totals = self.totals()?;
        // the weight penalties are part of the loss, as in training (Keras does the same)
        let penalty = nabla_core::no_grad(|| self.regularization())
            .map(|p| p.item())
            .unwrap_or(0.0);
        let mut loader = DataLoader::new(data, EVAL_BATCH);
        while let Some(batch) = loader.next_all() {
            let (xs, ys) = binding.pick(batch);
            let y_preds = self.forward_eval_multi(&xs);
            let parts: Vec<Tensor> = nabla_core::no_grad(|| {
                (0..losses.len())
                    .map(|o| losses[o].compute(&y_preds[o], &ys[o]))
                    .collect()
            });
            let l = nabla_core::no_grad(|| weighted_sum(&parts, &loss_weights)).item();
            totals.add_all(l + penalty, &part_values(&parts, l), &y_preds, &ys);
        }
        Ok(totals.logs(""))
    }

    fn predict(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.predict_multi(std::slice::from_ref(x))?.swap_remove(0))
    }

    fn predict_multi(&self, xs: &[Tensor]) -> Result<Vec<Tensor>> {
        let inputs = self.inputs();
        if xs.len() != inputs.len() {
            return Err(Error::Input(format!(
                "predict input: expected {} tensors (inputs {}), received {}",
                inputs.len(),
                inputs
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                xs.len()
            )));
        }
        let n = xs[0].shape().first().copied().unwrap_or(0);
        for (x, i) in xs.iter().zip(inputs) {
            if x.rank() == 0 || x.shape()[1..] != i.shape[..] || x.shape()[0] != n {
                let which = if inputs.len() > 1 {
                    format!(" '{}'", i.name)
                } else {
                    String::new()
                };
                return Err(Error::Input(format!(
                    "predict input{which}: expected shape [n, {}], received {:?}",
                    i.shape
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    x.shape()
                )));
            }
        }
        let values: Vec<&[f32]> = xs.iter().map(|x| x.data()).collect();
        self.check_inputs(&values)
            .map_err(|e| Error::Input(format!("predict input: {e}")))?;
        if n <= EVAL_BATCH {
            return Ok(self.forward_eval_multi(xs));
        }
        let outputs = self.outputs();
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); outputs.len()];
        for start in (0..n).step_by(EVAL_BATCH) {
            let end = (start + EVAL_BATCH).min(n);
            let part: Vec<Tensor> = xs
                .iter()
                .map(|x| {
                    let per = x.numel() / n;
                    let mut shape = x.shape().to_vec();
                    shape[0] = end - start;
                    Tensor::from_vec(x.data()[start * per..end * per].to_vec(), &shape)
                })
                .collect();
            for (o, y) in out.iter_mut().zip(self.forward_eval_multi(&part)) {
                o.extend_from_slice(y.data());
            }
        }
        Ok(out
            .into_iter()
            .zip(outputs)
            .map(|(v, (_, shape))| {
                let shape: Vec<usize> = std::iter::once(n).chain(shape.iter().copied()).collect();
                Tensor::from_vec(v, &shape)
            })
            .collect())
    }
}

/// `Σ w_o · loss_o` (the one loss itself when there is one output of weight 1).
fn weighted_sum(parts: &[Tensor], weights: &[f32]) -> Tensor {
    if parts.len() == 1 && weights[0] == 1.0 {
        return parts[0].clone();
    }
    parts
        .iter()
        .zip(weights)
        .map(|(p, &w)| p.scale(w))
        .reduce(|a, b| a.add(&b))
        .expect("a model has an output")
}

/// Each output's loss value (read only when there are several: one is the total).
fn part_values(parts: &[Tensor], total: f32) -> Vec<f32> {
    if parts.len() == 1 {
        return vec![total];
    }
    parts.iter().map(|p| p.item()).collect()
}

/// What `Totals` needs of a compiled model.
trait TotalsOf {
    fn totals(&self) -> Result<Totals>;
}

impl TotalsOf for Model {
    fn totals(&self) -> Result<Totals> {
        let c = self.compiled().ok_or(nabla_nn::Error::NotCompiled)?;
        let outputs = self.outputs();
        let outs: Vec<(&str, &nabla_nn::LossSpec, &[Metric])> = outputs
            .iter()
            .zip(&c.losses)
            .zip(&c.metrics)
            .map(|((o, l), m)| (o.0, l, m.as_slice()))
            .collect();
        Ok(Totals::outputs(&outs))
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
