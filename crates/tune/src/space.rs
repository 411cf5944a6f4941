//! The search space: named parameters with their distributions, as a `[tune.space]` table
//! writes them (`"train.optimizer.learning_rate" = { log_uniform = [1e-4, 1e-2] }`) or the
//! Rust API builds them.
//!
//! ```text
//! { uniform = [a, b] }          a real number in [a, b]
//! { log_uniform = [a, b] }      a real number in [a, b], uniform in log (0 < a < b)
//! { int = [a, b], step = s }    a, a + s, ..., up to b (step 1 unless given)
//! { choice = [v1, v2, ...] }    one of the values (numbers, strings, booleans)
//! ```
//! For the Gaussian process every parameter maps into the unit cube: real ones linearly
//! (log-linearly), integers to the middle of their cell, choices one-hot.

use crate::error::{Error, Result};
use nabla_core::Rng;
use toml::Value;

/// One parameter's distribution.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// A real number in `[lo, hi]`.
    Uniform(f64, f64),
    /// A real number in `[lo, hi]`, uniform in `ln`.
    LogUniform(f64, f64),
    /// `lo, lo + step, …` up to `hi`.
    Int {
        /// The first value.
        lo: i64,
        /// The last value may be at most this.
        hi: i64,
        /// The distance between values.
        step: i64,
    },
    /// One of these values.
    Choice(Vec<Value>),
}

/// The parameters of a search, in the order they were given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Space {
    /// `(name, distribution)`.
    pub params: Vec<(String, Dist)>,
}

/// One trial's values, in the order of the space.
pub type Params = Vec<(String, Value)>;

/// The value of `name` in `params`, as a real number (integers too).
pub fn get_f64(params: &Params, name: &str) -> Option<f64> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| match v {
            Value::Float(f) => Some(*f),
            Value::Integer(i) => Some(*i as f64),
            _ => None,
        })
}

impl Dist {
    /// How many values an integer range or a choice has (None for real ranges).
    fn count(&self) -> Option<usize> {
        match self {
            Dist::Int { lo, hi, step } => Some(((hi - lo) / step + 1) as usize),
            Dist::Choice(v) => Some(v.len()),
            _ => None,
        }
    }

    /// Columns in the unit-cube encoding.
    pub fn width(&self) -> usize {
        match self {
            Dist::Choice(v) => v.len(),
            _ => 1,
        }
    }

    /// The value at `u` in `[0, 1]` (for a choice, `u` picks by cell).
    fn at(&self, u: f64) -> Value {
        let u = u.clamp(0.0, 1.0);
        match self {
            Dist::Uniform(a, b) => Value::Float(a + u * (b - a)),
            Dist::LogUniform(a, b) => {
                Value::Float((a.ln() + u * (b.ln() - a.ln())).exp().clamp(*a, *b))
            }
            Dist::Int { lo, step, .. } => Value::Integer(lo + step * self.cell(u) as i64),
            Dist::Choice(v) => v[self.cell(u)].clone(),
        }
    }

    fn cell(&self, u: f64) -> usize {
        let n = self.count().expect("a discrete distribution");
        ((u * n as f64) as usize).min(n - 1)
    }

    /// A random value.
    pub fn sample(&self, rng: &mut Rng) -> Value {
        self.at(uniform(rng))
    }

    /// `points` values spread over the range (every value of an integer range or a choice):
    /// the grid of grid search.
    pub fn grid(&self, points: usize) -> Vec<Value> {
        match self.count() {
            Some(n) => (0..n)
                .map(|i| self.at((i as f64 + 0.5) / n as f64))
                .collect(),
            None if points <= 1 => vec![self.at(0.5)],
            None => (0..points)
                .map(|i| self.at(i as f64 / (points - 1) as f64))
                .collect(),
        }
    }

    /// `v`'s unit-cube coordinates, appended to `out`.
    fn encode(&self, v: &Value, out: &mut Vec<f64>) {
        let x = match v {
            Value::Float(f) => *f,
            Value::Integer(i) => *i as f64,
            _ => 0.0,
        };
        match self {
            Dist::Uniform(a, b) => out.push((x - a) / (b - a)),
            Dist::LogUniform(a, b) => out.push((x.ln() - a.ln()) / (b.ln() - a.ln())),
            Dist::Int { lo, step, .. } => {
                let n = self.count().expect("integer range") as f64;
                out.push((((x as i64 - lo) / step) as f64 + 0.5) / n)
            }
            Dist::Choice(vals) => out.extend(vals.iter().map(|c| if c == v { 1.0 } else { 0.0 })),
        }
    }

    /// The value whose encoding is nearest to `u` (a choice takes its largest column).
    fn decode(&self, u: &[f64]) -> Value {
        match self {
            Dist::Choice(vals) => {
                let best = (0..vals.len())
                    .max_by(|&i, &j| u[i].total_cmp(&u[j]))
                    .expect("a choice has values");
                vals[best].clone()
            }
            _ => self.at(u[0]),
        }
    }

