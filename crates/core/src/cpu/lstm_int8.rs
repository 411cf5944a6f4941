//! The LSTM's pass over a sequence with int8 weights (dynamic quantisation, inference only):
//! each step's input `x_t` and previous state `h_{t-1}` are quantised per row and multiplied
//! by the int8 `W_ih` and `W_hh` (`int8_matmul.rs`), then the float cell (`rnn_cell.rs`):
//!
//! ```text
//! G_t = dequant(q(x_t) W_ihᵀ) + b_ih + b_hh + dequant(q(h_{t-1}) W_hhᵀ)
//! (h_t, c_t) = cell(G_t, c_{t-1})
//! ```
//!
//! Each thread runs every step for its own batch rows, in blocks of [`ROWS`] rows so a
//! block's gates stay in cache between the products and the cell.

use super::int8_matmul::{linear_rows, Int8Path, PackedInt8, RowBuf};
use super::recurrent::{Cell, RnnGeom};
use super::rnn_cell::lstm_forward;
use super::threads;
use rayon::prelude::*;

/// Batch rows per block.
const ROWS: usize = 32;

/// An LSTM direction's int8 weights: `W_ih [4H, I]` with the biases `b_ih + b_hh`, and
/// `W_hh [4H, H]` without.
pub struct LstmInt8 {
    /// The input side, biases included.
    pub ih: PackedInt8,
    /// The recurrent side.
    pub hh: PackedInt8,
}

/// Runs the sequence `x [B, T, I]` from `h0`, `c0` `[B, H]` (zeros when `None`); returns
/// `y [B, T, 2H]`, each step's `[h_t, c_t]`, as the float pass does.
pub fn forward(
    g: &RnnGeom,
    x: &[f32],
    w: &LstmInt8,
    h0: Option<&[f32]>,
    c0: Option<&[f32]>,
    path: Int8Path,
) -> Vec<f32> {
    let (b, t, i, h) = (g.batch, g.time, g.input, g.hidden);
    assert!(g.cell == Cell::Lstm && w.ih.n() == 4 * h && w.ih.k() == i && w.hh.k() == h);
    assert!(x.len() == b * t * i);
    let mut y = super::recycle::scratch(b * t * 2 * h); // every step writes its rows in full
    let run = |r0: usize, y: &mut [f32]| {
        let mut bufs = (RowBuf::new(ROWS, i), RowBuf::new(ROWS, h));
        for (k, yb) in y.chunks_mut(ROWS * t * 2 * h).enumerate() {
            let s = r0 + k * ROWS;
            let rows = yb.len() / (t * 2 * h);
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
            y.par_chunks_mut(per * t * 2 * h)
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
    w: &LstmInt8,
    (mut hs, mut cs): (Vec<f32>, Vec<f32>),
    y: &mut [f32],
    (bx, bh): &mut (RowBuf, RowBuf),
    path: Int8Path,
) {
    let (t, i, h) = (g.time, g.input, g.hidden);
    let rows = hs.len() / h;
    let mut xt = vec![0f32; rows * i];
    let mut gates = vec![0f32; rows * 4 * h];
    for s in 0..t {
        let ts = g.t(s);
        for r in 0..rows {
            xt[r * i..(r + 1) * i].copy_from_slice(&x[(r * t + ts) * i..][..i]);
        }
        linear_rows(&xt, rows, &w.ih, &mut gates, bx, false, path);
        linear_rows(&hs, rows, &w.hh, &mut gates, bh, true, path);
        for r in 0..rows {
            let (hr, cr) = (&mut hs[r * h..(r + 1) * h], &mut cs[r * h..(r + 1) * h]);
            let out = &mut y[(r * t + ts) * 2 * h..][..2 * h];
            lstm_forward(&mut gates[r * 4 * h..(r + 1) * 4 * h], cr, hr, out);
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

    /// The int8 pass follows the float pass closely, forward and reversed, from given
    /// states, on batch sizes that leave partial blocks; every path gives the same floats.
    #[test]
    fn the_int8_pass_follows_the_float_pass_on_every_path() {
        let (b, t, i, h) = (37, 5, 7, 19);
        let mut rng = Rng::new(4);
        let mut v = |n: usize, s: f32| -> Vec<f32> { (0..n).map(|_| rng.normal() * s).collect() };
        let (x, w_ih, w_hh) = (v(b * t * i, 1.0), v(4 * h * i, 0.3), v(4 * h * h, 0.3));
        let (b_ih, b_hh, h0, c0) = (v(4 * h, 0.1), v(4 * h, 0.1), v(b * h, 0.5), v(b * h, 0.5));
        let bias: Vec<f32> = b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect();
        let (qi, si) = per_row(&w_ih, 4 * h, i);
        let (qh, sh) = per_row(&w_hh, 4 * h, h);
        let w = LstmInt8 {
            ih: PackedInt8::new(&qi, &si, Some(&bias), 4 * h, i),
            hh: PackedInt8::new(&qh, &sh, None, 4 * h, h),
        };
        let fw = RnnWeights {
            w_ih: &w_ih,
            w_hh: &w_hh,
            b_ih: Some(&b_ih),
            b_hh: Some(&b_hh),
        };
        for reverse in [false, true] {
            let g = RnnGeom {
                cell: Cell::Lstm,
                batch: b,
                time: t,
                input: i,
                hidden: h,
                reverse,
            };
            let (want, _) = float_forward(&g, &x, fw, Some(&h0), Some(&c0), false);
            let mut first: Option<Vec<f32>> = None;
            for path in Int8Path::available() {
                let got = forward(&g, &x, &w, Some(&h0), Some(&c0), path);
                let err = got
                    .iter()
                    .zip(&want)
                    .fold(0f32, |a, (g, w)| a.max((g - w).abs()));
                assert!(
                    err < 0.05,
                    "{path:?} reverse={reverse}: largest error {err}"
                );
                match &first {
                    Some(f) => assert_eq!(f, &got, "{path:?}"),
                    None => first = Some(got),
                }
            }
        }
    }
}
