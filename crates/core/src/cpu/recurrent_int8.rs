//! A recurrent layer's pass over a sequence with int8 weights (dynamic quantisation,
//! inference only): each step's input `x_t` and previous state `h_{t-1}` are quantised per
//! row and multiplied by the int8 `W_ih` and `W_hh` (`int8_matmul.rs`), then the float cell
//! (`rnn_cell.rs`):
//!
//! ```text
//! LSTM, RNN:  G_t = dequant(q(x_t) W_ihᵀ) + b_ih + b_hh + dequant(q(h_{t-1}) W_hhᵀ)
//!             (h_t, c_t) = cell(G_t, c_{t-1})
//! GRU:        X_t = dequant(q(x_t) W_ihᵀ) + b_ih,  H_t = dequant(q(h_{t-1}) W_hhᵀ) + b_hh
//!             h_t = cell(X_t, H_t, h_{t-1})        (the reset gate scales H_t's n block)
//! ```
//!
//! Each thread runs every step for its own batch rows, in blocks of [`ROWS`] rows so a
//! block's gates stay in cache between the products and the cell.

use super::int8_matmul::{linear_rows, Int8Path, PackedInt8, RowBuf};
use super::recurrent::{Cell, RnnGeom};
use super::rnn_cell::{gru_forward, lstm_forward, rnn_forward};
use super::threads;
use rayon::prelude::*;

/// Batch rows per block.
const ROWS: usize = 32;

/// A direction's int8 weights: `W_ih [G·H, I]` and `W_hh [G·H, H]`, with the biases
/// `b_ih + b_hh` on the input side (LSTM, RNN), or `b_ih` and `b_hh` on their own sides
/// (GRU, whose reset gate scales the recurrent side with its bias).
pub struct RnnInt8 {
    /// The input side.
    pub ih: PackedInt8,
    /// The recurrent side.
    pub hh: PackedInt8,
}

/// Runs the sequence `x [B, T, I]` from `h0` (and, for an LSTM, `c0`) `[B, H]` (zeros when
/// `None`); returns `y [B, T, S·H]`, each step's `[h_t, c_t]` (LSTM) or `h_t`, as the float
/// pass does.
pub fn forward(
    g: &RnnGeom,
    x: &[f32],
    w: &RnnInt8,
    h0: Option<&[f32]>,
    c0: Option<&[f32]>,
    path: Int8Path,
) -> Vec<f32> {
    let (b, t, i, h) = (g.batch, g.time, g.input, g.hidden);
    let (gates, out) = (g.cell.gates() * h, g.cell.states() * h);
    assert!(w.ih.n() == gates && w.hh.n() == gates && w.ih.k() == i && w.hh.k() == h);
    assert!(x.len() == b * t * i);
    let mut y = super::recycle::scratch(b * t * out); // every step writes its rows in full
    let run = |r0: usize, y: &mut [f32]| {
        let mut bufs = (RowBuf::new(ROWS, i), RowBuf::new(ROWS, h));
        for (k, yb) in y.chunks_mut(ROWS * t * out).enumerate() {
            let s = r0 + k * ROWS;
            let rows = yb.len() / (t * out);
            let state = |v: Option<&[f32]>| {
                v.map_or_else(
                    || vec![0.0; rows * h],
                    |v| v[s * h..(s + rows) * h].to_vec(),
                )
            };
            let x = &x[s * t * i..(s + rows) * t * i];
            block(g, x, w, (state(h0), state(c0)), yb, &mut bufs, path);
        }
    };
    match threads::share(b, 2 * ROWS, 1) {
        // whole blocks per thread
        Some(per) => {
            let per = per.next_multiple_of(ROWS);
            y.par_chunks_mut(per * t * out)
                .enumerate()
                .for_each(|(k, y)| run(k * per, y))
        }
        None => run(0, &mut y),
    }
    y
}

