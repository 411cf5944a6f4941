//! GELU (Hendrycks & Gimpel, 2016), exact form, forward and backward as loops the compiler
//! vectorises (the transformer MLP's activation: the scalar version, with an f64 `erf`
//! through libm, was 40% of a GPT training step):
//!
//! ```text
//! y  = x Φ(x) = 0.5 x (1 + erf(x / √2))
//! dy/dx = Φ(x) + x φ(x),   φ(x) = exp(-x²/2) / √(2π)
//! ```
//! `erf` is Numerical Recipes' erfc Chebyshev fit (fractional error below 1.2e-7) evaluated in
//! f32 with the vectorisable `exp` of `gates.rs`.

use super::gates::exp;

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1 / √(2π)
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// The error function, branch-free.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_204
                                + t * (1.488_515_9 + t * (-0.822_152_2 + t * 0.170_872_77))))))));
    (1.0 - t * exp(poly)).copysign(x)
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
                (erf(x) - crate::cpu::unary::erf(x)).abs() < 3e-7,
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
        assert_eq!((erf(-30.0), erf(30.0)), (-1.0, 1.0));
    }
}
