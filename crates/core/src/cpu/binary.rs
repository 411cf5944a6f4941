//! Element-wise binary ops with NumPy broadcasting, and `sum_to`, the reduction that undoes a
//! broadcast in the backward pass.
//!
//! Broadcasting aligns shapes on the right; a dimension of 1 (or a missing one) repeats.

use super::buffer::{self, map2};
use super::recycle::{recycle, scratch};

/// An element-wise binary function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
    /// `max(a, b)`
    Max,
    /// `min(a, b)`
    Min,
}

impl BinaryOp {
    #[inline]
    fn f(self, a: f32, b: f32) -> f32 {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Max => a.max(b),
            BinaryOp::Min => a.min(b),
        }
    }
}

/// The broadcast shape of `a` and `b`, or `None` if they are incompatible.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i < rank - a.len() {
            1
        } else {
            a[i - (rank - a.len())]
        };
        let db = if i < rank - b.len() {
            1
        } else {
            b[i - (rank - b.len())]
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return None;
        };
    }
    Some(out)
}

/// Strides of `shape` seen inside `out` (right-aligned), 0 where the dimension is broadcast.
fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; out.len()];
    let mut s = 1;
    for i in (0..shape.len()).rev() {
        let oi = i + out.len() - shape.len();
        strides[oi] = if shape[i] == 1 && out[oi] != 1 { 0 } else { s };
        s *= shape[i];
    }
    strides
}

/// Calls `f(out_offset, in_offset, inner_len, inner_stride)` for each row of `out`
/// (the last dimension), where `in_offset` is the matching position in the input.
fn for_each_row(out: &[usize], shape: &[usize], mut f: impl FnMut(usize, usize, usize, usize)) {
    let strides = broadcast_strides(shape, out);
    let rank = out.len();
    if rank == 0 {
        f(0, 0, 1, 0);
        return;
    }
    let inner = out[rank - 1];
    let inner_stride = strides[rank - 1];
    let rows: usize = out[..rank - 1].iter().product();
    let mut idx = vec![0usize; rank - 1];
    let mut in_off = 0usize;
    for r in 0..rows {
        f(r * inner, in_off, inner, inner_stride);
        // advance the multi-index over the outer dimensions
        for d in (0..rank - 1).rev() {
            idx[d] += 1;
            in_off += strides[d];
            if idx[d] < out[d] {
                break;
            }
            in_off -= strides[d] * out[d];
            idx[d] = 0;
        }
    }
}

/// Expands `x` of `shape` to `out` by broadcasting.
pub fn expand(x: &[f32], shape: &[usize], out: &[usize]) -> Vec<f32> {
    let mut y = scratch(out.iter().product()); // every row is written
    for_each_row(out, shape, |o, i, n, s| {
        if s == 0 {
            y[o..o + n].fill(x[i]);
        } else {
            y[o..o + n].copy_from_slice(&x[i..i + n]);
        }
    });
    y
}

/// `out = a ∘ b`, broadcasting both to `out_shape`.
pub fn forward(
    op: BinaryOp,
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
    out_shape: &[usize],
) -> Vec<f32> {
    if a_shape == b_shape {
        return match op {
            BinaryOp::Add => map2(a, b, |x, y| x + y),
            BinaryOp::Sub => map2(a, b, |x, y| x - y),
            BinaryOp::Mul => map2(a, b, |x, y| x * y),
            BinaryOp::Div => map2(a, b, |x, y| x / y),
            BinaryOp::Max => map2(a, b, f32::max),
            BinaryOp::Min => map2(a, b, f32::min),
        };
    }
    let a_full = (a_shape != out_shape).then(|| expand(a, a_shape, out_shape));
    let a = a_full.as_deref().unwrap_or(a);
    let mut out = scratch(a.len()); // every row is written
    for_each_row(out_shape, b_shape, |o, i, n, s| {
        let (dst, src) = (&mut out[o..o + n], &a[o..o + n]);
        if s == 0 {
            let bv = b[i];
            for (d, &x) in dst.iter_mut().zip(src) {
                *d = op.f(x, bv);
            }
        } else {
            for ((d, &x), &y) in dst.iter_mut().zip(src).zip(&b[i..i + n]) {
                *d = op.f(x, y);
            }
        }
    });
    if let Some(v) = a_full {
        recycle(v);
    }
    out
}

/// [`sum_to`] of an owned gradient: `g` itself when no axis is summed (no copy).
pub fn sum_to_owned(g: Vec<f32>, g_shape: &[usize], shape: &[usize]) -> Vec<f32> {
    if g_shape == shape {
        return g;
    }
    let out = sum_to(&g, g_shape, shape);
    recycle(g);
    out
}

/// Sums `g` (of `g_shape`) down to `shape`, the inverse of broadcasting `shape` up to `g_shape`.
pub fn sum_to(g: &[f32], g_shape: &[usize], shape: &[usize]) -> Vec<f32> {
    if g_shape == shape {
        return buffer::copy(g);
    }
    let mut out = vec![0.0; shape.iter().product()];
    for_each_row(g_shape, shape, |o, i, n, s| {
        if s == 0 {
            out[i] += g[o..o + n].iter().sum::<f32>();
        } else {
            for (d, &x) in out[i..i + n].iter_mut().zip(&g[o..o + n]) {
                *d += x;
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_shapes() {
        assert_eq!(broadcast_shape(&[2, 3], &[3]), Some(vec![2, 3]));
        assert_eq!(broadcast_shape(&[2, 1], &[1, 4]), Some(vec![2, 4]));
        assert_eq!(broadcast_shape(&[2, 3], &[2]), None);
    }

    #[test]
    fn add_row_and_column_vectors() {
        let a = [1.0, 2.0]; // [2, 1]
        let b = [10.0, 20.0, 30.0]; // [3]
        let out = forward(BinaryOp::Add, &a, &[2, 1], &b, &[3], &[2, 3]);
        assert_eq!(out, vec![11.0, 21.0, 31.0, 12.0, 22.0, 32.0]);
        assert_eq!(sum_to(&out, &[2, 3], &[3]), vec![23.0, 43.0, 63.0]);
        assert_eq!(sum_to(&out, &[2, 3], &[2, 1]), vec![63.0, 66.0]);
        assert_eq!(sum_to(&out, &[2, 3], &[]), vec![129.0]);
    }
}
