//! Batch normalisation over the channel axis 1 of `x [N, C, S]` (S = the product of any
//! spatial axes), training mode, with its fused backward (Ioffe & Szegedy, 2015):
//!
//! ```text
//! μ_c = mean of x[:, c, :],  σ²_c = biased variance,  x̂ = (x - μ_c) / sqrt(σ²_c + ε)
//! y = γ_c · x̂ + β_c
//! dβ_c = Σ dy,  dγ_c = Σ dy · x̂
//! dx = γ_c / sqrt(σ²_c + ε) / M · (M · dy - dβ_c - x̂ · dγ_c),   M = N · S
//! ```

/// Sums statistics over the processes of a data-parallel run, in place (synchronised batch
/// norm); `None` normalises over this process's batch alone.
pub type Sync<'a> = Option<&'a dyn Fn(&mut [f64])>;

/// [`Sync`]'s sum in backward, with the number of values per channel over every process.
pub type SyncBack<'a> = Option<(&'a dyn Fn(&mut [f64]), f64)>;

/// `(y, mean, inv_std, M)` per channel, `M` the number of values each channel's statistics
/// cover (summed over the processes with `sync`).
#[allow(clippy::too_many_arguments)]
pub fn forward(
    x: &[f32],
    n: usize,
    c: usize,
    s: usize,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    sync: Sync,
) -> (Vec<f32>, Vec<f32>, Vec<f32>, f64) {
    let channel = |ch: usize| (0..n).flat_map(move |i| &x[(i * c + ch) * s..][..s]);
    // Σ x per channel and the count, then Σ (x - μ)² (two passes, as without processes)
    let mut sums: Vec<f64> = (0..c)
        .map(|ch| channel(ch).map(|&v| v as f64).sum::<f64>())
        .collect();
    sums.push((n * s) as f64);
    if let Some(reduce) = sync {
        reduce(&mut sums);
    }
    let m = sums[c];
    let mu: Vec<f64> = sums[..c].iter().map(|t| t / m).collect();
    let mut sq: Vec<f64> = (0..c)
        .map(|ch| {
            channel(ch)
                .map(|&v| (v as f64 - mu[ch]).powi(2))
                .sum::<f64>()
        })
        .collect();
    if let Some(reduce) = sync {
        reduce(&mut sq);
    }
    let mean: Vec<f32> = mu.iter().map(|&v| v as f32).collect();
    let inv_std: Vec<f32> = sq
        .iter()
        .map(|q| (1.0 / (q / m + eps as f64).sqrt()) as f32)
        .collect();
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
    (y, mean, inv_std, m)
}

/// `(dx, dγ, dβ)` of [`forward`]. With `sync = (reduce, M)` the sums in `dx` cover every
/// process: each process's are weighted by its samples `n` (the weight its gradients get in
/// the step's all-reduce) and the result divided by this process's `n`, so that after the
/// all-reduce `dx` is the gradient of the mean loss over the global batch; dγ and dβ stay
/// this process's (the all-reduce averages them).
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
    sync: SyncBack,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut m = (n * s) as f32;
    let (mut dgamma, mut dbeta) = (vec![0.0f32; c], vec![0.0f32; c]);
    let mut sums = vec![0.0f64; 2 * c];
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
        (sums[ch], sums[c + ch]) = (sb, sg);
    }
    let (mut sum_b, mut sum_g) = (dbeta.clone(), dgamma.clone());
    if let Some((reduce, m_total)) = sync {
        let w = n as f64;
        sums.iter_mut().for_each(|v| *v *= w);
        reduce(&mut sums);
        let per = |v: &f64| (v / w.max(1.0)) as f32;
        sum_b = sums[..c].iter().map(per).collect();
        sum_g = sums[c..].iter().map(per).collect();
        m = m_total as f32;
    }
    let mut dx = vec![0.0; x.len()];
    for i in 0..n {
        for ch in 0..c {
            let k = gamma[ch] * inv_std[ch] / m;
            let o = (i * c + ch) * s;
            for ((d, &g), &v) in dx[o..o + s].iter_mut().zip(&dy[o..o + s]).zip(&x[o..o + s]) {
                let xhat = (v - mean[ch]) * inv_std[ch];
                *d = k * (m * g - sum_b[ch] - xhat * sum_g[ch]);
            }
        }
    }
    (dx, dgamma, dbeta)
}
