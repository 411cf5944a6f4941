//! Weight initialisers. Defaults are Keras's: `glorot_uniform` kernels and `zeros` biases.
//! In a spec: a name (`"he_normal"`) or a table with parameters
//! (`{ type = "random_normal", mean = 0.0, stddev = 0.05 }`).
//!
//! - glorot_uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out))  (Glorot & Bengio, 2010)
//! - glorot_normal:  N(0, 2 / (fan_in + fan_out))
//! - he_uniform:     U(-l, l), l = sqrt(6 / fan_in)               (He et al., 2015)
//! - he_normal:      N(0, 2 / fan_in)
//! - lecun_uniform:  U(-l, l), l = sqrt(3 / fan_in)               (LeCun et al., 1998)
//! - lecun_normal:   N(0, 1 / fan_in)
//! - orthogonal:     gain · Q of the QR decomposition of a normal matrix (Saxe et al., 2014)
//! - truncated_normal: N(mean, stddev²) redrawn outside mean ± 2·stddev
//! - variance_scaling: variance scale / n, n = fan_in, fan_out or their mean; truncated normal,
//!   normal or uniform (Keras's `VarianceScaling`)
//! - random_normal, random_uniform, zeros, ones, constant
//!
//! The `*_normal` initialisers draw from a plain normal, as PyTorch's `xavier_normal_` and
//! `kaiming_normal_` do (Keras truncates them). PyTorch's own `nn.Linear` default is
//! U(±1/sqrt(fan_in)) (`lecun_uniform` scaled by 1/sqrt(3), [`Initializer::torch_linear`]);
//! the transformer layers (embedding, attention, transformer block) start as PyTorch's do.

use nabla_core::Rng;
use serde::{Deserialize, Serialize};

/// How a weight is filled at build time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Initializer {
    /// Glorot (Xavier) uniform, Keras's default kernel initialiser.
    #[default]
    GlorotUniform,
    /// Glorot (Xavier) normal.
    GlorotNormal,
    /// He (Kaiming) uniform.
    HeUniform,
    /// He (Kaiming) normal.
    HeNormal,
    /// LeCun uniform.
    LecunUniform,
    /// LeCun normal.
    LecunNormal,
    /// A (semi-)orthogonal matrix times `gain`.
    Orthogonal {
        /// Scale (default 1).
        #[serde(default = "one")]
        gain: f32,
    },
    /// Normal, redrawn beyond two standard deviations.
    TruncatedNormal {
        /// Mean (default 0).
        #[serde(default)]
        mean: f32,
        /// Standard deviation (default 0.05, Keras's).
        #[serde(default = "small")]
        stddev: f32,
    },
    /// Normal.
    RandomNormal {
        /// Mean (default 0).
        #[serde(default)]
        mean: f32,
        /// Standard deviation (default 0.05, Keras's).
        #[serde(default = "small")]
        stddev: f32,
    },
    /// Uniform in `[minval, maxval)`.
    RandomUniform {
        /// Lower bound (default -0.05).
        #[serde(default = "minus_small")]
        minval: f32,
        /// Upper bound (default 0.05).
        #[serde(default = "small")]
        maxval: f32,
    },
    /// Keras's `VarianceScaling`: variance `scale / n`, `n` the fan chosen by `mode`.
    /// PyTorch's `nn.Linear` default is `scale = 1/3, mode = fan_in, distribution = uniform`.
    VarianceScaling {
        /// Variance numerator (default 1).
        #[serde(default = "one")]
        scale: f32,
        /// Which fan divides (default fan_in).
        #[serde(default)]
        mode: FanMode,
        /// Distribution drawn from (default truncated_normal, Keras's).
        #[serde(default)]
        distribution: Distribution,
    },
    /// All zeros, Keras's default bias initialiser.
    Zeros,
    /// All ones.
    Ones,
    /// Every value equal to `value`.
    Constant {
        /// The value (default 0).
        #[serde(default)]
        value: f32,
    },
}

/// The fan of [`Initializer::VarianceScaling`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FanMode {
    /// `n = fan_in`.
    #[default]
    FanIn,
    /// `n = fan_out`.
    FanOut,
    /// `n = (fan_in + fan_out) / 2`.
    FanAvg,
}

/// The distribution of [`Initializer::VarianceScaling`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Normal cut at two standard deviations, rescaled so the variance is `scale / n`.
    #[default]
    TruncatedNormal,
    /// Plain normal.
    UntruncatedNormal,
    /// U(-l, l) with l = sqrt(3 · scale / n).
    Uniform,
}

impl Initializer {
    /// PyTorch's `nn.Linear` (and `nn.Conv*`) weight default, `kaiming_uniform_(a = sqrt(5))`:
    /// U(±1/sqrt(fan_in)).
    pub fn torch_linear() -> Initializer {
        Initializer::VarianceScaling {
            scale: 1.0 / 3.0,
            mode: FanMode::FanIn,
            distribution: Distribution::Uniform,
        }
    }
}

