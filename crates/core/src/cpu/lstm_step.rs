//! The LSTM's forward steps fused on AVX-512: for a tile of up to 6 batch rows and a block
//! of 16 units, the four gates' pre-activations are summed in 24 registers and the cell is
//! applied there, so a step reads each weight once per tile and writes only its results:
//!
//! ```text
//! acc[r]  = b[i, f, g, o](units)                                    4 vectors per row
//! acc[r] += Σ_k x_t[r, k] · W_ihᵀ[k, gate columns]                  input projection
//! acc[r] += Σ_k h_{t-1}[r, k] · W_hhᵀ[k, gate columns]              recurrence
//! i, f, o = σ(acc[r]),  g = tanh(acc[r]),  c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)
//! ```
//! The weights are packed once per pass ([`Panels`]) so each k reads 64 contiguous floats.
//! `h_{t-1}` and `c_{t-1}` are read from the previous step's output rows. σ and tanh are
//! `gates.rs`'s formulas in vector form, with fused multiply-adds and a refined reciprocal
//! estimate for the division (within a few ulp of gates.rs); the sums run in order of k, so
//! results differ from the GEMM path only by rounding.
//! `recurrent.rs` takes this path for the LSTM when the CPU has AVX-512, the GEMM path
//! otherwise.

use super::recurrent::{xh_stride, RnnGeom};
use super::recycle::{recycle, scratch};
use rayon::prelude::*;

/// Units per block: one 16-lane vector.
const U: usize = 16;
/// Columns of a panel row: the four gates of a block.
const W: usize = 4 * U;

/// Whether this CPU runs the fused step.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `W_ih`, `W_hh` and the folded bias packed for the fused step: for each block of 16
/// units, the `I + H` rows of `[W_ihᵀ; W_hhᵀ]` restricted to the block's gate columns,
/// `panel[jb][k][q·16 + u] = W[q·H + 16·jb + u][k]` (zeros past the last unit), and the
/// bias the same way.
pub struct Panels {
    data: Vec<f32>,
    bias: Vec<f32>,
    input: usize,
    hidden: usize,
}

impl Panels {
    /// Packs `w_ih [4H, I]`, `w_hh [4H, H]` and `bias [4H]` (PyTorch's layout).
    pub fn pack(w_ih: &[f32], w_hh: &[f32], bias: &[f32], input: usize, hidden: usize) -> Panels {
        let (i, h) = (input, hidden);
        assert!(
            w_ih.len() == 4 * h * i && w_hh.len() == 4 * h * h && bias.len() == 4 * h,
            "lstm_step: weights of {} / {} / {} values do not fit I={i} H={h}",
            w_ih.len(),
            w_hh.len(),
            bias.len()
        );
        let blocks = h.div_ceil(U);
        let k = i + h;
        let mut data = scratch(blocks * k * W); // every column is written below
        let mut b = vec![0.0; blocks * W];
        let fill = |(jb, panel): (usize, &mut [f32])| {
            for q in 0..4 {
                for unit in jb * U..h.min((jb + 1) * U) {
                    let (col, row) = (q * U + unit % U, q * h + unit);
                    for (kk, &v) in w_ih[row * i..(row + 1) * i].iter().enumerate() {
                        panel[kk * W + col] = v;
                    }
                    for (kk, &v) in w_hh[row * h..(row + 1) * h].iter().enumerate() {
                        panel[(i + kk) * W + col] = v;
                    }
                }
                // units past `H` (last block only): zeros, so no stale values meet the
                // FMAs (their lanes are masked off at the stores either way)
                for unit in h.max(jb * U)..(jb + 1) * U {
                    for r in panel.chunks_exact_mut(W) {
                        r[q * U + unit % U] = 0.0;
                    }
                }
            }
        };
        if super::threads::num_threads() > 1 && data.len() >= 1 << 16 {
            data.par_chunks_mut(k * W).enumerate().for_each(fill);
        } else {
            data.chunks_mut(k * W).enumerate().for_each(fill);
        }
        for q in 0..4 {
            for unit in 0..h {
                b[unit / U * W + q * U + unit % U] = bias[q * h + unit];
            }
        }
        Panels {
            data,
            bias: b,
            input,
            hidden,
        }
    }
}

impl Drop for Panels {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.data));
    }
}

