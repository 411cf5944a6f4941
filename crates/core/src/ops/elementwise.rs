//! Element-wise ops: broadcasting arithmetic, scalar arithmetic, unary functions, clamp.

use super::{record, Op, UnaryOp};
use crate::cpu::binary::{self, BinaryOp};
use crate::cpu::unary;
use crate::tensor::Tensor;

impl Tensor {
    fn binary(&self, op: BinaryOp, other: &Tensor) -> Tensor {
        let shape = binary::broadcast_shape(self.shape(), other.shape()).unwrap_or_else(|| {
            panic!(
                "{op:?}: shapes {:?} and {:?} do not broadcast",
                self.shape(),
                other.shape()
            )
        });
        let data = binary::forward(
            op,
            self.data(),
            self.shape(),
            other.data(),
            other.shape(),
            &shape,
        );
        record(data, shape, &[self, other], || {
            Op::Binary(op, self.clone(), other.clone())
        })
    }

    /// `self + other`, broadcasting.
    pub fn add(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Add, other)
    }

    /// `self - other`, broadcasting.
    pub fn sub(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Sub, other)
    }

    /// `self * other` element-wise, broadcasting.
    pub fn mul(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Mul, other)
    }

    /// `self / other` element-wise, broadcasting.
    pub fn div(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Div, other)
    }

    /// `max(self, other)` element-wise, broadcasting; the gradient goes to `self` on ties
    /// (as TensorFlow's, which Keras's `Maximum` uses).
    pub fn maximum(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Max, other)
    }

    /// `min(self, other)` element-wise, broadcasting; the gradient goes to `self` on ties.
    pub fn minimum(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Min, other)
    }

    /// `self · c`
    pub fn scale(&self, c: f32) -> Tensor {
        let data = self.data().iter().map(|&v| v * c).collect();
        record(data, self.shape().to_vec(), &[self], || {
            Op::Scale(self.clone(), c)
        })
    }

    /// `self + c`
    pub fn add_scalar(&self, c: f32) -> Tensor {
        let data = self.data().iter().map(|&v| v + c).collect();
        record(data, self.shape().to_vec(), &[self], || {
            Op::AddScalar(self.clone())
        })
    }

    /// `self^p` element-wise.
    pub fn powf(&self, p: f32) -> Tensor {
        let data = self.data().iter().map(|&v| v.powf(p)).collect();
        record(data, self.shape().to_vec(), &[self], || {
            Op::Powf(self.clone(), p)
        })
    }

    /// `self²` element-wise.
    pub fn square(&self) -> Tensor {
        self.powf(2.0)
    }

    /// Applies a unary function element-wise.
    pub fn unary(&self, op: UnaryOp) -> Tensor {
        let data = unary::forward(op, self.data());
        record(data, self.shape().to_vec(), &[self], || {
            Op::Unary(op, self.clone())
        })
    }

    /// Like [`Tensor::unary`], but reuses this tensor's buffer when nothing needs to be
    /// recorded and no one else holds it (inference: activations without new allocations).
    pub fn unary_owned(mut self, op: UnaryOp) -> Tensor {
        let records = crate::autograd::is_grad_enabled() && self.is_requires_grad();
        if records && op == UnaryOp::Relu {
            // training: no one else holds the pre-activation (say a conv's output), so its
            // buffer becomes the output; saves a copy now and a zeroed buffer in backward
            if let Some(node) = std::sync::Arc::get_mut(&mut self.0) {
                let keeps_output = node.op.as_ref().is_some_and(Op::reads_output);
                if !keeps_output && std::sync::Arc::get_mut(&mut node.data).is_some() {
                    let mut data = std::mem::take(&mut node.data);
                    let buf = std::sync::Arc::get_mut(&mut data).expect("unique (checked)");
                    unary::forward_inplace(op, buf);
                    let data = std::mem::take(buf);
                    let shape = self.shape().to_vec();
                    return super::record(data, shape, &[&self], || Op::ReluInPlace(self.clone()));
                }
            }
        }
        if !records {
            if let Some(node) = std::sync::Arc::get_mut(&mut self.0) {
                if let Some(data) = std::sync::Arc::get_mut(&mut node.data) {
                    unary::forward_inplace(op, data);
                    node.op = None;
                    node.id = crate::tensor::next_id();
                    return self;
                }
            }
        }
        self.unary(op)
    }

    /// `-self`
    pub fn neg(&self) -> Tensor {
        self.unary(UnaryOp::Neg)
    }
    /// `e^self`
    pub fn exp(&self) -> Tensor {
        self.unary(UnaryOp::Exp)
    }
    /// `ln self`
    pub fn log(&self) -> Tensor {
        self.unary(UnaryOp::Log)
    }
    /// `sqrt self`
    pub fn sqrt(&self) -> Tensor {
        self.unary(UnaryOp::Sqrt)
    }
    /// `|self|`
    pub fn abs(&self) -> Tensor {
        self.unary(UnaryOp::Abs)
    }
    /// `max(self, 0)`
    pub fn relu(&self) -> Tensor {
        self.unary(UnaryOp::Relu)
    }
    /// `1 / (1 + e^-self)`. Remembers its input even when nothing is recorded, so a binary
    /// cross-entropy can work from the logits (see [`Tensor::sigmoid_input`]).
    pub fn sigmoid(&self) -> Tensor {
        let t = self.unary(UnaryOp::Sigmoid);
        if t.has_op() {
            return t;
        }
        let mut node = std::sync::Arc::try_unwrap(t.0).unwrap_or_else(|_| unreachable!());
        node.op = Some(Op::Unary(UnaryOp::Sigmoid, self.clone()));
        Tensor(std::sync::Arc::new(node))
    }

    /// If this tensor was made by [`Tensor::sigmoid`], the logits it came from.
    pub fn sigmoid_input(&self) -> Option<&Tensor> {
        match &self.node().op {
            Some(Op::Unary(UnaryOp::Sigmoid, x)) => Some(x),
            _ => None,
        }
    }

    /// `x` if `x > 0`, else `negative_slope · x`.
    pub fn leaky_relu(&self, negative_slope: f32) -> Tensor {
        self.unary(UnaryOp::LeakyRelu(negative_slope))
    }
    /// `x` if `x > 0`, else `alpha · (e^x - 1)`.
    pub fn elu(&self, alpha: f32) -> Tensor {
        self.unary(UnaryOp::Elu(alpha))
    }
    /// Scaled ELU with the self-normalising constants.
    pub fn selu(&self) -> Tensor {
        self.unary(UnaryOp::Selu)
    }
    /// `x · σ(x)` (swish).
    pub fn silu(&self) -> Tensor {
        self.unary(UnaryOp::Silu)
    }
    /// `ln(1 + e^x)`.
    pub fn softplus(&self) -> Tensor {
        self.unary(UnaryOp::Softplus)
    }
    /// GELU, tanh approximation.
    pub fn gelu_tanh(&self) -> Tensor {
        self.unary(UnaryOp::GeluTanh)
    }
    /// `tanh self`
    pub fn tanh(&self) -> Tensor {
        self.unary(UnaryOp::Tanh)
    }
    /// `self · Φ(self)` (exact GELU)
    pub fn gelu(&self) -> Tensor {
        self.unary(UnaryOp::Gelu)
    }

    /// `min(max(self, lo), hi)`; the gradient passes only where the value was not clipped.
    pub fn clamp(&self, lo: f32, hi: f32) -> Tensor {
        let data = self.data().iter().map(|&v| v.clamp(lo, hi)).collect();
        record(data, self.shape().to_vec(), &[self], || {
            Op::Clamp(self.clone(), lo, hi)
        })
    }
}

macro_rules! std_op {
    ($trait:ident, $method:ident, $f:ident) => {
        impl std::ops::$trait<&Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$f(self, rhs)
            }
        }
        impl std::ops::$trait<Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$f(&self, &rhs)
            }
        }
    };
}
std_op!(Add, add, add);
std_op!(Sub, sub, sub);
std_op!(Mul, mul, mul);
std_op!(Div, div, div);
