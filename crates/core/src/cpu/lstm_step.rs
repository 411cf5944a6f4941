//! The LSTM's forward steps fused on AVX-512 and AVX2: for a tile of up to 6 (AVX2: 3)
//! batch rows and a block of one vector of units (16 or 8), the four gates' pre-activations
//! are summed in 24 (12) registers and the cell is applied there, so a step reads each
//! weight once per tile and writes only its results:
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
//! results differ from the GEMM path only by rounding. The kernel is written once over
//! `lanes.rs`'s vectors.
//! `recurrent.rs` takes this path for the LSTM when [`Isa::get`] is AVX2 or wider, the GEMM
//! path otherwise.

use super::recurrent::{xh_stride, RnnGeom};
use super::recycle::{recycle, scratch};
use super::simd::Isa;
use rayon::prelude::*;

/// Whether the fused step runs on the path in use ([`Isa::get`]).
pub fn available() -> bool {
    Isa::get() >= Isa::Avx2
}

/// Lanes of the vectors of the path in use (units per block): 16 on AVX-512, else 8.
pub(crate) fn lanes() -> usize {
    if Isa::get() == Isa::Avx512 {
        16
    } else {
        8
    }
}

/// `W_ih`, `W_hh` and the folded bias packed for the fused step: for each block of `U`
/// units (the vector's lanes), the `I + H` rows of `[W_ihᵀ; W_hhᵀ]` restricted to the
/// block's gate columns, `panel[jb][k][q·U + u] = W[q·H + U·jb + u][k]` (zeros past the
/// last unit), and the bias the same way.
pub struct Panels {
    /// The panels from `at` on (a 64-byte boundary).
    data: Vec<f32>,
    at: usize,
    bias: Vec<f32>,
    input: usize,
    hidden: usize,
    /// Units per block, `U` (16 or 8).
    lanes: usize,
}

impl Panels {
    /// Packs `w_ih [4H, I]`, `w_hh [4H, H]` and `bias [4H]` (PyTorch's layout) for the
    /// vectors of the path in use.
    pub fn pack(w_ih: &[f32], w_hh: &[f32], bias: &[f32], input: usize, hidden: usize) -> Panels {
        let (i, h, lanes) = (input, hidden, lanes());
        #[allow(non_snake_case)]
        let (U, W) = (lanes, 4 * lanes);
        assert!(
            w_ih.len() == 4 * h * i && w_hh.len() == 4 * h * h && bias.len() == 4 * h,
            "lstm_step: weights of {} / {} / {} values do not fit I={i} H={h}",
            w_ih.len(),
            w_hh.len(),
            bias.len()
        );
        let blocks = h.div_ceil(U);
        let k = i + h;
        // every column is written below
        let (mut buf, at) = super::lanes::aligned(blocks * k * W);
        let data = &mut buf[at..at + blocks * k * W];
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
            data: buf,
            at,
            bias: b,
            input,
            hidden,
            lanes,
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
/// If the CPU lacks the panels' instructions or the sizes do not fit.
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
    let isa = if p.lanes == 16 {
        Isa::Avx512
    } else {
        Isa::Avx2
    };
    assert!(
        Isa::detected() >= isa
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
    let small_rs = (i + h).div_ceil(16) * 16 + 16;
    let mut small = scratch(if keep_xh { 0 } else { b * small_rs });
    let (a, a_rs, a_step) = if keep_xh {
        (xh, t * xs, xs)
    } else {
        (&mut small[..], small_rs, 0)
    };
    let y_rs = t * 2 * h;
    // the tiles' partial sums between runs of k (`kernel::k_run`): 4 vectors a row
    let mut part = scratch(b * 4 * p.lanes);
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
            part: part.as_mut_ptr(),
        };
        // SAFETY: the CPU runs the panels' instructions (asserted); every row the strides
        // reach lies inside its buffer (sizes asserted above); this step's output rows (step
        // tt) never overlap the previous step's rows it reads (step g.t(s-1) != tt).
        #[cfg(target_arch = "x86_64")]
        unsafe {
            match isa {
                Isa::Avx512 => kernel::step_avx512(p, b, &rows),
                _ => kernel::step_avx2(p, b, &rows),
            }
        };
        #[cfg(not(target_arch = "x86_64"))]
        let _ = rows;
    }
    recycle(own);
    recycle(small);
    recycle(part);
}

