//! Fused scaled dot-product attention (kernel in `cpu/attention.rs`).

use super::{record, Op};
use crate::cpu::attention::{self, AttnDropout, AttnGeom};
use crate::tensor::Tensor;

/// What the attention op keeps for its backward.
pub(crate) struct AttnRecord {
    pub geom: AttnGeom,
    pub q: Tensor,
    pub k: Tensor,
    pub v: Tensor,
    /// The attention weights `[B, H, T, S]`.
    pub p: Vec<f32>,
    /// With dropout: its rate and which weights were kept (`[B, H, T, S]`).
    pub dropout: Option<(f32, Vec<u8>)>,
}

impl Drop for AttnRecord {
    /// The weights go to the buffer cache for the next step's attention (cpu/recycle.rs).
    fn drop(&mut self) {
        crate::cpu::recycle::recycle(std::mem::take(&mut self.p));
    }
}

impl Tensor {
    /// `softmax(Q Kᵀ / sqrt(dk)) V` for each of `heads` heads side by side in the last axis:
    /// `q [B, T, H·dk]`, `k`, `v` `[B, S, H·dk]` → `[B, T, H·dk]`. With `causal`, query `i`
    /// sees keys up to `i + S − T` only (`S = T` in training; more with cached keys).
    ///
    /// # Panics
    /// If the shapes do not fit (layers check their input first).
    pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, heads: usize, causal: bool) -> Tensor {
        Tensor::attention_masked(q, k, v, heads, causal, None)
    }

    /// [`Tensor::attention`] where only the keys with `key_mask[b, j] = 1` count (`[B, S]`,
    /// 0 for padding, PyTorch's `key_padding_mask` inverted): padded keys get zero weight, and
    /// a query with no real key left outputs zeros.
    pub fn attention_masked(
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        heads: usize,
        causal: bool,
        key_mask: Option<&[f32]>,
    ) -> Tensor {
        Tensor::attention_dropout(q, k, v, (heads, causal), key_mask, None)
    }

    /// [`Tensor::attention_masked`] with dropout on the attention weights (training):
    /// `dropout = Some((rate, seed))` drops each weight with probability `rate` and scales the
    /// rest by `1 / (1 − rate)`, the masks drawn from `seed` (the same seed, the same masks).
    pub fn attention_dropout(
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        (heads, causal): (usize, bool),
        key_mask: Option<&[f32]>,
        dropout: Option<(f32, u64)>,
    ) -> Tensor {
        let (qs, ks) = (q.shape(), k.shape());
        let fits = q.rank() == 3
            && ks.len() == 3
            && v.shape() == ks
            && ks[0] == qs[0]
            && ks[2] == qs[2]
            && heads > 0
            && qs[2] % heads == 0
            && ks[1] >= qs[1]
            && key_mask.is_none_or(|m| m.len() == ks[0] * ks[1])
            && dropout.is_none_or(|(r, _)| r > 0.0 && r < 1.0);
        assert!(
            fits,
            "attention: q {qs:?}, k {ks:?}, v {:?} with {heads} heads (key mask of {:?}) do not fit",
            v.shape(),
            key_mask.map(<[f32]>::len)
        );
        let dk = qs[2] / heads;
        let geom = AttnGeom {
            batch: qs[0],
            time: qs[1],
            keys: ks[1],
            heads,
            dk,
            causal,
            scale: 1.0 / (dk as f32).sqrt(),
        };
        let drop = dropout.map(|(rate, seed)| AttnDropout { rate, seed });
        let keep_p =
            crate::autograd::is_grad_enabled() && [q, k, v].iter().any(|t| t.is_requires_grad());
        let (y, p, keep) = attention::forward(
            &geom,
            (q.data(), k.data(), v.data()),
            key_mask,
            drop,
            keep_p,
        );
        // made before `record` so that `p` is recycled even when no gradient is recorded
        let saved = Box::new(AttnRecord {
            geom,
            q: q.clone(),
            k: k.clone(),
            v: v.clone(),
            p,
            dropout: dropout.map(|(rate, _)| (rate, keep)),
        });
        record(y, qs.to_vec(), &[q, k, v], || Op::Attention(saved))
    }
}