/// What the forward steps write: `y [B, T, 2H]` gets each step's `[h_t, c_t]`, `gates
/// [B, T, 4H]` the activations `[i, f, g, o]`, `xh` every row's `[x_t, h_{t-1}, 1]`,
/// [`xh_stride`] apart (training; when empty, gates go to a scratch row block and the
/// `[x_t, h_{t-1}]` rows to a small one).
pub struct StepsOut<'a> {
    /// `[B, T, 2H]`
    pub y: &'a mut [f32],
    /// `[B, T, 4H]` or empty.
    pub gates: &'a mut [f32],
    /// `[B, T, xh_stride]` or empty.
    pub xh: &'a mut [f32],
}

/// The forward steps for one block of batch rows (`g.batch` of them) of `x [B, T, I]` into
/// `out`, from `h0`, `c0` `[B, H]` (zeros when `None`).
///
/// # Panics
/// If the CPU lacks AVX-512 ([`available`]) or the sizes do not fit.
pub fn steps(
    g: &RnnGeom,
    p: &Panels,
    x: &[f32],
    out: StepsOut,
    h0: Option<&[f32]>,
    c0: Option<&[f32]>,
) {
    let (b, t, i, h) = (g.batch, g.time, g.input, g.hidden);
    let StepsOut { y, gates, xh } = out;
    let xs = xh_stride(g);
    assert!(
        available()
            && p.input == i
            && p.hidden == h
            && x.len() == b * t * i
            && y.len() == b * t * 2 * h
            && (gates.is_empty() || gates.len() == b * t * 4 * h)
            && (xh.is_empty() || xh.len() == b * t * xs)
            && h0.is_none_or(|v| v.len() == b * h)
            && c0.is_none_or(|v| v.len() == b * h),
        "lstm_step: sizes x={} y={} gates={} xh={} do not fit B={b} T={t} I={i} H={h}",
        x.len(),
        y.len(),
        gates.len(),
        xh.len()
    );
    if b == 0 || t == 0 || h == 0 {
        return;
    }
    let zeros = vec![
        0.0;
        if h0.is_none() || c0.is_none() {
            b * h
        } else {
            0
        }
    ];
    let (h0, c0) = (h0.unwrap_or(&zeros), c0.unwrap_or(&zeros));
    let keep = !gates.is_empty();
    let mut own = scratch(if keep { 0 } else { b * 4 * h }); // written in full each step
    let (gates, g_rs) = if keep {
        (gates, t * 4 * h)
    } else {
        (&mut own[..], 4 * h)
    };
    // each step's rows `[x_t, h_{t-1}]` side by side: one run of `I + H` values per row,
    // into `xh` (then `1` after them, for the bias gradient) or a block of rows a little
    // more than a multiple of 64 bytes apart (rows of `x` and `y` lie a multiple of 4 KiB
    // apart, so they would all compete for the same few L1 cache sets)
    let keep_xh = !xh.is_empty();
    let small_rs = (i + h).div_ceil(U) * U + U;
    let mut small = scratch(if keep_xh { 0 } else { b * small_rs });
    let (a, a_rs, a_step) = if keep_xh {
        (xh, t * xs, xs)
    } else {
        (&mut small[..], small_rs, 0)
    };
    let y_rs = t * 2 * h;
    for s in 0..t {
        let tt = g.t(s);
        // the previous state: h0/c0 rows before the first step, else last step's outputs
        let (prev, p_rs) = if s == 0 {
            (None, h)
        } else {
            (Some(g.t(s - 1) * 2 * h), y_rs)
        };
        for r in 0..b {
            let row = &mut a[r * a_rs + tt * a_step..][..i + h + usize::from(keep_xh)];
            let xr = (r * t + tt) * i;
            row[..i].copy_from_slice(&x[xr..xr + i]);
            let hp = match prev {
                None => &h0[r * h..(r + 1) * h],
                Some(o) => &y[o + r * y_rs..o + r * y_rs + h],
            };
            row[i..i + h].copy_from_slice(hp);
            if keep_xh {
                row[i + h] = 1.0;
            }
        }
        let y_ptr = y.as_mut_ptr();
        let cp = match prev {
            None => c0.as_ptr(),
            // SAFETY: the offset lies inside `y` (step index < t, y holds b·t rows).
            Some(o) => unsafe { y_ptr.add(o + h) }.cast_const(),
        };
        let rows = StepRows {
            a: a[tt * a_step..].as_ptr(),
            a_rs,
            c: cp,
            c_rs: p_rs,
            gates: gates[if keep { tt * 4 * h } else { 0 }..].as_mut_ptr(),
            g_rs,
            // SAFETY: as above.
            y: unsafe { y_ptr.add(tt * 2 * h) },
            y_rs,
        };
        // SAFETY: AVX-512 is present (asserted); every row the strides reach lies inside
        // its buffer (sizes asserted above); this step's output rows (step tt) never overlap
        // the previous step's rows it reads (step g.t(s-1) != tt).
        #[cfg(target_arch = "x86_64")]
        unsafe {
            kernel::step(p, b, &rows)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let _ = rows;
    }
    recycle(own);
    recycle(small);
}

/// One step's rows, `*_rs` apart: row `r` of `[x_t, h_{t-1}]` at `a + r·a_rs`, of
/// `c_{t-1}` at `c + r·c_rs`, of the gates at `gates + r·g_rs`, of `[h_t, c_t]` at
/// `y + r·y_rs`.
struct StepRows {
    a: *const f32,
    a_rs: usize,
    c: *const f32,
    c_rs: usize,
    gates: *mut f32,
    g_rs: usize,
    y: *mut f32,
    y_rs: usize,
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod kernel {
    use super::{Panels, StepRows, U, W};
    use std::arch::x86_64::*;

    /// Calls `$tile::<R>($args.., jb, r)` for every unit block `jb < $blocks` and every row
    /// tile of `$rows` rows: `R` (a constant) rows from `r`, 6 at most (6 rows x 4 vectors =
    /// 24 of the 32 vector registers), the rows shared evenly (32 rows: 6, 6, 5, 5, 5, 5, not
    /// 6 x 5 and a 2-row tile that does a third of the FMAs per weight load). Shared with
    /// `lstm_back.rs`.
    macro_rules! for_each_tile {
        ($blocks:expr, $rows:expr, $tile:ident($($arg:expr),*)) => {{
            let tiles = $rows.div_ceil(6);
            for jb in 0..$blocks {
                let mut r = 0;
                for k in 0..tiles {
                    let n = $rows / tiles + usize::from(k < $rows % tiles);
                    match n {
                        6 => $tile::<6>($($arg,)* jb, r),
                        5 => $tile::<5>($($arg,)* jb, r),
                        4 => $tile::<4>($($arg,)* jb, r),
                        3 => $tile::<3>($($arg,)* jb, r),
                        2 => $tile::<2>($($arg,)* jb, r),
                        _ => $tile::<1>($($arg,)* jb, r),
                    }
                    r += n;
                }
            }
        }};
    }
    pub(crate) use for_each_tile;

    /// One step of `rows` batch rows: every unit block, every row tile.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn step(p: &Panels, rows: usize, s: &StepRows) {
        // SAFETY: forwarded from the caller.
        unsafe { for_each_tile!(p.hidden.div_ceil(U), rows, tile(p, s)) }
    }

    /// `R` rows from `r0`, units `16·jb ..`: the sums, then the cell, in registers.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile<const R: usize>(p: &Panels, s: &StepRows, jb: usize, r0: usize) {
        let (i, h) = (p.input, p.hidden);
        // SAFETY (whole body): the panels hold `blocks · (I + H)` rows of W floats and the
        // bias `blocks · W`; the step rows are valid for `r0 + R` rows (caller).
        unsafe {
            let w = p.data.as_ptr().add(jb * (i + h) * W);
            let bias = p.bias.as_ptr().add(jb * W);
            let mut acc = [[_mm512_setzero_ps(); 4]; R];
            for a in acc.iter_mut() {
                for (q, v) in a.iter_mut().enumerate() {
                    *v = _mm512_loadu_ps(bias.add(q * U));
                }
            }
            let mut ar = [s.a; R];
            for (r, p) in ar.iter_mut().enumerate() {
                *p = s.a.add((r0 + r) * s.a_rs);
            }
            accumulate::<R>(&mut acc, &ar, w, i + h);
            let nu = (h - jb * U).min(U);
            let mask: __mmask16 = if nu == U { 0xffff } else { (1u16 << nu) - 1 };
            for (r, a) in acc.iter().enumerate() {
                let row = r0 + r;
                let (ig, fg) = (sigmoid(a[0]), sigmoid(a[1]));
                let (gg, og) = (tanh(a[2]), sigmoid(a[3]));
                let cp = _mm512_maskz_loadu_ps(mask, s.c.add(row * s.c_rs + jb * U));
                let c = _mm512_add_ps(_mm512_mul_ps(fg, cp), _mm512_mul_ps(ig, gg));
                let hv = _mm512_mul_ps(og, tanh(c));
                let gr = s.gates.add(row * s.g_rs + jb * U);
                for (q, v) in [ig, fg, gg, og].into_iter().enumerate() {
                    _mm512_mask_storeu_ps(gr.add(q * h), mask, v);
                }
                let yr = s.y.add(row * s.y_rs + jb * U);
                _mm512_mask_storeu_ps(yr, mask, hv);
                _mm512_mask_storeu_ps(yr.add(h), mask, c);
            }
        }
    }

    /// `acc[r] += Σ_k a[r][k] · w[k]` for `k < len`, `w` rows of W floats.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(crate) unsafe fn accumulate<const R: usize>(
        acc: &mut [[__m512; 4]; R],
        a: &[*const f32; R],
        w: *const f32,
        len: usize,
    ) {
        // SAFETY: the caller's rows hold `len` values and `w` holds `len` rows.
        unsafe {
            for k in 0..len {
                let wk = w.add(k * W);
                let wv = [
                    _mm512_loadu_ps(wk),
                    _mm512_loadu_ps(wk.add(U)),
                    _mm512_loadu_ps(wk.add(2 * U)),
                    _mm512_loadu_ps(wk.add(3 * U)),
                ];
                for r in 0..R {
                    let x = _mm512_set1_ps(*a[r].add(k));
                    for q in 0..4 {
                        acc[r][q] = _mm512_fmadd_ps(x, wv[q], acc[r][q]);
                    }
                }
            }
        }
    }

    /// `gates.rs`'s `e^x` on 16 lanes, with fused multiply-adds.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn exp(x: __m512) -> __m512 {
        use super::super::gates::{LN2_HI, LN2_LO, LOG2_E, ROUND};
        let set = _mm512_set1_ps;
        // max/min with the constant first return `x` when it is NaN
        let x = _mm512_min_ps(set(87.0), _mm512_max_ps(set(-87.0), x));
        let v = _mm512_fmadd_ps(x, set(LOG2_E), set(ROUND));
        let n = _mm512_sub_ps(v, set(ROUND));
        let r = _mm512_fnmadd_ps(n, set(LN2_LO), _mm512_fnmadd_ps(n, set(LN2_HI), x));
        let mut poly = set(1.0 / 720.0);
        for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
            poly = _mm512_fmadd_ps(r, poly, set(c));
        }
        let bits = _mm512_sub_epi32(
            _mm512_castps_si512(v),
            _mm512_set1_epi32(ROUND.to_bits() as i32),
        );
        let e = _mm512_slli_epi32::<23>(_mm512_add_epi32(bits, _mm512_set1_epi32(127)));
        _mm512_mul_ps(poly, _mm512_castsi512_ps(e))
    }

    /// `1 / d` for `d` in `[1, 2^126)`: the 14-bit estimate and one Newton step
    /// `r (2 - d r)` (a division costs several times more).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn recip(d: __m512) -> __m512 {
        let r = _mm512_rcp14_ps(d);
        _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0)))
    }

    /// `1 / (1 + e^-x)`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn sigmoid(x: __m512) -> __m512 {
        let one = _mm512_set1_ps(1.0);
        let minus = _mm512_sub_ps(_mm512_setzero_ps(), x);
        recip(_mm512_add_ps(one, exp(minus)))
    }

    /// `1 - 2 / (1 + e^2x)`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(crate) fn tanh(x: __m512) -> __m512 {
        let one = _mm512_set1_ps(1.0);
        let e = exp(_mm512_mul_ps(_mm512_set1_ps(2.0), x));
        _mm512_fnmadd_ps(_mm512_set1_ps(2.0), recip(_mm512_add_ps(one, e)), one)
    }
}
