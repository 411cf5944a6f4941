//! `fit`, `evaluate`, `predict`: the training loop, read top to bottom like Keras's.

use crate::binding::Binding;
use crate::callback::{Callback, TrainState};
use crate::distributed::{broadcast_buffers, broadcast_model, rank_rng, AllReduce, Communicator};
use crate::error::{Error, Result};
use crate::fit::Fit;
use crate::history::History;
use crate::logs::Logs;
use crate::progress::Progress;
use crate::totals::Totals;
use crate::train_step::{output_losses, part_values, weighted_sum, Batch, StandardStep, TrainStep};
use crate::weights::sample_weights;
use nabla_core::Tensor;
use nabla_data::{shard_range, DataLoader, Dataset};
use nabla_nn::{Metric, Model, Per};
use std::borrow::Cow;

/// Batch size of `evaluate` and `predict`.
pub const EVAL_BATCH: usize = 1000;

/// How many times the first step's loss (or 1, if more) a step's loss may reach before
/// `fit` reports that training diverged.
pub const DIVERGED: f32 = 1e6;

/// Keras's `fit` / `evaluate` / `predict` on a compiled [`Model`].
pub trait Training {
    /// Trains for `opts.epochs` epochs and returns the per-epoch logs.
    fn fit(&mut self, train: &Dataset, opts: Fit) -> Result<History>;
    /// The mean loss and metrics over `data` (eval mode).
    fn evaluate(&self, data: &Dataset) -> Result<Logs>;
    /// The model's outputs for `x` `[n, ..input_shape]` (eval mode, in batches).
    fn predict(&self, x: &Tensor) -> Result<Tensor>;
    /// Every output of the model for one tensor per input (eval mode, in batches).
    fn predict_multi(&self, xs: &[Tensor]) -> Result<Vec<Tensor>>;
}

/// The training data after the validation split, bound to the model, with sample weights.
struct Prepared<'d> {
    train: Cow<'d, Dataset>,
    val: Option<Cow<'d, Dataset>>,
    binding: Binding,
    weights: Option<Vec<f32>>,
}

/// Checks the options and the data, splits off validation data and adapts the layers that
/// want statistics of the training data.
fn prepare<'d>(model: &mut Model, data: &'d Dataset, opts: &Fit<'d>) -> Result<Prepared<'d>> {
    let outputs = model.compiled_mut()?.losses.len();
    if let Some((name, _)) = model.named_int8_params().first() {
        return Err(Error::Input(format!(
            "fit: expected a float model, received one with int8 weights ('{name}'): a quantised model predicts and evaluates; train the float model, then quantise it"
        )));
    }
    if opts.batch_size == 0 || opts.accumulate == 0 {
        return Err(Error::Input(format!(
            "fit: batch_size and accumulate (micro-batches per step) expected >= 1, received {} and {}",
            opts.batch_size, opts.accumulate
        )));
    }
    // a batch whose layer outputs cannot fit is refused before the first step allocates them
    model.check_batch(opts.batch_size.min(data.len()))?;
    if opts.class_weight.is_some() && outputs > 1 {
        return Err(Error::Input(format!(
            "class_weight: expected a model with one output, received {outputs} outputs (weigh samples with sample_weight)"
        )));
    }
    let loss = model.compiled_mut()?.losses[0].clone();
    let mut weights = sample_weights(data, opts, &loss, model.output_shape())?;
    // as Keras: validation_data, when given, overrides validation_split
    let (train, val) = match (opts.validation_data, opts.validation_split > 0.0) {
        (Some(v), _) => (Cow::Borrowed(data), Some(Cow::Borrowed(v))),
        (None, true) => {
            let (t, v) = data.split_last(opts.validation_split)?;
            (Cow::Owned(t), Some(Cow::Owned(v)))
        }
        (None, false) => (Cow::Borrowed(data), None),
    };
    if let Some(w) = &mut weights {
        w.truncate(train.len()); // the held-out samples take their weights with them
    }
    if val.as_ref().is_some_and(|v| v.is_empty()) {
        return Err(Error::Input(format!(
            "validation data: expected at least 1 sample, received 0 (validation_split {} of {} samples holds out none)",
            opts.validation_split,
            data.len()
        )));
    }
    let binding = Binding::new(model, &train, "training data")?;
    if opts.augment.is_some() {
        if model.inputs().len() > 1 {
            return Err(Error::Input(format!(
                "augment: expected a model with one image input, received {} inputs",
                model.inputs().len()
            )));
        }
        nabla_data::Pipeline::image_shape(train.x_shape())?;
    }
    if train.is_empty() {
        return Err(Error::Input(
            "training data: expected at least 1 sample, received 0".into(),
        ));
    }
    if let Some(v) = &val {
        Binding::new(model, v, "validation data")?;
    }
    let schedule = model.compiled_mut()?.schedule.is_some();
    if let Some(c) = opts
        .callbacks
        .iter()
        .find(|c| schedule && c.changes_learning_rate())
    {
        return Err(Error::Input(format!(
            "callback {} sets the learning rate, and the model is compiled with an lr_schedule that would undo it: use one or the other",
            c.name()
        )));
    }
    if model.needs_adapt() {
        let all: Vec<usize> = (0..train.len()).collect();
        let (xs, _) = binding.pick(train.batch_all(&all));
        model.adapt_multi(&xs);
    }
    Ok(Prepared {
        train,
        val,
        binding,
        weights,
    })
}

