//! Reductions: `sum`, `mean`, `sum_axis`, `mean_axis`.

use super::{record, Op};
use crate::cpu::reduce::sum_axis;
use crate::tensor::Tensor;

impl Tensor {
    /// Sum of all elements (a 0-d tensor).
    pub fn sum(&self) -> Tensor {
        let s: f64 = self.data().iter().map(|&v| v as f64).sum();
        record(vec![s as f32], vec![], &[self], || Op::SumAll(self.clone()))
    }

    /// Mean of all elements (a 0-d tensor).
    pub fn mean(&self) -> Tensor {
        self.sum().scale(1.0 / self.numel().max(1) as f32)
    }

    /// Sum over `axis`, which is removed from the shape.
    pub fn sum_axis(&self, axis: usize) -> Tensor {
        let shape = self.shape();
        assert!(
            axis < shape.len(),
            "sum_axis: axis {axis} out of range for {shape:?}"
        );
        let outer = shape[..axis].iter().product();
        let inner = shape[axis + 1..].iter().product();
        let out = sum_axis(self.data(), outer, shape[axis], inner);
        let mut new_shape = shape.to_vec();
        new_shape.remove(axis);
        record(out, new_shape, &[self], || Op::SumAxis(self.clone(), axis))
    }

    /// Mean over `axis`, which is removed from the shape.
    pub fn mean_axis(&self, axis: usize) -> Tensor {
        let n = self.shape()[axis].max(1);
        self.sum_axis(axis).scale(1.0 / n as f32)
    }
}