/// One step's rows, `*_rs` apart: row `r` of `[x_t, h_{t-1}]` at `a + r·a_rs`, of
/// `c_{t-1}` at `c + r·c_rs`, of the gates at `gates + r·g_rs`, of `[h_t, c_t]` at
/// `y + r·y_rs`; row `r`'s partial sums at `part + r·4·lanes`.
struct StepRows {
    a: *const f32,
    a_rs: usize,
    c: *const f32,
    c_rs: usize,
    gates: *mut f32,
    g_rs: usize,
    y: *mut f32,
    y_rs: usize,
    part: *mut f32,
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod kernel {
    use super::super::lanes::{Avx2, Avx512, Lanes};
    use super::{Panels, StepRows};

    /// Calls `$tile::<R>($args.., r)` for every row tile of `$rows` rows: `R` (a constant)
    /// rows from `r`, `$max` at most (6 rows x 4 vectors = 24 of AVX-512's 32 registers, 3
    /// x 4 of AVX2's 16), the rows shared evenly (32 rows on AVX-512: 6, 6, 5, 5, 5, 5, not
    /// 6 x 5 and a 2-row tile that does a third of the FMAs per weight load). Shared with
    /// `lstm_back.rs`.
    macro_rules! for_each_tile {
        ($max:expr, $rows:expr, $tile:ident($($arg:expr),*)) => {{
            let max = $max;
            let tiles = $rows.div_ceil(max);
            let mut r = 0;
            for k in 0..tiles {
                let n = $rows / tiles + usize::from(k < $rows % tiles);
                match n.min(max) {
                    6 => $tile::<6>($($arg,)* r),
                    5 => $tile::<5>($($arg,)* r),
                    4 => $tile::<4>($($arg,)* r),
                    3 => $tile::<3>($($arg,)* r),
                    2 => $tile::<2>($($arg,)* r),
                    _ => $tile::<1>($($arg,)* r),
                }
                r += n;
            }
        }};
    }
    pub(crate) use for_each_tile;

    /// Panel rows (values of k) summed by every row tile before the next run: 16 KiB of
    /// the panel, which stays in L1 while all the tiles read it (a whole panel, up to
    /// `(I + H) · 256` bytes, came from L2 once per tile). Measured on 2 threads, 28 steps of
    /// LSTM(256) over 256 features, batch 64: 204 -> 230 GFLOP/s (AVX-512), 124 -> 138
    /// (AVX2); 8 KiB runs were slower (205, 132), 32 KiB ones about the same.
    pub(crate) const fn k_run(lanes: usize) -> usize {
        1024 / lanes
    }

    /// `f(jb, (k0, k1))` for every block of units `jb < blocks` and every run `k0..k1` of
    /// `0..k` ([`k_run`] long; one empty run when `k` is 0).
    #[inline(always)]
    pub(crate) fn for_runs(
        blocks: usize,
        k: usize,
        lanes: usize,
        mut f: impl FnMut(usize, (usize, usize)),
    ) {
        for jb in 0..blocks {
            let mut k0 = 0;
            loop {
                let k1 = (k0 + k_run(lanes)).min(k);
                f(jb, (k0, k1));
                k0 = k1;
                if k0 >= k {
                    break;
                }
            }
        }
    }

    /// The entry points of a fused kernel whose `tile::<L, R>(p, s, jb, (k0, k1), r0)` is
    /// written once over `lanes.rs`'s vectors: `step_avx512` and `step_avx2` run one step of
    /// `rows` batch rows (every block of units, every run of k, every row tile; `$shape`
    /// gives the blocks and k from the panels `$p`, the rows `$s` and the lanes `$n`), and
    /// each calls its tiles compiled for its instruction set, apart: inlined into the loops,
    /// a tile's constants (the exponential's coefficients) stay in registers the sums then
    /// lack. Shared with `lstm_back.rs`.
    macro_rules! entry_points {
        ($panels:ty, $rows:ty, |$p:ident, $s:ident, $n:ident| $shape:expr) => {
            /// One step on AVX-512.
            pub(super) unsafe fn step_avx512(p: &$panels, rows: usize, s: &$rows) {
                let ($p, $s, $n) = (p, s, 16usize);
                let (blocks, k) = $shape;
                for_runs(blocks, k, 16, |jb, ks| {
                    // SAFETY: forwarded from the caller.
                    unsafe { for_each_tile!(Avx512::ROWS, rows, tile_avx512(p, s, jb, ks)) }
                })
            }

            /// One step on AVX2.
            pub(super) unsafe fn step_avx2(p: &$panels, rows: usize, s: &$rows) {
                let ($p, $s, $n) = (p, s, 8usize);
                let (blocks, k) = $shape;
                for_runs(blocks, k, 8, |jb, ks| {
                    // SAFETY: forwarded from the caller.
                    unsafe { for_each_tile!(Avx2::ROWS, rows, tile_avx2(p, s, jb, ks)) }
                })
            }

            #[target_feature(enable = "avx512f")]
            #[inline(never)]
            unsafe fn tile_avx512<const R: usize>(
                p: &$panels,
                s: &$rows,
                jb: usize,
                ks: (usize, usize),
                r0: usize,
            ) {
                // SAFETY: forwarded from the caller.
                unsafe { tile::<Avx512, R>(p, s, jb, ks, r0) }
            }

            #[target_feature(enable = "avx2,fma")]
            #[inline(never)]
            unsafe fn tile_avx2<const R: usize>(
                p: &$panels,
                s: &$rows,
                jb: usize,
                ks: (usize, usize),
                r0: usize,
            ) {
                // SAFETY: forwarded from the caller.
                unsafe { tile::<Avx2, R>(p, s, jb, ks, r0) }
            }
        };
    }
    pub(crate) use entry_points;

    entry_points!(Panels, StepRows, |p, _s, n| (
        p.hidden.div_ceil(n),
        p.input + p.hidden
    ));

    /// `R` rows from `r0`, units `U·jb ..`: the sums over `k0..k1` (from the bias, or the
    /// partial sums of the run before), then, after the last run, the cell, in registers.
    #[inline(always)]
    unsafe fn tile<L: Lanes, const R: usize>(
        p: &Panels,
        s: &StepRows,
        jb: usize,
        (k0, k1): (usize, usize),
        r0: usize,
    ) {
        let (i, h, u, w) = (p.input, p.hidden, L::N, 4 * L::N);
        // SAFETY (whole body): the panels hold `blocks · (I + H)` rows of W floats and the
        // bias `blocks · W`; the step rows are valid for `r0 + R` rows (caller).
        unsafe {
            let wp = p.data.as_ptr().add(p.at + (jb * (i + h) + k0) * w);
            let bias = p.bias.as_ptr().add(jb * w);
            let mut acc = [[L::zero(); 4]; R];
            for (r, a) in acc.iter_mut().enumerate() {
                let from = if k0 == 0 {
                    bias
                } else {
                    s.part.add((r0 + r) * w)
                };
                for (q, v) in a.iter_mut().enumerate() {
                    *v = L::load(from.add(q * u));
                }
            }
            let mut ar = [s.a; R];
            for (r, p) in ar.iter_mut().enumerate() {
                *p = s.a.add((r0 + r) * s.a_rs + k0);
            }
            let acc = accumulate::<L, R>(acc, ar, wp, k1 - k0);
            if k1 < i + h {
                for (r, a) in acc.iter().enumerate() {
                    for (q, &v) in a.iter().enumerate() {
                        L::store_part(s.part.add((r0 + r) * w + q * u), u, v);
                    }
                }
                return;
            }
            let nu = (h - jb * u).min(u);
            for (r, a) in acc.iter().enumerate() {
                let row = r0 + r;
                let (ig, fg) = (sigmoid::<L>(a[0]), sigmoid::<L>(a[1]));
                let (gg, og) = (tanh::<L>(a[2]), sigmoid::<L>(a[3]));
                let cp = L::load_part(s.c.add(row * s.c_rs + jb * u), nu);
                let c = L::add(L::mul(fg, cp), L::mul(ig, gg));
                let hv = L::mul(og, tanh::<L>(c));
                let gr = s.gates.add(row * s.g_rs + jb * u);
                for (q, v) in [ig, fg, gg, og].into_iter().enumerate() {
                    L::store_part(gr.add(q * h), nu, v);
                }
                let yr = s.y.add(row * s.y_rs + jb * u);
                L::store_part(yr, nu, hv);
                L::store_part(yr.add(h), nu, c);
            }
        }
    }

    /// `acc[r] += Σ_k a[r][k] · w[k]` for `k < len`, `w` rows of `4 · L::N` floats.
    ///
    /// The sums go in and out by value: through a `&mut` array LLVM split the loop into one
    /// pass over the panel per row (measured: under half the speed).
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // indices over constant R: every sum in a register
    pub(crate) unsafe fn accumulate<L: Lanes, const R: usize>(
        mut acc: [[L::V; 4]; R],
        a: [*const f32; R],
        w: *const f32,
        len: usize,
    ) -> [[L::V; 4]; R] {
        // SAFETY: the caller's rows hold `len` values and `w` holds `len` rows.
        unsafe {
            for k in 0..len {
                let wk = w.add(k * 4 * L::N);
                let mut x = [L::zero(); R];
                for r in 0..R {
                    x[r] = L::splat(*a[r].add(k));
                }
                for q in 0..4 {
                    let wv = L::load(wk.add(q * L::N));
                    for r in 0..R {
                        acc[r][q] = L::fmadd(x[r], wv, acc[r][q]);
                    }
                }
            }
        }
        acc
    }

    /// `gates.rs`'s `e^x`, with fused multiply-adds.
    #[inline(always)]
    unsafe fn exp<L: Lanes>(x: L::V) -> L::V {
        use super::super::gates::{LN2_HI, LN2_LO, LOG2_E, ROUND};
        // SAFETY: the caller runs on `L`'s instructions.
        unsafe {
            let set = |v| L::splat(v);
            // max/min with the constant first return `x` when it is NaN
            let x = L::min(set(87.0), L::max(set(-87.0), x));
            let v = L::fmadd(x, set(LOG2_E), set(ROUND));
            let n = L::sub(v, set(ROUND));
            let r = L::fnmadd(n, set(LN2_LO), L::fnmadd(n, set(LN2_HI), x));
            let mut poly = set(1.0 / 720.0);
            for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
                poly = L::fmadd(r, poly, set(c));
            }
            L::mul(poly, L::pow2(v, ROUND))
        }
    }

