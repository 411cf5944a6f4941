//! Element-wise unary functions: each `f` sits next to its derivative `df`, written in terms
//! of the input `x` and the output `y = f(x)` (whichever is cheaper).

use serde::{Deserialize, Serialize};

/// A unary element-wise function with a known derivative.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `e^x`
    Exp,
    /// `ln x`
    Log,
    /// `sqrt x`
    Sqrt,
    /// `|x|`
    Abs,
    /// `max(x, 0)`
    Relu,
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// `tanh x`
    Tanh,
    /// `x · Φ(x)`, the exact GELU (PyTorch's default `approximate='none'`)
    Gelu,
    /// `0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))`, GELU's tanh approximation
    GeluTanh,
    /// `x` if `x > 0`, else `slope · x`
    LeakyRelu(f32),
    /// `x` if `x > 0`, else `alpha · (e^x - 1)` (Clevert et al., 2015)
    Elu(f32),
    /// `λ · elu_α(x)` with α ≈ 1.6733, λ ≈ 1.0507 (Klambauer et al., 2017)
    Selu,
    /// `x · σ(x)`, also called swish (Ramachandran et al., 2017)
    Silu,
    /// `ln(1 + e^x)` (linear above 20, as PyTorch)
    Softplus,
    /// `cosh x`
    Cosh,
}

/// SELU's α and λ (the constants that make it self-normalising).
pub const SELU_ALPHA: f32 = 1.673_263_2;
/// SELU's λ.
pub const SELU_SCALE: f32 = 1.050_701;
/// sqrt(2/π), in GELU's tanh approximation.
const SQRT_2_OVER_PI: f32 = 0.797_884_6;

/// `1 / (1 + e^-x)`, in two branches so that `e^x` never overflows.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1 / sqrt(2π)
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// `erfc(|x|)` by Numerical Recipes' Chebyshev fit (fractional error below 1.2e-7).
fn erfc_of_abs(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    t * (-x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
        .exp()
}

/// The error function through Numerical Recipes' erfc Chebyshev fit (fractional error below
/// 1.2e-7 everywhere), computed in f64.
pub fn erf(x: f32) -> f32 {
    let x = x as f64;
    let y = erfc_of_abs(x);
    (if x >= 0.0 { 1.0 - y } else { y - 1.0 }) as f32
}

/// The complementary error function `1 − erf(x)` in f64 (same fit; the normal CDF is
/// `erfc(−z/√2) / 2`).
pub fn erfc(x: f64) -> f64 {
    let y = erfc_of_abs(x);
    if x >= 0.0 {
        y
    } else {
        2.0 - y
    }
}

impl UnaryOp {
    /// `y = f(x)`
    #[inline]
    pub fn f(self, x: f32) -> f32 {
        match self {
            UnaryOp::Neg => -x,
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Abs => x.abs(),
            UnaryOp::Relu => x.max(0.0),
            UnaryOp::Sigmoid => sigmoid(x),
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Gelu => 0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2)),
            UnaryOp::GeluTanh => {
                0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x)).tanh())
            }
            UnaryOp::LeakyRelu(a) => {
                if x > 0.0 {
                    x
                } else {
                    a * x
                }
            }
            UnaryOp::Elu(a) => {
                if x > 0.0 {
                    x
                } else {
                    a * x.exp_m1()
                }
            }
            UnaryOp::Selu => SELU_SCALE * if x > 0.0 { x } else { SELU_ALPHA * x.exp_m1() },
            UnaryOp::Silu => x * sigmoid(x),
            UnaryOp::Softplus => {
                if x > 20.0 {
                    x
                } else {
                    x.exp().ln_1p()
                }
            }
            UnaryOp::Cosh => x.cosh(),
        }
    }

    /// `dy/dx` at `x`, given `y = f(x)`.
    #[inline]
    pub fn df(self, x: f32, y: f32) -> f32 {
        match self {
            UnaryOp::Neg => -1.0,
            UnaryOp::Exp => y,
            UnaryOp::Log => 1.0 / x,
            UnaryOp::Sqrt => 0.5 / y,
            UnaryOp::Abs => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            // NOTE: the derivative at exactly 0 is taken as 0, as PyTorch does.
            UnaryOp::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            UnaryOp::Sigmoid => y * (1.0 - y),
            UnaryOp::Tanh => 1.0 - y * y,
            UnaryOp::Gelu => {
                let cdf = 0.5 * (1.0 + erf(x * FRAC_1_SQRT_2));
                cdf + x * FRAC_1_SQRT_2PI * (-0.5 * x * x).exp()
            }
            UnaryOp::GeluTanh => {
                let t = (SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x)).tanh();
                0.5 * (1.0 + t)
                    + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044_715 * x * x)
            }
            UnaryOp::LeakyRelu(a) => {
                if x > 0.0 {
                    1.0
                } else {
                    a
                }
            }
            // below 0: d/dx α(e^x - 1) = αe^x = y + α
            UnaryOp::Elu(a) => {
                if x > 0.0 {
                    1.0
                } else {
                    y + a
                }
            }
            UnaryOp::Selu => {
                if x > 0.0 {
                    SELU_SCALE
                } else {
                    y + SELU_SCALE * SELU_ALPHA
                }
            }
            // d/dx x·σ(x) = σ(x)·(1 + x·(1 - σ(x)))
            UnaryOp::Silu => {
                let s = sigmoid(x);
                s * (1.0 + x * (1.0 - s))
            }
            UnaryOp::Softplus => {
                if x > 20.0 {
                    1.0
                } else {
                    sigmoid(x)
                }
            }
            UnaryOp::Cosh => x.sinh(),
        }
    }
}

