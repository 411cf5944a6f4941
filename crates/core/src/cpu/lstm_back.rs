//! The backward of the fused LSTM steps (`lstm_step.rs`) on AVX-512 and AVX2, in reverse
//! time: for a tile of up to 6 (AVX2: 3) batch rows and a block of four vectors of units (64
//! or 32), the recurrent gradient is summed in 24 (12) registers and the cell's backward
//! applied there:
//!
//! ```text
//! dh[r]  = Σ_k dG_{t+1}[r, k] · W_hh[k, units]                  (zero at the last step)
//! dh'    = dy_h + dh,   dc' = dy_c + dc + dh' o (1 - tanh² c_t)
//! do = dh' tanh c_t · o(1-o),  di = dc' g · i(1-i),  dg = dc' i · (1-g²),
//! df = dc' c_{t-1} · f(1-f),   dc ← dc' f
//! ```
//! (`rnn_cell::lstm_backward`'s formulas, same operations in the same order). `dG_t` goes to
//! the all-steps gradient buffer (for the weight gradients) and to a contiguous row block
//! that the next (earlier) step reads. `dh0 = dG_0 W_hh` closes the pass when there is an `h0`.

use super::matmul::matmul_rows;
use super::recurrent::RnnGeom;
use super::recurrent_backward::BackwardChunk;
use super::recycle::{recycle, scratch};
use super::simd::Isa;
use rayon::prelude::*;

/// `W_hh [4H, H]` packed for the backward: for each block of `W` units (four vectors), the
/// `4H` rows restricted to those units, `panel[jb][k][u] = W_hh[k][W·jb + u]` (zeros past
/// `H`).
pub struct BackPanels {
    /// The panels from `at` on (a 64-byte boundary).
    data: Vec<f32>,
    at: usize,
    hidden: usize,
    /// Lanes of a vector (16 or 8): `W = 4 · lanes`.
    lanes: usize,
}

impl BackPanels {
    /// Packs `w_hh [4H, H]` for the vectors of the path in use.
    pub fn pack(w_hh: &[f32], hidden: usize) -> BackPanels {
        let (h, lanes) = (hidden, super::lstm_step::lanes());
        #[allow(non_snake_case)]
        let W = 4 * lanes;
        assert_eq!(w_hh.len(), 4 * h * h, "lstm_back: W_hh does not fit H={h}");
        let blocks = h.div_ceil(W);
        // every column is written below, one block per task (a megabyte at W3's sizes)
        let (mut data, at) = super::lanes::aligned(blocks * 4 * h * W);
        data[at..at + blocks * 4 * h * W]
            .par_chunks_exact_mut((4 * h * W).max(1))
            .enumerate()
            .for_each(|(jb, panel)| {
                let (u0, u1) = (jb * W, h.min((jb + 1) * W));
                for (row, out) in w_hh.chunks_exact(h).zip(panel.chunks_exact_mut(W)) {
                    out[..u1 - u0].copy_from_slice(&row[u0..u1]);
                    out[u1 - u0..].fill(0.0);
                }
            });
        BackPanels {
            data,
            at,
            hidden,
            lanes,
        }
    }
}

impl Drop for BackPanels {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.data));
    }
}

