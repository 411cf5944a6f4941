//! Scaled dot-product attention over heads laid side by side, forward and backward in one
//! kernel each (no head permutes, no mask tensor, no separate softmax pass):
//!
//! ```text
//! per batch row b and head h:  Q, K, V = columns h·dk..(h+1)·dk of q, k, v  [T, dk]
//! S = Q Kᵀ · scale,  P = softmax(S) over keys j (j ≤ i when causal),  O = P V
//! backward:  dV = Pᵀ dO,  dP = dO Vᵀ,  dS = P ∘ (dP − rowsum(dP ∘ P)) · scale,
//!            dQ = dS K,  dK = dSᵀ Q
//! ```
//! Padded keys (a key mask) get zero weight: `P` is renormalised over the real keys.
//! Dropout on the weights (training): `O = (P ∘ M) V` with `M` 0 or `1 / (1 − rate)` per
//! weight, drawn from a generator seeded by `(seed, batch row, head)` (so the result does
//! not depend on the threads) and kept as bytes; the backward uses `P ∘ M` for `dV` and
//! `dP = (dO Vᵀ) ∘ M` (PyTorch's and Keras's attention dropout).
//! Inputs and output are `[B, T, H·dk]` (what the projections produce and consume); `P` is
//! kept for the backward (`[B, H, T, T]`, causal rows zero past the diagonal). Batch rows run
//! in parallel; each head's `Q, K, V` are read in place through strided matrix views.

use super::gates::exp;
use super::matmul::{matmul_view, View};
use super::recycle::scratch;
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

/// Dropout of attention weights: the rate and the seed of its masks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttnDropout {
    /// Fraction of weights dropped, in `(0, 1)`.
    pub rate: f32,
    /// Seed of the masks.
    pub seed: u64,
}