    /// The distribution a `{ uniform = [a, b] }`-style table describes.
    pub fn from_toml(name: &str, v: &Value) -> Result<Dist> {
        let expected = "{ uniform = [a, b] }, { log_uniform = [a, b] }, { int = [a, b], step = s } or { choice = [..] }";
        let bad = |why: String| Error::config(format!("tune.space.\"{name}\""), expected, why);
        let t = v.as_table().ok_or_else(|| bad(v.to_string()))?;
        let pair = |key: &str| -> Result<(f64, f64)> {
            let a = t[key].as_array().filter(|a| a.len() == 2);
            let nums: Option<Vec<f64>> = a.map(|a| {
                a.iter()
                    .filter_map(|x| x.as_float().or_else(|| x.as_integer().map(|i| i as f64)))
                    .collect()
            });
            match nums.as_deref() {
                Some(&[lo, hi]) if lo.is_finite() && hi.is_finite() && lo < hi => Ok((lo, hi)),
                _ => Err(bad(format!(
                    "{key} = {} (two finite numbers, the first smaller)",
                    t[key]
                ))),
            }
        };
        let keys: Vec<&str> = t.keys().map(String::as_str).collect();
        let dist = match keys.as_slice() {
            ["uniform"] => {
                let (a, b) = pair("uniform")?;
                Dist::Uniform(a, b)
            }
            ["log_uniform"] => {
                let (a, b) = pair("log_uniform")?;
                if a <= 0.0 {
                    return Err(bad(format!("log_uniform from {a} (it must start above 0)")));
                }
                Dist::LogUniform(a, b)
            }
            ["int"] | ["int", "step"] | ["step", "int"] => {
                let ints = t["int"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_integer).collect::<Vec<_>>());
                let step = t.get("step").map_or(Some(1), Value::as_integer);
                match (ints.as_deref(), step) {
                    (Some(&[lo, hi]), Some(step)) if lo <= hi && step > 0 => {
                        Dist::Int { lo, hi, step }
                    }
                    _ => {
                        return Err(bad(format!(
                            "{v} (two integers, the first not larger, and a positive integer step)"
                        )))
                    }
                }
            }
            ["choice"] => match t["choice"].as_array() {
                Some(vals) if !vals.is_empty() => Dist::Choice(vals.clone()),
                _ => return Err(bad(format!("choice = {} (a non-empty list)", t["choice"]))),
            },
            _ => return Err(bad(v.to_string())),
        };
        Ok(dist)
    }
}

/// A uniform number in `[0, 1)` with 53 random bits.
pub(crate) fn uniform(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

impl Space {
    /// An empty space.
    pub fn new() -> Space {
        Space::default()
    }

    /// Adds a real parameter in `[lo, hi]`.
    pub fn uniform(self, name: &str, lo: f64, hi: f64) -> Space {
        self.with(name, Dist::Uniform(lo, hi))
    }

    /// Adds a real parameter in `[lo, hi]`, uniform in log.
    pub fn log_uniform(self, name: &str, lo: f64, hi: f64) -> Space {
        self.with(name, Dist::LogUniform(lo, hi))
    }

    /// Adds an integer parameter `lo, lo + step, …, ≤ hi`.
    pub fn int(self, name: &str, lo: i64, hi: i64, step: i64) -> Space {
        self.with(name, Dist::Int { lo, hi, step })
    }

    /// Adds a parameter taking one of `values`.
    pub fn choice(self, name: &str, values: impl IntoIterator<Item = impl Into<Value>>) -> Space {
        self.with(
            name,
            Dist::Choice(values.into_iter().map(Into::into).collect()),
        )
    }

    fn with(mut self, name: &str, d: Dist) -> Space {
        self.params.push((name.to_string(), d));
        self
    }

    /// Checks every range (the Rust API does not go through [`Dist::from_toml`]).
    pub fn validate(&self) -> Result<()> {
        if self.params.is_empty() {
            return Err(Error::config(
                "the search space",
                "at least one parameter",
                "none",
            ));
        }
        for (name, d) in &self.params {
            let ok = match d {
                Dist::Uniform(a, b) => a.is_finite() && b.is_finite() && a < b,
                Dist::LogUniform(a, b) => *a > 0.0 && b.is_finite() && a < b,
                Dist::Int { lo, hi, step } => lo <= hi && *step > 0,
                Dist::Choice(v) => !v.is_empty(),
            };
            if !ok {
                return Err(Error::config(
                    format!("parameter '{name}'"),
                    "a valid range",
                    format!("{d:?}"),
                ));
            }
        }
        Ok(())
    }

    /// One random value per parameter.
    pub fn sample(&self, rng: &mut Rng) -> Params {
        self.params
            .iter()
            .map(|(n, d)| (n.clone(), d.sample(rng)))
            .collect()
    }

    /// Columns of the unit-cube encoding.
    pub fn width(&self) -> usize {
        self.params.iter().map(|(_, d)| d.width()).sum()
    }

    /// `params` in the unit cube.
    pub fn encode(&self, params: &Params) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.width());
        for ((_, d), (_, v)) in self.params.iter().zip(params) {
            d.encode(v, &mut out);
        }
        out
    }

    /// The parameters nearest to the unit-cube point `u`.
    pub fn decode(&self, u: &[f64]) -> Params {
        let mut at = 0;
        self.params
            .iter()
            .map(|(n, d)| {
                let v = d.decode(&u[at..at + d.width()]);
                at += d.width();
                (n.clone(), v)
            })
            .collect()
    }

    /// Every combination of the parameters' grids (`points` per real parameter), the first
    /// parameter changing slowest.
    pub fn grid(&self, points: usize) -> Vec<Params> {
        let mut all: Vec<Params> = vec![Vec::new()];
        for (n, d) in &self.params {
            let vals = d.grid(points);
            all = all
                .into_iter()
                .flat_map(|p| {
                    vals.iter().map(move |v| {
                        let mut q = p.clone();
                        q.push((n.clone(), v.clone()));
                        q
                    })
                })
                .collect();
        }
        all
    }

    /// How many combinations [`Space::grid`] has (saturating).
    pub fn grid_size(&self, points: usize) -> usize {
        self.params.iter().fold(1usize, |acc, (_, d)| {
            acc.saturating_mul(d.count().unwrap_or(points.max(1)))
        })
    }
}
