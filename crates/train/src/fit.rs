//! `Fit`: the options of `fit` (Keras's keyword arguments), as a builder.

use crate::callback::Callback;
use crate::history::History;
use nabla_data::Dataset;

/// Options of [`Training::fit`](crate::Training::fit).
pub struct Fit<'a> {
    /// Passes over the training data (default 1).
    pub epochs: usize,
    /// Samples per step (default 32).
    pub batch_size: usize,
    /// Reshuffle the training data every epoch (default true).
    pub shuffle: bool,
    /// Fraction of the training data, taken from its end before shuffling, held out for
    /// validation (default 0).
    pub validation_split: f32,
    /// Data to validate on after each epoch (instead of a split).
    pub validation_data: Option<&'a Dataset>,
    /// Weight of each training sample in the loss (Keras's `sample_weight`).
    pub sample_weight: Option<&'a [f32]>,
    /// Weight of each class, indexed by class (Keras's `class_weight`).
    pub class_weight: Option<Vec<f32>>,
    /// Hooks run during training.
    pub callbacks: Vec<Box<dyn Callback + 'a>>,
    /// Epochs already done (resume): training runs epochs `initial_epoch + 1 ..= epochs`.
    pub initial_epoch: usize,
    /// History of the epochs already done (resume), continued by this fit.
    pub initial_history: History,
    /// States to restore into the callbacks, in order (resume).
    pub callback_states: Vec<crate::resume::SavedCallback>,
    /// Write a training checkpoint here after every epoch (atomically).
    pub checkpoint: Option<std::path::PathBuf>,
    /// 0 = silent, 1 = progress bar (one line per epoch when stdout is not a terminal),
    /// 2 = one line per epoch.
    pub verbose: u8,
    /// Random transforms applied to every training batch (never to validation data).
    pub augment: Option<nabla_data::Pipeline>,
    /// Micro-batches per optimiser step (default 1): gradients of `accumulate` batches are
    /// averaged (weighted by their sizes) before one update, an effective batch of
    /// `accumulate · batch_size` in the memory of one batch.
    pub accumulate: usize,
    /// Tokens per sample when samples are token sequences (0: not; then no tokens/s).
    pub tokens_per_sample: usize,
    /// The step run on every batch (default: [`StandardStep`](crate::train_step::StandardStep)).
    pub train_step: Option<Box<dyn crate::train_step::TrainStep + 'a>>,
    /// Data-parallel training with the other processes of this communicator (see
    /// [`distributed`](crate::distributed)).
    pub distributed: Option<std::sync::Arc<dyn crate::distributed::Communicator>>,
    /// In data-parallel training, batch norm's statistics over the global batch rather than
    /// each process's slice (PyTorch's `SyncBatchNorm`; default false).
    pub sync_batch_norm: bool,
}

impl Default for Fit<'_> {
    fn default() -> Self {
        Fit {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            validation_split: 0.0,
            validation_data: None,
            sample_weight: None,
            class_weight: None,
            callbacks: Vec::new(),
            initial_epoch: 0,
            initial_history: History::default(),
            callback_states: Vec::new(),
            checkpoint: None,
            verbose: 1,
            augment: None,
            accumulate: 1,
            tokens_per_sample: 0,
            train_step: None,
            distributed: None,
            sync_batch_norm: false,
        }
    }
}

impl<'a> Fit<'a> {
    /// Keras's defaults: 1 epoch, batch 32, shuffled, verbose.
    pub fn new() -> Fit<'a> {
        Fit::default()
    }
    /// Sets the number of epochs.
    pub fn epochs(mut self, n: usize) -> Self {
        self.epochs = n;
        self
    }
    /// Sets the batch size.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    /// Turns per-epoch shuffling on or off.
    pub fn shuffle(mut self, on: bool) -> Self {
        self.shuffle = on;
        self
    }
    /// Holds out the last `fraction` of the training data for validation.
    pub fn validation_split(mut self, fraction: f32) -> Self {
        self.validation_split = fraction;
        self
    }
    /// Validates on `data` after each epoch.
    pub fn validation_data(mut self, data: &'a Dataset) -> Self {
        self.validation_data = Some(data);
        self
    }
    /// Weighs each sample's loss (one weight per training sample; with `validation_split`
    /// the weights of the held-out samples are dropped with them).
    pub fn sample_weight(mut self, w: &'a [f32]) -> Self {
        self.sample_weight = Some(w);
        self
    }
    /// Weighs each sample's loss by its class's weight (`w[class]`).
    pub fn class_weight(mut self, w: &[f32]) -> Self {
        self.class_weight = Some(w.to_vec());
        self
    }
    /// Adds a callback.
    pub fn callback(mut self, c: impl Callback + 'a) -> Self {
        self.callbacks.push(Box::new(c));
        self
    }
    /// Adds a boxed callback.
    pub fn callback_boxed(mut self, c: Box<dyn Callback + 'a>) -> Self {
        self.callbacks.push(c);
        self
    }
    /// Starts after `epoch` epochs (resuming), continuing `history`.
    pub fn initial_epoch(mut self, epoch: usize, history: History) -> Self {
        self.initial_epoch = epoch;
        self.initial_history = history;
        self
    }
    /// Continues a checkpointed run (see [`crate::resume`]); give the same callbacks, in the
    /// same order, as the original run.
    pub fn resume(mut self, r: crate::Resume) -> Self {
        self.initial_epoch = r.epoch;
        self.initial_history = r.history;
        self.callback_states = r.callbacks;
        self
    }
    /// Writes a training checkpoint to `path` after every epoch.
    pub fn checkpoint(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.checkpoint = Some(path.into());
        self
    }
    /// Sets the verbosity (0, 1 or 2).
    pub fn verbose(mut self, v: u8) -> Self {
        self.verbose = v;
        self
    }
    /// Samples are sequences of `n` tokens: the epoch line reports tokens/s.
    pub fn tokens_per_sample(mut self, n: usize) -> Self {
        self.tokens_per_sample = n;
        self
    }
    /// Runs `step` on every batch instead of the standard step (Keras's overridden
    /// `train_step`).
    pub fn train_step(mut self, step: impl crate::train_step::TrainStep + 'a) -> Self {
        self.train_step = Some(Box::new(step));
        self
    }
    /// Sets the micro-batches per optimiser step (gradient accumulation).
    pub fn accumulate(mut self, micro_batches: usize) -> Self {
        self.accumulate = micro_batches;
        self
    }
    /// Augments every training batch with `pipeline` (drawing from the model's generator,
    /// so a seed gives the same augmented batches).
    pub fn augment(mut self, pipeline: nabla_data::Pipeline) -> Self {
        self.augment = Some(pipeline);
        self
    }

    /// Trains data-parallel with the processes of `comm` (e.g. `nabla_dist::MpiWorld`): each
    /// takes its slice of every global batch of `batch_size` samples, gradients are averaged
    /// with an all-reduce before every step, and losses, metrics and validation are reduced
    /// across processes. Every process calls `fit` with the same model, data and options;
    /// rank 0 alone prints and writes the checkpoint.
    pub fn distributed(
        mut self,
        comm: std::sync::Arc<dyn crate::distributed::Communicator>,
    ) -> Self {
        self.distributed = Some(comm);
        self
    }

    /// Synchronised batch norm in data-parallel training (see [`Fit::sync_batch_norm`]
    /// field): needs every process's slice of every batch non-empty.
    pub fn sync_batch_norm(mut self, on: bool) -> Self {
        self.sync_batch_norm = on;
        self
    }
}
