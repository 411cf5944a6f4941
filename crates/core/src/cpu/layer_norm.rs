//! Normalisation over the last axis of `x [R, D]` (each row on its own), with its fused
//! backward: layer norm (Ba et al., 2016) and, with `center = false`, RMS norm (Zhang &
//! Sennrich, 2019).
//!
//! ```text
//! layer norm:  μ = mean(x),  x̂ = (x - μ) · r,  r = 1 / sqrt(mean((x - μ)²) + ε),  y = γ x̂ + β
//! RMS norm:    μ = 0,        x̂ = x · r,        r = 1 / sqrt(mean(x²) + ε),         y = γ x̂
//! dγ = Σ_rows dy · x̂,  dβ = Σ_rows dy,  with g = γ · dy per row:
//! dx = r · (g - mean(g) - x̂ · mean(g · x̂))      (layer norm)
//! dx = r · (g - x̂ · mean(g · x̂))                (RMS norm)
//! ```
//! Row statistics are accumulated in f64.

use rayon::prelude::*;

/// Rows per parallel task below which one thread does all.
const PARALLEL_MIN: usize = 1 << 15;

/// `(y, mean, r)`: the output and each row's mean (0 for RMS norm) and `r`.
pub fn forward(
    x: &[f32],
    d: usize,
    gamma: &[f32],
    beta: Option<&[f32]>,
    eps: f32,
    center: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let rows = x.len() / d.max(1);
    let mut y = super::recycle::scratch(x.len()); // every row is written below
    let mut stats = vec![(0.0f32, 0.0f32); rows];
    let zeros = vec![0.0; d];
    let beta = beta.unwrap_or(&zeros);
    let row = |xr: &[f32], yr: &mut [f32]| -> (f32, f32) {
        let mut st = [0.0f64; 2];
        row_stats(xr, center, &mut st);
        let (mu, var) = (st[0], st[1]);
        let (mu, r) = (mu as f32, (1.0 / (var + eps as f64).sqrt()) as f32);
        normalize_row(xr, gamma, beta, mu, r, yr);
        (mu, r)
    };
    if x.len() >= PARALLEL_MIN && super::threads::num_threads() > 1 {
        x.par_chunks(d)
            .zip(y.par_chunks_mut(d))
            .zip(stats.par_iter_mut())
            .for_each(|((xr, yr), st)| *st = row(xr, yr));
    } else {
        for ((xr, yr), st) in x.chunks(d).zip(y.chunks_mut(d)).zip(stats.iter_mut()) {
            *st = row(xr, yr);
        }
    }
    let (mean, r) = stats.into_iter().unzip();
    (y, mean, r)
}

crate::multiversion! {
    /// `st = [mean, variance]` of a row in f64 (mean 0 without `center`), with 8 partial
    /// sums so the loops vectorise.
    fn row_stats(x: &[f32], center: bool, st: &mut [f64; 2]) {
        let n = x.len() as f64;
        let mut acc = [0.0f64; 8];
        if center {
            let mut chunks = x.chunks_exact(8);
            for c in &mut chunks {
                for l in 0..8 {
                    acc[l] += c[l] as f64;
                }
            }
            for &v in chunks.remainder() {
                acc[0] += v as f64;
            }
        }
        let mu = acc.iter().sum::<f64>() / n;
        let mut sq = [0.0f64; 8];
        let mut chunks = x.chunks_exact(8);
        for c in &mut chunks {
            for l in 0..8 {
                let dv = c[l] as f64 - mu;
                sq[l] += dv * dv;
            }
        }
        for &v in chunks.remainder() {
            sq[0] += (v as f64 - mu) * (v as f64 - mu);
        }
        st[0] = mu;
        st[1] = sq.iter().sum::<f64>() / n;
    }
}

