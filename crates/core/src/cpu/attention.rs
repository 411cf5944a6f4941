//! Scaled dot-product attention over heads laid side by side, forward and backward in one
//! kernel each (no head permutes, no mask tensor, no separate softmax pass):
//!
//! ```text
//! per batch row b and head h:  Q, K, V = columns h·dk..(h+1)·dk of q, k, v  [T, dk]
//! S = Q Kᵀ · scale,  P = softmax(S) over keys j (j ≤ i when causal),  O = P V
//! backward:  dV = Pᵀ dO,  dP = dO Vᵀ,  dS = P ∘ (dP − rowsum(dP ∘ P)) · scale,
//!            dQ = dS K,  dK = dSᵀ Q
//! ```
//! Inputs and output are `[B, T, H·dk]` (what the projections produce and consume); `P` is
//! kept for the backward (`[B, H, T, T]`, causal rows zero past the diagonal). Batch rows run
//! in parallel; each head's `Q, K, V` are copied to contiguous blocks for the products.

use super::gates::exp;
use super::matmul::matmul_serial;
use rayon::prelude::*;

/// The sizes of one attention call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttnGeom {
    /// Batch rows `B`.
    pub batch: usize,
    /// Query positions `T`.
    pub time: usize,
    /// Key (and value) positions `S` (`T`, or more with a cache of earlier steps).
    pub keys: usize,
    /// Heads `H`.
    pub heads: usize,
    /// Size of each head `dk`.
    pub dk: usize,
    /// Query `i` sees keys up to `i + (S − T)` only.
    pub causal: bool,
    /// `1 / sqrt(dk)` usually.
    pub scale: f32,
}

impl AttnGeom {
    /// The last key query `i` may see, plus one.
    fn visible(&self, i: usize) -> usize {
        if self.causal {
            i + 1 + (self.keys - self.time)
        } else {
            self.keys
        }
    }
}

/// Columns `h·dk..(h+1)·dk` of `rows` rows of width `w` as a contiguous `[rows, dk]` block.
fn gather(x: &[f32], rows: usize, w: usize, h: usize, dk: usize, out: &mut [f32]) {
    for r in 0..rows {
        out[r * dk..(r + 1) * dk].copy_from_slice(&x[r * w + h * dk..r * w + (h + 1) * dk]);
    }
}

/// Adds (or writes) a `[rows, dk]` block into columns `h·dk..` of `x`.
fn scatter(block: &[f32], rows: usize, w: usize, h: usize, dk: usize, x: &mut [f32]) {
    for r in 0..rows {
        x[r * w + h * dk..r * w + (h + 1) * dk].copy_from_slice(&block[r * dk..(r + 1) * dk]);
    }
}

crate::multiversion! {
    /// `p = softmax(p[..n])` in place, zeros after `n`.
    fn softmax_row(p: &mut [f32], n: usize) {
        let (live, dead) = p.split_at_mut(n);
        let m = live.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let mut sum = 0.0;
        for v in live.iter_mut() {
            *v = exp(*v - m);
            sum += *v;
        }
        let inv = 1.0 / sum;
        live.iter_mut().for_each(|v| *v *= inv);
        dead.iter_mut().for_each(|v| *v = 0.0);
    }
}

