//! Recurrent layers' fused pass over a sequence (kernel in `cpu/recurrent.rs`): one op per
//! layer and direction, so the tape holds one node per layer rather than one per step.

use super::{record, Op};
use crate::cpu::recurrent::{self, Cell, RnnGeom, RnnSaved, RnnWeights};
use crate::tensor::Tensor;

/// The weights of a recurrent pass, in PyTorch's layout (`G` gate blocks: 4 for the LSTM,
/// 3 for the GRU, 1 for the plain RNN).
#[derive(Clone, Copy)]
pub struct RnnParams<'a> {
    /// `[G·H, I]`
    pub w_ih: &'a Tensor,
    /// `[G·H, H]`
    pub w_hh: &'a Tensor,
    /// `[G·H]`
    pub b_ih: Option<&'a Tensor>,
    /// `[G·H]`
    pub b_hh: Option<&'a Tensor>,
}

/// What the recurrent op keeps for its backward.
pub(crate) struct RecurrentRecord {
    pub geom: RnnGeom,
    pub x: Tensor,
    pub w_ih: Tensor,
    pub w_hh: Tensor,
    pub b_ih: Option<Tensor>,
    pub b_hh: Option<Tensor>,
    pub h0: Option<Tensor>,
    pub c0: Option<Tensor>,
    pub saved: RnnSaved,
}

impl RecurrentRecord {
    pub(crate) fn inputs(&self) -> Vec<&Tensor> {
        [&self.x, &self.w_ih, &self.w_hh]
            .into_iter()
            .chain(self.b_ih.iter())
            .chain(self.b_hh.iter())
            .chain(self.h0.iter())
            .chain(self.c0.iter())
            .collect()
    }

    pub(crate) fn weights(&self) -> RnnWeights<'_> {
        RnnWeights {
            w_ih: self.w_ih.data(),
            w_hh: self.w_hh.data(),
            b_ih: self.b_ih.as_ref().map(|t| t.data()),
            b_hh: self.b_hh.as_ref().map(|t| t.data()),
        }
    }
}

impl Tensor {
    /// Runs a recurrent cell over the sequence `self [B, T, I]` (batch first), from the
    /// initial states `h0` and (LSTM) `c0` `[B, H]`, zeros when `None`; `reverse` runs from the
    /// last step to the first. Returns every step's state: `[B, T, 2H]` holding `[h_t, c_t]`
    /// for the LSTM, `[B, T, H]` holding `h_t` otherwise. The cells' formulas are in
    /// `cpu/rnn_cell.rs`.
    ///
    /// # Panics
    /// If the shapes do not fit together (layers check their input first).
    pub fn recurrent(
        &self,
        cell: Cell,
        p: RnnParams,
        h0: Option<&Tensor>,
        c0: Option<&Tensor>,
        reverse: bool,
    ) -> Tensor {
        let [b, t, i] = *self.shape() else {
            panic!(
                "recurrent: input must be [batch, time, features], got {:?}",
                self.shape()
            )
        };
        let gh = p.w_hh.shape()[0];
        let h = gh / cell.gates();
        let fits = p.w_ih.shape() == [gh, i]
            && p.w_hh.shape() == [gh, h]
            && gh == cell.gates() * h
            && [p.b_ih, p.b_hh].iter().flatten().all(|v| v.shape() == [gh])
            && h0.is_none_or(|v| v.shape() == [b, h])
            && c0.is_none_or(|v| v.shape() == [b, h] && cell == Cell::Lstm);
        assert!(
            fits,
            "recurrent ({cell:?}): weights {:?} / {:?}, states {:?} / {:?} do not fit input {:?}",
            p.w_ih.shape(),
            p.w_hh.shape(),
            h0.map(|v| v.shape().to_vec()),
            c0.map(|v| v.shape().to_vec()),
            self.shape()
        );
        let geom = RnnGeom {
            cell,
            batch: b,
            time: t,
            input: i,
            hidden: h,
            reverse,
        };
        let w = RnnWeights {
            w_ih: p.w_ih.data(),
            w_hh: p.w_hh.data(),
            b_ih: p.b_ih.map(|v| v.data()),
            b_hh: p.b_hh.map(|v| v.data()),
        };
        let mut inputs = vec![self, p.w_ih, p.w_hh];
        inputs.extend([p.b_ih, p.b_hh, h0, c0].into_iter().flatten());
        // keep the gates only when a backward can come
        let keep =
            crate::autograd::is_grad_enabled() && inputs.iter().any(|t| t.is_requires_grad());
        let (y, saved) = recurrent::forward(
            &geom,
            self.data(),
            w,
            h0.map(|v| v.data()),
            c0.map(|v| v.data()),
            keep,
        );
        record(y, vec![b, t, cell.states() * h], &inputs, || {
            Op::Recurrent(Box::new(RecurrentRecord {
                geom,
                x: self.clone(),
                w_ih: p.w_ih.clone(),
                w_hh: p.w_hh.clone(),
                b_ih: p.b_ih.cloned(),
                b_hh: p.b_hh.cloned(),
                h0: h0.cloned(),
                c0: c0.cloned(),
                saved,
            }))
        })
    }
}
