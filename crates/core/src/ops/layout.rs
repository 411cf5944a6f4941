//! Ops that move data between shapes: `permute`, `pad` (zeros) and `narrow` (a slice along
//! one axis). Kernels in `cpu/layout.rs`.

use super::{record, Op};
use crate::cpu::layout;
use crate::tensor::Tensor;

impl Tensor {
    /// Reorders the axes: output axis `i` is input axis `axes[i]` (copies the data).
    ///
    /// # Shapes
    /// - output: `[shape[axes[0]], .., shape[axes[r-1]]]`
    pub fn permute(&self, axes: &[usize]) -> Tensor {
        let r = self.rank();
        let mut seen = vec![false; r];
        let ok = axes.len() == r
            && axes
                .iter()
                .all(|&a| a < r && !std::mem::replace(&mut seen[a], true));
        assert!(
            ok,
            "permute: axes {axes:?} are not a permutation of 0..{r} for shape {:?}",
            self.shape()
        );
        let y = layout::permute(self.data(), self.shape(), axes);
        let shape = axes.iter().map(|&a| self.shape()[a]).collect();
        record(y, shape, &[self], || {
            Op::Permute(self.clone(), axes.to_vec())
        })
    }

    /// Zero padding: `pads[i] = (before, after)` zeros around axis `i`.
    ///
    /// # Shapes
    /// - output: `[shape[i] + before[i] + after[i]]`
    pub fn pad(&self, pads: &[(usize, usize)]) -> Tensor {
        assert_eq!(
            pads.len(),
            self.rank(),
            "pad: {} (before, after) pairs for shape {:?}",
            pads.len(),
            self.shape()
        );
        let y = layout::pad(self.data(), self.shape(), pads);
        let shape = self
            .shape()
            .iter()
            .zip(pads)
            .map(|(n, (b, a))| n + b + a)
            .collect();
        record(y, shape, &[self], || Op::Pad(self.clone(), pads.to_vec()))
    }

    /// The slice `start..start + len` along `axis` (copies the data).
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Tensor {
        assert!(
            axis < self.rank() && start + len <= self.shape()[axis],
            "narrow: {start}..{} along axis {axis} of shape {:?}",
            start + len,
            self.shape()
        );
        let mut shape = self.shape().to_vec();
        shape[axis] = len;
        let pads: Vec<(usize, usize)> = (0..self.rank())
            .map(|i| {
                if i == axis {
                    (start, self.shape()[i] - start - len)
                } else {
                    (0, 0)
                }
            })
            .collect();
        let y = layout::unpad(self.data(), &shape, &pads);
        record(y, shape, &[self], || Op::Narrow(self.clone(), pads))
    }
}
