//! The backward of a recurrent pass (`recurrent.rs`), one direction: the steps in reverse,
//! one GEMM each for the recurrent gradient (or the fused LSTM steps of `lstm_back.rs` on
//! AVX-512), then the weight gradients and the input gradient as large GEMMs:
//!
//! ```text
//! dG_t = cell'(dy_t + dh_t, ..);  dh_{t-1} = dG_t W_hh  (+ GRU's direct part)
//! [dW_ih, dW_hh] = dGᵀ [x_t, h_{t-1}],  db = Σ dG,  dX = dG W_ih
//! ```

use super::layout::transpose;
use super::lstm_back;
use super::lstm_step;
use super::matmul::{matmul, matmul_rows, matmul_strided, View};
use super::recurrent::{
    pieces, rows_of, split_rows, xh_stride, Cell, RnnGeom, RnnGrads, RnnSaved, RnnWeights,
};
use super::recycle::{recycle, scratch};
use super::reduce::sum_axis;
use super::rnn_cell;

/// The gradients of [`forward`] from `dy [B, T, S·H]`, given its inputs and outputs.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    g: &RnnGeom,
    x: &[f32],
    w: RnnWeights,
    h0: Option<&[f32]>,
    c0: Option<&[f32]>,
    y: &[f32],
    saved: &RnnSaved,
    dy: &[f32],
    need_dx: bool,
) -> RnnGrads {
    let fused = g.cell == Cell::Lstm && lstm_step::available();
    let states = (h0, c0);
    backward_with(g, x, w, states, y, saved, dy, need_dx, fused)
}