/// Every step of one block of `rows` batch rows.
fn block(
    g: &RnnGeom,
    x: &[f32],
    w: &RnnInt8,
    (mut hs, mut cs): (Vec<f32>, Vec<f32>),
    y: &mut [f32],
    (bx, bh): &mut (RowBuf, RowBuf),
    path: Int8Path,
) {
    let (t, i, h) = (g.time, g.input, g.hidden);
    let (n, o) = (g.cell.gates() * h, g.cell.states() * h);
    let rows = hs.len() / h;
    let mut xt = vec![0f32; rows * i];
    let mut gates = vec![0f32; rows * n];
    // the GRU's recurrent side, kept apart (and its h_n, which only the backward reads)
    let gru = g.cell == Cell::Gru;
    let (mut gh, mut hn) = match gru {
        true => (vec![0f32; rows * n], vec![0f32; h]),
        false => (Vec::new(), Vec::new()),
    };
    for s in 0..t {
        let ts = g.t(s);
        for r in 0..rows {
            xt[r * i..(r + 1) * i].copy_from_slice(&x[(r * t + ts) * i..][..i]);
        }
        linear_rows(&xt, rows, &w.ih, &mut gates, bx, false, path);
        match gru {
            true => linear_rows(&hs, rows, &w.hh, &mut gh, bh, false, path),
            false => linear_rows(&hs, rows, &w.hh, &mut gates, bh, true, path),
        }
        for r in 0..rows {
            let (hr, cr) = (&mut hs[r * h..(r + 1) * h], &mut cs[r * h..(r + 1) * h]);
            let out = &mut y[(r * t + ts) * o..][..o];
            let gr = &mut gates[r * n..(r + 1) * n];
            match g.cell {
                Cell::Lstm => lstm_forward(gr, cr, hr, out),
                Cell::Gru => gru_forward(gr, &gh[r * n..(r + 1) * n], hr, &mut hn, out),
                Cell::RnnTanh => rnn_forward(gr, hr, out, false),
                Cell::RnnRelu => rnn_forward(gr, hr, out, true),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::recurrent::{forward as float_forward, RnnWeights};
    use crate::Rng;

    /// Per-row int8 of `w [n, k]`: the integers and each row's scale.
    fn per_row(w: &[f32], n: usize, k: usize) -> (Vec<i8>, Vec<f32>) {
        let scale: Vec<f32> = (0..n)
            .map(|c| {
                w[c * k..(c + 1) * k]
                    .iter()
                    .fold(0f32, |a, v| a.max(v.abs()))
                    / 127.0
            })
            .collect();
        let q = (0..n * k)
            .map(|j| (w[j] / scale[j / k]).round() as i8)
            .collect();
        (q, scale)
    }

    /// The int8 pass follows the float pass closely for every cell, forward and reversed,
    /// from given states, on batch sizes that leave partial blocks; every path gives the
    /// same floats.
    #[test]
    fn the_int8_pass_follows_the_float_pass_on_every_path() {
        let (b, t, i, h) = (37, 5, 7, 19);
        for cell in [Cell::Lstm, Cell::Gru, Cell::RnnTanh, Cell::RnnRelu] {
            let n = cell.gates() * h;
            let mut rng = Rng::new(4);
            let mut v =
                |n: usize, s: f32| -> Vec<f32> { (0..n).map(|_| rng.normal() * s).collect() };
            let (x, w_ih, w_hh) = (v(b * t * i, 1.0), v(n * i, 0.3), v(n * h, 0.3));
            let (b_ih, b_hh, h0, c0) = (v(n, 0.1), v(n, 0.1), v(b * h, 0.5), v(b * h, 0.5));
            let sum: Vec<f32> = b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect();
            let (ih_bias, hh_bias) = match cell {
                Cell::Gru => (&b_ih, Some(&b_hh[..])),
                _ => (&sum, None),
            };
            let (qi, si) = per_row(&w_ih, n, i);
            let (qh, sh) = per_row(&w_hh, n, h);
            let w = RnnInt8 {
                ih: PackedInt8::new(&qi, &si, Some(ih_bias), n, i),
                hh: PackedInt8::new(&qh, &sh, hh_bias, n, h),
            };
            let fw = RnnWeights {
                w_ih: &w_ih,
                w_hh: &w_hh,
                b_ih: Some(&b_ih),
                b_hh: Some(&b_hh),
            };
            let c0 = (cell == Cell::Lstm).then_some(&c0[..]);
            for reverse in [false, true] {
                let g = RnnGeom {
                    cell,
                    batch: b,
                    time: t,
                    input: i,
                    hidden: h,
                    reverse,
                };
                let (want, _) = float_forward(&g, &x, fw, Some(&h0), c0, false);
                let mut first: Option<Vec<f32>> = None;
                for path in Int8Path::available() {
                    let got = forward(&g, &x, &w, Some(&h0), c0, path);
                    assert_eq!(got.len(), want.len());
                    let err = got
                        .iter()
                        .zip(&want)
                        .fold(0f32, |a, (g, w)| a.max((g - w).abs()));
                    // a plain RNN has no gate damping the rounding carried in its state; a
                    // ReLU one's outputs are unbounded: the bound scales with them
                    let top = want.iter().fold(1f32, |a, v| a.max(v.abs()));
                    let bound = if cell.gates() == 1 { 0.08 } else { 0.05 } * top;
                    assert!(err < bound, "{cell:?} {path:?} reverse={reverse}: {err}");
                    match &first {
                        Some(f) => assert_eq!(f, &got, "{path:?}"),
                        None => first = Some(got),
                    }
                }
            }
        }
    }
}