crate::multiversion! {
    /// `y = γ (x − μ) r + β` for one row.
    fn normalize_row(x: &[f32], gamma: &[f32], beta: &[f32], mu: f32, r: f32, y: &mut [f32]) {
        let n = y.len();
        let (x, gamma, beta) = (&x[..n], &gamma[..n], &beta[..n]);
        for j in 0..n {
            y[j] = gamma[j] * ((x[j] - mu) * r) + beta[j];
        }
    }
}

/// Rows per block of the backward pass: blocks run in parallel and their partial `dγ`, `dβ`
/// are summed in block order, so the result does not depend on the thread count.
const BLOCK_ROWS: usize = 32;

/// `(dx, dγ, dβ)` from `dy`, the input and the forward's row statistics.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    x: &[f32],
    dy: &[f32],
    d: usize,
    gamma: &[f32],
    mean: &[f32],
    r: &[f32],
    center: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut dx = super::recycle::scratch(x.len()); // every row is written below
    if d == 0 {
        return (dx, Vec::new(), Vec::new());
    }
    let block = BLOCK_ROWS * d;
    let run = |i: usize, dxb: &mut [f32]| {
        let (lo, hi) = (i * block, i * block + dxb.len());
        let rows = (i * BLOCK_ROWS)..(i * BLOCK_ROWS + dxb.len() / d);
        let (m, rr) = (&mean[rows.clone()], &r[rows]);
        backward_rows(&x[lo..hi], &dy[lo..hi], dxb, gamma, m, rr, center)
    };
    let parts: Vec<(Vec<f64>, Vec<f64>)> =
        if x.len() >= PARALLEL_MIN && super::threads::num_threads() > 1 {
            dx.par_chunks_mut(block)
                .enumerate()
                .map(|(i, dxb)| run(i, dxb))
                .collect()
        } else {
            dx.chunks_mut(block)
                .enumerate()
                .map(|(i, dxb)| run(i, dxb))
                .collect()
        };
    let (mut dg, mut db) = (vec![0.0f64; d], vec![0.0f64; d]);
    for (pg, pb) in parts {
        dg.iter_mut().zip(pg).for_each(|(a, b)| *a += b);
        db.iter_mut().zip(pb).for_each(|(a, b)| *a += b);
    }
    let to32 = |v: Vec<f64>| v.into_iter().map(|a| a as f32).collect();
    (dx, to32(dg), to32(db))
}

/// The backward of a block of rows: writes `dx` and returns the block's `(dγ, dβ)`
/// (summed in f32 over the block's rows, then in f64 across blocks).
fn backward_rows(
    x: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    gamma: &[f32],
    mean: &[f32],
    r: &[f32],
    center: bool,
) -> (Vec<f64>, Vec<f64>) {
    let d = gamma.len();
    let (mut dg, mut db) = (vec![0.0f32; d], vec![0.0f32; d]);
    let (mut xhat, mut g) = (vec![0.0f32; d], vec![0.0f32; d]);
    for (i, ((xr, dyr), dxr)) in x
        .chunks(d)
        .zip(dy.chunks(d))
        .zip(dx.chunks_mut(d))
        .enumerate()
    {
        let stats = [mean[i], r[i], if center { 1.0 } else { 0.0 }];
        row_backward(
            xr, dyr, gamma, stats, &mut xhat, &mut g, &mut dg, &mut db, dxr,
        );
    }
    let to64 = |v: Vec<f32>| v.into_iter().map(f64::from).collect();
    (to64(dg), to64(db))
}

