//! The int8 matrix product of dynamically quantised layers: `y = x·Wᵀ + b` with `x` quantised
//! per row at run time to unsigned 7-bit integers and `W` stored as signed 8-bit integers per
//! output channel, the products summed exactly in i32.
//!
//! For row `r` of `x` and output channel `c` of `W`:
//!
//! ```text
//! x_r ≈ sx_r · (qx_r − zx_r),   qx ∈ [0, 127], zx_r ∈ [0, 127]   (asymmetric: 0 is exact)
//! W_c ≈ sw_c · qw_c,            qw ∈ [−127, 127]                   (symmetric)
//! y_rc = (Σ_k qx_rk·qw_ck − zx_r·Σ_k qw_ck) · (sx_r·sw_c) + b_c
//! ```
//!
//! Why 7 bits for the activations: AVX2's `vpmaddubsw` adds two u8·i8 products into a
//! saturating i16; with `qx ≤ 127` and `|qw| ≤ 127` a pair is at most 32,258 < 32,767, so it
//! never saturates, and every path (AVX-512 VNNI's `vpdpbusd`, AVX2, portable) gives the same
//! integer sums and, with the epilogue's operations in the same order, the same floats.
//! fbgemm's x86 path narrows the range the same way (`reduce_range`). The i32 sums are exact
//! while `k · 127 · 127 < 2³¹` ([`MAX_INPUTS`]).
//!
//! Layout: the weights are packed once into blocks of 16 output channels, in each block groups
//! of 4 inputs, `[c/16][k/4][16][4]`, zero-padded; one 64-byte load then feeds one `vpdpbusd`
//! (16 channels × 4 inputs) against 4 activation bytes broadcast to every lane.

use super::simd::Isa;
use super::threads;
use rayon::prelude::*;

/// The most inputs a quantised product takes: beyond it the i32 sums could overflow.
pub const MAX_INPUTS: usize = (i32::MAX as usize) / (127 * 127);

/// Output channels per packed block (one AVX-512 register of i32).
const BLOCK: usize = 16;
/// Rows quantised and multiplied together (their bytes stay in L1/L2 for every block).
const ROW_CHUNK: usize = 64;

/// Which instructions run the product. All give identical results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int8Path {
    /// AVX-512 VNNI (`vpdpbusd`: 64 products a instruction).
    Vnni,
    /// AVX2 (`vpmaddubsw` + `vpmaddwd`).
    Avx2,
    /// Plain integer arithmetic, any CPU.
    Portable,
}

impl Int8Path {
    /// The paths this CPU runs, fastest first (the portable one always last).
    pub fn available() -> Vec<Int8Path> {
        let mut v = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512vnni")
            {
                v.push(Int8Path::Vnni);
            }
            if std::is_x86_feature_detected!("avx2") {
                v.push(Int8Path::Avx2);
            }
        }
        v.push(Int8Path::Portable);
        v
    }

    /// `self` if this CPU runs it, else the portable path: the kernels dispatch on the
    /// checked path, so asking for one the CPU lacks is slow, never undefined.
    pub fn or_portable(self) -> Int8Path {
        static HAVE: std::sync::OnceLock<Vec<Int8Path>> = std::sync::OnceLock::new();
        match HAVE.get_or_init(Int8Path::available).contains(&self) {
            true => self,
            false => Int8Path::Portable,
        }
    }

    /// The fastest path of this CPU within [`Isa::get`] (so `NABLA_CPU=avx2|generic`
    /// narrows it too).
    pub fn best() -> Int8Path {
        static VNNI: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        match Isa::get() {
            Isa::Avx512 if *VNNI.get_or_init(|| Int8Path::available()[0] == Int8Path::Vnni) => {
                Int8Path::Vnni
            }
            Isa::Avx512 | Isa::Avx2 => Int8Path::Avx2,
            Isa::Generic => Int8Path::Portable,
        }
    }
}

/// A quantised linear map packed for the kernels: the weights, their per-channel scales and
/// sums, and the bias, each padded to whole blocks.
#[derive(Clone, Debug)]
pub struct PackedInt8 {
    data: Vec<i8>,
    sums: Vec<i32>,
    scale: Vec<f32>,
    bias: Vec<f32>,
    n: usize,
    k: usize,
}