/// `(out [B, T, H·dk], p [B, H, T, S])` from `q [B, T, H·dk]`, `k`, `v` `[B, S, H·dk]`.
pub fn forward(g: &AttnGeom, q: &[f32], k: &[f32], v: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (t, s, dk, hh) = (g.time, g.keys, g.dk, g.heads);
    let w = hh * dk;
    let mut out = vec![0.0; g.batch * t * w];
    let mut p = vec![0.0; g.batch * hh * t * s];
    let task = |b: usize, ob: &mut [f32], pb: &mut [f32]| {
        let (qb, kb, vb) = (
            &q[b * t * w..(b + 1) * t * w],
            &k[b * s * w..(b + 1) * s * w],
            &v[b * s * w..(b + 1) * s * w],
        );
        let (mut qh, mut kh, mut vh, mut oh) = (
            vec![0.0; t * dk],
            vec![0.0; s * dk],
            vec![0.0; s * dk],
            vec![0.0; t * dk],
        );
        for h in 0..hh {
            gather(qb, t, w, h, dk, &mut qh);
            gather(kb, s, w, h, dk, &mut kh);
            gather(vb, s, w, h, dk, &mut vh);
            let ph = &mut pb[h * t * s..(h + 1) * t * s];
            matmul_serial(ph, &qh, &kh, t, dk, s, false, true, false);
            for (i, row) in ph.chunks_mut(s).enumerate() {
                row.iter_mut().for_each(|x| *x *= g.scale);
                softmax_row(row, g.visible(i));
            }
            matmul_serial(&mut oh, ph, &vh, t, s, dk, false, false, false);
            scatter(&oh, t, w, h, dk, ob);
        }
    };
    out.par_chunks_mut(t * w)
        .zip(p.par_chunks_mut(hh * t * s))
        .enumerate()
        .for_each(|(b, (ob, pb))| task(b, ob, pb));
    (out, p)
}

/// `(dq, dk, dv)` from `dout [B, T, H·dk]`, the inputs and the forward's `p`.
pub fn backward(
    g: &AttnGeom,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    p: &[f32],
    dout: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (t, s, dk, hh) = (g.time, g.keys, g.dk, g.heads);
    let w = hh * dk;
    let mut dq = vec![0.0; g.batch * t * w];
    let mut dk_all = vec![0.0; g.batch * s * w];
    let mut dv_all = vec![0.0; g.batch * s * w];
    let task = |b: usize, dqb: &mut [f32], dkb: &mut [f32], dvb: &mut [f32]| {
        let (qb, kb, vb, dob) = (
            &q[b * t * w..(b + 1) * t * w],
            &k[b * s * w..(b + 1) * s * w],
            &v[b * s * w..(b + 1) * s * w],
            &dout[b * t * w..(b + 1) * t * w],
        );
        let blk = |n: usize| vec![0.0; n];
        let (mut qh, mut kh, mut vh, mut doh) =
            (blk(t * dk), blk(s * dk), blk(s * dk), blk(t * dk));
        let (mut ds, mut dqh, mut dkh, mut dvh) =
            (blk(t * s), blk(t * dk), blk(s * dk), blk(s * dk));
        for h in 0..hh {
            gather(qb, t, w, h, dk, &mut qh);
            gather(kb, s, w, h, dk, &mut kh);
            gather(vb, s, w, h, dk, &mut vh);
            gather(dob, t, w, h, dk, &mut doh);
            let ph = &p[(b * hh + h) * t * s..(b * hh + h + 1) * t * s];
            // dV = Pᵀ dO;  dP = dO Vᵀ
            matmul_serial(&mut dvh, ph, &doh, s, t, dk, true, false, false);
            matmul_serial(&mut ds, &doh, &vh, t, dk, s, false, true, false);
            for (dsr, pr) in ds.chunks_mut(s).zip(ph.chunks(s)) {
                let dot: f32 = dsr.iter().zip(pr).map(|(a, b)| a * b).sum();
                dsr.iter_mut()
                    .zip(pr)
                    .for_each(|(d, &pv)| *d = pv * (*d - dot) * g.scale);
            }
            // dQ = dS K;  dK = dSᵀ Q
            matmul_serial(&mut dqh, &ds, &kh, t, s, dk, false, false, false);
            matmul_serial(&mut dkh, &ds, &qh, s, t, dk, true, false, false);
            scatter(&dqh, t, w, h, dk, dqb);
            scatter(&dkh, s, w, h, dk, dkb);
            scatter(&dvh, s, w, h, dk, dvb);
        }
    };
    dq.par_chunks_mut(t * w)
        .zip(dk_all.par_chunks_mut(s * w))
        .zip(dv_all.par_chunks_mut(s * w))
        .enumerate()
        .for_each(|(b, ((dqb, dkb), dvb))| task(b, dqb, dkb, dvb));
    (dq, dk_all, dv_all)
}
