//! Incremental decoding with a key/value cache: after the prompt, each new token runs through
//! the model as a sequence of one position, and attention layers look at the keys and values
//! they kept from earlier positions instead of recomputing them (the cost of a token is one
//! step, not a whole window).
//!
//! A layer takes part through [`Layer::decode`](crate::Layer::decode): position-wise layers
//! (dense, layer norm, embedding, activations, dropout in evaluation) run as in `forward`;
//! `positional_embedding` adds the rows of the absolute positions; `multi_head_attention` and
//! `transformer_block` append to their [`DecodeState`]. A model with any other layer
//! decodes by rerunning its window ([`Model::decode`] returns `None`).

use crate::layer::{Ctx, Layer};
use crate::model::Model;
use nabla_core::{no_grad, Rng, Tensor};

/// What one layer keeps between decoding steps.
#[derive(Default, Debug, Clone)]
pub struct DecodeState {
    /// Keys of every position so far, `[batch, positions, features]` (attention).
    pub keys: Option<Tensor>,
    /// Values of every position so far (attention).
    pub values: Option<Tensor>,
    /// The states of a composite layer's parts (a transformer block's attention).
    pub parts: Vec<DecodeState>,
}

impl DecodeState {
    /// Appends `k`, `v` `[batch, n, features]` and returns all keys and values so far.
    pub fn append(&mut self, k: Tensor, v: Tensor) -> (Tensor, Tensor) {
        let join = |old: &Option<Tensor>, new: Tensor| match old {
            Some(o) => Tensor::concat(&[o, &new], 1),
            None => new,
        };
        let (k, v) = (join(&self.keys, k), join(&self.values, v));
        self.keys = Some(k.clone());
        self.values = Some(v.clone());
        (k, v)
    }

    /// Positions held.
    pub fn len(&self) -> usize {
        self.keys.as_ref().map_or(0, |k| k.shape()[1])
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The evaluation-mode forward of a position-wise layer, for its `decode`.
pub(crate) fn position_wise(layer: &dyn Layer, x: &Tensor) -> Tensor {
    let mut rng = Rng::new(0);
    layer.forward(x, &mut Ctx::new(false, &mut rng))
}

impl Model {
    /// Runs new positions `x [batch, n]` (starting at absolute position `start`) through the
    /// model with the per-layer caches in `states` (one per layer; pass empty states for the
    /// first call). `None` when a layer cannot decode incrementally or the position is past
    /// what the model was built for.
    pub fn decode(
        &self,
        x: &Tensor,
        start: usize,
        states: &mut Vec<DecodeState>,
    ) -> Option<Tensor> {
        if !self.graph().is_chain() {
            return None; // caches are kept per layer of a chain
        }
        states.resize_with(self.layers().len(), DecodeState::default);
        no_grad(|| {
            let mut h = x.clone();
            for (l, s) in self.layers().iter().zip(states.iter_mut()) {
                h = l.decode(&h, start, s)?;
            }
            Some(h)
        })
    }
}
