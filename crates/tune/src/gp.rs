//! A Gaussian process over the unit cube and expected improvement: the model behind
//! Bayesian optimisation (Snoek et al. 2012; KerasTuner's `BayesianOptimization`).
//!
//! ```text
//! k(x, x') = σ² (1 + √5 r + 5r²/3) exp(−√5 r),  r² = Σ_d ((x_d − x'_d) / ℓ_d)²   (Matérn 5/2, ARD)
//! μ(x) = k*ᵀ α,  α = (K + σₙ² I)⁻¹ y;  σ²(x) = σ² − k*ᵀ (K + σₙ² I)⁻¹ k*
//! log p(y) = −½ yᵀα − Σ log L_ii − n/2 log 2π   (L: Cholesky of K + σₙ² I)
//! EI(x) = (y* − μ) Φ(z) + σ φ(z),  z = (y* − μ) / σ   (minimising; y* the best so far)
//! ```
//! The objective is standardised (mean 0, variance 1), so σ² = 1; the length scales ℓ_d
//! and the noise σₙ² are fitted by maximising log p(y) (random starts, then a pattern
//! search in log space). Linear algebra by nalgebra.

use nabla_core::Rng;
use nalgebra::{Cholesky, DMatrix, DVector, Dyn};

/// A fitted process.
pub struct Gp {
    x: Vec<Vec<f64>>,
    /// `ln ℓ_d` per dimension, then `ln σₙ²`.
    theta: Vec<f64>,
    chol: Cholesky<f64, Dyn>,
    alpha: DVector<f64>,
    /// The standardisation of the objective.
    mean: f64,
    scale: f64,
}

const LN_ELL: (f64, f64) = (-4.6, 2.3); // ℓ in [0.01, 10]
const LN_NOISE: (f64, f64) = (-13.8, -2.3); // σₙ² in [1e-6, 0.1]

fn matern52(a: &[f64], b: &[f64], ln_ell: &[f64]) -> f64 {
    let r2: f64 = a
        .iter()
        .zip(b)
        .zip(ln_ell)
        .map(|((x, y), l)| ((x - y) / l.exp()).powi(2))
        .sum();
    let r = (5.0 * r2).sqrt();
    (1.0 + r + 5.0 * r2 / 3.0) * (-r).exp()
}

/// `(Cholesky of K + σₙ² I, α)` for hyper-parameters `theta`, or None when not positive.
fn factor(
    x: &[Vec<f64>],
    y: &DVector<f64>,
    theta: &[f64],
) -> Option<(Cholesky<f64, Dyn>, DVector<f64>)> {
    let n = x.len();
    let (ln_ell, ln_noise) = theta.split_at(theta.len() - 1);
    let k = DMatrix::from_fn(n, n, |i, j| {
        matern52(&x[i], &x[j], ln_ell)
            + if i == j {
                ln_noise[0].exp() + 1e-9
            } else {
                0.0
            }
    });
    let chol = k.cholesky()?;
    let alpha = chol.solve(y);
    Some((chol, alpha))
}

/// `log p(y | theta)`.
fn log_likelihood(x: &[Vec<f64>], y: &DVector<f64>, theta: &[f64]) -> f64 {
    match factor(x, y, theta) {
        Some((chol, alpha)) => {
            let logdet: f64 = chol.l_dirty().diagonal().iter().map(|d| d.ln()).sum();
            -0.5 * y.dot(&alpha) - logdet - 0.5 * x.len() as f64 * (2.0 * std::f64::consts::PI).ln()
        }
        None => f64::NEG_INFINITY,
    }
}

fn bounds(i: usize, dims: usize) -> (f64, f64) {
    if i < dims {
        LN_ELL
    } else {
        LN_NOISE
    }
}