/// A batch in the model's order, augmented, with its samples' weights; `at` are the dataset
/// indices from this batch's first sample on.
fn make_batch(
    model: &mut Model,
    p: &Prepared,
    opts: &Fit,
    arrays: (Vec<Tensor>, Vec<Tensor>),
    at: &[usize],
) -> Result<Batch> {
    let (mut xs, ys) = p.binding.pick(arrays);
    if let Some(a) = &opts.augment {
        xs[0] = a.apply_batch(&xs[0], &mut model.rng)?;
    }
    let n = xs[0].shape()[0];
    let weights = p
        .weights
        .as_ref()
        .map(|w| Tensor::from_vec(at[..n].iter().map(|&i| w[i]).collect(), &[n]));
    Ok(Batch { xs, ys, weights })
}

/// An epoch's logs: the training totals, the regularisation penalty, the validation scores
/// (`val_` names) and the learning rate.
fn epoch_logs(
    model: &mut Model,
    totals: &Totals,
    penalty_sum: Option<f64>,
    val: Option<&Dataset>,
    comm: Option<&dyn Communicator>,
) -> Result<Logs> {
    let mut logs = totals.logs("");
    if let Some(s) = penalty_sum {
        logs.set("regularization_loss", s / totals.samples().max(1) as f64);
    }
    if let Some(v) = val {
        let val_totals = match comm {
            // each process evaluates its part of the validation data
            Some(c) => {
                let part = v.slice(shard_range(v.len(), c.rank(), c.size()));
                let mut t = evaluate_totals(model, &part)?;
                t.reduce(c);
                t
            }
            None => evaluate_totals(model, v)?,
        };
        for (n, value) in val_totals.logs("").0 {
            logs.set(&format!("val_{n}"), value);
        }
    }
    let lr = model.compiled_mut()?.optimizer.learning_rate();
    logs.set("learning_rate", lr as f64);
    Ok(logs)
}

/// One epoch's batches: the running totals, the summed weight penalty, whether a callback
/// asked to stop, and the progress line to finish with the epoch's logs.
struct EpochRun {
    totals: Totals,
    penalty_sum: Option<f64>,
    stop: bool,
    progress: Progress,
}

/// Sets the learning rate from the compiled schedule if it changes `per` epoch or step; `t`
/// is the epochs done, or `None` for the optimiser's step count.
fn follow_schedule(model: &mut Model, per: Per, t: Option<u64>) -> Result<()> {
    let c = model.compiled_mut()?;
    let t = t.unwrap_or(c.optimizer.state().t);
    if let Some(s) = c.schedule.as_ref().filter(|s| s.per() == per) {
        let lr = s.learning_rate(c.base_lr, t);
        c.optimizer.set_learning_rate(lr);
    }
    Ok(())
}

/// Synchronised batch norm runs a collective inside every pass, so every process must have
/// samples in every batch: `batch_size` and the last batch at least the process count.
fn check_slices(samples: usize, batch: usize, processes: usize) -> Result<()> {
    let last = match samples % batch {
        0 => batch.min(samples),
        r => r,
    };
    if last.min(batch) < processes {
        return Err(Error::Input(format!(
            "sync_batch_norm: expected every batch to hold at least one sample per process ({processes}), received batches of {batch} and a last batch of {last} ({samples} samples): change batch_size or the data"
        )));
    }
    Ok(())
}

