//! GELU (Hendrycks & Gimpel, 2016), exact form, forward and backward as loops the compiler
//! vectorises (the transformer MLP's activation: the scalar version, with an f64 `erf`
//! through libm, was 40% of a GPT training step):
//!
//! ```text
//! y  = x Φ(x) = 0.5 x (1 + erf(x / √2))
//! dy/dx = Φ(x) + x φ(x),   φ(x) = exp(-x²/2) / √(2π)
//! ```
//! `erf` is the rational fit Eigen and XLA use for f32 (`x·P(x²)/Q(x²)` on `[-4, 4]`,
//! where `erf` reaches 1 in f32; absolute error below 5e-7): a dozen multiply-adds and one
//! division, no `exp` — the backward's `φ(x)` uses the vectorisable `exp` of `gates.rs`.

use super::gates::exp;

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1 / √(2π)
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// The error function, branch-free.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = -2.726_142_3e-10_f32;
    let p = p * x2 + 2.770_681_4e-8;
    let p = p * x2 - 2.101_024e-6;
    let p = p * x2 - 5.692_506_4e-5;
    let p = p * x2 - 7.349_906_3e-4;
    let p = p * x2 - 2.954_6e-3;
    let p = p * x2 - 1.609_603_3e-2;
    let q = -1.456_607_2e-5_f32;
    let q = q * x2 - 2.133_740_6e-4;
    let q = q * x2 - 1.682_827e-3;
    let q = q * x2 - 7.373_329e-3;
    let q = q * x2 - 1.426_473_9e-2;
    x * p / q
}

crate::multiversion! {
    /// `x[i] = gelu(x[i])`
    pub fn forward_inplace(x: &mut [f32]) {
        for v in x.iter_mut() {
            let xv = *v;
            *v = 0.5 * xv * (1.0 + erf(xv * FRAC_1_SQRT_2));
        }
    }
}

crate::multiversion! {
    /// `dx[i] = dy[i] · gelu'(x[i])`
    pub fn backward(x: &[f32], dy: &[f32], dx: &mut [f32]) {
        let n = dx.len();
        let (x, dy) = (&x[..n], &dy[..n]);
        for i in 0..n {
            let xv = x[i];
            let cdf = 0.5 * (1.0 + erf(xv * FRAC_1_SQRT_2));
            let pdf = FRAC_1_SQRT_2PI * exp(-0.5 * xv * xv);
            dx[i] = dy[i] * (cdf + xv * pdf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::unary::UnaryOp;

    #[test]
    fn erf_and_gelu_match_the_f64_reference() {
        let xs: Vec<f32> = (-1200..=1200).map(|i| i as f32 * 0.01).collect();
        let mut y = xs.clone();
        forward_inplace(&mut y);
        let dy = vec![1.0; xs.len()];
        let mut dx = vec![0.0; xs.len()];
        backward(&xs, &dy, &mut dx);
        for (i, &x) in xs.iter().enumerate() {
            let want = UnaryOp::Gelu.f(x);
            assert!(
                (erf(x) - crate::cpu::unary::erf(x)).abs() < 6e-7,
                "erf({x})"
            );
            assert!(
                (y[i] - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "gelu({x}) {} vs {want}",
                y[i]
            );
            let dwant = UnaryOp::Gelu.df(x, want);
            assert!(
                (dx[i] - dwant).abs() <= 1e-6 * (1.0 + dwant.abs()),
                "gelu'({x}) {} vs {dwant}",
                dx[i]
            );
        }
        assert!(erf(0.0).abs() < 2e-7);
        assert!((erf(30.0) - 1.0).abs() <= 1.2e-7 && erf(-30.0) == -erf(30.0)); // saturates
    }
}