impl Gp {
    /// Fits a process to points `x` (in the unit cube) and their values `y`.
    pub fn fit(x: Vec<Vec<f64>>, y: &[f64], rng: &mut Rng) -> Gp {
        let dims = x[0].len();
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / y.len() as f64;
        let scale = if var > 1e-24 { var.sqrt() } else { 1.0 };
        let ys = DVector::from_iterator(y.len(), y.iter().map(|v| (v - mean) / scale));
        // starts: ℓ = 0.5 everywhere with little noise, then random ones; the best refined
        let mut best = vec![0.5f64.ln(); dims];
        best.push(1e-4f64.ln());
        let mut best_ll = log_likelihood(&x, &ys, &best);
        for _ in 0..64 {
            let t: Vec<f64> = (0..=dims)
                .map(|i| {
                    let (lo, hi) = bounds(i, dims);
                    lo + crate::space::uniform(rng) * (hi - lo)
                })
                .collect();
            let ll = log_likelihood(&x, &ys, &t);
            if ll > best_ll {
                (best, best_ll) = (t, ll);
            }
        }
        // pattern search: try ± step on each coordinate, halve the step when nothing helps
        let mut step = 1.0;
        while step > 0.02 {
            let mut moved = false;
            for i in 0..=dims {
                for sign in [1.0, -1.0] {
                    let mut t = best.clone();
                    let (lo, hi) = bounds(i, dims);
                    t[i] = (t[i] + sign * step).clamp(lo, hi);
                    let ll = log_likelihood(&x, &ys, &t);
                    if ll > best_ll + 1e-9 {
                        (best, best_ll, moved) = (t, ll, true);
                    }
                }
            }
            if !moved {
                step /= 2.0;
            }
        }
        let (chol, alpha) = factor(&x, &ys, &best)
            .or_else(|| {
                let mut safe = best.clone();
                *safe.last_mut().expect("noise") = LN_NOISE.1;
                factor(&x, &ys, &safe)
            })
            .expect("with noise 0.1 the kernel matrix is positive definite");
        Gp {
            x,
            theta: best,
            chol,
            alpha,
            mean,
            scale,
        }
    }

    /// The predicted mean and standard deviation at `u`, in the objective's units.
    pub fn predict(&self, u: &[f64]) -> (f64, f64) {
        let ln_ell = &self.theta[..self.theta.len() - 1];
        let ks = DVector::from_iterator(
            self.x.len(),
            self.x.iter().map(|xi| matern52(xi, u, ln_ell)),
        );
        let mu = ks.dot(&self.alpha);
        let v = self
            .chol
            .l_dirty()
            .solve_lower_triangular(&ks)
            .unwrap_or_else(|| ks.clone());
        let var = (1.0 - v.dot(&v)).max(1e-12);
        (self.mean + self.scale * mu, self.scale * var.sqrt())
    }

    /// Expected improvement below `best` at `u`.
    pub fn expected_improvement(&self, u: &[f64], best: f64) -> f64 {
        let (mu, sigma) = self.predict(u);
        let z = (best - mu) / sigma;
        (best - mu) * normal_cdf(z) + sigma * normal_pdf(z)
    }
}

fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Φ(z) = erfc(−z/√2) / 2.
fn normal_cdf(z: f64) -> f64 {
    0.5 * nabla_core::erfc(-z / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_known_values() {
        for (z, p) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746),
            (-1.96, 0.024_997_895),
            (3.0, 0.998_650_102),
        ] {
            assert!(
                (normal_cdf(z) - p).abs() < 1e-7,
                "Φ({z}) = {}",
                normal_cdf(z)
            );
        }
    }

    #[test]
    fn the_process_interpolates_and_is_unsure_far_away() {
        let mut rng = Rng::new(0);
        let x: Vec<Vec<f64>> = (0..8).map(|i| vec![i as f64 / 7.0]).collect();
        let y: Vec<f64> = x.iter().map(|v| (6.0 * v[0]).sin()).collect();
        let gp = Gp::fit(x.clone(), &y, &mut rng);
        for (xi, yi) in x.iter().zip(&y) {
            let (mu, sd) = gp.predict(xi);
            assert!(
                (mu - yi).abs() < 1e-2 && sd < 0.05,
                "at {xi:?}: {mu} ± {sd}, expected {yi}"
            );
        }
        let (mu, _) = gp.predict(&[0.5 / 7.0]);
        assert!(
            (mu - (6.0f64 * 0.5 / 7.0).sin()).abs() < 0.05,
            "between points: {mu}"
        );
        let (_, far) = gp.predict(&[3.0]);
        assert!(far > 0.5, "far from the data the spread returns: {far}");
    }
}
