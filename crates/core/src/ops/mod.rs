//! Tensor ops: each runs a `cpu` kernel and, when gradients are wanted, records itself as an
//! [`Op`] on its output. The gradient rule of every op lives in `autograd.rs`.

mod attention;
mod concat;
mod conv;
mod elementwise;
mod layout;
mod matmul;
mod norm;
mod recurrent;
mod reduce;
mod reshape;
mod softmax;
mod upsample;

use crate::cpu::binary::BinaryOp;
pub use crate::cpu::unary::UnaryOp;
use crate::tensor::{Node, Tensor};
pub(crate) use attention::AttnRecord;
pub(crate) use concat::concat_backward;
pub use conv::Window2d;
pub(crate) use matmul::{matmul_dims, transpose_last2};
pub(crate) use recurrent::RecurrentRecord;
pub use recurrent::RnnParams;
use std::sync::Arc;

/// A recorded op: what made a tensor, holding the inputs its gradient needs.
/// Batch norm's statistics for its backward: the mean and 1/std per channel and, when they
/// cover every process's batch, the processes and the number of values per channel.
pub(crate) struct BnSaved {
    pub mean: Vec<f32>,
    pub inv_std: Vec<f32>,
    pub sync: Option<(Arc<dyn crate::collective::Communicator>, f64)>,
}

pub(crate) enum Op {
    /// Broadcasting `a ∘ b`.
    Binary(BinaryOp, Tensor, Tensor),
    /// `x · c`
    Scale(Tensor, f32),
    /// `x + c`
    AddScalar(Tensor),
    /// `x^p`
    Powf(Tensor, f32),
    /// `f(x)` element-wise.
    Unary(UnaryOp, Tensor),
    /// `max(x, 0)` computed in x's own buffer: the gradient needs only the output's sign,
    /// and `x` is kept (without its data) to route the gradient.
    ReluInPlace(Tensor),
    /// `min(max(x, lo), hi)`
    Clamp(Tensor, f32, f32),
    /// `a[.., m, k] · b[.., k, n]` (b may be 2-d and shared by the batch).
    MatMul(Tensor, Tensor),
    /// `x[.., i] · w[i, o] + b[o]`, the dense layer in one kernel call.
    Linear(Tensor, Tensor, Option<Tensor>),
    /// Sum of all elements.
    SumAll(Tensor),
    /// Sum over one axis (the axis is removed).
    SumAxis(Tensor, usize),
    /// Same data, new shape.
    Reshape(Tensor),
    /// Swap of the last two axes.
    Transpose(Tensor),
    /// Softmax over the last axis.
    Softmax(Tensor),
    /// Log-softmax over the last axis.
    LogSoftmax(Tensor),
    /// One element per row: `y[b] = x[b, idx[b]]`.
    Pick(Tensor, Arc<Vec<usize>>),
    /// 2-d convolution: input, weight, bias.
    Conv2d(
        Tensor,
        Tensor,
        Option<Tensor>,
        crate::cpu::conv::Conv2dGeom,
        bool,
    ),
    /// Convolution + ReLU + max pooling in one kernel: input, weight, bias, the winning cell
    /// of each pooled window inside its conv output plane.
    Conv2dPool(
        Tensor,
        Tensor,
        Option<Tensor>,
        crate::cpu::conv::Conv2dGeom,
        Arc<Vec<u32>>,
    ),
    /// 2-d max pooling with the winning cell of each window.
    MaxPool2d(Tensor, Arc<Vec<u32>>, crate::cpu::pool::Pool2dGeom),
    /// 2-d average pooling.
    AvgPool2d(Tensor, crate::cpu::pool::Pool2dGeom),
    /// Axis permutation (the axes given to `permute`).
    Permute(Tensor, Vec<usize>),
    /// Zero padding, `(before, after)` per axis.
    Pad(Tensor, Vec<(usize, usize)>),
    /// A slice, as the `(before, after)` cut from each axis.
    Narrow(Tensor, Vec<(usize, usize)>),
    /// 2-d upsampling.
    Upsample2d(Tensor, crate::cpu::upsample::UpsampleGeom),
    /// Layer or RMS norm over the last axis: x, γ, β (layer norm only), each row's (mean, r).
    Norm(Tensor, Tensor, Option<Tensor>, Arc<(Vec<f32>, Vec<f32>)>),
    /// Rows of a table picked by indices (and the padding index, which gets no gradient).
    Embedding(Tensor, Arc<(Vec<usize>, Option<usize>)>),
    /// Batch normalisation (training mode): x, γ, β, and what its backward needs.
    BatchNorm(Tensor, Tensor, Tensor, Arc<BnSaved>),
    /// A recurrent layer's pass over a sequence (one direction).
    Recurrent(Box<RecurrentRecord>),
    /// Tensors joined along an axis.
    Concat(Vec<Tensor>, usize),
    /// Fused scaled dot-product attention.
    Attention(Box<AttnRecord>),
}

