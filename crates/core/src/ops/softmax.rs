//! Softmax family over the last axis, and the negative log-likelihood of class targets.

use super::{record, Op};
use crate::cpu::{index, softmax};
use crate::tensor::Tensor;
use std::sync::Arc;

fn last_dim(t: &Tensor, op: &str) -> usize {
    *t.shape()
        .last()
        .unwrap_or_else(|| panic!("{op}: needs at least 1 axis, got a scalar"))
}

impl Tensor {
    /// `softmax` over the last axis.
    pub fn softmax(&self) -> Tensor {
        let n = last_dim(self, "softmax");
        let out = softmax::softmax(self.data(), n);
        let t = record(out, self.shape().to_vec(), &[self], || {
            Op::Softmax(self.clone())
        });
        if t.has_op() {
            return t;
        }
        // Remember the logits even when nothing is recorded, so a cross-entropy loss can
        // always work from them (see `softmax_input`); the node stays out of backward.
        let mut node = std::sync::Arc::try_unwrap(t.0).unwrap_or_else(|_| unreachable!());
        node.op = Some(Op::Softmax(self.clone()));
        Tensor(std::sync::Arc::new(node))
    }

    /// `log_softmax` over the last axis (stable: never takes the log of a rounded-off 0).
    pub fn log_softmax(&self) -> Tensor {
        let n = last_dim(self, "log_softmax");
        let out = softmax::log_softmax(self.data(), n);
        record(out, self.shape().to_vec(), &[self], || {
            Op::LogSoftmax(self.clone())
        })
    }

    /// If this tensor was made by [`Tensor::softmax`], the logits it came from (Keras does the
    /// same: a cross-entropy on softmax outputs is computed from the logits, stably).
    pub fn softmax_input(&self) -> Option<&Tensor> {
        match &self.node().op {
            Some(Op::Softmax(x)) => Some(x),
            _ => None,
        }
    }

    /// Mean negative log-likelihood `-(1/B) Σ_b self[b, t_b]` of log-probabilities
    /// `self[B, C]` for class targets `t`.
    pub fn nll(&self, targets: &[usize]) -> Tensor {
        self.pick(targets).mean().neg()
    }

    /// `y[b] = self[b, idx[b]]`: one element of each row of a `[B, C]` tensor. Panics on an
    /// index `>= C` (callers validate labels first).
    pub fn pick(&self, idx: &[usize]) -> Tensor {
        assert_eq!(
            self.rank(),
            2,
            "pick: needs [rows, columns], got {:?}",
            self.shape()
        );
        let (b, c) = (self.shape()[0], self.shape()[1]);
        assert_eq!(idx.len(), b, "pick: {} indices for {b} rows", idx.len());
        if let Some(&i) = idx.iter().find(|&&i| i >= c) {
            panic!("pick: index {i} out of range for {c} columns");
        }
        let out = index::pick_rows(self.data(), idx, c);
        let idx = Arc::new(idx.to_vec());
        record(out, vec![b], &[self], || Op::Pick(self.clone(), idx))
    }
}
