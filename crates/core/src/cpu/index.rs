//! Indexing kernels: pick one element per row (the target class of each sample).

/// `y[b] = x[b, idx[b]]` for `x` viewed as rows of length `n`.
pub fn pick_rows(x: &[f32], idx: &[usize], n: usize) -> Vec<f32> {
    idx.iter().enumerate().map(|(b, &i)| x[b * n + i]).collect()
}

/// Backward of [`pick_rows`]: `dx[b, idx[b]] += dy[b]`.
pub fn pick_rows_backward(dy: &[f32], idx: &[usize], dx: &mut [f32], n: usize) {
    for (b, &i) in idx.iter().enumerate() {
        dx[b * n + i] += dy[b];
    }
}
