//! Shape changes that keep the data: `reshape`, `flatten`.

use super::{record_tensor, Op};
use crate::tensor::Tensor;

impl Tensor {
    /// The same values seen with a new shape of the same size.
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        assert_eq!(
            n,
            self.numel(),
            "reshape: cannot view {:?} as {shape:?}",
            self.shape()
        );
        record_tensor(self.view_as(shape.to_vec()), &[self], || {
            Op::Reshape(self.clone())
        })
    }

    /// Keeps the first axis and flattens the rest: `[b, ..] -> [b, Π ..]`.
    pub fn flatten(&self) -> Tensor {
        let b = self.shape().first().copied().unwrap_or(1);
        let rest = self.numel() / b.max(1);
        self.reshape(&[b, rest])
    }
}
