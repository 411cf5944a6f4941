//! A recurrent layer's pass over a whole sequence, one direction: the input projection of
//! all time steps as one GEMM, one GEMM per step for the recurrence, the point-wise cell
//! (`rnn_cell.rs`) fused after it, and a backward that runs the steps in reverse with one
//! GEMM each, then gets the weight gradients and the input gradient as three large GEMMs:
//!
//! ```text
//! forward:   G = X W_ihᵀ + b_ih (+ b_hh)            all steps at once  [B·T, gates·H]
//!            G_t += h_{t-1} W_hhᵀ;  (h_t, c_t) = cell(G_t, h_{t-1}, c_{t-1})
//! backward:  dG_t = cell'(dy_t + dh_t, ..);  dh_{t-1} = dG_t W_hh  (+ GRU's direct part)
//!            dW_hh = Σ_t dG_tᵀ h_{t-1},  dW_ih = dGᵀ X,  db = Σ dG,  dX = dG W_ih
//! ```
//! Buffers are batch-first `[B, T, ..]` like the layer's input; a step's rows are strided.

use super::matmul::{matmul, matmul_rows};
use super::reduce::sum_axis;
use super::rnn_cell;

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
    fn t(&self, s: usize) -> usize {
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

/// What the forward keeps for the backward: the gates of every step and (GRU) `h_n`.
pub struct RnnSaved {
    gates: Vec<f32>,
    hn: Vec<f32>,
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
    /// `[B, H]`
    pub dh0: Vec<f32>,
    /// `[B, H]` (LSTM only, else empty)
    pub dc0: Vec<f32>,
}

/// Runs the sequence: `x [B, T, I]`, initial states `h0`, `c0` `[B, H]` (zeros when
/// `None`). Returns `y [B, T, S·H]` (each step's `[h, c]` for the LSTM, `h` otherwise).
pub fn forward(
    g: &RnnGeom,
    x: &[f32],
    w: RnnWeights,
    h0: Option<&[f32]>,
    c0: Option<&[f32]>,
) -> (Vec<f32>, RnnSaved) {
    let (b, t, i, h) = (g.batch, g.time, g.input, g.hidden);
    let gh_w = g.cell.gates() * h;
    let s = g.cell.states() * h;
    // input projection with the biases (GRU keeps b_hh apart: r multiplies W_hn h + b_hn)
    let mut gates = vec![0.0; b * t * gh_w];
    let mut bias = vec![0.0; gh_w];
    add_opt(&mut bias, w.b_ih);
    if g.cell != Cell::Gru {
        add_opt(&mut bias, w.b_hh);
    }
    gates
        .chunks_mut(gh_w)
        .for_each(|r| r.copy_from_slice(&bias));
    matmul(&mut gates, x, w.w_ih, b * t, i, gh_w, false, true, true);

    let mut hs = h0.map_or_else(|| vec![0.0; b * h], <[f32]>::to_vec);
    let mut cs = c0.map_or_else(|| vec![0.0; b * h], <[f32]>::to_vec);
    let mut y = vec![0.0; b * t * s];
    let gru = g.cell == Cell::Gru;
    let mut gh = vec![0.0; if gru { b * gh_w } else { 0 }];
    let mut hn = vec![0.0; if gru { b * t * h } else { 0 }];
    for step in 0..t {
        let tt = g.t(step);
        let dims = (b, h, gh_w);
        if gru {
            gh.chunks_mut(gh_w).for_each(|r| match w.b_hh {
                Some(bh) => r.copy_from_slice(bh),
                None => r.fill(0.0),
            });
            matmul_rows(&mut gh, gh_w, &hs, h, w.w_hh, dims, true, true);
        } else {
            matmul_rows(
                &mut gates[tt * gh_w..],
                t * gh_w,
                &hs,
                h,
                w.w_hh,
                dims,
                true,
                true,
            );
        }
        for r in 0..b {
            let row = r * t + tt;
            let gr = &mut gates[row * gh_w..(row + 1) * gh_w];
            let (hr, out) = (&mut hs[r * h..(r + 1) * h], &mut y[row * s..(row + 1) * s]);
            match g.cell {
                Cell::Lstm => rnn_cell::lstm_forward(gr, &mut cs[r * h..(r + 1) * h], hr, out),
                Cell::Gru => rnn_cell::gru_forward(
                    gr,
                    &gh[r * gh_w..(r + 1) * gh_w],
                    hr,
                    &mut hn[row * h..(row + 1) * h],
                    out,
                ),
                Cell::RnnTanh | Cell::RnnRelu => {
                    rnn_cell::rnn_forward(gr, hr, out, g.cell == Cell::RnnRelu)
                }
            }
        }
    }
    (y, RnnSaved { gates, hn })
}

fn add_opt(acc: &mut [f32], v: Option<&[f32]>) {
    if let Some(v) = v {
        acc.iter_mut().zip(v).for_each(|(a, b)| *a += b);
    }
}

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
    let (b, t, i, h) = (g.batch, g.time, g.input, g.hidden);
    let gh_w = g.cell.gates() * h;
    let s = g.cell.states() * h;
    let gru = g.cell == Cell::Gru;
    let zeros = vec![0.0; b * h];
    let (h0, c0) = (h0.unwrap_or(&zeros), c0.unwrap_or(&zeros));
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
    let mut dgx = vec![0.0; b * t * gh_w];
    let mut dgh = vec![0.0; if gru { b * t * gh_w } else { 0 }];
    let mut dh = vec![0.0; b * h];
    let mut dc = vec![0.0; if g.cell == Cell::Lstm { b * h } else { 0 }];
    for step in (0..t).rev() {
        let tt = g.t(step);
        for r in 0..b {
            let row = r * t + tt;
            let (gs, dys) = (row * gh_w..(row + 1) * gh_w, row * s..(row + 1) * s);
            let (hp, cp) = prev(r, step);
            let dhr = &mut dh[r * h..(r + 1) * h];
            match g.cell {
                Cell::Lstm => rnn_cell::lstm_backward(
                    &saved.gates[gs.clone()],
                    &y[row * s + h..(row + 1) * s],
                    cp,
                    &dy[dys],
                    dhr,
                    &mut dc[r * h..(r + 1) * h],
                    &mut dgx[gs],
                ),
                Cell::Gru => rnn_cell::gru_backward(
                    &saved.gates[gs.clone()],
                    &saved.hn[row * h..(row + 1) * h],
                    hp,
                    &dy[dys],
                    dhr,
                    &mut dgx[gs.clone()],
                    &mut dgh[gs],
                ),
                Cell::RnnTanh | Cell::RnnRelu => rnn_cell::rnn_backward(
                    &y[dys.clone()],
                    &dy[dys],
                    dhr,
                    &mut dgx[gs],
                    g.cell == Cell::RnnRelu,
                ),
            }
        }
        // dh_{t-1} = dG_t W_hh (added to GRU's direct part h' z)
        let dg = if gru { &dgh } else { &dgx };
        matmul_rows(
            &mut dh,
            h,
            &dg[tt * gh_w..],
            t * gh_w,
            w.w_hh,
            (b, gh_w, h),
            false,
            gru,
        );
    }
    // h_{t-1} of every row, for dW_hh
    let mut h_prev = vec![0.0; b * t * h];
    for r in 0..b {
        for step in 0..t {
            let row = r * t + g.t(step);
            h_prev[row * h..(row + 1) * h].copy_from_slice(prev(r, step).0);
        }
    }
    let dg_h = if gru { &dgh } else { &dgx };
    let mut dw_hh = vec![0.0; gh_w * h];
    matmul(
        &mut dw_hh,
        dg_h,
        &h_prev,
        gh_w,
        b * t,
        h,
        true,
        false,
        false,
    );
    let mut dw_ih = vec![0.0; gh_w * i];
    matmul(&mut dw_ih, &dgx, x, gh_w, b * t, i, true, false, false);
    let dx = need_dx.then(|| {
        let mut dx = vec![0.0; b * t * i];
        matmul(&mut dx, &dgx, w.w_ih, b * t, gh_w, i, false, false, false);
        dx
    });
    RnnGrads {
        dx,
        dw_ih,
        dw_hh,
        db_ih: sum_axis(&dgx, 1, b * t, gh_w),
        db_hh: sum_axis(dg_h, 1, b * t, gh_w),
        dh0: dh,
        dc0: dc,
    }
}
