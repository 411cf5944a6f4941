//! Matrix products through the `gemm` crate: `out (+)= op(a) · op(b)` where `op` is the
//! identity or a transpose, expressed with strides so transposed operands are never copied.

use super::threads::num_threads;
use gemm::Parallelism;
use rayon::prelude::*;

/// Below this many multiply-adds one thread beats two (measured: 32x784x128 runs faster on
/// one thread), so small products stay on the calling thread.
pub const PARALLEL_MIN_FLOPS: usize = 1 << 23;

/// [`matmul`] on the calling thread only (for callers that already run one task per thread).
#[allow(clippy::too_many_arguments)]
pub fn matmul_serial(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
    trans_a: bool,
    trans_b: bool,
    accumulate: bool,
) {
    gemm_with(
        out,
        a,
        b,
        (m, k, n),
        (trans_a, trans_b, accumulate),
        Parallelism::None,
    );
}

/// `out[m, n] = (accumulate ? out : 0) + op(a)[m, k] · op(b)[k, n]`.
///
/// `a` is stored `[m, k]` row-major, or `[k, m]` when `trans_a`; `b` is `[k, n]`, or `[n, k]`
/// when `trans_b`.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
    trans_a: bool,
    trans_b: bool,
    accumulate: bool,
) {
    let par = parallelism(m * k * n);
    gemm_with(out, a, b, (m, k, n), (trans_a, trans_b, accumulate), par);
}

/// All worker threads for a product of `flops` multiply-adds of at least
/// [`PARALLEL_MIN_FLOPS`], the calling thread only below.
fn parallelism(flops: usize) -> Parallelism {
    let threads = num_threads();
    if threads > 1 && flops >= PARALLEL_MIN_FLOPS {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    }
}

/// `Σ_t a[t] · b[t]` with 16 partial sums (so the loop vectorises).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    for (ac, bc) in a.chunks_exact(16).zip(b.chunks_exact(16)) {
        for l in 0..16 {
            acc[l] += ac[l] * bc[l];
        }
    }
    let tail = a.len() - a.len() % 16;
    let mut s: f32 = acc.iter().sum();
    for t in tail..a.len() {
        s += a[t] * b[t];
    }
    s
}

/// The six dot products of rows `a0`, `a1` with rows `b0`, `b1`, `b2` in one pass: each
/// loaded vector serves two or three sums (`[a0·b0, a0·b1, a0·b2, a1·b0, a1·b1, a1·b2]`).
#[inline(always)]
fn dots_2x3(a: [&[f32]; 2], b: [&[f32]; 3]) -> [f32; 6] {
    let k = a[0].len();
    let body = k - k % 16;
    let mut acc = [[0.0f32; 16]; 6];
    for c in (0..body).step_by(16) {
        let x: [&[f32; 16]; 2] = a.map(|r| r[c..c + 16].try_into().expect("16 values"));
        let y: [&[f32; 16]; 3] = b.map(|r| r[c..c + 16].try_into().expect("16 values"));
        for (q, acc) in acc.iter_mut().enumerate() {
            let (xq, yq) = (x[q / 3], y[q % 3]);
            for l in 0..16 {
                acc[l] += xq[l] * yq[l];
            }
        }
    }
    let mut out = [0.0f32; 6];
    for (q, o) in out.iter_mut().enumerate() {
        *o = acc[q].iter().sum::<f32>();
        for t in body..k {
            *o += a[q / 3][t] * b[q % 3][t];
        }
    }
    out
}

