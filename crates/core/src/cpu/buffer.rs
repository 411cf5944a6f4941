//! New f32 buffers written by the worker threads: zeros, copies, tiled rows, element-wise
//! maps. A serial `vec![0.0; n]` or `to_vec()` of a transformer's activations (megabytes
//! each) leaves the other core idle, and a step makes dozens of them, so large buffers are
//! filled in parallel, into memory from the buffer cache ([`super::recycle`]).

use super::recycle::scratch;
use super::threads::share;
use rayon::prelude::*;

/// Below this many elements a buffer is filled on the calling thread (a task costs a few µs).
const PARALLEL_MIN: usize = 1 << 16;

/// A vector of `len` elements whose chunks — each a multiple of `align` elements long and
/// starting at `start` — are filled by `fill(start, chunk)`, which must write every element.
pub(crate) fn build(len: usize, align: usize, fill: impl Fn(usize, &mut [f32]) + Sync) -> Vec<f32> {
    let mut v = scratch(len);
    for_chunks(&mut v, align, fill);
    v
}

/// `f(start, chunk)` for chunks of `v` (each a multiple of `align` elements, one per worker
/// when `v` is large, else one).
pub(crate) fn for_chunks(v: &mut [f32], align: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    match share(v.len(), PARALLEL_MIN, align * 16) {
        Some(chunk) => v
            .par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i * chunk, c)),
        None => f(0, v),
    }
}

/// `len` zeros.
pub fn zeros(len: usize) -> Vec<f32> {
    if len < PARALLEL_MIN {
        return vec![0.0; len];
    }
    build(len, 1, |_, c| c.fill(0.0))
}

/// A copy of `x`.
pub fn copy(x: &[f32]) -> Vec<f32> {
    if x.len() < PARALLEL_MIN {
        return x.to_vec();
    }
    build(x.len(), 1, |s, c| c.copy_from_slice(&x[s..s + c.len()]))
}

/// `row` repeated `times` times (a bias broadcast over the rows of a product).
pub fn tile(row: &[f32], times: usize) -> Vec<f32> {
    let n = row.len();
    if n == 0 || times == 0 {
        return Vec::new();
    }
    build(n * times, n, |_, c| {
        c.chunks_mut(n).for_each(|dst| dst.copy_from_slice(row))
    })
}

/// `f(a[i], b[i])` for every `i`.
pub fn map2(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    assert_eq!(a.len(), b.len(), "map2: lengths differ");
    build(a.len(), 1, |s, c| {
        for ((d, &x), &y) in c.iter_mut().zip(&a[s..]).zip(&b[s..]) {
            *d = f(x, y);
        }
    })
}

/// `acc[i] += g[i]`, split over the worker threads when large.
pub fn add_assign(acc: &mut [f32], g: &[f32]) {
    assert_eq!(acc.len(), g.len(), "add_assign: lengths differ");
    let add = |a: &mut [f32], b: &[f32]| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
    match share(acc.len(), PARALLEL_MIN, 16) {
        Some(chunk) => acc
            .par_chunks_mut(chunk)
            .zip(g.par_chunks(chunk))
            .for_each(|(a, b)| add(a, b)),
        None => add(acc, g),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::recycle::recycle;

    #[test]
    fn buffers_hold_what_they_should_at_every_size() {
        for len in [
            0,
            1,
            17,
            PARALLEL_MIN - 1,
            PARALLEL_MIN,
            3 * PARALLEL_MIN + 5,
        ] {
            recycle(vec![f32::NAN; len]); // stale values must never show through
            assert!(zeros(len).iter().all(|&v| v == 0.0) && zeros(len).len() == len);
            let x: Vec<f32> = (0..len).map(|i| i as f32).collect();
            recycle(vec![f32::NAN; len]);
            assert_eq!(copy(&x), x);
            recycle(vec![f32::NAN; len]);
            assert!(map2(&x, &x, |a, b| a * b)
                .iter()
                .zip(&x)
                .all(|(p, v)| *p == v * v));
            let mut acc = x.clone();
            add_assign(&mut acc, &x);
            assert!(acc.iter().zip(&x).all(|(a, b)| *a == 2.0 * b));
        }
        for (n, times) in [(3, 5), (100, 1000), (128, 2048), (7, 0)] {
            let row: Vec<f32> = (0..n).map(|i| i as f32 + 0.5).collect();
            recycle(vec![f32::NAN; n * times]);
            let t = tile(&row, times);
            assert_eq!(t.len(), n * times);
            assert!(t.chunks(n).all(|r| r == row.as_slice()));
        }
    }
}