/// SplitMix64 (Steele et al.): a small, fast generator for one head's dropout mask.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// One head's keep bytes (1 keep, 0 drop) for `rows · cols` weights.
fn keep_bytes(d: AttnDropout, b: usize, h: usize, heads: usize, out: &mut [u8]) {
    let mut g = SplitMix(d.seed ^ ((b * heads + h) as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let threshold = (d.rate as f64 * (1u64 << 32) as f64) as u64;
    for c in out.chunks_mut(2) {
        let r = g.next();
        c[0] = ((r & 0xFFFF_FFFF) >= threshold) as u8;
        if let Some(x) = c.get_mut(1) {
            *x = ((r >> 32) >= threshold) as u8;
        }
    }
}

/// `dst = src ∘ keep / (1 − rate)` row by row.
fn apply_keep(dst: &mut [f32], src: &[f32], keep: &[u8], rate: f32) {
    let inv = 1.0 / (1.0 - rate);
    for ((d, &s), &k) in dst.iter_mut().zip(src).zip(keep) {
        *d = if k != 0 { s * inv } else { 0.0 };
    }
}

/// `x = x ∘ keep / (1 − rate)` in place.
fn keep_in_place(x: &mut [f32], keep: &[u8], rate: f32) {
    let inv = 1.0 / (1.0 - rate);
    for (v, &k) in x.iter_mut().zip(keep) {
        *v = if k != 0 { *v * inv } else { 0.0 };
    }
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

impl AttnGeom {
    /// Causal query rows in blocks of 16 `(first, end, keys)`, where `keys` is how many keys
    /// the block's last row sees: a block skips the keys none of its rows sees (the upper
    /// triangle, 3/8 of the products at T = 64), and the gemm crate runs 16-row products
    /// faster than 32-row ones (one thread, hot: 93 vs 66 GFLOP/s at k = 32, n = 64). W4's
    /// attention, forward + backward, best of 30: 4.3 ms with two halves, 2.0 ms with
    /// 16-row blocks, 3.9 ms with 8-row ones. The block seeing every key comes first, so
    /// the backward's first `dK`, `dV` product writes all of them and the others add to
    /// theirs. Without a causal mask: one block (16-row blocks were no faster).
    fn row_blocks(&self) -> Vec<(usize, usize, usize)> {
        const ROWS: usize = 16;
        let t = self.time;
        if !self.causal || t < 2 * ROWS {
            return vec![(0, t, self.keys)];
        }
        (0..t.div_ceil(ROWS))
            .rev()
            .map(|i| {
                let end = ((i + 1) * ROWS).min(t);
                (i * ROWS, end, self.visible(end - 1))
            })
            .collect()
    }
}

/// Head `h`'s `[rows, dk]` block inside rows of width `w` (transposed: `[dk, rows]`).
fn head(x: &[f32], w: usize, h: usize, dk: usize, transposed: bool) -> View<'_> {
    let data = &x[h * dk..];
    if transposed {
        View { data, rs: 1, cs: w }
    } else {
        View { data, rs: w, cs: 1 }
    }
}

/// A contiguous `[rows, cols]` matrix (transposed: read as `[cols, rows]`).
fn dense(x: &[f32], cols: usize, transposed: bool) -> View<'_> {
    if transposed {
        View {
            data: x,
            rs: 1,
            cs: cols,
        }
    } else {
        View {
            data: x,
            rs: cols,
            cs: 1,
        }
    }
}

crate::multiversion! {
    /// `p = softmax(scale · p[..n])` in place over the keys `keep` marks (1 a token, 0
    /// padding; all when `None`), zeros elsewhere and after `n`: the maximum is taken over
    /// the kept keys and padded ones get `exp · 0`, so the mask costs no extra pass. A row
    /// with no key left stays all zeros (its output is zero, not NaN). 16 lanes of partial
    /// maxima and sums so the loops vectorise.
    fn softmax_row(p: &mut [f32], n: usize, scale: f32, keep: Option<&[f32]>) {
        let (live, dead) = p.split_at_mut(n);
        let ones = [1.0f32; 16];
        // the keep factors of 16 keys starting at `j` (all ones without a mask)
        let lanes = |j: usize| -> &[f32] {
            match keep {
                Some(k) => &k[j..j + 16],
                None => &ones,
            }
        };
        let one = |j: usize| keep.map_or(1.0, |k| k[j]);
        let body = n - n % 16;
        let mut mx = [f32::NEG_INFINITY; 16];
        for (c, j) in live[..body].chunks_exact_mut(16).zip((0..).step_by(16)) {
            let k = lanes(j);
            for l in 0..16 {
                c[l] *= scale;
                mx[l] = if k[l] != 0.0 { mx[l].max(c[l]) } else { mx[l] };
            }
        }
        for (j, v) in live.iter_mut().enumerate().skip(body) {
            *v *= scale;
            if one(j) != 0.0 {
                mx[0] = mx[0].max(*v);
            }
        }
        let m = mx.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        if m == f32::NEG_INFINITY {
            p.iter_mut().for_each(|v| *v = 0.0);
            return;
        }
        let mut sum = [0.0f32; 16];
        for (c, j) in live[..body].chunks_exact_mut(16).zip((0..).step_by(16)) {
            let k = lanes(j);
            for l in 0..16 {
                c[l] = if k[l] != 0.0 { exp(c[l] - m) } else { 0.0 };
                sum[l] += c[l];
            }
        }
        for (j, v) in live.iter_mut().enumerate().skip(body) {
            *v = if one(j) != 0.0 { exp(*v - m) } else { 0.0 };
            sum[0] += *v;
        }
        let inv = 1.0 / sum.iter().sum::<f32>();
        live.iter_mut().for_each(|v| *v *= inv);
        dead.iter_mut().for_each(|v| *v = 0.0);
    }
}

crate::multiversion! {
    /// `dS = P ∘ (dP − rowsum(dP ∘ P)) · scale` in place over the first `n` keys of each
    /// row `s` apart (the softmax backward; 16 partial sums so the row sums vectorise).
    fn softmax_grad_rows(ds: &mut [f32], p: &[f32], s: usize, n: usize, scale: f32) {
        let body = n - n % 16;
        for (dsr, pr) in ds.chunks_mut(s).zip(p.chunks(s)) {
            let (dsr, pr) = (&mut dsr[..n], &pr[..n]);
            let mut acc = [0.0f32; 16];
            for (x, y) in dsr[..body].chunks_exact(16).zip(pr[..body].chunks_exact(16)) {
                for l in 0..16 {
                    acc[l] += x[l] * y[l];
                }
            }
            let tail: f32 = dsr[body..].iter().zip(&pr[body..]).map(|(x, y)| x * y).sum();
            let dot = acc.iter().sum::<f32>() + tail;
            dsr.iter_mut()
                .zip(pr)
                .for_each(|(d, &pv)| *d = pv * (*d - dot) * scale);
        }
    }
}

/// `(out [B, T, H·dk], p [B, H, T, S], keep)` from `q [B, T, H·dk]`, `k`, `v` `[B, S, H·dk]`,
/// optionally which keys are real (`key_mask [B, S]`: 1 keep, 0 padding) and dropout (its
/// keep bytes `[B, H, T, S]` returned for the backward). Without `keep_p` (no gradient to
/// come) `p` comes back empty: each batch row reuses one head's `[T, S]` buffer instead of
/// writing `B·H·T·S` weights to memory.
pub fn forward(
    g: &AttnGeom,
    (q, k, v): (&[f32], &[f32], &[f32]),
    key_mask: Option<&[f32]>,
    dropout: Option<AttnDropout>,
    keep_p: bool,
) -> (Vec<f32>, Vec<f32>, Vec<u8>) {
    let (t, s, dk, hh) = (g.time, g.keys, g.dk, g.heads);
    let w = hh * dk;
    super::threads::num_threads(); // our pool, not rayon's default
                                   // every element of out and p is written below (each head its own columns, each row's
                                   // unseen keys zeroed by its softmax)
    let blocks = g.row_blocks();
    let mut out = scratch(g.batch * t * w);
    let mut p = scratch(if keep_p { g.batch * hh * t * s } else { 0 });
    let mut keep = vec![
        0u8;
        if dropout.is_some() {
            g.batch * hh * t * s
        } else {
            0
        }
    ];
    let task = |b: usize, ob: &mut [f32], pb: &mut [f32], kb: &mut [u8]| {
        let mut own = vec![0.0f32; if keep_p { 0 } else { t * s }];
        let pb = if keep_p { pb } else { &mut own[..] };
        let mut dropped = vec![0.0f32; if dropout.is_some() { t * s } else { 0 }];
        let (qb, kkb, vb) = (
            &q[b * t * w..(b + 1) * t * w],
            &k[b * s * w..(b + 1) * s * w],
            &v[b * s * w..(b + 1) * s * w],
        );
        for h in 0..hh {
            if let Some(d) = dropout {
                keep_bytes(d, b, h, hh, &mut kb[h * t * s..(h + 1) * t * s]);
            }
            for &(r0, r1, n) in &blocks {
                let at = if keep_p { h * t } else { 0 };
                let ph = &mut pb[(at + r0) * s..(at + r1) * s];
                // S = Q Kᵀ over the keys the rows see, then each row's softmax
                let (qv, kt) = (
                    head(&qb[r0 * w..], w, h, dk, false),
                    head(kkb, w, h, dk, true),
                );
                matmul_view(ph, s, qv, kt, (r1 - r0, dk, n), false);
                let km = key_mask.map(|m| &m[b * s..(b + 1) * s]);
                for (i, row) in ph.chunks_mut(s).enumerate() {
                    softmax_row(row, g.visible(r0 + i), g.scale, km);
                }
                // O = P V (P ∘ M with dropout), written into this head's columns
                let pd: &[f32] = match dropout {
                    Some(d) => {
                        let dst = &mut dropped[r0 * s..r1 * s];
                        let kr = &kb[(h * t + r0) * s..(h * t + r1) * s];
                        apply_keep(dst, ph, kr, d.rate);
                        dst
                    }
                    None => ph,
                };
                let (pv, vv) = (dense(pd, s, false), head(vb, w, h, dk, false));
                matmul_view(
                    &mut ob[r0 * w + h * dk..],
                    w,
                    pv,
                    vv,
                    (r1 - r0, n, dk),
                    false,
                );
            }
        }
    };
    let per = if dropout.is_some() { hh * t * s } else { 0 };
    let mut keeps: Vec<&mut [u8]> = match per {
        0 => (0..g.batch).map(|_| &mut [][..]).collect(),
        _ => keep.chunks_mut(per).collect(),
    };
    let mut ps: Vec<&mut [f32]> = match keep_p {
        true => p.chunks_mut(hh * t * s).collect(),
        false => (0..g.batch).map(|_| &mut [][..]).collect(),
    };
    out.par_chunks_mut(t * w)
        .zip(ps.par_iter_mut())
        .zip(keeps.par_iter_mut())
        .enumerate()
        .for_each(|(b, ((ob, pb), kb))| task(b, ob, pb, kb));
    (out, p, keep)
}

/// `(dq, dk, dv)` from `dout [B, T, H·dk]`, the inputs and the forward's `p` (and, with
/// dropout, its rate and keep bytes).
pub fn backward(
    g: &AttnGeom,
    (q, k, v): (&[f32], &[f32], &[f32]),
    p: &[f32],
    dropout: Option<(f32, &[u8])>,
    dout: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (t, s, dk, hh) = (g.time, g.keys, g.dk, g.heads);
    let w = hh * dk;
    super::threads::num_threads();
    let blocks = g.row_blocks();
    let mut dq = scratch(g.batch * t * w);
    let mut dk_all = scratch(g.batch * s * w);
    let mut dv_all = scratch(g.batch * s * w);
    let task = |b: usize, dqb: &mut [f32], dkb: &mut [f32], dvb: &mut [f32]| {
        let (qb, kb, vb, dob) = (
            &q[b * t * w..(b + 1) * t * w],
            &k[b * s * w..(b + 1) * s * w],
            &v[b * s * w..(b + 1) * s * w],
            &dout[b * t * w..(b + 1) * t * w],
        );
        let mut ds = vec![0.0; t * s];
        let mut dropped = vec![0.0f32; if dropout.is_some() { t * s } else { 0 }];
        for h in 0..hh {
            let (kv, vt) = (head(kb, w, h, dk, false), head(vb, w, h, dk, true));
            for (bi, &(r0, r1, n)) in blocks.iter().enumerate() {
                let (rows, add) = (r1 - r0, bi > 0);
                let at = ((b * hh + h) * t + r0) * s..((b * hh + h) * t + r1) * s;
                let ph = &p[at.clone()];
                let ds = &mut ds[r0 * s..r1 * s];
                let pd: &[f32] = match dropout {
                    Some((rate, keep)) => {
                        let dst = &mut dropped[r0 * s..r1 * s];
                        apply_keep(dst, ph, &keep[at.clone()], rate);
                        dst
                    }
                    None => ph,
                };
                let (dov, qv) = (
                    head(&dob[r0 * w..], w, h, dk, false),
                    head(&qb[r0 * w..], w, h, dk, false),
                );
                // dV (+)= (P ∘ M)ᵀ dO;  dP = (dO Vᵀ) ∘ M
                matmul_view(
                    &mut dvb[h * dk..],
                    w,
                    dense(pd, s, true),
                    dov,
                    (n, rows, dk),
                    add,
                );
                matmul_view(ds, s, dov, vt, (rows, dk, n), false);
                if let Some((rate, keep)) = dropout {
                    keep_in_place(ds, &keep[at], rate);
                }
                // dS = P ∘ (dP − rowsum(dP ∘ P)) · scale, over the keys the rows see
                softmax_grad_rows(ds, ph, s, n, g.scale);
                // dQ = dS K;  dK (+)= dSᵀ Q
                matmul_view(
                    &mut dqb[r0 * w + h * dk..],
                    w,
                    dense(ds, s, false),
                    kv,
                    (rows, n, dk),
                    false,
                );
                matmul_view(
                    &mut dkb[h * dk..],
                    w,
                    dense(ds, s, true),
                    qv,
                    (n, rows, dk),
                    add,
                );
            }
        }
    };
    dq.par_chunks_mut(t * w)
        .zip(dk_all.par_chunks_mut(s * w))
        .zip(dv_all.par_chunks_mut(s * w))
        .enumerate()
        .for_each(|(b, ((dqb, dkb), dvb))| task(b, dqb, dkb, dvb));
    (dq, dk_all, dv_all)
}
