//! The backward of the fused LSTM steps (`lstm_step.rs`) on AVX-512, in reverse time: for a
//! tile of up to 6 batch rows and a block of 64 units, the recurrent gradient is summed in
//! 24 registers and the cell's backward applied there:
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
use rayon::prelude::*;

/// Units per vector.
const U: usize = 16;
/// Units per block: four vectors.
const W: usize = 4 * U;

/// `W_hh [4H, H]` packed for the backward: for each block of 64 units, the `4H` rows
/// restricted to those units, `panel[jb][k][u] = W_hh[k][64·jb + u]` (zeros past `H`).
pub struct BackPanels {
    data: Vec<f32>,
    hidden: usize,
}

impl BackPanels {
    /// Packs `w_hh [4H, H]`.
    pub fn pack(w_hh: &[f32], hidden: usize) -> BackPanels {
        let h = hidden;
        assert_eq!(w_hh.len(), 4 * h * h, "lstm_back: W_hh does not fit H={h}");
        let blocks = h.div_ceil(W);
        // every column is written below, one block per task (a megabyte at W3's sizes)
        let mut data = scratch(blocks * 4 * h * W);
        data.par_chunks_exact_mut((4 * h * W).max(1))
            .enumerate()
            .for_each(|(jb, panel)| {
                let (u0, u1) = (jb * W, h.min((jb + 1) * W));
                for (row, out) in w_hh.chunks_exact(h).zip(panel.chunks_exact_mut(W)) {
                    out[..u1 - u0].copy_from_slice(&row[u0..u1]);
                    out[u1 - u0..].fill(0.0);
                }
            });
        BackPanels { data, hidden }
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
/// If the CPU lacks AVX-512 or the sizes do not fit.
pub(crate) fn steps(g: &RnnGeom, p: &BackPanels, w_hh: &[f32], c: BackwardChunk) {
    let (b, t, h) = (g.batch, g.time, g.hidden);
    let (gw, s2) = (4 * h, 2 * h);
    assert!(
        super::lstm_step::available()
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
    let ks = gw.div_ceil(U) * U + U;
    let mut bufs = [scratch(b * ks), scratch(b * ks)];
    let ts = t * s2;
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
        };
        // SAFETY: AVX-512 is present and every row the strides reach lies inside its buffer
        // (both asserted above); `cur` and `next` are distinct buffers.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            kernel::step(p, b, &rows)
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
}

/// One step's rows: `dG_{t+1}` at `next + r·rs` (`k` values, 0 at the last step), gates at
/// `gates + r·g_rs`, `[h_t, c_t]` and `dy_t` at `y`/`dy + r·y_rs`, `c_{t-1}` at
/// `cp + r·cp_rs`, the running `dc` at `dc + r·H`; `dG_t` goes to `dgx + r·g_rs` and
/// `cur + r·rs`.
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
}

#[cfg(target_arch = "x86_64")]
mod kernel {
    use super::super::lstm_step::kernel::{accumulate, for_each_tile, tanh};
    use super::{BackPanels, BackRows, U, W};
    use std::arch::x86_64::*;

    /// One step of `rows` batch rows: every unit block, every row tile.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn step(p: &BackPanels, rows: usize, s: &BackRows) {
        // SAFETY: forwarded from the caller.
        unsafe { for_each_tile!(p.hidden.div_ceil(W), rows, tile(p, s)) }
    }

    /// `R` rows from `r0`, units `64·jb ..`: the recurrent sum, then the cell's backward.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile<const R: usize>(p: &BackPanels, s: &BackRows, jb: usize, r0: usize) {
        let h = p.hidden;
        // SAFETY (whole body): the panel holds `4H` rows of W floats per block; the step's
        // rows are valid for `r0 + R` rows and `H` units (caller); masked lanes past `H`
        // are neither read nor written.
        unsafe {
            let w = p.data.as_ptr().add(jb * 4 * h * W);
            let mut acc = [[_mm512_setzero_ps(); 4]; R];
            let mut ar = [s.next; R];
            for (r, a) in ar.iter_mut().enumerate() {
                *a = s.next.add((r0 + r) * s.rs);
            }
            accumulate::<R>(&mut acc, &ar, w, s.k);
            let one = _mm512_set1_ps(1.0);
            let (mul, add, sub) = (_mm512_mul_ps, _mm512_add_ps, _mm512_sub_ps);
            for (r, a) in acc.iter().enumerate() {
                let row = r0 + r;
                for (v, &dh) in a.iter().enumerate() {
                    let u = jb * W + v * U;
                    if u >= h {
                        break;
                    }
                    let nu = (h - u).min(U);
                    let m: __mmask16 = if nu == U { 0xffff } else { (1u16 << nu) - 1 };
                    let load = |ptr: *const f32| _mm512_maskz_loadu_ps(m, ptr);
                    let gr = s.gates.add(row * s.g_rs + u);
                    let (ig, fg, gg, og) = (
                        load(gr),
                        load(gr.add(h)),
                        load(gr.add(2 * h)),
                        load(gr.add(3 * h)),
                    );
                    let yr = s.y.add(row * s.y_rs + u);
                    let dyr = s.dy.add(row * s.y_rs + u);
                    let ct = load(yr.add(h));
                    let cp = load(s.cp.add(row * s.cp_rs + u));
                    let dcp = s.dc.add(row * h + u);
                    let tc = tanh(ct);
                    let dhj = add(load(dyr), dh);
                    let dcj = add(
                        add(load(dyr.add(h)), load(dcp)),
                        mul(mul(dhj, og), sub(one, mul(tc, tc))),
                    );
                    let d_o = mul(mul(mul(dhj, tc), og), sub(one, og));
                    let di = mul(mul(mul(dcj, gg), ig), sub(one, ig));
                    let dg = mul(mul(dcj, ig), sub(one, mul(gg, gg)));
                    let df = mul(mul(mul(dcj, cp), fg), sub(one, fg));
                    _mm512_mask_storeu_ps(dcp, m, mul(dcj, fg));
                    let out = s.dgx.add(row * s.g_rs + u);
                    let cur = s.cur.add(row * s.rs + u);
                    for (q, d) in [di, df, dg, d_o].into_iter().enumerate() {
                        _mm512_mask_storeu_ps(out.add(q * h), m, d);
                        _mm512_mask_storeu_ps(cur.add(q * h), m, d);
                    }
                }
            }
        }
    }
}