/// [`backward`], through the fused LSTM steps (`lstm_back.rs`) when `fused`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_with(
    g: &RnnGeom,
    x: &[f32],
    w: RnnWeights,
    (h0, c0): (Option<&[f32]>, Option<&[f32]>),
    y: &[f32],
    saved: &RnnSaved,
    dy: &[f32],
    need_dx: bool,
    fused: bool,
) -> RnnGrads {
    let (b, t, i, h) = (g.batch, g.time, g.input, g.hidden);
    let gh_w = g.cell.gates() * h;
    let s = g.cell.states() * h;
    let gru = g.cell == Cell::Gru;
    let lstm = g.cell == Cell::Lstm;
    let mut dgx = scratch(b * t * gh_w); // every cell writes all its gate gradients
    let mut dgh = vec![0.0; if gru { b * t * gh_w } else { 0 }];
    let mut dh = vec![0.0; b * h];
    let mut dc = vec![0.0; if lstm { b * h } else { 0 }];
    // every row's `[x_t, h_{t-1}, 1]`, read by the weight gradients: kept by the fused
    // forward, else written by the steps below
    let ih = i + h;
    let xs = xh_stride(g);
    let kept = !saved.xh.is_empty();
    let mut own = scratch(if kept { 0 } else { b * t * xs });
    let counts = split_rows(b);
    let panels = fused.then(|| lstm_back::BackPanels::pack(w.w_hh, h));
    let fused = panels.as_ref();
    let jobs = pieces(&mut dgx, t * gh_w, &counts)
        .into_iter()
        .zip(pieces(&mut dgh, if gru { t * gh_w } else { 0 }, &counts))
        .zip(pieces(&mut dh, h, &counts))
        .zip(pieces(&mut dc, if lstm { h } else { 0 }, &counts))
        .zip(pieces(&mut own, if kept { 0 } else { t * xs }, &counts));
    rayon::scope(|sc| {
        let mut r0 = 0;
        for (((((dgx, dgh), dh), dc), xh), &rows) in jobs.zip(&counts) {
            let cut = |v, width| rows_of(v, r0, rows, width);
            let chunk = BackwardChunk {
                gates: cut(&saved.gates, t * gh_w),
                hn: if gru { cut(&saved.hn, t * h) } else { &[] },
                y: cut(y, t * s),
                dy: cut(dy, t * s),
                h0: h0.map(|v| cut(v, h)),
                c0: c0.map(|v| cut(v, h)),
                dgx,
                dgh,
                dh,
                dc,
            };
            let x = cut(x, t * i);
            let geom = RnnGeom { batch: rows, ..*g };
            r0 += rows;
            sc.spawn(move |_| {
                if !kept {
                    fill_xh(&geom, x, chunk.y, chunk.h0, xh);
                }
                match fused {
                    Some(p) => lstm_back::steps(&geom, p, w.w_hh, chunk),
                    None => steps_backward(&geom, w.w_hh, chunk),
                }
            });
        }
    });
    let xh = if kept { &saved.xh } else { &own };
    let view = |at: usize| View {
        data: &xh[at..],
        rs: xs,
        cs: 1,
    };
    /// `d [rows, cols]` read as its transpose.
    fn transposed(d: &[f32], cols: usize) -> View<'_> {
        View {
            data: d,
            rs: 1,
            cs: cols,
        }
    }
    let (dw_ih, dw_hh, db_ih, db_hh) = if gru {
        // the hidden side has its own gate gradients: two products on column views of `xh`
        let mut dw_ih = scratch(gh_w * i); // the products overwrite
        let mut dw_hh = scratch(gh_w * h);
        let dims = |n| (gh_w, b * t, n);
        matmul_strided(
            &mut dw_ih,
            i,
            transposed(&dgx, gh_w),
            view(0),
            dims(i),
            false,
        );
        matmul_strided(
            &mut dw_hh,
            h,
            transposed(&dgh, gh_w),
            view(i),
            dims(h),
            false,
        );
        let db = |d: &[f32]| sum_axis(d, 1, b * t, gh_w);
        (dw_ih, dw_hh, db(&dgx), db(&dgh))
    } else {
        // one product for all, transposed: [dW_ih, dW_hh, db]ᵀ = [x_t, h_{t-1}, 1]ᵀ dG, then
        // transposed back (measured: the product is 5-15% faster than dGᵀ [x_t, h_{t-1}, 1]
        // at W3's first layer, 0-8% at its second); LSTM / RNN: both biases meet the same
        // pre-activations, so their gradients are equal
        let mut all = scratch((ih + 1) * gh_w); // the product overwrites
        let dg = View {
            data: &dgx,
            rs: gh_w,
            cs: 1,
        };
        let xh_t = transposed(xh, xs);
        matmul_strided(&mut all, gh_w, xh_t, dg, (ih + 1, b * t, gh_w), false);
        let dw_ih = transpose(&all[..i * gh_w], i, gh_w);
        let dw_hh = transpose(&all[i * gh_w..ih * gh_w], h, gh_w);
        let db = all[ih * gh_w..].to_vec();
        recycle(all);
        (dw_ih, dw_hh, db.clone(), db)
    };
    let dx = need_dx.then(|| {
        let mut dx = scratch(b * t * i);
        matmul(&mut dx, &dgx, w.w_ih, b * t, gh_w, i, false, false, false);
        dx
    });
    let grads = RnnGrads {
        dx,
        dw_ih,
        dw_hh,
        db_ih,
        db_hh,
        dh0: if h0.is_some() { dh } else { Vec::new() },
        dc0: dc,
    };
    for v in [dgx, dgh, own] {
        recycle(v);
    }
    grads
}

/// One block of batch rows of [`backward`]: what it reads and what it writes.
pub(crate) struct BackwardChunk<'a> {
    pub(crate) gates: &'a [f32],
    pub(crate) hn: &'a [f32],
    pub(crate) y: &'a [f32],
    pub(crate) dy: &'a [f32],
    pub(crate) h0: Option<&'a [f32]>,
    pub(crate) c0: Option<&'a [f32]>,
    /// Gradients of the input-side pre-activations (all steps).
    pub(crate) dgx: &'a mut [f32],
    /// GRU: gradients of the hidden-side pre-activations (all steps).
    pub(crate) dgh: &'a mut [f32],
    /// Running `dh` (ends as `dh0`).
    pub(crate) dh: &'a mut [f32],
    /// Running `dc` (LSTM; ends as `dc0`).
    pub(crate) dc: &'a mut [f32],
}