/// The backward steps for one block of batch rows (`g.batch` of them, LSTM): fills
/// `c.dgx` with every step's gate gradients, `c.dc` with `dc0` and `c.dh` with `dh0` (when
/// `c.h0` is given).
///
/// # Panics
/// If the CPU lacks the panels' instructions or the sizes do not fit.
pub(crate) fn steps(g: &RnnGeom, p: &BackPanels, w_hh: &[f32], c: BackwardChunk) {
    let (b, t, h) = (g.batch, g.time, g.hidden);
    let (gw, s2) = (4 * h, 2 * h);
    let isa = if p.lanes == 16 {
        Isa::Avx512
    } else {
        Isa::Avx2
    };
    assert!(
        Isa::detected() >= isa
            && p.hidden == h
            && w_hh.len() == gw * h
            && c.gates.len() == b * t * gw
            && c.dgx.len() == b * t * gw
            && c.y.len() == b * t * s2
            && c.dy.len() == b * t * s2
            && c.dh.len() == b * h
            && c.dc.len() == b * h
            && c.c0.is_none_or(|v| v.len() == b * h),
        "lstm_back: sizes do not fit B={b} T={t} H={h}"
    );
    if b == 0 || t == 0 || h == 0 {
        return;
    }
    let zeros = vec![0.0; if c.c0.is_none() { b * h } else { 0 }];
    let c0 = c.c0.unwrap_or(&zeros);
    // dG rows of the step being done and of the one done before, 64 bytes past a multiple
    // of 64 apart (the rows of `dgx` lie a multiple of 4 KiB apart)
    let ks = gw.div_ceil(16) * 16 + 16;
    let mut bufs = [scratch(b * ks), scratch(b * ks)];
    let ts = t * s2;
    // the tiles' partial sums between runs of k: 4 vectors a row
    let mut part = scratch(b * 4 * p.lanes);
    for (n, step) in (0..t).rev().enumerate() {
        let tt = g.t(step);
        let (cp, cp_rs) = if step == 0 {
            (c0.as_ptr(), h)
        } else {
            (c.y[g.t(step - 1) * s2 + h..].as_ptr(), ts)
        };
        let [b0, b1] = &mut bufs;
        let (cur, next) = if n % 2 == 0 { (b0, b1) } else { (b1, b0) };
        let rows = BackRows {
            next: next.as_ptr(),
            k: if n == 0 { 0 } else { gw },
            rs: ks,
            gates: c.gates[tt * gw..].as_ptr(),
            g_rs: t * gw,
            y: c.y[tt * s2..].as_ptr(),
            dy: c.dy[tt * s2..].as_ptr(),
            y_rs: ts,
            cp,
            cp_rs,
            dc: c.dc.as_mut_ptr(),
            dgx: c.dgx[tt * gw..].as_mut_ptr(),
            cur: cur.as_mut_ptr(),
            part: part.as_mut_ptr(),
        };
        // SAFETY: the CPU runs the panels' instructions and every row the strides reach
        // lies inside its buffer (both asserted above); `cur` and `next` are distinct buffers.
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
    // dh0 = dG_0 W_hh, when there is an initial state to pass it to
    if c.h0.is_some() {
        let last = &bufs[(t - 1) % 2];
        matmul_rows(c.dh, h, last, ks, w_hh, (b, gw, h), false, false);
    }
    let [b0, b1] = bufs;
    recycle(b0);
    recycle(b1);
    recycle(part);
}

/// One step's rows: `dG_{t+1}` at `next + r·rs` (`k` values, 0 at the last step), gates at
/// `gates + r·g_rs`, `[h_t, c_t]` and `dy_t` at `y`/`dy + r·y_rs`, `c_{t-1}` at
/// `cp + r·cp_rs`, the running `dc` at `dc + r·H`; `dG_t` goes to `dgx + r·g_rs` and
/// `cur + r·rs`; row `r`'s partial sums at `part + r·4·lanes`.
struct BackRows {
    next: *const f32,
    k: usize,
    rs: usize,
    gates: *const f32,
    g_rs: usize,
    y: *const f32,
    dy: *const f32,
    y_rs: usize,
    cp: *const f32,
    cp_rs: usize,
    dc: *mut f32,
    dgx: *mut f32,
    cur: *mut f32,
    part: *mut f32,
}

#[cfg(target_arch = "x86_64")]
mod kernel {
    use super::super::lanes::{Avx2, Avx512, Lanes};
    use super::super::lstm_step::kernel::{
        accumulate, entry_points, for_each_tile, for_runs, tanh,
    };
    use super::{BackPanels, BackRows};

    // blocks of four vectors of units; k = the gate gradients of the step after (none at the
    // last step)
    entry_points!(BackPanels, BackRows, |p, s, n| (
        p.hidden.div_ceil(4 * n),
        s.k
    ));

    /// `R` rows from `r0`, units `W·jb ..`: the recurrent sum over `k0..k1` (from zero, or
    /// the partial sums of the run before), then, after the last run, the cell's backward.
    #[inline(always)]
    unsafe fn tile<L: Lanes, const R: usize>(
        p: &BackPanels,
        s: &BackRows,
        jb: usize,
        (k0, k1): (usize, usize),
        r0: usize,
    ) {
        let (h, u, w) = (p.hidden, L::N, 4 * L::N);
        // SAFETY (whole body): the panel holds `4H` rows of W floats per block; the step's
        // rows are valid for `r0 + R` rows and `H` units (caller); lanes past `H` are
        // neither read nor written.
        unsafe {
            let wp = p.data.as_ptr().add(p.at + (jb * 4 * h + k0) * w);
            let mut acc = [[L::zero(); 4]; R];
            if k0 > 0 {
                for (r, a) in acc.iter_mut().enumerate() {
                    for (q, v) in a.iter_mut().enumerate() {
                        *v = L::load(s.part.add((r0 + r) * w + q * u));
                    }
                }
            }
            let mut ar = [s.next; R];
            for (r, a) in ar.iter_mut().enumerate() {
                *a = s.next.add((r0 + r) * s.rs + k0);
            }
            let acc = accumulate::<L, R>(acc, ar, wp, k1 - k0);
            if k1 < s.k {
                for (r, a) in acc.iter().enumerate() {
                    for (q, &v) in a.iter().enumerate() {
                        L::store_part(s.part.add((r0 + r) * w + q * u), u, v);
                    }
                }
                return;
            }
            let one = L::splat(1.0);
            let (mul, add, sub) = (
                |a, b| L::mul(a, b),
                |a, b| L::add(a, b),
                |a, b| L::sub(a, b),
            );
            for (r, a) in acc.iter().enumerate() {
                let row = r0 + r;
                for (v, &dh) in a.iter().enumerate() {
                    let j = jb * w + v * u;
                    if j >= h {
                        break;
                    }
                    let nu = (h - j).min(u);
                    let load = |ptr: *const f32| L::load_part(ptr, nu);
                    let gr = s.gates.add(row * s.g_rs + j);
                    let (ig, fg, gg, og) = (
                        load(gr),
                        load(gr.add(h)),
                        load(gr.add(2 * h)),
                        load(gr.add(3 * h)),
                    );
                    let yr = s.y.add(row * s.y_rs + j);
                    let dyr = s.dy.add(row * s.y_rs + j);
                    let ct = load(yr.add(h));
                    let cp = load(s.cp.add(row * s.cp_rs + j));
                    let dcp = s.dc.add(row * h + j);
                    let tc = tanh::<L>(ct);
                    let dhj = add(load(dyr), dh);
                    let dcj = add(
                        add(load(dyr.add(h)), load(dcp)),
                        mul(mul(dhj, og), sub(one, mul(tc, tc))),
                    );
                    let d_o = mul(mul(mul(dhj, tc), og), sub(one, og));
                    let di = mul(mul(mul(dcj, gg), ig), sub(one, ig));
                    let dg = mul(mul(dcj, ig), sub(one, mul(gg, gg)));
                    let df = mul(mul(mul(dcj, cp), fg), sub(one, fg));
                    L::store_part(dcp, nu, mul(dcj, fg));
                    let out = s.dgx.add(row * s.g_rs + j);
                    let cur = s.cur.add(row * s.rs + j);
                    for (q, d) in [di, df, dg, d_o].into_iter().enumerate() {
                        L::store_part(out.add(q * h), nu, d);
                        L::store_part(cur.add(q * h), nu, d);
                    }
                }
            }
        }
    }
}