fn one() -> f32 {
    1.0
}
fn small() -> f32 {
    0.05
}
fn minus_small() -> f32 {
    -0.05
}

impl Initializer {
    /// `n` values for a weight with the given fans, laid out as `[fan_in, fan_out]` row-major
    /// when `n = fan_in · fan_out` (that layout matters only to `orthogonal`).
    pub fn sample(self, n: usize, fan_in: usize, fan_out: usize, rng: &mut Rng) -> Vec<f32> {
        let (fi, fo) = (fan_in.max(1) as f32, fan_out.max(1) as f32);
        let uniform = |l: f32, rng: &mut Rng| (0..n).map(|_| rng.uniform_range(-l, l)).collect();
        let normal = |m: f32, s: f32, rng: &mut Rng| (0..n).map(|_| m + s * rng.normal()).collect();
        match self {
            Initializer::GlorotUniform => uniform((6.0 / (fi + fo)).sqrt(), rng),
            Initializer::GlorotNormal => normal(0.0, (2.0 / (fi + fo)).sqrt(), rng),
            Initializer::HeUniform => uniform((6.0 / fi).sqrt(), rng),
            Initializer::HeNormal => normal(0.0, (2.0 / fi).sqrt(), rng),
            Initializer::LecunUniform => uniform((3.0 / fi).sqrt(), rng),
            Initializer::LecunNormal => normal(0.0, (1.0 / fi).sqrt(), rng),
            Initializer::Orthogonal { gain } => orthogonal(n, fan_in, fan_out, gain, rng),
            Initializer::TruncatedNormal { mean, stddev } => truncated(n, mean, stddev, rng),
            Initializer::VarianceScaling {
                scale,
                mode,
                distribution,
            } => {
                let fan = match mode {
                    FanMode::FanIn => fi,
                    FanMode::FanOut => fo,
                    FanMode::FanAvg => (fi + fo) / 2.0,
                };
                let std = (scale / fan).sqrt();
                match distribution {
                    // the std of a unit normal cut at ±2 is 0.8796
                    Distribution::TruncatedNormal => truncated(n, 0.0, std / 0.879_625_7, rng),
                    Distribution::UntruncatedNormal => normal(0.0, std, rng),
                    Distribution::Uniform => uniform(3f32.sqrt() * std, rng),
                }
            }
            Initializer::RandomNormal { mean, stddev } => normal(mean, stddev, rng),
            Initializer::RandomUniform { minval, maxval } => {
                (0..n).map(|_| rng.uniform_range(minval, maxval)).collect()
            }
            Initializer::Zeros => vec![0.0; n],
            Initializer::Ones => vec![1.0; n],
            Initializer::Constant { value } => vec![value; n],
        }
    }
}

/// `n` draws of N(mean, stddev²), each redrawn until within mean ± 2·stddev.
fn truncated(n: usize, mean: f32, stddev: f32, rng: &mut Rng) -> Vec<f32> {
    (0..n)
        .map(|_| loop {
            let z = rng.normal();
            if z.abs() <= 2.0 {
                return mean + stddev * z;
            }
        })
        .collect()
}

