//! Batch normalisation over the channel axis 1 of `x [N, C, S]` (S = the product of any
//! spatial axes), training mode, with its fused backward (Ioffe & Szegedy, 2015):
//!
//! ```text
//! μ_c = mean of x[:, c, :],  σ²_c = biased variance,  x̂ = (x - μ_c) / sqrt(σ²_c + ε)
//! y = γ_c · x̂ + β_c
//! dβ_c = Σ dy,  dγ_c = Σ dy · x̂
//! dx = γ_c / sqrt(σ²_c + ε) / M · (M · dy - dβ_c - x̂ · dγ_c),   M = N · S
//! ```

/// `(y, mean, inv_std)` per channel.
pub fn forward(
    x: &[f32],
    n: usize,
    c: usize,
    s: usize,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let m = (n * s) as f64;
    let mut mean = vec![0.0f32; c];
    let mut inv_std = vec![0.0f32; c];
    for ch in 0..c {
        let rows = (0..n).map(|i| &x[(i * c + ch) * s..][..s]);
        let mu = rows
            .clone()
            .flat_map(|r| r.iter())
            .map(|&v| v as f64)
            .sum::<f64>()
            / m;
        let var = rows
            .flat_map(|r| r.iter())
            .map(|&v| (v as f64 - mu).powi(2))
            .sum::<f64>()
            / m;
        mean[ch] = mu as f32;
        inv_std[ch] = (1.0 / (var + eps as f64).sqrt()) as f32;
    }
    let mut y = vec![0.0; x.len()];
    for i in 0..n {
        for ch in 0..c {
            let (a, b) = (
                gamma[ch] * inv_std[ch],
                beta[ch] - gamma[ch] * inv_std[ch] * mean[ch],
            );
            let o = (i * c + ch) * s;
            for (d, &v) in y[o..o + s].iter_mut().zip(&x[o..o + s]) {
                *d = a * v + b;
            }
        }
    }
    (y, mean, inv_std)
}

/// `(dx, dγ, dβ)` of [`forward`].
#[allow(clippy::too_many_arguments)]
pub fn backward(
    x: &[f32],
    dy: &[f32],
    n: usize,
    c: usize,
    s: usize,
    gamma: &[f32],
    mean: &[f32],
    inv_std: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let m = (n * s) as f32;
    let (mut dgamma, mut dbeta) = (vec![0.0f32; c], vec![0.0f32; c]);
    for ch in 0..c {
        let (mut sg, mut sb) = (0.0f64, 0.0f64);
        for i in 0..n {
            let o = (i * c + ch) * s;
            for (&g, &v) in dy[o..o + s].iter().zip(&x[o..o + s]) {
                sb += g as f64;
                sg += (g * (v - mean[ch]) * inv_std[ch]) as f64;
            }
        }
        dgamma[ch] = sg as f32;
        dbeta[ch] = sb as f32;
    }
    let mut dx = vec![0.0; x.len()];
    for i in 0..n {
        for ch in 0..c {
            let k = gamma[ch] * inv_std[ch] / m;
            let o = (i * c + ch) * s;
            for ((d, &g), &v) in dx[o..o + s].iter_mut().zip(&dy[o..o + s]).zip(&x[o..o + s]) {
                let xhat = (v - mean[ch]) * inv_std[ch];
                *d = k * (m * g - dbeta[ch] - xhat * dgamma[ch]);
            }
        }
    }
    (dx, dgamma, dbeta)
}
