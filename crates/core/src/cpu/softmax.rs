//! Row-wise softmax and log-softmax over the last axis.
//!
//! softmax(x)_i = e^(x_i - max x) / Σ_j e^(x_j - max x)
//! log_softmax(x)_i = x_i - max x - ln Σ_j e^(x_j - max x)

use super::buffer::{build, for_chunks};

/// `y = softmax(x)` over rows of length `n`.
pub fn softmax(x: &[f32], n: usize) -> Vec<f32> {
    rows(x, n, |xr, yr| {
        let max = xr.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for (d, &v) in yr.iter_mut().zip(xr) {
            *d = (v - max).exp();
            sum += *d;
        }
        let inv = 1.0 / sum;
        yr.iter_mut().for_each(|d| *d *= inv);
    })
}

/// `dx += y ∘ (dy - Σ dy∘y)` per row, where `y = softmax(x)`.
pub fn softmax_backward(y: &[f32], dy: &[f32], dx: &mut [f32], n: usize) {
    rows_backward(y, dy, dx, n, |yr, gr, dr| {
        let dot: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
        for ((d, &yv), &g) in dr.iter_mut().zip(yr).zip(gr) {
            *d += yv * (g - dot);
        }
    })
}

/// `y = log_softmax(x)` over rows of length `n`.
pub fn log_softmax(x: &[f32], n: usize) -> Vec<f32> {
    rows(x, n, |xr, yr| {
        let max = xr.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        // (x - max) - ln Σ e^(x - max): subtracting the max first keeps the digits.
        let ln_sum = xr.iter().map(|&v| (v - max).exp()).sum::<f32>().ln();
        for (d, &v) in yr.iter_mut().zip(xr) {
            *d = (v - max) - ln_sum;
        }
    })
}

/// `dx += dy - e^y · Σ dy` per row, where `y = log_softmax(x)`.
pub fn log_softmax_backward(y: &[f32], dy: &[f32], dx: &mut [f32], n: usize) {
    rows_backward(y, dy, dx, n, |yr, gr, dr| {
        let sum: f32 = gr.iter().sum();
        for ((d, &yv), &g) in dr.iter_mut().zip(yr).zip(gr) {
            *d += g - yv.exp() * sum;
        }
    })
}

/// `f(x row, y row)` for every row of length `n` into a new `y` (large inputs: rows split
/// over the workers; each row is computed the same way either way).
fn rows(x: &[f32], n: usize, f: impl Fn(&[f32], &mut [f32]) + Sync) -> Vec<f32> {
    if n == 0 {
        return Vec::new();
    }
    build(x.len(), n, |s, c| {
        for (xr, yr) in x[s..s + c.len()].chunks_exact(n).zip(c.chunks_exact_mut(n)) {
            f(xr, yr);
        }
    })
}

/// `f(y row, dy row, dx row)` for every row of length `n`, split like [`rows`].
fn rows_backward(
    y: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    n: usize,
    f: impl Fn(&[f32], &[f32], &mut [f32]) + Sync,
) {
    if n == 0 {
        return;
    }
    for_chunks(dx, n, |s, d| {
        let (yr, gr) = (y[s..].chunks_exact(n), dy[s..].chunks_exact(n));
        for ((yr, gr), dr) in yr.zip(gr).zip(d.chunks_exact_mut(n)) {
            f(yr, gr, dr);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_rows_sum_to_one_and_survive_large_inputs() {
        let y = softmax(&[1000.0, 1001.0, 1002.0, -5.0, 0.0, 5.0], 3);
        for r in y.chunks(3) {
            assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        let ly = log_softmax(&[1000.0, 1001.0, 1002.0], 3);
        assert!((ly[2] - (-0.407_605_97)).abs() < 1e-5);
    }
}