/// The mean loss of a step over every process (`loss` over `n` samples here), so that every
/// process logs, checks and stops on the same value.
fn reduce_loss(comm: Option<&dyn Communicator>, loss: f32, n: usize) -> f32 {
    let Some(c) = comm else { return loss };
    let mut v = [if n > 0 { loss as f64 * n as f64 } else { 0.0 }, n as f64];
    c.all_reduce_f64(&mut v);
    (v[0] / v[1].max(1.0)) as f32
}

/// Runs one epoch's batches through `step_fn`, calling the batch hooks.
fn train_epoch(
    model: &mut Model,
    (p, opts): (&Prepared, &Fit),
    step_fn: &mut dyn TrainStep,
    hooks: &mut Hooks,
    history: &History,
    (epoch, mut stop): (usize, bool),
) -> Result<EpochRun> {
    let comm = opts.distributed.as_deref();
    let (rank, size) = comm.map_or((0, 1), |c| (c.rank(), c.size()));
    let mut loader = match opts.shuffle {
        true => DataLoader::shuffled(&p.train, opts.batch_size, &mut model.rng),
        false => DataLoader::new(&p.train, opts.batch_size),
    }
    .shard(rank, size);
    // the shuffle is shared, dropout and augmentation draw per process
    let shared_rng = (size > 1).then(|| {
        let shared = model.rng.clone();
        model.rng = rank_rng(&shared, rank);
        shared
    });
    let mut progress = Progress::new(epoch, hooks.epochs, loader.steps(), opts.verbose);
    if opts.tokens_per_sample > 0 {
        progress = progress.with_tokens(p.train.len() * opts.tokens_per_sample);
    }
    let (mut totals, mut penalty_sum) = (model.totals()?, None);
    let mut step = 0;
    while let Some(indices) = loader.next_indices() {
        follow_schedule(model, Per::Step, None)?;
        step += 1;
        // a process whose slice of a short last batch is empty still joins the all-reduce,
        // with no weight
        let run = match indices.is_empty() {
            true => None,
            false => {
                let batch = make_batch(model, p, opts, p.train.batch_all(&indices), &indices)?;
                Some((step_fn.train_step(model, &batch)?, batch))
            }
        };
        let value = match &run {
            Some((out, batch)) => reduce_loss(comm, out.loss, batch.len()),
            None => {
                model.apply_batch_gradients(Default::default(), 0)?;
                reduce_loss(comm, 0.0, 0)
            }
        };
        let asked = hooks.run(model, epoch, history, |c, s| c.on_batch_end(step, value, s))?;
        if !value.is_finite() && !asked {
            return Err(Error::NonFinite { epoch, step, value });
        }
        // a callback (TerminateOnNaN) may end training on a NaN: as in Keras, this batch
        // still counts in the epoch's logs (a NaN loss there), then the epoch ends as usual
        stop |= asked;
        // a loss a million times the first step's (and above 1e6) diverged without reaching
        // NaN: stop rather than save a useless model without a word
        let first = *hooks.first_loss.get_or_insert(value);
        if value.is_finite() && value > DIVERGED * first.abs().max(1.0) {
            return Err(Error::Diverged {
                epoch,
                step,
                value,
                first,
                factor: DIVERGED,
            });
        }
        if let Some((out, batch)) = &run {
            if let Some(pv) = out.penalty {
                *penalty_sum.get_or_insert(0.0) += pv as f64 * batch.len() as f64;
            }
            totals.add_all(out.loss, &out.losses, &out.y_preds, &batch.ys);
        }
        progress.step(step, || totals.logs(""));
        if stop {
            break;
        }
    }
    model.flush_gradients()?; // an epoch's last micro-batches form a smaller step
    if let Some(shared) = shared_rng {
        model.rng = shared; // the next epoch shuffles from the shared stream
    }
    if let Some(c) = comm {
        totals.reduce(c);
        let mut v = [
            penalty_sum.unwrap_or(0.0),
            penalty_sum.is_some() as u8 as f64,
        ];
        c.all_reduce_f64(&mut v);
        penalty_sum = (v[1] > 0.0).then_some(v[0]);
        broadcast_buffers(model, c);
    }
    Ok(EpochRun {
        totals,
        penalty_sum,
        stop,
        progress,
    })
}