/// `gain · Q` with orthonormal columns (rows, if there are fewer rows), from modified
/// Gram–Schmidt on a normal matrix, signs fixed so the decomposition is unique.
fn orthogonal(n: usize, rows: usize, cols: usize, gain: f32, rng: &mut Rng) -> Vec<f32> {
    if rows * cols != n || n == 0 {
        // not a matrix of these fans (e.g. a bias): fall back to a normal draw
        return (0..n).map(|_| gain * rng.normal()).collect();
    }
    // work on the tall orientation: t_rows >= t_cols, columns become orthonormal
    let (t_rows, t_cols, transpose) = if rows >= cols {
        (rows, cols, false)
    } else {
        (cols, rows, true)
    };
    let mut q: Vec<Vec<f64>> = (0..t_cols)
        .map(|_| (0..t_rows).map(|_| rng.normal() as f64).collect())
        .collect();
    for j in 0..t_cols {
        for k in 0..j {
            let dot: f64 = q[j].iter().zip(&q[k]).map(|(a, b)| a * b).sum();
            let qk = q[k].clone();
            q[j].iter_mut().zip(&qk).for_each(|(a, b)| *a -= dot * b);
        }
        let norm = q[j].iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-12);
        q[j].iter_mut().for_each(|a| *a /= norm);
    }
    let mut out = vec![0.0f32; n];
    for (j, col) in q.iter().enumerate() {
        for (i, &v) in col.iter().enumerate() {
            let (r, c) = if transpose { (j, i) } else { (i, j) };
            out[r * cols + c] = gain * v as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(v: &[f32]) -> (f32, f32) {
        let m = v.iter().sum::<f32>() / v.len() as f32;
        (
            m,
            (v.iter().map(|x| (x - m).powi(2)).sum::<f32>() / v.len() as f32).sqrt(),
        )
    }

    #[test]
    fn scales_match_their_formulas() {
        let mut rng = Rng::new(1);
        let (fi, fo) = (300, 200);
        let n = fi * fo;
        let cases = [
            (
                Initializer::GlorotUniform,
                (6.0f32 / 500.0).sqrt() / 3f32.sqrt(),
            ),
            (Initializer::GlorotNormal, (2.0f32 / 500.0).sqrt()),
            (
                Initializer::HeUniform,
                (6.0f32 / 300.0).sqrt() / 3f32.sqrt(),
            ),
            (Initializer::HeNormal, (2.0f32 / 300.0).sqrt()),
            (
                Initializer::LecunUniform,
                (3.0f32 / 300.0).sqrt() / 3f32.sqrt(),
            ),
            (Initializer::LecunNormal, (1.0f32 / 300.0).sqrt()),
            (
                Initializer::torch_linear(),
                (1.0f32 / 300.0).sqrt() / 3f32.sqrt(),
            ),
            (
                Initializer::VarianceScaling {
                    scale: 2.0,
                    mode: FanMode::FanAvg,
                    distribution: Distribution::TruncatedNormal,
                },
                (2.0f32 / 250.0).sqrt(),
            ),
            (
                Initializer::VarianceScaling {
                    scale: 0.5,
                    mode: FanMode::FanOut,
                    distribution: Distribution::UntruncatedNormal,
                },
                (0.5f32 / 200.0).sqrt(),
            ),
            (
                Initializer::RandomNormal {
                    mean: 0.0,
                    stddev: 0.05,
                },
                0.05,
            ),
        ];
        for (init, std) in cases {
            let (m, s) = moments(&init.sample(n, fi, fo, &mut rng));
            assert!(
                m.abs() < 0.01 * std.max(0.1) + 1e-3 && (s / std - 1.0).abs() < 0.02,
                "{init:?}: mean {m}, std {s}, want {std}"
            );
        }
        let t = Initializer::TruncatedNormal {
            mean: 1.0,
            stddev: 0.1,
        }
        .sample(n, fi, fo, &mut rng);
        assert!(t.iter().all(|&v| (v - 1.0).abs() <= 0.2 + 1e-6));
        let c = Initializer::Constant { value: 0.3 }.sample(4, 2, 2, &mut rng);
        assert_eq!(c, vec![0.3; 4]);
    }

    #[test]
    fn orthogonal_columns_or_rows_are_orthonormal() {
        let mut rng = Rng::new(2);
        for (r, c) in [(6, 4), (4, 6), (5, 5)] {
            let q = Initializer::Orthogonal { gain: 2.0 }.sample(r * c, r, c, &mut rng);
            // the shorter side's vectors have norm 2 (the gain) and are orthogonal
            let k = r.min(c);
            let vecs: Vec<Vec<f32>> = (0..k)
                .map(|j| {
                    if r >= c {
                        (0..r).map(|i| q[i * c + j]).collect()
                    } else {
                        q[j * c..(j + 1) * c].to_vec()
                    }
                })
                .collect();
            for a in 0..k {
                for b in 0..k {
                    let dot: f32 = vecs[a].iter().zip(&vecs[b]).map(|(x, y)| x * y).sum();
                    let want = if a == b { 4.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-4, "{r}x{c}: <{a},{b}> = {dot}");
                }
            }
        }
    }

    #[test]
    fn names_and_tables_parse() {
        use crate::named::name_or_table;
        let parse =
            |s: &str| name_or_table::<_, Initializer>(&mut serde_json::Deserializer::from_str(s));
        assert_eq!(parse(r#""he_normal""#).unwrap(), Initializer::HeNormal);
        let i = parse(r#"{"type":"random_uniform","maxval":0.5}"#).unwrap();
        assert_eq!(
            i,
            Initializer::RandomUniform {
                minval: -0.05,
                maxval: 0.5
            }
        );
        let v = parse(r#"{"type":"variance_scaling","scale":0.5,"distribution":"uniform"}"#);
        assert_eq!(
            v.unwrap(),
            Initializer::VarianceScaling {
                scale: 0.5,
                mode: FanMode::FanIn,
                distribution: Distribution::Uniform
            }
        );
        let e = parse(r#"{"type":"zeros","value":1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `value`"), "{e}");
        let e = parse(r#""he_normall""#).unwrap_err().to_string();
        assert!(e.contains("he_normall") && e.contains("orthogonal"), "{e}");
    }
}
