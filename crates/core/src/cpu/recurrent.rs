//! A recurrent layer's pass over a whole sequence, one direction: the input projection of
//! all time steps as one GEMM, one GEMM per step for the recurrence, the point-wise cell
//! (`rnn_cell.rs`) fused after it, and a backward that runs the steps in reverse with one
//! GEMM each, then gets the weight gradients and the input gradient as three large GEMMs:
//!
//! ```text
//! forward:   G = X W_ihᵀ + b_ih (+ b_hh)            all steps at once  [B·T, gates·H]
//!            G_t += h_{t-1} W_hhᵀ;  (h_t, c_t) = cell(G_t, h_{t-1}, c_{t-1})
//! backward:  dG_t = cell'(dy_t + dh_t, ..);  dh_{t-1} = dG_t W_hh  (+ GRU's direct part)
//!            [dW_ih, dW_hh] = dGᵀ [x_t, h_{t-1}],  db = Σ dG,  dX = dG W_ih
//! ```
//! (the backward lives in `recurrent_backward.rs`).
//! Buffers are batch-first `[B, T, ..]` like the layer's input; a step's rows are strided.
//! The steps run on each thread's own block of batch rows (rows never interact), so threads
//! meet once per pass, not twice per step; `W_hh` is transposed once per pass so the
//! per-step products read it row-major (the `gemm` crate is 3x slower on a transposed
//! right-hand side at 64 rows). On CPUs with AVX-512 the LSTM's steps run fused instead
//! (`lstm_step.rs` forward, `lstm_back.rs` backward); the weight gradients stay GEMMs.

use super::layout::transpose;
use super::lstm_step;
use super::matmul::{matmul, matmul_rows};
pub use super::recurrent_backward::backward;
use super::recycle::{recycle, scratch};
use super::rnn_cell;
use super::threads::num_threads;

/// The recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// Long short-term memory (Hochreiter & Schmidhuber, 1997), gates `[i, f, g, o]`.
    Lstm,
    /// Gated recurrent unit (Cho et al., 2014) as PyTorch computes it, gates `[r, z, n]`.
    Gru,
    /// Elman RNN with tanh.
    RnnTanh,
    /// Elman RNN with ReLU.
    RnnRelu,
}

impl Cell {
    /// Gate blocks per unit in the weights (`W_ih` is `[gates·H, I]`).
    pub fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
            Cell::RnnTanh | Cell::RnnRelu => 1,
        }
    }

    /// State vectors per unit in the output: `[h, c]` for the LSTM, `[h]` otherwise.
    pub fn states(self) -> usize {
        if self == Cell::Lstm {
            2
        } else {
            1
        }
    }
}

/// The sizes of one pass: batch `B`, time `T`, input features `I`, hidden units `H`, and
/// whether the steps run from the last to the first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RnnGeom {
    /// The cell.
    pub cell: Cell,
    /// Batch rows `B`.
    pub batch: usize,
    /// Time steps `T`.
    pub time: usize,
    /// Input features `I`.
    pub input: usize,
    /// Hidden units `H`.
    pub hidden: usize,
    /// Run from `t = T-1` down to 0 (the backward half of a bidirectional layer).
    pub reverse: bool,
}

impl RnnGeom {
    /// The time index of the `s`-th step.
    pub(crate) fn t(&self, s: usize) -> usize {
        if self.reverse {
            self.time - 1 - s
        } else {
            s
        }
    }
}

/// The weights, in PyTorch's layout: `w_ih [G·H, I]`, `w_hh [G·H, H]`, biases `[G·H]`.
#[derive(Clone, Copy)]
pub struct RnnWeights<'a> {
    /// Input-to-hidden weights.
    pub w_ih: &'a [f32],
    /// Hidden-to-hidden weights.
    pub w_hh: &'a [f32],
    /// Input-side bias.
    pub b_ih: Option<&'a [f32]>,
    /// Hidden-side bias.
    pub b_hh: Option<&'a [f32]>,
}

/// What the forward keeps for the backward: the gates of every step, (GRU) `h_n`, and (fused
/// LSTM) every row's `[x_t, h_{t-1}, 1]`, [`xh_stride`] apart, read by the weight gradients.
pub struct RnnSaved {
    pub(super) gates: Vec<f32>,
    pub(super) hn: Vec<f32>,
    pub(super) xh: Vec<f32>,
}