crate::multiversion! {
    /// One row: `dx = r (g − mean(g) − x̂ mean(g x̂))` with `g = γ dy` (no `mean(g)` term
    /// when `stats[2]` is 0, RMS norm), and `dγ += dy x̂`, `dβ += dy`; `stats = [μ, r, center]`.
    /// 16 partial sums so the row sums vectorise.
    #[allow(clippy::too_many_arguments)]
    fn row_backward(
        x: &[f32],
        dy: &[f32],
        gamma: &[f32],
        stats: [f32; 3],
        xhat: &mut [f32],
        g: &mut [f32],
        dg: &mut [f32],
        db: &mut [f32],
        dx: &mut [f32],
    ) {
        let d = dx.len();
        let (x, dy, gamma) = (&x[..d], &dy[..d], &gamma[..d]);
        let (xhat, g, dg, db) = (&mut xhat[..d], &mut g[..d], &mut dg[..d], &mut db[..d]);
        let [mu, r, center] = stats;
        let (mut sg, mut sgx) = ([0.0f32; 16], [0.0f32; 16]);
        let full = d - d % 16;
        for c in (0..full).step_by(16) {
            for l in 0..16 {
                let j = c + l;
                let xh = (x[j] - mu) * r;
                let gv = gamma[j] * dy[j];
                xhat[j] = xh;
                g[j] = gv;
                sg[l] += gv;
                sgx[l] += gv * xh;
                dg[j] += dy[j] * xh;
                db[j] += dy[j];
            }
        }
        for j in full..d {
            let xh = (x[j] - mu) * r;
            let gv = gamma[j] * dy[j];
            xhat[j] = xh;
            g[j] = gv;
            sg[0] += gv;
            sgx[0] += gv * xh;
            dg[j] += dy[j] * xh;
            db[j] += dy[j];
        }
        let mean_g = center * sg.iter().sum::<f32>() / d as f32;
        let mean_gx = sgx.iter().sum::<f32>() / d as f32;
        for j in 0..d {
            dx[j] = r * (g[j] - mean_g - xhat[j] * mean_gx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many blocks (the last one partial) and enough rows for the parallel path: `dx` row by
    /// row and `dγ`, `dβ` summed over all rows match the formulas computed directly.
    #[test]
    fn blocked_backward_matches_the_row_by_row_formula() {
        let (rows, d) = (301, 128);
        let x: Vec<f32> = (0..rows * d)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0)
            .collect();
        let dy: Vec<f32> = (0..rows * d)
            .map(|i| ((i * 53 % 89) as f32 - 44.0) / 23.0)
            .collect();
        let gamma: Vec<f32> = (0..d).map(|j| 0.5 + j as f32 / d as f32).collect();
        for center in [true, false] {
            let (_, mean, r) = forward(&x, d, &gamma, None, 1e-5, center);
            let (dx, dg, db) = backward(&x, &dy, d, &gamma, &mean, &r, center);
            let (mut wg, mut wb) = (vec![0.0f64; d], vec![0.0f64; d]);
            for i in 0..rows {
                let row = i * d..(i + 1) * d;
                let xh: Vec<f64> = x[row.clone()]
                    .iter()
                    .map(|&v| ((v - mean[i]) * r[i]) as f64)
                    .collect();
                let g: Vec<f64> = (0..d).map(|j| (gamma[j] * dy[i * d + j]) as f64).collect();
                let mg = if center {
                    g.iter().sum::<f64>() / d as f64
                } else {
                    0.0
                };
                let mgx = g.iter().zip(&xh).map(|(a, b)| a * b).sum::<f64>() / d as f64;
                for j in 0..d {
                    let want = r[i] as f64 * (g[j] - mg - xh[j] * mgx);
                    assert!((dx[i * d + j] as f64 - want).abs() < 1e-4, "dx[{i},{j}]");
                    wg[j] += dy[i * d + j] as f64 * xh[j];
                    wb[j] += dy[i * d + j] as f64;
                }
            }
            for j in 0..d {
                assert!(
                    (dg[j] as f64 - wg[j]).abs() < 1e-3 * (1.0 + wg[j].abs()),
                    "dγ[{j}]"
                );
                assert!(
                    (db[j] as f64 - wb[j]).abs() < 1e-3 * (1.0 + wb[j].abs()),
                    "dβ[{j}]"
                );
            }
        }
    }
}