    /// `1 / d` for `d` in `[1, 2^126)`: the estimate and one Newton step `r (2 - d r)` (a
    /// division costs several times more).
    #[inline(always)]
    unsafe fn recip<L: Lanes>(d: L::V) -> L::V {
        // SAFETY: the caller runs on `L`'s instructions.
        unsafe {
            let r = L::recip_estimate(d);
            L::mul(r, L::fnmadd(d, r, L::splat(2.0)))
        }
    }

    /// `1 / (1 + e^-x)`.
    #[inline(always)]
    unsafe fn sigmoid<L: Lanes>(x: L::V) -> L::V {
        // SAFETY: the caller runs on `L`'s instructions.
        unsafe {
            let one = L::splat(1.0);
            let minus = L::sub(L::zero(), x);
            recip::<L>(L::add(one, exp::<L>(minus)))
        }
    }

    /// `1 - 2 / (1 + e^2x)`.
    #[inline(always)]
    pub(crate) unsafe fn tanh<L: Lanes>(x: L::V) -> L::V {
        // SAFETY: the caller runs on `L`'s instructions.
        unsafe {
            let one = L::splat(1.0);
            let e = exp::<L>(L::mul(L::splat(2.0), x));
            L::fnmadd(L::splat(2.0), recip::<L>(L::add(one, e)), one)
        }
    }
}
