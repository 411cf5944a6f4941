//! σ and tanh for the recurrent cells' gates, written so the compiler vectorises them
//! (libm's `exp` is a call per element): `e^x = 2^n · p(r)` with `n = round(x / ln 2)`,
//! `r = x - n ln 2` (|r| ≤ ln 2 / 2) and `p` the degree-6 Taylor polynomial (relative error
//! below 2e-7), then
//!
//! ```text
//! σ(x)    = 1 / (1 + e^-x)
//! tanh(x) = 1 - 2 / (1 + e^2x)
//! ```
//! Inputs are clamped to ±87 first, so nothing overflows and both saturate exactly.

/// 1.5 · 2^23: adding and subtracting it rounds an f32 of magnitude below 2^22 to an integer.
pub(crate) const ROUND: f32 = 12_582_912.0;
pub(crate) const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two so `n · ln 2` is exact enough for `r`.
pub(crate) const LN2_HI: f32 = 0.693_145_75;
pub(crate) const LN2_LO: f32 = 1.428_606_8e-6;

/// `e^x` for `x` in `[-87, 87]` (clamped), relative error below 2e-7.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 87.0);
    let v = x * LOG2_E + ROUND;
    let n = v - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // 2^n through the exponent bits: v's low mantissa bits hold n (in [-126, 126] after the
    // clamp), read with integer arithmetic that vectorises (an `as i32` would not)
    let e = v.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127) << 23;
    p * f32::from_bits(e)
}

/// The logistic function `1 / (1 + e^-x)`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// The hyperbolic tangent, `1 - 2 / (1 + e^2x)`.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (1.0 + exp(2.0 * x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_libm_over_the_range() {
        let mut worst = 0.0f64;
        for i in -8700..=8700 {
            let x = i as f32 * 0.01;
            let want = (x as f64).exp();
            worst = worst.max(((exp(x) as f64 - want) / want).abs());
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
    }

    #[test]
    fn sigmoid_and_tanh_match_libm_and_saturate() {
        for i in -2000..=2000 {
            let x = i as f32 * 0.01;
            assert!(
                (sigmoid(x) - crate::cpu::unary::sigmoid(x)).abs() < 2e-7,
                "σ({x})"
            );
            assert!((tanh(x) - x.tanh()).abs() < 3e-7, "tanh({x})");
        }
        assert!(sigmoid(-1e30) < 1e-37 && sigmoid(1e30) == 1.0);
        assert_eq!((tanh(-1e30), tanh(1e30)), (-1.0, 1.0));
        assert!(sigmoid(f32::NAN).is_nan() && tanh(f32::NAN).is_nan());
    }
}