/// Floats between the `[x_t, h_{t-1}, 1]` rows of a pass: `I + H + 1` rounded up to 64
/// bytes, and 64 more when a batch row's `T` of them would span a multiple of 4 KiB (the
/// fused step reads 6 such rows at once; 4 KiB apart they would share L1 cache sets).
pub(crate) fn xh_stride(g: &RnnGeom) -> usize {
    let rs = (g.input + g.hidden + 1).div_ceil(16) * 16;
    rs + if (g.time * rs).is_multiple_of(1024) {
        16
    } else {
        0
    }
}

impl Drop for RnnSaved {
    /// The saved gates go to the buffer cache for the next step (cpu/recycle.rs).
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.gates));
        recycle(std::mem::take(&mut self.hn));
        recycle(std::mem::take(&mut self.xh));
    }
}

/// Gradients of one pass (`None` for what was not asked).
pub struct RnnGrads {
    /// `[B, T, I]`
    pub dx: Option<Vec<f32>>,
    /// `[G·H, I]`
    pub dw_ih: Vec<f32>,
    /// `[G·H, H]`
    pub dw_hh: Vec<f32>,
    /// `[G·H]`
    pub db_ih: Vec<f32>,
    /// `[G·H]`
    pub db_hh: Vec<f32>,
    /// `[B, H]` (empty without an `h0`)
    pub dh0: Vec<f32>,
    /// `[B, H]` (LSTM only, else empty)
    pub dc0: Vec<f32>,
}

/// Runs the sequence: `x [B, T, I]`, initial states `h0`, `c0` `[B, H]` (zeros when
/// `None`). Returns `y [B, T, S·H]` (each step's `[h, c]` for the LSTM, `h` otherwise) and,
/// with `keep` (training), what the backward needs. Without `keep` (inference) each step's
/// input projection goes into a small block of at most 64 rows instead of a `[B, T, G·H]`
/// buffer for all steps, so large batches stay in cache.
pub fn forward(
    g: &RnnGeom,
    x: &[f32],
    w: RnnWeights,
    h0: Option<&[f32]>,
    c0: Option<&[f32]>,
    keep: bool,
) -> (Vec<f32>, RnnSaved) {
    let gh_w = g.cell.gates() * g.hidden;
    let gru = g.cell == Cell::Gru;
    // biases folded into the projection (GRU keeps b_hh apart: r multiplies W_hn h + b_hn)
    let mut bias = vec![0.0; gh_w];
    add_opt(&mut bias, w.b_ih);
    if !gru {
        add_opt(&mut bias, w.b_hh);
    }
    if g.cell == Cell::Lstm && lstm_step::available() {
        forward_fused(g, x, w, &bias, (h0, c0), keep)
    } else {
        forward_gemm(g, x, w, &bias, (h0, c0), keep)
    }
}

