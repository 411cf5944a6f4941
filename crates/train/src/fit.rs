//! `Fit`: the options of `fit` (Keras's keyword arguments), as a builder.

use nabla_data::Dataset;

/// Options of [`Training::fit`](crate::Training::fit).
#[derive(Clone, Debug)]
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
    /// 0 = silent, 1 = progress bar (one line per epoch when stdout is not a terminal),
    /// 2 = one line per epoch.
    pub verbose: u8,
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
            verbose: 1,
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
    /// Sets the verbosity (0, 1 or 2).
    pub fn verbose(mut self, v: u8) -> Self {
        self.verbose = v;
        self
    }
}
