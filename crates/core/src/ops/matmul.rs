//! Matrix products: `matmul`, the fused dense-layer `linear`, and `transpose`.

use super::{record, Op};
use crate::cpu::buffer;
use crate::cpu::layout::transpose;
use crate::cpu::matmul::matmul as gemm;
use crate::cpu::recycle::recycle;
use crate::tensor::Tensor;

/// `(batch, m, k, n)` of `a · b` for `a[.., m, k]` and `b[.., k, n]` or `b[k, n]`;
/// `batch` is 1 when `b` is 2-d (then `a`'s leading axes fold into `m`).
pub(crate) fn matmul_dims(a: &[usize], b: &[usize]) -> (usize, usize, usize, usize) {
    assert!(
        a.len() >= 2 && b.len() >= 2,
        "matmul: operands need at least 2 axes, got {a:?} and {b:?}"
    );
    let k = a[a.len() - 1];
    let n = b[b.len() - 1];
    assert_eq!(
        k,
        b[b.len() - 2],
        "matmul: inner sizes differ, {a:?} · {b:?}"
    );
    if b.len() == 2 {
        let m = a[..a.len() - 1].iter().product();
        (1, m, k, n)
    } else {
        assert_eq!(
            a[..a.len() - 2],
            b[..b.len() - 2],
            "matmul: batch axes differ, {a:?} · {b:?}"
        );
        let batch = a[..a.len() - 2].iter().product();
        (batch, a[a.len() - 2], k, n)
    }
}

impl Tensor {
    /// Matrix product `self[.., m, k] · other[.., k, n]`; `other` may be 2-d, shared by the batch.
    ///
    /// # Shapes
    /// - self: `[.., m, k]`, other: `[.., k, n]` or `[k, n]`
    /// - output: `[.., m, n]`
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        let (batch, m, k, n) = matmul_dims(self.shape(), other.shape());
        let mut out = vec![0.0; batch * m * n];
        let (a, b) = (self.data(), other.data());
        for i in 0..batch {
            let bb = if other.rank() == 2 {
                b
            } else {
                &b[i * k * n..(i + 1) * k * n]
            };
            gemm(
                &mut out[i * m * n..(i + 1) * m * n],
                &a[i * m * k..(i + 1) * m * k],
                bb,
                m,
                k,
                n,
                false,
                false,
                false,
            );
        }
        let mut shape = self.shape().to_vec();
        *shape.last_mut().unwrap() = n;
        record(out, shape, &[self, other], || {
            Op::MatMul(self.clone(), other.clone())
        })
    }

    /// The dense-layer product `self[.., i] · w[i, o] + b[o]` as one GEMM (the bias is
    /// written into the output first and the product accumulated onto it).
    ///
    /// # Shapes
    /// - self: `[.., i]`, w: `[i, o]`, b: `[o]`
    /// - output: `[.., o]`
    pub fn linear(&self, w: &Tensor, b: Option<&Tensor>) -> Tensor {
        assert_eq!(
            w.rank(),
            2,
            "linear: weight must be 2-d, got {:?}",
            w.shape()
        );
        let (_, m, k, n) = matmul_dims(self.shape(), w.shape());
        // The bias, broadcast over the rows, is where the product accumulates.
        let mut out = match b {
            Some(b) => {
                assert_eq!(
                    b.shape(),
                    [n],
                    "linear: bias shape {:?} for {n} units",
                    b.shape()
                );
                buffer::tile(b.data(), m)
            }
            None => crate::cpu::recycle::scratch(m * n), // the product overwrites it
        };
        gemm(
            &mut out,
            self.data(),
            w.data(),
            m,
            k,
            n,
            false,
            false,
            b.is_some(),
        );
        let mut shape = self.shape().to_vec();
        *shape.last_mut().unwrap() = n;
        let mut inputs = vec![self, w];
        if let Some(b) = b {
            inputs.push(b);
        }
        record(out, shape, &inputs, || {
            Op::Linear(self.clone(), w.clone(), b.cloned())
        })
    }

    /// Swaps the last two axes (copies the data).
    pub fn transpose(&self) -> Tensor {
        let r = self.rank();
        assert!(r >= 2, "transpose: needs 2 axes, got {:?}", self.shape());
        let (rows, cols) = (self.shape()[r - 2], self.shape()[r - 1]);
        let out = transpose_last2(self.data(), rows, cols);
        let mut shape = self.shape().to_vec();
        shape.swap(r - 2, r - 1);
        record(out, shape, &[self], || Op::Transpose(self.clone()))
    }
}

/// Transposes each `[rows, cols]` matrix of `x` (`cpu::layout::transpose`).
pub(crate) fn transpose_last2(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let n = rows * cols;
    if x.len() == n {
        return transpose(x, rows, cols);
    }
    let mut out = Vec::with_capacity(x.len());
    for m in x.chunks_exact(n) {
        let t = transpose(m, rows, cols);
        out.extend_from_slice(&t);
        recycle(t);
    }
    out
}