/// Wraps a freshly computed buffer as a tensor, recording `op` only when gradients are on
/// and some input requires them (so inference and input-only paths record nothing).
pub(crate) fn record(
    data: Vec<f32>,
    shape: Vec<usize>,
    inputs: &[&Tensor],
    op: impl FnOnce() -> Op,
) -> Tensor {
    record_tensor(Tensor::leaf(data, shape, false), inputs, op)
}

/// [`record`] for an output tensor that already exists (for example a view sharing data).
pub(crate) fn record_tensor(t: Tensor, inputs: &[&Tensor], op: impl FnOnce() -> Op) -> Tensor {
    let requires_grad =
        crate::autograd::is_grad_enabled() && inputs.iter().any(|t| t.node().requires_grad);
    if requires_grad {
        let mut node: Node = Arc::try_unwrap(t.0).unwrap_or_else(|_| unreachable!());
        node.requires_grad = true;
        node.op = Some(op());
        Tensor(Arc::new(node))
    } else {
        t
    }
}

impl Drop for Op {
    /// Pooling winners no other op shares go to the buffer cache for the next step.
    fn drop(&mut self) {
        if let Op::Conv2dPool(.., arg) | Op::MaxPool2d(_, arg, _) = self {
            if let Some(v) = Arc::get_mut(arg) {
                crate::cpu::recycle::recycle(std::mem::take(v));
            }
        }
    }
}

impl Op {
    /// Whether this op's gradient rule reads the op's own output (so that output's buffer
    /// must not be taken over by an in-place op).
    pub(crate) fn reads_output(&self) -> bool {
        matches!(
            self,
            Op::Unary(..)
                | Op::ReluInPlace(_)
                | Op::Softmax(_)
                | Op::LogSoftmax(_)
                | Op::Conv2d(.., true)
                | Op::Conv2dPool(..)
                | Op::Binary(BinaryOp::Div, ..)
        )
    }

    /// The tensors this op read, in order.
    pub(crate) fn inputs(&self) -> Vec<&Tensor> {
        match self {
            Op::Recurrent(r) => r.inputs(),
            Op::Concat(parts, _) => parts.iter().collect(),
            Op::Attention(a) => vec![&a.q, &a.k, &a.v],
            Op::Binary(_, a, b) | Op::MatMul(a, b) => vec![a, b],
            Op::BatchNorm(x, g, b, _) => vec![x, g, b],
            Op::Linear(x, w, b)
            | Op::Conv2d(x, w, b, _, _)
            | Op::Conv2dPool(x, w, b, _, _)
            | Op::Norm(x, w, b, _) => {
                let mut v = vec![x, w];
                if let Some(b) = b {
                    v.push(b);
                }
                v
            }
            Op::Scale(x, _)
            | Op::AddScalar(x)
            | Op::Powf(x, _)
            | Op::Unary(_, x)
            | Op::ReluInPlace(x)
            | Op::Clamp(x, _, _)
            | Op::SumAll(x)
            | Op::SumAxis(x, _)
            | Op::Reshape(x)
            | Op::Transpose(x)
            | Op::Softmax(x)
            | Op::LogSoftmax(x)
            | Op::Pick(x, _)
            | Op::MaxPool2d(x, _, _)
            | Op::AvgPool2d(x, _)
            | Op::Permute(x, _)
            | Op::Embedding(x, _)
            | Op::Pad(x, _)
            | Op::Narrow(x, _)
            | Op::Upsample2d(x, _) => vec![x],
        }
    }
}