impl PackedInt8 {
    /// Packs `w [n, k]` (row `c` = output channel `c`, values in [−127, 127]) with its
    /// per-channel `scale [n]` and optional `bias [n]`. Panics if a length disagrees or
    /// `k > MAX_INPUTS` (the layer checks both first).
    pub fn new(w: &[i8], scale: &[f32], bias: Option<&[f32]>, n: usize, k: usize) -> PackedInt8 {
        assert!(w.len() == n * k && scale.len() == n && bias.is_none_or(|b| b.len() == n));
        assert!(k <= MAX_INPUTS, "{k} inputs: at most {MAX_INPUTS}");
        let (nb, kg) = (n.div_ceil(BLOCK), k.div_ceil(4));
        let mut data = vec![0i8; nb * kg * BLOCK * 4];
        let mut sums = vec![0i32; nb * BLOCK];
        for c in 0..n {
            let (b, lane) = (c / BLOCK, c % BLOCK);
            for (i, &v) in w[c * k..(c + 1) * k].iter().enumerate() {
                data[((b * kg + i / 4) * BLOCK + lane) * 4 + i % 4] = v;
                sums[c] += v as i32;
            }
        }
        let pad = |v: &[f32]| {
            let mut p = v.to_vec();
            p.resize(nb * BLOCK, 0.0);
            p
        };
        PackedInt8 {
            data,
            sums,
            scale: pad(scale),
            bias: pad(bias.unwrap_or(&[])),
            n,
            k,
        }
    }

    /// Output channels.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Inputs.
    pub fn k(&self) -> usize {
        self.k
    }
}

/// Per-row quantised activations: `q [rows, kp]` (kp = k rounded up to 4, zero-padded), each
/// row's scale `sx` and zero point `zx`.
pub(super) struct QuantRows {
    pub(super) q: Vec<u8>,
    pub(super) sx: Vec<f32>,
    pub(super) zx: Vec<i32>,
    pub(super) kp: usize,
}

/// The scratch of [`linear_rows`]: room for the quantised rows of up to `rows` inputs.
pub struct RowBuf(QuantRows);

impl RowBuf {
    /// Room for `rows` rows of `k` inputs.
    pub fn new(rows: usize, k: usize) -> RowBuf {
        let kp = k.next_multiple_of(4);
        RowBuf(QuantRows {
            q: vec![0u8; rows * kp],
            sx: vec![1.0; rows],
            zx: vec![0; rows],
            kp,
        })
    }
}

/// `out [m, n] = x [m, k] · Wᵀ + b` through int8 on `path` (see the module doc), the rows
/// shared among the threads.
pub fn linear(x: &[f32], m: usize, w: &PackedInt8, out: &mut [f32], path: Int8Path) {
    let (n, k) = (w.n, w.k);
    assert!(x.len() == m * k && out.len() == m * n);
    if n == 0 || m == 0 {
        return;
    }
    let run = |r0: usize, o: &mut [f32]| {
        let mut buf = RowBuf::new(ROW_CHUNK.min(m), k);
        for (c, oc) in o.chunks_mut(ROW_CHUNK * n).enumerate() {
            let rows = oc.len() / n;
            let s = r0 + c * ROW_CHUNK;
            linear_rows(
                &x[s * k..(s + rows) * k],
                rows,
                w,
                oc,
                &mut buf,
                false,
                path,
            );
        }
    };
    // about 64 rows of 256 products each before a second thread pays off
    match threads::share(m, (1 << 14) / (n * k).clamp(1, 1 << 14) + 64, 16) {
        Some(rows) => out
            .par_chunks_mut(rows * n)
            .enumerate()
            .for_each(|(i, o)| run(i * rows, o)),
        None => run(0, out),
    }
}

/// [`linear`] of `rows` rows on the calling thread, `buf` holding room for them; with
/// `accumulate` the result is added to `out` (`out = x·Wᵀ + b + out`).
pub fn linear_rows(
    x: &[f32],
    rows: usize,
    w: &PackedInt8,
    out: &mut [f32],
    buf: &mut RowBuf,
    accumulate: bool,
    path: Int8Path,
) {
    let qr = &mut buf.0;
    let path = path.or_portable();
    assert!(x.len() == rows * w.k && out.len() == rows * w.n && qr.sx.len() >= rows);
    assert_eq!(qr.kp, w.k.next_multiple_of(4));
    quantize(x, rows, w.k, qr, path);
    product(qr, rows, w, out, accumulate, path);
}

/// `x [m, k]` quantised per row as [`linear`] quantises its input, and back to floats:
/// `(q − zx)·sx` (quantisation-aware training simulates the int8 layer with it).
pub fn fake_quant_rows(x: &[f32], k: usize) -> Vec<f32> {
    let m = x.len() / k.max(1);
    let mut buf = RowBuf::new(m, k);
    let qr = &mut buf.0;
    quantize(x, m, k, qr, Int8Path::Portable);
    (0..m * k)
        .map(|j| {
            let r = j / k;
            (qr.q[r * qr.kp + j % k] as i32 - qr.zx[r]) as f32 * qr.sx[r]
        })
        .collect()
}