crate::multiversion! {
    /// `out[i, j] (+)= Σ_t a[i, t] · b[j, t]`: row-by-row dot products, for products with a
    /// tiny output and a long inner dimension (a conv's weight gradient, e.g. 32×9 outputs
    /// over 40k terms), where a GEMM's tiles sit mostly empty. Two rows of `a` against three
    /// of `b` at a time, so the (memory-bound) rows are read a third as often.
    fn dot_rows(out: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize, accumulate: bool) {
        #[inline(always)]
        fn row(x: &[f32], i: usize, k: usize) -> &[f32] {
            &x[i * k..(i + 1) * k]
        }
        let mut put = |i: usize, j: usize, s: f32| {
            let o = &mut out[i * n + j];
            *o = if accumulate { *o + s } else { s };
        };
        let (m2, n3) = (m - m % 2, n - n % 3);
        for i in (0..m2).step_by(2) {
            for j in (0..n3).step_by(3) {
                let s = dots_2x3(
                    [row(a, i, k), row(a, i + 1, k)],
                    [row(b, j, k), row(b, j + 1, k), row(b, j + 2, k)],
                );
                for (q, &v) in s.iter().enumerate() {
                    put(i + q / 3, j + q % 3, v);
                }
            }
            for j in n3..n {
                put(i, j, dot(row(a, i, k), row(b, j, k)));
                put(i + 1, j, dot(row(a, i + 1, k), row(b, j, k)));
            }
        }
        for i in m2..m {
            for j in 0..n {
                put(i, j, dot(row(a, i, k), row(b, j, k)));
            }
        }
    }
}

fn gemm_with(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
    (trans_a, trans_b, accumulate): (bool, bool, bool),
    par: Parallelism,
) {
    assert!(
        out.len() == m * n && a.len() == m * k && b.len() == k * n,
        "matmul: sizes out={} a={} b={} do not fit m={m} k={k} n={n}",
        out.len(),
        a.len(),
        b.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out.fill(0.0);
        }
        return;
    }
    if !trans_a && trans_b && m * n <= 1024 && k >= 1024 {
        dot_rows(out, a, b, m, k, n, accumulate);
        return;
    }
    // (row stride, column stride) of each operand as seen by the product.
    let (a_rs, a_cs) = if trans_a {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (b_rs, b_cs) = if trans_b {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    // SAFETY: the asserts above guarantee every index the strides reach lies inside the
    // slices; `out` does not alias `a` or `b` (it is a distinct `&mut`).
    unsafe {
        gemm_raw(
            out,
            n,
            a,
            (a_rs, a_cs),
            b,
            (b_rs, b_cs),
            (m, k, n),
            accumulate,
            par,
        )
    }
}

/// [`matmul_serial`] on rows spread through larger buffers: row `i` of `a [m, k]` starts at
/// `a[i · a_rs]` and row `i` of `out [m, n]` at `out[i · out_rs]` (one time step inside a
/// `[batch, time, ..]` buffer); `b` is contiguous `[k, n]`, or `[n, k]` when `trans_b`.
/// Runs on the calling thread (the recurrent kernel gives each thread its own batch rows).
#[allow(clippy::too_many_arguments)]
pub fn matmul_rows(
    out: &mut [f32],
    out_rs: usize,
    a: &[f32],
    a_rs: usize,
    b: &[f32],
    (m, k, n): (usize, usize, usize),
    trans_b: bool,
    accumulate: bool,
) {
    if m == 0 || n == 0 || k == 0 {
        assert!(accumulate || k > 0, "matmul_rows: k = 0 without accumulate");
        return;
    }
    assert!(
        out_rs >= n
            && a_rs >= k
            && (m - 1) * out_rs + n <= out.len()
            && (m - 1) * a_rs + k <= a.len()
            && b.len() == k * n,
        "matmul_rows: sizes out={} (stride {out_rs}) a={} (stride {a_rs}) b={} do not fit \
         m={m} k={k} n={n}",
        out.len(),
        a.len(),
        b.len()
    );
    let bs = if trans_b {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    // SAFETY: the assert above keeps every row the strides reach inside its slice, rows of
    // `out` do not overlap (out_rs >= n), and `out` does not alias `a` or `b`.
    unsafe {
        gemm_raw(
            out,
            out_rs,
            a,
            (a_rs as isize, 1),
            b,
            bs,
            (m, k, n),
            accumulate,
            Parallelism::None,
        )
    }
}

/// A matrix inside a slice: element `(i, j)` is `data[i · rs + j · cs]`.
#[derive(Clone, Copy)]
pub struct View<'a> {
    /// The elements.
    pub data: &'a [f32],
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

impl View<'_> {
    /// Whether an `r × c` matrix with these strides lies inside `data`.
    fn fits(&self, r: usize, c: usize) -> bool {
        r == 0 || c == 0 || (r - 1) * self.rs + (c - 1) * self.cs < self.data.len()
    }
}

/// `out (+)= a · b` on the calling thread for strided `a [m, k]`, `b [k, n]` and `out` rows
/// `out_rs` apart: heads of attention read in place inside `[T, H·dk]` rows.
pub fn matmul_view(
    out: &mut [f32],
    out_rs: usize,
    a: View,
    b: View,
    dims: (usize, usize, usize),
    accumulate: bool,
) {
    view_product(out, out_rs, a, b, dims, accumulate, Parallelism::None);
}

/// [`matmul_view`] on all worker threads when the product is large (as [`matmul`]).
pub fn matmul_strided(
    out: &mut [f32],
    out_rs: usize,
    a: View,
    b: View,
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) {
    let par = parallelism(m * k * n);
    view_product(out, out_rs, a, b, (m, k, n), accumulate, par);
}

fn view_product(
    out: &mut [f32],
    out_rs: usize,
    a: View,
    b: View,
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
    par: Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        k > 0 && a.fits(m, k) && b.fits(k, n) && out_rs >= n && (m - 1) * out_rs + n <= out.len(),
        "matmul_view: views of {} / {} elements (out {} rows {out_rs} apart) do not fit m={m} k={k} n={n}",
        a.data.len(),
        b.data.len(),
        out.len()
    );
    // SAFETY: the assert keeps every element the strides reach inside its slice; rows of
    // `out` do not overlap (out_rs >= n) and `out` does not alias `a` or `b`.
    unsafe {
        gemm_raw(
            out,
            out_rs,
            a.data,
            (a.rs as isize, a.cs as isize),
            b.data,
            (b.rs as isize, b.cs as isize),
            (m, k, n),
            accumulate,
            par,
        )
    }
}

