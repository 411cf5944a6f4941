//! `TrainStep`: one batch's forward pass, loss, backward pass and update (Keras's
//! `train_step`). `fit` calls it for every batch; give your own with `Fit::train_step` for
//! custom training logic (the standard one is [`StandardStep`]). The gradients go through
//! `Model::apply_batch_gradients`: accumulation, clipping, the gradient hooks, the optimiser.

use crate::error::Result;
use nabla_core::Tensor;
use nabla_nn::{LossSpec, Model};

/// One batch, in the model's input and output order.
pub struct Batch {
    /// One tensor per model input, `[b, ..shape]`.
    pub xs: Vec<Tensor>,
    /// One target tensor per model output.
    pub ys: Vec<Tensor>,
    /// Each sample's weight in the loss (`sample_weight` × `class_weight`), if any.
    pub weights: Option<Tensor>,
}

impl Batch {
    /// Samples in the batch.
    pub fn len(&self) -> usize {
        self.xs[0].shape()[0]
    }

    /// Whether the batch holds no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a step reports for the logs.
pub struct StepLogs {
    /// The loss minimised (outputs' weighted losses plus the regularisation penalty).
    pub loss: f32,
    /// Each output's loss (the total for a one-output model).
    pub losses: Vec<f32>,
    /// The outputs of the forward pass (no graph), for the metrics.
    pub y_preds: Vec<Tensor>,
    /// The regularisation penalty in `loss`, if the model has one.
    pub penalty: Option<f32>,
}

/// Keras's `train_step`.
pub trait TrainStep {
    /// Trains on one batch. A step whose loss is not finite must not update the model: `fit`
    /// then stops with an error naming the epoch and step (or `TerminateOnNaN` ends it).
    fn train_step(&mut self, model: &mut Model, batch: &Batch) -> Result<StepLogs>;
}

/// The standard step: forward in training mode, Σ weight · loss of each output + penalties,
/// backward, then `apply_batch_gradients`.
pub struct StandardStep;

impl TrainStep for StandardStep {
    fn train_step(&mut self, model: &mut Model, batch: &Batch) -> Result<StepLogs> {
        let (losses, loss_weights) = {
            let c = model.compiled_mut()?;
            (c.losses.clone(), c.loss_weights.clone())
        };
        let (y_preds, penalty) = model.forward_train_multi(&batch.xs);
        let parts = output_losses(&losses, &y_preds, &batch.ys, batch.weights.as_ref());
        let mut l = weighted_sum(&parts, &loss_weights);
        let penalty_value = penalty.as_ref().map(|p| p.item());
        if let Some(p) = &penalty {
            l = l.add(p);
        }
        let loss = l.item();
        let logs = StepLogs {
            loss,
            losses: part_values(&parts, loss),
            y_preds: y_preds.iter().map(Tensor::detach).collect(),
            penalty: penalty_value,
        };
        // with a collective hook every process joins every all-reduce; the NaN reaches all of
        // them and no weight changes
        if loss.is_finite() || model.is_collective() {
            let grads = l.backward();
            drop((l, parts, y_preds, penalty)); // free the graph so weights update in place
            model.apply_batch_gradients(grads, batch.len())?;
        }
        Ok(logs)
    }
}

/// Each output's loss, weighted per sample when `weights` are given.
pub(crate) fn output_losses(
    losses: &[LossSpec],
    y_preds: &[Tensor],
    ys: &[Tensor],
    weights: Option<&Tensor>,
) -> Vec<Tensor> {
    (0..losses.len())
        .map(|o| match weights {
            None => losses[o].compute(&y_preds[o], &ys[o]),
            Some(w) => losses[o].compute_weighted(&y_preds[o], &ys[o], w),
        })
        .collect()
}

/// `Σ w_o · loss_o` (the one loss itself when there is one output of weight 1).
pub(crate) fn weighted_sum(parts: &[Tensor], weights: &[f32]) -> Tensor {
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
pub(crate) fn part_values(parts: &[Tensor], total: f32) -> Vec<f32> {
    if parts.len() == 1 {
        return vec![total];
    }
    parts.iter().map(|p| p.item()).collect()
}