/// Quantises each row of `x [rows, k]` into `qr` (see the module doc); the padding bytes of
/// `qr.q` stay zero.
fn quantize(x: &[f32], rows: usize, k: usize, qr: &mut QuantRows, path: Int8Path) {
    let kp = qr.kp;
    for r in 0..rows {
        let row = &x[r * k..(r + 1) * k];
        let q = &mut qr.q[r * kp..r * kp + k];
        let (lo, hi) = min_max(row, path);
        let Some((scale, zero)) = qparams(lo, hi) else {
            // all zero (or not finite)
            (qr.sx[r], qr.zx[r]) = (1.0, 0);
            q.fill(0);
            continue;
        };
        qr.sx[r] = scale;
        qr.zx[r] = zero;
        quantize_row(row, 1.0 / scale, zero as f32, q, path);
    }
}

/// The scale and zero point that map `[lo, hi]` (holding 0) onto `[0, 127]`:
/// `scale = (hi − lo)/127`, `zero = round(−lo/scale)`; `None` unless `hi > lo`.
pub fn qparams(lo: f32, hi: f32) -> Option<(f32, i32)> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let scale = (hi - lo) / 127.0;
    let zero = (-lo / scale).round_ties_even().clamp(0.0, 127.0);
    Some((scale, zero as i32))
}

/// The smallest and largest of `x` and 0.
fn min_max(x: &[f32], path: Int8Path) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    match path.or_portable() {
        // SAFETY: `or_portable` keeps a path only where the CPU has its features.
        Int8Path::Vnni => return unsafe { x86::min_max_512(x) },
        Int8Path::Avx2 => return unsafe { x86::min_max(x) },
        Int8Path::Portable => {}
    }
    let _ = path;
    x.iter().fold((0f32, 0f32), |(lo, hi), &v| {
        (if v < lo { v } else { lo }, if v > hi { v } else { hi })
    })
}

/// `q = clamp(round_even(x·inv + zero), 0, 127)`.
pub(super) fn quantize_row(x: &[f32], inv: f32, zero: f32, q: &mut [u8], path: Int8Path) {
    let start = {
        #[cfg(target_arch = "x86_64")]
        match path.or_portable() {
            // SAFETY: `or_portable` keeps a path only where the CPU has its features; `q`
            // is as long as `x`.
            Int8Path::Vnni => unsafe { x86::quantize_row_512(x, inv, zero, q) },
            Int8Path::Avx2 => unsafe { x86::quantize_row(x, inv, zero, q) },
            Int8Path::Portable => 0,
        }
        #[cfg(not(target_arch = "x86_64"))]
        0
    };
    for (o, &v) in q[start..].iter_mut().zip(&x[start..]) {
        *o = ((v * inv + zero).round_ties_even() as i32).clamp(0, 127) as u8;
    }
}

/// The products of quantised rows against every block, then the epilogue.
pub(super) fn product(
    qr: &QuantRows,
    rows: usize,
    w: &PackedInt8,
    out: &mut [f32],
    acc: bool,
    path: Int8Path,
) {
    match path.or_portable() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `or_portable` keeps `Vnni` only where the CPU has the features.
        Int8Path::Vnni => unsafe { x86::product_vnni(qr, rows, w, out, acc) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `or_portable` keeps `Avx2` only where the CPU has AVX2.
        Int8Path::Avx2 => unsafe { x86::product_avx2(qr, rows, w, out, acc) },
        _ => product_portable(qr, rows, w, out, acc),
    }
}

/// The epilogue of one output: `(acc − zx·Σqw)·(sx·sw) + b`.
#[inline]
fn finish(acc: i32, zx: i32, sum: i32, sx: f32, sw: f32, b: f32) -> f32 {
    (acc - zx * sum) as f32 * (sx * sw) + b
}