/// [`forward`] through GEMMs: the projection of all steps at once (training), the
/// recurrence one GEMM per step, the cell after it.
fn forward_gemm(
    g: &RnnGeom,
    x: &[f32],
    w: RnnWeights,
    bias: &[f32],
    (h0, c0): (Option<&[f32]>, Option<&[f32]>),
    keep: bool,
) -> (Vec<f32>, RnnSaved) {
    let (b, t, i, h) = (g.batch, g.time, g.input, g.hidden);
    let gh_w = g.cell.gates() * h;
    let s = g.cell.states() * h;
    let gru = g.cell == Cell::Gru;
    let mut gates = Vec::new();
    let (w_ih_t, counts) = if keep {
        // the input projection of every step as one GEMM
        gates = super::buffer::tile(bias, b * t);
        matmul(&mut gates, x, w.w_ih, b * t, i, gh_w, false, true, true);
        (Vec::new(), split_rows(b))
    } else {
        let blocks = b.div_ceil(64).max(split_rows(b).len());
        let counts = (0..blocks)
            .map(|k| b / blocks + usize::from(k < b % blocks))
            .collect();
        (transpose(w.w_ih, gh_w, i), counts)
    };
    let w_hh_t = transpose(w.w_hh, gh_w, h);
    let mut y = scratch(b * t * s); // each step writes its rows' outputs in full
    let mut hn = vec![0.0; if gru && keep { b * t * h } else { 0 }];
    let jobs = pieces(&mut gates, if keep { t * gh_w } else { 0 }, &counts)
        .into_iter()
        .zip(pieces(&mut y, t * s, &counts))
        .zip(pieces(
            &mut hn,
            if gru && keep { t * h } else { 0 },
            &counts,
        ));
    let (w_hh_ref, w_ih_t) = (&w_hh_t, &w_ih_t);
    rayon::scope(|sc| {
        let mut r0 = 0;
        for (((gates, y), hn), &rows) in jobs.zip(&counts) {
            let geom = RnnGeom { batch: rows, ..*g };
            let h0 = h0.map(|v| rows_of(v, r0, rows, h));
            let c0 = c0.map(|v| rows_of(v, r0, rows, h));
            let proj = if keep {
                Projection::Saved(gates)
            } else {
                Projection::PerStep(rows_of(x, r0, rows, t * i), w_ih_t, bias)
            };
            r0 += rows;
            sc.spawn(move |_| {
                steps_forward(&geom, proj, y, hn, (w_hh_ref, w.b_hh), (h0, c0));
            });
        }
    });
    recycle(w_hh_t);
    let xh = Vec::new();
    (y, RnnSaved { gates, hn, xh })
}

/// [`forward`] for the LSTM through the fused step (`lstm_step.rs`): no projection GEMM,
/// no transposed copy, each thread runs its batch rows' steps.
fn forward_fused(
    g: &RnnGeom,
    x: &[f32],
    w: RnnWeights,
    bias: &[f32],
    (h0, c0): (Option<&[f32]>, Option<&[f32]>),
    keep: bool,
) -> (Vec<f32>, RnnSaved) {
    let (b, t, i, h) = (g.batch, g.time, g.input, g.hidden);
    let panels = lstm_step::Panels::pack(w.w_ih, w.w_hh, bias, i, h);
    let mut y = scratch(b * t * 2 * h); // each step writes its rows' outputs in full
    let mut gates = scratch(if keep { b * t * 4 * h } else { 0 }); // likewise
    let xs = xh_stride(g);
    let mut xh = scratch(if keep { b * t * xs } else { 0 }); // the steps write what is read
    let counts = split_rows(b);
    let kept = |n| if keep { n } else { 0 };
    let jobs = pieces(&mut y, t * 2 * h, &counts)
        .into_iter()
        .zip(pieces(&mut gates, kept(t * 4 * h), &counts))
        .zip(pieces(&mut xh, kept(t * xs), &counts));
    let panels = &panels;
    rayon::scope(|sc| {
        let mut r0 = 0;
        for (((y, gates), xh), &rows) in jobs.zip(&counts) {
            let geom = RnnGeom { batch: rows, ..*g };
            let x = rows_of(x, r0, rows, t * i);
            let h0 = h0.map(|v| rows_of(v, r0, rows, h));
            let c0 = c0.map(|v| rows_of(v, r0, rows, h));
            r0 += rows;
            let out = lstm_step::StepsOut { y, gates, xh };
            sc.spawn(move |_| lstm_step::steps(&geom, panels, x, out, h0, c0));
        }
    });
    let hn = Vec::new();
    (y, RnnSaved { gates, hn, xh })
}