/// The `gemm` crate's call: `out` rows `out_rs` apart (columns contiguous), `a` and `b`
/// with (row, column) strides.
///
/// # Safety
/// Every element the strides reach must lie inside its slice, and rows of `out` must not
/// overlap.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw(
    out: &mut [f32],
    out_rs: usize,
    a: &[f32],
    (a_rs, a_cs): (isize, isize),
    b: &[f32],
    (b_rs, b_cs): (isize, isize),
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
    par: Parallelism,
) {
    if let Parallelism::Rayon(threads) = par {
        if threads > 1 && m >= 32 {
            // one serial product per thread on its own rows of `out`: as fast as the gemm
            // crate's split or faster (one run each, GFLOP/s on 2 threads: W3's weight
            // gradient 1024x1792x512 149 -> 179, W4's 128x2048x512 106 -> 158, others +0-7%)
            let per = m.div_ceil(threads).div_ceil(16) * 16;
            let mut parts = Vec::with_capacity(threads);
            let (mut rest, mut r0) = (out, 0);
            while r0 < m {
                let rows = per.min(m - r0);
                let cut = if r0 + rows < m {
                    rows * out_rs
                } else {
                    rest.len()
                };
                let (head, tail) = rest.split_at_mut(cut);
                parts.push((head, r0, rows));
                (rest, r0) = (tail, r0 + rows);
            }
            parts.into_par_iter().for_each(|(o, r0, rows)| {
                let a = &a[r0 * a_rs as usize..];
                // SAFETY: rows `r0..r0 + rows` of the caller's product, shifted to start at 0.
                unsafe {
                    gemm_raw(
                        o,
                        out_rs,
                        a,
                        (a_rs, a_cs),
                        b,
                        (b_rs, b_cs),
                        (rows, k, n),
                        accumulate,
                        Parallelism::None,
                    )
                }
            });
            return;
        }
    }
    let dst = out.as_mut_ptr();
    let (lhs, rhs) = (a.as_ptr(), b.as_ptr());
    let (o_rs, read) = (out_rs as isize, accumulate);
    /// The gemm crate's driver with one instruction set's micro-kernels (`$n` lanes), as
    /// `gemm::gemm` calls it: its own dispatch always takes the widest, and `NABLA_CPU`
    /// must reach every kernel. The product is transposed when `out` is row-major, as
    /// `gemm::gemm` does (the micro-kernels write columns).
    macro_rules! with {
        ($simd:ty, $ukr:path, $n:literal) => {{
            use $ukr as u;
            let simd = <$simd as gemm_common::simd::MixedSimd<f32, f32, f32, f32>>::try_new()
                .expect("Isa::get checked the CPU");
            let (m, n, d_cs, d_rs, l, l_cs, l_rs, r, r_cs, r_rs) = if o_rs > 1 {
                (n, m, o_rs, 1, rhs, b_rs, b_cs, lhs, a_rs, a_cs)
            } else {
                (m, n, 1, o_rs, lhs, a_cs, a_rs, rhs, b_cs, b_rs)
            };
            gemm_common::gemm::gemm_basic_generic::<
                _,
                f32,
                $n,
                { u::MR_DIV_N * $n },
                { u::NR },
                { u::MR_DIV_N },
                { u::H_M },
                { u::H_N },
            >(
                simd,
                m,
                n,
                k,
                dst,
                d_cs,
                d_rs,
                read,
                l,
                l_cs,
                l_rs,
                r,
                r_cs,
                r_rs,
                1.0,
                1.0,
                false,
                false,
                false,
                |x, y, z| x * y + z,
                &u::UKR,
                &u::H_UKR,
                false,
                par,
            )
        }};
    }
    // SAFETY (every arm): the caller's strides keep every element inside its slice.
    match super::simd::Isa::get() {
        #[cfg(target_arch = "x86_64")]
        super::simd::Isa::Avx2 => unsafe {
            with!(gemm_common::simd::V3, gemm_f32::microkernel::fma::f32, 8)
        },
        #[cfg(target_arch = "x86_64")]
        super::simd::Isa::Generic => unsafe {
            with!(
                gemm_common::simd::Scalar,
                gemm_f32::microkernel::scalar::f32,
                1
            )
        },
        // the widest path, and every path off x86-64 (NEON on aarch64)
        _ => unsafe {
            gemm::gemm(
                m, n, k, dst, 1, o_rs, read, lhs, a_cs, a_rs, rhs, b_cs, b_rs, 1.0, 1.0, false,
                false, false, par,
            )
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        out
    }

    fn transpose(x: &[f32], r: usize, c: usize) -> Vec<f32> {
        let mut t = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                t[j * r + i] = x[i * c + j];
            }
        }
        t
    }

    #[test]
    fn long_thin_products_take_the_dot_path_correctly() {
        let (m, k, n) = (3, 2003, 4);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let bt: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.11).cos()).collect();
        let b = transpose(&bt, n, k);
        let want = naive(&a, &b, m, k, n);
        let mut out = vec![1.0; m * n];
        matmul(&mut out, &a, &bt, m, k, n, false, true, true);
        for (x, y) in out.iter().zip(&want) {
            assert!((x - 1.0 - y).abs() < 1e-3, "{x} vs {y}");
        }
    }

    #[test]
    fn products_split_over_threads_match_naive() {
        // large enough for the worker threads; 100 rows do not split into equal parts
        let (m, k, n) = (100, 300, 290);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let at = transpose(&a, m, k);
        let mut out = vec![1.0; m * n];
        matmul(&mut out, &at, &b, m, k, n, true, false, true);
        for (x, y) in out.iter().zip(&want) {
            assert!((x - 1.0 - y).abs() < 1e-3, "{x} vs {y}");
        }
    }

    #[test]
    fn all_transpose_combinations_match_naive() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let at = transpose(&a, m, k);
        let bt = transpose(&b, k, n);
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut out = vec![1.0; m * n];
            let aa = if ta { &at } else { &a };
            let bb = if tb { &bt } else { &b };
            matmul(&mut out, aa, bb, m, k, n, ta, tb, false);
            for (x, y) in out.iter().zip(&want) {
                assert!((x - y).abs() < 1e-5, "ta={ta} tb={tb}: {x} vs {y}");
            }
            matmul(&mut out, aa, bb, m, k, n, ta, tb, true);
            for (x, y) in out.iter().zip(&want) {
                assert!((x - 2.0 * y).abs() < 1e-5, "accumulate ta={ta} tb={tb}");
            }
        }
    }
}