/// `xh [B, T, xh_stride]` gets each row's `[x_t, h_{t-1}, 1]` (`h0`, zeros when `None`,
/// before the first step), read by the weight gradients.
fn fill_xh(g: &RnnGeom, x: &[f32], y: &[f32], h0: Option<&[f32]>, xh: &mut [f32]) {
    let (t, i, h, xs) = (g.time, g.input, g.hidden, xh_stride(g));
    let s = g.cell.states() * h;
    for (r, rows) in xh.chunks_exact_mut((t * xs).max(1)).enumerate() {
        for step in 0..t {
            let row = r * t + g.t(step);
            let out = &mut rows[g.t(step) * xs..][..i + h + 1];
            out[i + h] = 1.0;
            out[..i].copy_from_slice(&x[row * i..(row + 1) * i]);
            let hp = &mut out[i..i + h];
            match (step, h0) {
                (0, Some(h0)) => hp.copy_from_slice(&h0[r * h..(r + 1) * h]),
                (0, None) => hp.fill(0.0),
                _ => {
                    let o = (r * t + g.t(step - 1)) * s;
                    hp.copy_from_slice(&y[o..o + h]);
                }
            }
        }
    }
}

/// The steps of [`backward`] in reverse for one block of batch rows.
fn steps_backward(g: &RnnGeom, w_hh: &[f32], c: BackwardChunk) {
    let (b, t, h) = (g.batch, g.time, g.hidden);
    let gh_w = g.cell.gates() * h;
    let s = g.cell.states() * h;
    let gru = g.cell == Cell::Gru;
    let zeros = vec![0.0; b * h];
    let (h0, c0) = (c.h0.unwrap_or(&zeros), c.c0.unwrap_or(&zeros));
    let y = c.y;
    // the state before step `step` of batch row r: (h, c) slices
    let prev = |r: usize, step: usize| -> (&[f32], &[f32]) {
        if step == 0 {
            (&h0[r * h..(r + 1) * h], &c0[r * h..(r + 1) * h])
        } else {
            let o = (r * t + g.t(step - 1)) * s;
            let c = if g.cell == Cell::Lstm {
                &y[o + h..o + 2 * h]
            } else {
                &[][..]
            };
            (&y[o..o + h], c)
        }
    };
    for step in (0..t).rev() {
        let tt = g.t(step);
        for r in 0..b {
            let row = r * t + tt;
            let (gs, dys) = (row * gh_w..(row + 1) * gh_w, row * s..(row + 1) * s);
            let (hp, cp) = prev(r, step);
            let dhr = &mut c.dh[r * h..(r + 1) * h];
            match g.cell {
                Cell::Lstm => rnn_cell::lstm_backward(
                    &c.gates[gs.clone()],
                    &y[row * s + h..(row + 1) * s],
                    cp,
                    &c.dy[dys],
                    dhr,
                    &mut c.dc[r * h..(r + 1) * h],
                    &mut c.dgx[gs],
                ),
                Cell::Gru => rnn_cell::gru_backward(
                    &c.gates[gs.clone()],
                    &c.hn[row * h..(row + 1) * h],
                    hp,
                    &c.dy[dys],
                    dhr,
                    &mut c.dgx[gs.clone()],
                    &mut c.dgh[gs],
                ),
                Cell::RnnTanh | Cell::RnnRelu => rnn_cell::rnn_backward(
                    &y[dys.clone()],
                    &c.dy[dys],
                    dhr,
                    &mut c.dgx[gs],
                    g.cell == Cell::RnnRelu,
                ),
            }
        }
        // dh_{t-1} = dG_t W_hh (added to GRU's direct part h' z)
        let dg: &[f32] = if gru { c.dgh } else { c.dgx };
        let dims = (b, gh_w, h);
        matmul_rows(c.dh, h, &dg[tt * gh_w..], t * gh_w, w_hh, dims, false, gru);
    }
}