/// The loss and metric totals of `model` over `data` (eval mode, in batches).
fn evaluate_totals(model: &Model, data: &Dataset) -> Result<Totals> {
    let c = model.compiled().ok_or(nabla_nn::Error::NotCompiled)?;
    let (losses, loss_weights) = (c.losses.clone(), c.loss_weights.clone());
    let binding = Binding::new(model, data, "evaluation data")?;
    let mut totals = model.totals()?;
    // the weight penalties are part of the loss, as in training (Keras does the same)
    let penalty = nabla_core::no_grad(|| model.regularization())
        .map(|p| p.item())
        .unwrap_or(0.0);
    model.check_batch(EVAL_BATCH.min(data.len()))?;
    let mut loader = DataLoader::new(data, EVAL_BATCH);
    while let Some(batch) = loader.next_all() {
        let (xs, ys) = binding.pick(batch);
        let y_preds = model.forward_eval_multi(&xs);
        let parts = nabla_core::no_grad(|| output_losses(&losses, &y_preds, &ys, None));
        let l = nabla_core::no_grad(|| weighted_sum(&parts, &loss_weights)).item();
        totals.add_all(l + penalty, &part_values(&parts, l), &y_preds, &ys);
    }
    Ok(totals)
}

impl Training for Model {
    fn fit(&mut self, data: &Dataset, mut opts: Fit) -> Result<History> {
        let p = prepare(self, data, &opts)?;
        self.compiled_mut()?.accumulate = opts.accumulate;
        let rank = opts.distributed.as_ref().map_or(0, |c| c.rank());
        if let Some(comm) = opts.distributed.clone() {
            let hooks = &mut self.compiled_mut()?.hooks;
            hooks.retain(|h| !h.collective());
            hooks.push(Box::new(AllReduce::new(comm.clone())));
            broadcast_model(self, comm.as_ref(), 0);
            if opts.sync_batch_norm {
                check_slices(p.train.len(), opts.batch_size, comm.size())?;
                self.compiled_mut()?.sync_batch_norm = Some(comm.clone());
            }
            if rank != 0 {
                (opts.verbose, opts.checkpoint) = (0, None);
            }
        }
        let mut step_fn = opts
            .train_step
            .take()
            .unwrap_or_else(|| Box::new(StandardStep));
        let mut callbacks = std::mem::take(&mut opts.callbacks);
        let mut history = std::mem::take(&mut opts.initial_history);
        crate::resume::restore(&mut callbacks, &opts.callback_states)?;
        let mut hooks = Hooks {
            callbacks: &mut callbacks,
            epochs: opts.epochs,
            rank,
            first_loss: None,
        };
        hooks.run(self, opts.initial_epoch, &history, |c, s| {
            c.on_train_begin(s)
        })?;
        for epoch in opts.initial_epoch + 1..=opts.epochs {
            follow_schedule(self, Per::Epoch, Some(epoch as u64 - 1))?;
            let stop = hooks.run(self, epoch, &history, |c, s| c.on_epoch_begin(s))?;
            let run = train_epoch(
                self,
                (&p, &opts),
                step_fn.as_mut(),
                &mut hooks,
                &history,
                (epoch, stop),
            )?;
            let comm = opts.distributed.as_deref();
            let mut logs = epoch_logs(self, &run.totals, run.penalty_sum, p.val.as_deref(), comm)?;
            let stop = run.stop | hooks.run_epoch_end(self, epoch, &history, &mut logs)?;
            run.progress.finish(&logs);
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
        let c = self.compiled_mut()?;
        c.hooks.retain(|h| !h.collective());
        c.sync_batch_norm = None;
        Ok(history)
    }

    fn evaluate(&self, data: &Dataset) -> Result<Logs> {
        if data.is_empty() {
            Binding::new(self, data, "evaluation data")?;
            return Err(Error::Input(
                "evaluation data: expected at least 1 sample, received 0".into(),
            ));
        }
        Ok(evaluate_totals(self, data)?.logs(""))
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
        self.check_batch(EVAL_BATCH.min(n))?;
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

/// Runs one hook of every callback; returns whether any asked to stop.
struct Hooks<'c, 'a> {
    callbacks: &'c mut Vec<Box<dyn Callback + 'a>>,
    epochs: usize,
    rank: usize,
    /// The loss of this fit's first step (divergence is measured against it).
    first_loss: Option<f32>,
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
            rank: self.rank,
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