/// `y[i] = f(x[i])`
pub fn forward(op: UnaryOp, x: &[f32]) -> Vec<f32> {
    use rayon::prelude::*;
    // every element is written below: a block copied, then `f` applied while it is in L1
    let mut y = super::recycle::scratch(x.len());
    let blocks = |y: &mut [f32], x: &[f32]| {
        for (yb, xb) in y.chunks_mut(4096).zip(x.chunks(4096)) {
            yb.copy_from_slice(xb);
            forward_serial(op, yb);
        }
    };
    match par_chunk(x.len()) {
        Some(c) => y
            .par_chunks_mut(c)
            .zip(x.par_chunks(c))
            .for_each(|(yc, xc)| blocks(yc, xc)),
        None => blocks(&mut y, x),
    }
    y
}

/// Above this many elements, element-wise work is split over the worker threads (each
/// element independent, so the result does not depend on the thread count).
const PARALLEL_MIN: usize = 1 << 18;

fn par_chunk(n: usize) -> Option<usize> {
    super::threads::share(n, PARALLEL_MIN, 16)
}

/// `x[i] = f(x[i])`
pub fn forward_inplace(op: UnaryOp, x: &mut [f32]) {
    use rayon::prelude::*;
    match par_chunk(x.len()) {
        Some(c) => x
            .par_chunks_mut(c)
            .for_each(|part| forward_serial(op, part)),
        None => forward_serial(op, x),
    }
}

fn forward_serial(op: UnaryOp, x: &mut [f32]) {
    match op {
        // The hot activation gets a loop compiled for wide vectors.
        UnaryOp::Relu => relu_inplace(x),
        UnaryOp::Gelu => super::gelu::forward_inplace(x),
        _ => x.iter_mut().for_each(|v| *v = op.f(*v)),
    }
}

crate::multiversion! {
    fn relu_inplace(x: &mut [f32]) {
        for v in x.iter_mut() {
            *v = v.max(0.0);
        }
    }
}

crate::multiversion! {
    fn relu_backward(x: &[f32], dy: &[f32], dx: &mut [f32]) {
        let n = dx.len();
        let (x, dy) = (&x[..n], &dy[..n]);
        for i in 0..n {
            dx[i] = if x[i] > 0.0 { dy[i] } else { 0.0 };
        }
    }
}

/// ReLU's gradient from its output: `dx[i] = dy[i]` where `y[i] > 0`, else 0 (`y > 0`
/// exactly where `x > 0`).
pub fn relu_backward_from_output(y: &[f32], dy: &[f32]) -> Vec<f32> {
    use rayon::prelude::*;
    let mut dx = super::recycle::scratch(y.len()); // relu_mask writes every element
    match par_chunk(dx.len()) {
        Some(c) => dx
            .par_chunks_mut(c)
            .zip(y.par_chunks(c))
            .zip(dy.par_chunks(c))
            .for_each(|((d, y), g)| relu_mask(y, g, d)),
        None => relu_mask(y, dy, &mut dx),
    }
    dx
}

crate::multiversion! {
    /// `dx[i] = dy[i]` where `y[i] > 0`, else 0.
    pub fn relu_mask(y: &[f32], dy: &[f32], dx: &mut [f32]) {
        let n = dx.len();
        let (y, dy) = (&y[..n], &dy[..n]);
        for i in 0..n {
            dx[i] = if y[i] > 0.0 { dy[i] } else { 0.0 };
        }
    }
}

/// `dx[i] = dy[i] · f'(x[i])`
pub fn backward(op: UnaryOp, x: &[f32], y: &[f32], dy: &[f32]) -> Vec<f32> {
    use rayon::prelude::*;
    let mut dx = super::recycle::scratch(dy.len()); // every element is written below
    match par_chunk(dx.len()) {
        Some(c) => dx
            .par_chunks_mut(c)
            .zip(x.par_chunks(c))
            .zip(y.par_chunks(c))
            .zip(dy.par_chunks(c))
            .for_each(|(((d, x), y), g)| backward_serial(op, x, y, g, d)),
        None => backward_serial(op, x, y, dy, &mut dx),
    }
    dx
}

fn backward_serial(op: UnaryOp, x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32]) {
    match op {
        UnaryOp::Relu => relu_backward(x, dy, dx),
        UnaryOp::Gelu => super::gelu::backward(x, dy, dx),
        _ => {
            for (((d, &g), &xv), &yv) in dx.iter_mut().zip(dy).zip(x).zip(y) {
                *d = g * op.df(xv, yv);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        // erf(0.5), erf(1), erf(2) from tables.
        assert!((erf(0.5) - 0.520_499_9).abs() < 1e-6);
        assert!((erf(1.0) - 0.842_700_8).abs() < 1e-6);
        assert!((erf(-2.0) + 0.995_322_3).abs() < 1e-6);
    }

    #[test]
    fn sigmoid_is_stable_at_extremes() {
        assert_eq!(UnaryOp::Sigmoid.f(-1000.0), 0.0);
        assert_eq!(UnaryOp::Sigmoid.f(1000.0), 1.0);
    }
}
