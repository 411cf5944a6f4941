//! Normalisation over the last axis: `layer_norm` and `rms_norm` (kernel in
//! `cpu/layer_norm.rs`).

use super::{record, Op};
use crate::cpu::layer_norm;
use crate::tensor::Tensor;
use std::sync::Arc;

impl Tensor {
    /// Layer normalisation over the last axis: `y = γ (x - μ) / sqrt(σ² + ε) + β` with each
    /// row's mean and biased variance.
    ///
    /// # Shapes
    /// - `self [.., D]`, `gamma [D]`, `beta [D]`; output like `self`
    pub fn layer_norm(&self, gamma: &Tensor, beta: &Tensor, eps: f32) -> Tensor {
        self.norm_last(gamma, Some(beta), eps, true)
    }

    /// RMS normalisation over the last axis: `y = γ x / sqrt(mean(x²) + ε)`.
    ///
    /// # Shapes
    /// - `self [.., D]`, `gamma [D]`; output like `self`
    pub fn rms_norm(&self, gamma: &Tensor, eps: f32) -> Tensor {
        self.norm_last(gamma, None, eps, false)
    }

    fn norm_last(&self, gamma: &Tensor, beta: Option<&Tensor>, eps: f32, center: bool) -> Tensor {
        let d = *self
            .shape()
            .last()
            .expect("layer_norm: needs at least one axis");
        assert!(
            gamma.shape() == [d] && beta.is_none_or(|b| b.shape() == [d]),
            "layer_norm: γ {:?} and β {:?} for the last axis of {:?}",
            gamma.shape(),
            beta.map(|b| b.shape().to_vec()),
            self.shape()
        );
        let (y, mean, r) = layer_norm::forward(
            self.data(),
            d,
            gamma.data(),
            beta.map(|b| b.data()),
            eps,
            center,
        );
        let mut inputs = vec![self, gamma];
        if let Some(b) = beta {
            inputs.push(b);
        }
        record(y, self.shape().to_vec(), &inputs, || {
            Op::Norm(
                self.clone(),
                gamma.clone(),
                beta.cloned(),
                Arc::new((mean, r)),
            )
        })
    }

    /// Rows of `self [V, D]` (a table) picked by `indices`: output `[.., D]` with the
    /// indices' shape `idx_shape` in front. Indices equal to `padding` send no gradient, so
    /// that row keeps its value (zeros, as the layer initialises it: PyTorch's `padding_idx`).
    ///
    /// # Panics
    /// If an index is not below `V` (layers check their input first).
    pub fn embedding(
        &self,
        indices: &[usize],
        idx_shape: &[usize],
        padding: Option<usize>,
    ) -> Tensor {
        let [v, d] = *self.shape() else {
            panic!(
                "embedding: the table must be [vocabulary, dim], got {:?}",
                self.shape()
            )
        };
        let table = self.data();
        let mut y = crate::cpu::recycle::scratch(indices.len() * d); // every row is written
        for (row, &i) in y.chunks_mut(d).zip(indices) {
            assert!(i < v, "embedding: index {i} outside the table of {v} rows");
            row.copy_from_slice(&table[i * d..(i + 1) * d]);
        }
        let shape: Vec<usize> = idx_shape.iter().copied().chain([d]).collect();
        let idx = Arc::new((indices.to_vec(), padding));
        record(y, shape, &[self], || Op::Embedding(self.clone(), idx))
    }
}
