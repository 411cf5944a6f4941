//! `concat`: tensors joined along one axis (the bidirectional halves of a recurrent layer,
//! Keras's `Concatenate`). The gradient of each input is its slice of the output's.

use super::{record_tensor, Op};
use crate::tensor::Tensor;

/// `(outer, [inner of each part])`: the shape cut at `axis` into the blocks that are copied.
fn blocks(parts: &[Tensor], axis: usize) -> (usize, Vec<usize>) {
    let s = parts[0].shape();
    let outer = s[..axis].iter().product();
    let tail: usize = s[axis + 1..].iter().product();
    (
        outer,
        parts.iter().map(|p| p.shape()[axis] * tail).collect(),
    )
}

impl Tensor {
    /// Joins `parts` along `axis`; all other axes must agree.
    ///
    /// # Shapes
    /// - parts `[.., n_i, ..]` → output `[.., Σ n_i, ..]`
    pub fn concat(parts: &[&Tensor], axis: usize) -> Tensor {
        let first = parts.first().expect("concat: needs at least one tensor");
        let s = first.shape();
        let fits = axis < s.len()
            && parts.iter().all(|p| {
                p.rank() == s.len() && (0..s.len()).all(|i| i == axis || p.shape()[i] == s[i])
            });
        assert!(
            fits,
            "concat: shapes {:?} do not agree off axis {axis}",
            parts.iter().map(|p| p.shape().to_vec()).collect::<Vec<_>>()
        );
        let owned: Vec<Tensor> = parts.iter().map(|&p| p.clone()).collect();
        let (outer, inner) = blocks(&owned, axis);
        let width: usize = inner.iter().sum();
        let mut y = Vec::with_capacity(outer * width);
        for o in 0..outer {
            for (p, &n) in owned.iter().zip(&inner) {
                y.extend_from_slice(&p.data()[o * n..(o + 1) * n]);
            }
        }
        let mut shape = s.to_vec();
        shape[axis] = owned.iter().map(|p| p.shape()[axis]).sum();
        let out = Tensor::leaf(y, shape, false);
        record_tensor(out, parts, || Op::Concat(owned.clone(), axis))
    }
}

/// The gradient of each part: its blocks of `g`.
pub(crate) fn concat_backward(parts: &[Tensor], axis: usize, g: &[f32]) -> Vec<Vec<f32>> {
    let (outer, inner) = blocks(parts, axis);
    let width: usize = inner.iter().sum();
    let mut start = 0;
    inner
        .iter()
        .map(|&n| {
            let d = (0..outer)
                .flat_map(|o| &g[o * width + start..o * width + start + n])
                .copied()
                .collect();
            start += n;
            d
        })
        .collect()
}