/// The products in plain integer arithmetic, a block of 16 channels at a time (fixed-size
/// lanes the compiler vectorises for the baseline instruction set).
fn product_portable(qr: &QuantRows, rows: usize, w: &PackedInt8, out: &mut [f32], acc: bool) {
    let (n, kg) = (w.n, qr.kp / 4);
    for r in 0..rows {
        let a = &qr.q[r * qr.kp..(r + 1) * qr.kp];
        for (b, panel) in w.data.chunks_exact(kg * BLOCK * 4).enumerate() {
            let mut sum = [0i32; BLOCK];
            for (ag, wg) in a.chunks_exact(4).zip(panel.chunks_exact(BLOCK * 4)) {
                for (s, wl) in sum.iter_mut().zip(wg.chunks_exact(4)) {
                    *s += (0..4).map(|j| ag[j] as i32 * wl[j] as i32).sum::<i32>();
                }
            }
            for (lane, &s) in sum.iter().enumerate().take(n - b * BLOCK) {
                let c = b * BLOCK + lane;
                let y = finish(s, qr.zx[r], w.sums[c], qr.sx[r], w.scale[c], w.bias[c]);
                let o = &mut out[r * n + c];
                *o = if acc { y + *o } else { y };
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[path = "int8_x86.rs"]
mod x86;

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random values in `[lo, hi]`.
    fn ints(len: usize, seed: u64, lo: i32, hi: i32) -> Vec<i32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                lo + ((s >> 33) % (hi - lo + 1) as u64) as i32
            })
            .collect()
    }

    /// Every path's integer sums equal a plain i32 reference exactly, on odd sizes and on the
    /// extreme values (127 · ±127: where a saturating pair would show).
    #[test]
    fn every_path_equals_the_integer_reference() {
        for (m, n, k) in [
            (1, 1, 1),
            (3, 17, 5),
            (7, 33, 31),
            (9, 70, 130),
            (5, 16, 64),
        ] {
            for extreme in [false, true] {
                let (qx, qw) = if extreme {
                    (
                        vec![127; m * k],
                        ints(n * k, 3, 0, 1)
                            .iter()
                            .map(|v| if *v == 0 { -127 } else { 127 })
                            .collect(),
                    )
                } else {
                    (ints(m * k, 1, 0, 127), ints(n * k, 2, -127, 127))
                };
                let w: Vec<i8> = qw.iter().map(|&v| v as i8).collect();
                let packed = PackedInt8::new(&w, &vec![1.0; n], None, n, k);
                let kp = k.next_multiple_of(4);
                let mut q = vec![0u8; m * kp];
                for r in 0..m {
                    for i in 0..k {
                        q[r * kp + i] = qx[r * k + i] as u8;
                    }
                }
                let qr = QuantRows {
                    q,
                    sx: vec![1.0; m],
                    zx: vec![0; m],
                    kp,
                };
                for path in Int8Path::available() {
                    let mut out = vec![0f32; m * n];
                    product(&qr, m, &packed, &mut out, false, path);
                    for r in 0..m {
                        for c in 0..n {
                            let want: i32 = (0..k).map(|i| qx[r * k + i] * qw[c * k + i]).sum();
                            assert_eq!(
                                out[r * n + c],
                                want as f32,
                                "{path:?} m={m} n={n} k={k} ({r},{c})"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The whole product (quantising, zero points, scales, bias) is the same on every path
    /// and close to the float product.
    #[test]
    fn paths_agree_and_approximate_the_float_product() {
        let (m, n, k) = (37, 21, 45);
        let x: Vec<f32> = ints(m * k, 4, -1000, 3000)
            .iter()
            .map(|&v| v as f32 / 1000.0)
            .collect();
        let wf: Vec<f32> = ints(n * k, 5, -500, 500)
            .iter()
            .map(|&v| v as f32 / 1000.0)
            .collect();
        let bias: Vec<f32> = (0..n).map(|c| c as f32 * 0.1).collect();
        let scale: Vec<f32> = (0..n)
            .map(|c| {
                wf[c * k..(c + 1) * k]
                    .iter()
                    .fold(0f32, |a, v| a.max(v.abs()))
                    / 127.0
            })
            .collect();
        let w: Vec<i8> = (0..n * k)
            .map(|i| (wf[i] / scale[i / k]).round() as i8)
            .collect();
        let packed = PackedInt8::new(&w, &scale, Some(&bias), n, k);
        let mut first: Option<Vec<f32>> = None;
        for path in Int8Path::available() {
            let mut out = vec![0f32; m * n];
            linear(&x, m, &packed, &mut out, path);
            match &first {
                Some(f) => assert_eq!(f, &out, "{path:?}"),
                None => first = Some(out.clone()),
            }
            // accumulating adds the same result to what is there
            let mut acc = vec![1.0f32; m * n];
            let mut buf = RowBuf::new(m, k);
            linear_rows(&x, m, &packed, &mut acc, &mut buf, true, path);
            let want: Vec<f32> = out.iter().map(|v| v + 1.0).collect();
            assert_eq!(acc, want, "{path:?} accumulating");
            for r in 0..m {
                for c in 0..n {
                    let exact: f32 =
                        (0..k).map(|i| x[r * k + i] * wf[c * k + i]).sum::<f32>() + bias[c];
                    let err = (out[r * n + c] - exact).abs();
                    assert!(
                        err < 0.1,
                        "{path:?} ({r},{c}): {} vs {exact}",
                        out[r * n + c]
                    );
                }
            }
        }
    }
}
