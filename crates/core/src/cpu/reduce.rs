//! Reductions over one axis: `y[o, i] = Σ_j x[o, j, i]` with `x` viewed as `[outer, n, inner]`.

/// Sums `x` (viewed as `[outer, n, inner]`) over the middle axis into `[outer, inner]`.
pub fn sum_axis(x: &[f32], outer: usize, n: usize, inner: usize) -> Vec<f32> {
    if outer == 1 && x.len() >= PARALLEL_MIN && inner > 0 {
        return sum_rows_blocked(x, n, inner);
    }
    sum_axis_serial(x, outer, n, inner)
}

fn sum_axis_serial(x: &[f32], outer: usize, n: usize, inner: usize) -> Vec<f32> {
    let mut y = vec![0.0; outer * inner];
    for o in 0..outer {
        let dst = &mut y[o * inner..(o + 1) * inner];
        for j in 0..n {
            let src = &x[(o * n + j) * inner..(o * n + j + 1) * inner];
            for (d, &v) in dst.iter_mut().zip(src) {
                *d += v;
            }
        }
    }
    y
}

/// Above this many elements a column sum is split into blocks of rows.
const PARALLEL_MIN: usize = 1 << 16;
/// Rows per block: blocks are summed in parallel, then their sums in block order, so the
/// result does not depend on the thread count.
const BLOCK_ROWS: usize = 64;

/// `y[i] = Σ_j x[j, i]` over the `n` rows of `x [n, inner]` (a bias gradient), in blocks.
fn sum_rows_blocked(x: &[f32], n: usize, inner: usize) -> Vec<f32> {
    use rayon::prelude::*;
    super::threads::num_threads();
    let parts: Vec<Vec<f32>> = x[..n * inner]
        .par_chunks(BLOCK_ROWS * inner)
        .map(|blk| sum_axis_serial(blk, 1, blk.len() / inner, inner))
        .collect();
    let mut y = vec![0.0; inner];
    for p in parts {
        y.iter_mut().zip(p).for_each(|(a, b)| *a += b);
    }
    y
}

/// Backward of [`sum_axis`]: `dx[o, j, i] += dy[o, i]` for every `j`.
pub fn sum_axis_backward(dy: &[f32], dx: &mut [f32], outer: usize, n: usize, inner: usize) {
    for o in 0..outer {
        let src = &dy[o * inner..(o + 1) * inner];
        for j in 0..n {
            let dst = &mut dx[(o * n + j) * inner..(o * n + j + 1) * inner];
            for (d, &v) in dst.iter_mut().zip(src) {
                *d += v;
            }
        }
    }
}

/// Index of the largest value of each row of `x` viewed as `[rows, n]` (first one on ties).
pub fn argmax_rows(x: &[f32], n: usize) -> Vec<usize> {
    x.chunks_exact(n)
        .map(|row| {
            let mut best = 0;
            for (i, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_middle_axis() {
        let x: Vec<f32> = (0..12).map(|v| v as f32).collect(); // [2, 3, 2]
        assert_eq!(sum_axis(&x, 2, 3, 2), vec![6.0, 9.0, 24.0, 27.0]);
        assert_eq!(argmax_rows(&[0.1, 0.7, 0.2, 0.9, 0.0, 0.1], 3), vec![1, 0]);
    }

    #[test]
    fn large_column_sums_in_blocks_match_the_plain_sum() {
        let (n, inner) = (1001, 100); // 16 blocks, the last one partial
        let x: Vec<f32> = (0..n * inner).map(|i| (i % 7) as f32 - 3.0).collect();
        let want: Vec<f32> = (0..inner)
            .map(|c| (0..n).map(|r| x[r * inner + c]).sum())
            .collect();
        assert_eq!(sum_axis(&x, 1, n, inner), want); // small integers: exact in any order
    }
}