/// Where a step's gate pre-activations come from: rows of the all-steps projection
/// (training, kept for the backward), or `x_t W_ihᵀ + b` computed for the step (inference).
enum Projection<'a> {
    Saved(&'a mut [f32]),
    PerStep(&'a [f32], &'a [f32], &'a [f32]),
}

/// The steps of [`forward`] for one block of batch rows (`g.batch` of them).
fn steps_forward(
    g: &RnnGeom,
    mut proj: Projection,
    y: &mut [f32],
    hn: &mut [f32],
    (w_hh_t, b_hh): (&[f32], Option<&[f32]>),
    (h0, c0): (Option<&[f32]>, Option<&[f32]>),
) {
    let (b, t, h, i) = (g.batch, g.time, g.hidden, g.input);
    let gh_w = g.cell.gates() * h;
    let s = g.cell.states() * h;
    let gru = g.cell == Cell::Gru;
    let mut hs = h0.map_or_else(|| vec![0.0; b * h], <[f32]>::to_vec);
    let mut cs = c0.map_or_else(|| vec![0.0; b * h], <[f32]>::to_vec);
    let mut gh = vec![0.0; if gru { b * gh_w } else { 0 }];
    let mut scratch = vec![
        0.0;
        if matches!(proj, Projection::PerStep(..)) {
            b * gh_w
        } else {
            0
        }
    ];
    let mut hn_scratch = vec![0.0; h];
    for step in 0..t {
        let tt = g.t(step);
        // this step's gate rows, `rs` apart
        let (gates, rs): (&mut [f32], usize) = match &mut proj {
            Projection::Saved(all) => (&mut all[tt * gh_w..], t * gh_w),
            Projection::PerStep(x, w_ih_t, bias) => {
                scratch
                    .chunks_mut(gh_w)
                    .for_each(|r| r.copy_from_slice(bias));
                let dims = (b, i, gh_w);
                matmul_rows(
                    &mut scratch,
                    gh_w,
                    &x[tt * i..],
                    t * i,
                    w_ih_t,
                    dims,
                    false,
                    true,
                );
                (&mut scratch[..], gh_w)
            }
        };
        let dims = (b, h, gh_w);
        if gru {
            gh.chunks_mut(gh_w).for_each(|r| match b_hh {
                Some(bh) => r.copy_from_slice(bh),
                None => r.fill(0.0),
            });
            matmul_rows(&mut gh, gh_w, &hs, h, w_hh_t, dims, false, true);
        } else {
            matmul_rows(gates, rs, &hs, h, w_hh_t, dims, false, true);
        }
        for r in 0..b {
            let row = r * t + tt;
            let gr = &mut gates[r * rs..r * rs + gh_w];
            let (hr, out) = (&mut hs[r * h..(r + 1) * h], &mut y[row * s..(row + 1) * s]);
            match g.cell {
                Cell::Lstm => rnn_cell::lstm_forward(gr, &mut cs[r * h..(r + 1) * h], hr, out),
                Cell::Gru => {
                    let hn_row = if hn.is_empty() {
                        &mut hn_scratch[..]
                    } else {
                        &mut hn[row * h..(row + 1) * h]
                    };
                    rnn_cell::gru_forward(gr, &gh[r * gh_w..(r + 1) * gh_w], hr, hn_row, out)
                }
                Cell::RnnTanh | Cell::RnnRelu => {
                    rnn_cell::rnn_forward(gr, hr, out, g.cell == Cell::RnnRelu)
                }
            }
        }
    }
}

/// Rows `r0..r0 + rows` of `v`, `width` elements each.
pub(super) fn rows_of(v: &[f32], r0: usize, rows: usize, width: usize) -> &[f32] {
    &v[r0 * width..(r0 + rows) * width]
}

fn add_opt(acc: &mut [f32], v: Option<&[f32]>) {
    if let Some(v) = v {
        acc.iter_mut().zip(v).for_each(|(a, b)| *a += b);
    }
}

/// Batch rows per thread: `b` split as evenly as the thread count allows.
pub(super) fn split_rows(b: usize) -> Vec<usize> {
    let n = num_threads().clamp(1, b.max(1));
    (0..n).map(|k| b / n + usize::from(k < b % n)).collect()
}

/// `v` cut into consecutive pieces of `counts[k] · width` elements (empty pieces when
/// `width` is 0).
pub(super) fn pieces<'a>(v: &'a mut [f32], width: usize, counts: &[usize]) -> Vec<&'a mut [f32]> {
    let mut rest = v;
    counts
        .iter()
        .map(|&c| {
            let (piece, tail) = std::mem::take(&mut rest).split_at_mut(c * width);
            rest = tail;
            piece
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::recurrent_backward::backward_with;

    /// The fused LSTM steps, forward and backward, against the GEMM path: odd sizes
    /// leave a partial unit block (H = 20), and the batch sizes give row tiles of every size
    /// from 1 to 6 on one worker and on two (two: 22 rows = 11 + 11 = 6 + 5 each, 13 = 7 + 6
    /// = 4 + 3 and 6, 4 = 2 + 2; one: 13 = 5 + 4 + 4), in both directions, with and without
    /// initial states, training and inference.
    #[test]
    fn fused_lstm_matches_the_gemm_path() {
        if !lstm_step::available() {
            return; // nothing to compare on this CPU: forward takes the GEMM path
        }
        for b in [1, 2, 4, 7, 13, 22] {
            fused_matches_gemm(b, 5);
        }
        // I + H = 170 (and 4H = 80): the sums in several runs of k (`lstm_step::kernel::k_run`)
        fused_matches_gemm(7, 150);
    }

    fn fused_matches_gemm(b: usize, i: usize) {
        let (t, h) = (3, 20);
        let val = |n: usize, seed: f32| -> Vec<f32> {
            (0..n)
                .map(|k| ((k as f32 + seed) * 0.731).sin() * 0.5)
                .collect()
        };
        let (x, w_ih, w_hh) = (
            val(b * t * i, 1.0),
            val(4 * h * i, 2.0),
            val(4 * h * h, 3.0),
        );
        let (b_ih, b_hh, h0, c0) = (
            val(4 * h, 4.0),
            val(4 * h, 5.0),
            val(b * h, 6.0),
            val(b * h, 7.0),
        );
        let w = RnnWeights {
            w_ih: &w_ih,
            w_hh: &w_hh,
            b_ih: Some(&b_ih),
            b_hh: Some(&b_hh),
        };
        let bias: Vec<f32> = b_ih.iter().zip(&b_hh).map(|(a, c)| a + c).collect();
        // stale (NaN) buffers of the packed weights' lengths: results must not depend on them
        for n in [2 * (i + h) * 64, 4 * h * 64] {
            recycle(vec![f32::NAN; n]);
        }
        for reverse in [false, true] {
            for states in [None, Some((&h0[..], &c0[..]))] {
                for keep in [true, false] {
                    let g = RnnGeom {
                        cell: Cell::Lstm,
                        batch: b,
                        time: t,
                        input: i,
                        hidden: h,
                        reverse,
                    };
                    let st = (states.map(|s| s.0), states.map(|s| s.1));
                    let (y1, s1) = forward_fused(&g, &x, w, &bias, st, keep);
                    let (y2, s2) = forward_gemm(&g, &x, w, &bias, st, keep);
                    let what = format!(
                        "B={b} reverse={reverse} states={} keep={keep}",
                        states.is_some()
                    );
                    if keep {
                        let dy: Vec<f32> = val(y1.len(), 8.0);
                        // the GEMM path's `[x_t, h_{t-1}, 1]` rows are built by the backward
                        let d1 = backward_with(&g, &x, w, st, &y1, &s1, &dy, true, true);
                        let d2 = backward_with(&g, &x, w, st, &y2, &s2, &dy, true, false);
                        let pairs = [
                            (d1.dx.as_ref().unwrap(), d2.dx.as_ref().unwrap()),
                            (&d1.dw_ih, &d2.dw_ih),
                            (&d1.dw_hh, &d2.dw_hh),
                            (&d1.db_ih, &d2.db_ih),
                            (&d1.dh0, &d2.dh0),
                            (&d1.dc0, &d2.dc0),
                        ];
                        for (n, (a, c)) in pairs.iter().enumerate() {
                            assert_eq!(a.len(), c.len(), "{what}: gradient {n}");
                            for (k, (p, q)) in a.iter().zip(c.iter()).enumerate() {
                                assert!(
                                    (p - q).abs() < 1e-4,
                                    "{what}: gradient {n} value {k}: {p} vs {q}"
                                );
                            }
                        }
                    }
                    assert_eq!(
                        (y1.len(), s1.gates.len()),
                        (y2.len(), s2.gates.len()),
                        "{what}"
                    );
                    for (k, (a, c)) in y1
                        .iter()
                        .zip(&y2)
                        .chain(s1.gates.iter().zip(&s2.gates))
                        .enumerate()
                    {
                        assert!((a - c).abs() < 1e-5, "{what}: value {k}: {a} vs {c}");
                    }
                }
            }
        }
    }
}
