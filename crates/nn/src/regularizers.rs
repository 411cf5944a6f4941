//! Weight and activity regularisers: penalties added to the training loss.
//!
//! Formula: `penalty(x) = l1 · Σ|x| + l2 · Σx²` (Keras's `L1`, `L2`, `L1L2`; default factor
//! 0.01). As `kernel_regularizer` / `bias_regularizer` it applies to a layer's weights; as
//! `activity_regularizer` to its outputs, divided by the batch size (as Keras does).
//!
//! An L2 penalty is not the same as an optimiser's `weight_decay`: the penalty's gradient
//! `2 · l2 · w` goes through the optimiser (Adam rescales it), while AdamW's decoupled decay
//! shrinks the weights directly. For plain SGD, `l2 = λ` equals `weight_decay = 2λ`.

use nabla_core::Tensor;
use serde::{Deserialize, Serialize};

/// A penalty on a tensor's values. In a spec: `"l2"` or `{ type = "l1_l2", l1 = 1e-5, l2 = 1e-4 }`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Regularizer {
    /// `l1 · Σ|x|`
    L1 {
        /// Factor (default 0.01).
        #[serde(default = "hundredth")]
        l1: f32,
    },
    /// `l2 · Σx²`
    L2 {
        /// Factor (default 0.01).
        #[serde(default = "hundredth")]
        l2: f32,
    },
    /// `l1 · Σ|x| + l2 · Σx²`
    #[serde(rename = "l1_l2")]
    L1L2 {
        /// L1 factor (default 0.01).
        #[serde(default = "hundredth")]
        l1: f32,
        /// L2 factor (default 0.01).
        #[serde(default = "hundredth")]
        l2: f32,
    },
}

fn hundredth() -> f32 {
    0.01
}

impl Regularizer {
    /// `(l1, l2)` factors.
    pub fn factors(self) -> (f32, f32) {
        match self {
            Regularizer::L1 { l1 } => (l1, 0.0),
            Regularizer::L2 { l2 } => (0.0, l2),
            Regularizer::L1L2 { l1, l2 } => (l1, l2),
        }
    }

    /// The penalty of `x` (a scalar tensor, differentiable).
    pub fn penalty(self, x: &Tensor) -> Tensor {
        let (l1, l2) = self.factors();
        match (l1 != 0.0, l2 != 0.0) {
            (true, true) => x.abs().sum().scale(l1).add(&x.square().sum().scale(l2)),
            (true, false) => x.abs().sum().scale(l1),
            (false, _) => x.square().sum().scale(l2),
        }
    }

    /// Rejects negative or non-finite factors.
    pub fn validate(self, what: &str) -> crate::Result<()> {
        let (l1, l2) = self.factors();
        for v in [l1, l2] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(crate::Error::config(what, "factors >= 0", v));
            }
        }
        Ok(())
    }
}

/// The sum of the penalties of a layer's weights that have a regulariser, if any.
pub(crate) fn weight_penalty(
    terms: &[(Option<&crate::layer::Param>, Option<Regularizer>)],
) -> Option<Tensor> {
    terms
        .iter()
        .filter_map(|(p, r)| p.zip(*r).map(|(p, r)| r.penalty(&p.value)))
        .reduce(|a, b| a.add(&b))
}

/// `name_or_table` for an optional regulariser field.
pub(crate) fn optional<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Regularizer>, D::Error> {
    crate::named::name_or_table(d).map(Some)
}
