//! `Tuner`: the search loop over any function of the parameters. Each algorithm suggests
//! trial `i` from the seed and the finished trials only, so a search resumed from its
//! records suggests what the uninterrupted one would have.
//!
//! - grid: every combination of the parameters' grids, in order;
//! - random: independent draws;
//! - bayesian: random draws for the first `initial_points` trials, then the point of
//!   largest expected improvement under a Gaussian process fitted to the finished trials
//!   (failed trials are left out), searched over random candidates and around the best;
//! - hyperband: brackets of successive halving (hyperband.rs); a configuration carried to
//!   the next rung is the same `config`, trained further.

use crate::error::{Error, Result};
use crate::gp::Gp;
use crate::hyperband;
use crate::space::{Params, Space};
use nabla_core::Rng;
use std::time::Instant;

/// How trials are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// Every combination of the grid.
    Grid,
    /// Independent random draws.
    Random,
    /// A Gaussian process with expected improvement.
    Bayesian,
    /// Successive halving of random configurations across epoch budgets.
    Hyperband,
}

/// What to evaluate next.
#[derive(Clone, Debug, PartialEq)]
pub struct Suggestion {
    /// The parameters.
    pub params: Params,
    /// Hyperband: train to this many epochs in all (None: the evaluation's own).
    pub epochs: Option<usize>,
    /// The trial that first drew these parameters: Hyperband carries a configuration from
    /// rung to rung (its training continues); otherwise the trial itself.
    pub config: usize,
}

impl Algorithm {
    /// The algorithm a spec names.
    pub fn parse(name: &str) -> Result<Algorithm> {
        match name {
            "grid" => Ok(Algorithm::Grid),
            "random" => Ok(Algorithm::Random),
            "bayesian" => Ok(Algorithm::Bayesian),
            "hyperband" => Ok(Algorithm::Hyperband),
            _ => Err(Error::config(
                "tune.algorithm",
                "\"grid\", \"random\", \"bayesian\" or \"hyperband\"",
                format!("\"{name}\""),
            )),
        }
    }
}

/// Whether smaller or larger objectives are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Smaller is better (losses, errors).
    Minimize,
    /// Larger is better (accuracies).
    Maximize,
}

impl Direction {
    /// Whether `a` is better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Direction::Minimize => a < b,
            Direction::Maximize => a > b,
        }
    }
}

/// How a trial ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The objective's value.
    Done(f64),
    /// Why the trial failed (a NaN loss, a build error from a combination, ...).
    Failed(String),
}

/// One finished trial.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    /// 0, 1, ... in the order they ran.
    pub number: usize,
    /// The trial that first drew these parameters (see [`Suggestion::config`]).
    pub config: usize,
    /// The parameters' values.
    pub params: Params,
    /// The objective or the failure.
    pub outcome: Outcome,
    /// Epochs trained (0 for a function).
    pub epochs: usize,
    /// Wall time.
    pub seconds: f64,
}

impl Trial {
    /// The objective, if the trial succeeded.
    pub fn objective(&self) -> Option<f64> {
        match self.outcome {
            Outcome::Done(v) => Some(v),
            Outcome::Failed(_) => None,
        }
    }
}

/// The best successful trial of `trials` (the first of equals).
pub fn best_of(direction: Direction, trials: &[Trial]) -> Option<&Trial> {
    trials
        .iter()
        .filter_map(|t| t.objective().map(|v| (t, v)))
        .reduce(|a, b| if direction.better(b.1, a.1) { b } else { a })
        .map(|(t, _)| t)
}

/// A search over a [`Space`].
#[derive(Clone, Debug)]
pub struct Tuner {
    /// The parameters.
    pub space: Space,
    /// Which way the objective is better.
    pub direction: Direction,
    /// How trials are chosen.
    pub algorithm: Algorithm,
    /// How many trials (grid search stops earlier when the grid is smaller).
    pub trials: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Values per real parameter on the grid (default 3).
    pub grid_points: usize,
    /// Random trials before the Gaussian process takes over (default: parameters + 2).
    pub initial_points: Option<usize>,
    /// Start no trial after this many seconds.
    pub max_seconds: Option<f64>,
    /// Hyperband: the most epochs a configuration gets (R), the reduction factor (η) and
    /// the rounds of brackets.
    pub hyperband: (usize, usize, usize),
    /// The finished trials (given back to resume a search).
    pub done: Vec<Trial>,
}

/// SplitMix64's finaliser: a seed per (search seed, trial), independent of the others.
fn mix(seed: u64, number: usize) -> u64 {
    let mut z = seed ^ (number as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Tuner {
    /// A random search of 10 trials over `space`.
    pub fn new(space: Space, direction: Direction) -> Tuner {
        Tuner {
            space,
            direction,
            algorithm: Algorithm::Random,
            trials: 10,
            seed: 0,
            grid_points: 3,
            initial_points: None,
            max_seconds: None,
            hyperband: (9, 3, 1),
            done: Vec::new(),
        }
    }

    /// Chooses the algorithm.
    pub fn algorithm(mut self, a: Algorithm) -> Tuner {
        self.algorithm = a;
        self
    }

    /// Sets the number of trials.
    pub fn trials(mut self, n: usize) -> Tuner {
        self.trials = n;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, s: u64) -> Tuner {
        self.seed = s;
        self
    }

    /// The best successful trial so far.
    pub fn best(&self) -> Option<&Trial> {
        best_of(self.direction, &self.done)
    }

    /// How many trials the search runs in all.
    pub fn planned(&self) -> usize {
        match self.algorithm {
            Algorithm::Grid => self.trials.min(self.space.grid_size(self.grid_points)),
            Algorithm::Hyperband => self.rungs().last().map_or(0, |r| r.start + r.n),
            _ => self.trials,
        }
    }

    fn rungs(&self) -> Vec<hyperband::Rung> {
        let (max_epochs, factor, rounds) = self.hyperband;
        hyperband::rungs(max_epochs, factor, rounds)
    }

    /// What trial `number` evaluates, given the finished trials (all before it).
    pub fn suggest(&self, number: usize) -> Suggestion {
        let mut rng = Rng::new(mix(self.seed, number));
        let params = match self.algorithm {
            Algorithm::Grid => self.space.grid(self.grid_points).swap_remove(number),
            Algorithm::Random => self.space.sample(&mut rng),
            Algorithm::Bayesian => self.bayesian(&mut rng),
            Algorithm::Hyperband => return self.hyperband(number, &mut rng),
        };
        Suggestion {
            params,
            epochs: None,
            config: number,
        }
    }

    /// A fresh configuration at a bracket's first rung; later, the `slot`-th best of the
    /// rung before (failed trials last, ties by trial number).
    fn hyperband(&self, number: usize, rng: &mut Rng) -> Suggestion {
        let rungs = self.rungs();
        let k = rungs
            .iter()
            .rposition(|r| r.start <= number)
            .expect("the first rung starts at 0");
        let (rung, slot) = (rungs[k], number - rungs[k].start);
        if rung.first {
            return Suggestion {
                params: self.space.sample(rng),
                epochs: Some(rung.epochs),
                config: number,
            };
        }
        let prev = rungs[k - 1];
        let mut ranked: Vec<&Trial> = self.done[prev.start..prev.start + prev.n].iter().collect();
        ranked.sort_by(|a, b| match (a.objective(), b.objective()) {
            (Some(x), Some(y)) if self.direction.better(x, y) => std::cmp::Ordering::Less,
            (Some(x), Some(y)) if self.direction.better(y, x) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            _ => a.number.cmp(&b.number),
        });
        let t = ranked[slot];
        Suggestion {
            params: t.params.clone(),
            epochs: Some(rung.epochs),
            config: t.config,
        }
    }

    fn bayesian(&self, rng: &mut Rng) -> Params {
        let ok: Vec<(&Trial, f64)> = self
            .done
            .iter()
            .filter_map(|t| t.objective().filter(|v| v.is_finite()).map(|v| (t, v)))
            .collect();
        let initial = self
            .initial_points
            .unwrap_or(self.space.params.len() + 2)
            .max(2);
        if ok.len() < initial {
            return self.space.sample(rng);
        }
        let sign = if self.direction == Direction::Maximize {
            -1.0
        } else {
            1.0
        };
        let x: Vec<Vec<f64>> = ok
            .iter()
            .map(|(t, _)| self.space.encode(&t.params))
            .collect();
        let y: Vec<f64> = ok.iter().map(|(_, v)| sign * v).collect();
        let best = y.iter().copied().fold(f64::INFINITY, f64::min);
        let gp = Gp::fit(x.clone(), &y, rng);
        // candidates snapped to valid values (integers, choices) before they are scored
        let score = |p: &Params| gp.expected_improvement(&self.space.encode(p), best);
        let mut cands: Vec<(Params, f64)> = (0..1000)
            .map(|_| {
                let p = self.space.sample(rng);
                let s = score(&p);
                (p, s)
            })
            .collect();
        let order_best = |c: &mut Vec<(Params, f64)>| c.sort_by(|a, b| b.1.total_cmp(&a.1));
        order_best(&mut cands);
        // local search around the 5 best candidates and the best trial
        let mut starts: Vec<Vec<f64>> = cands
            .iter()
            .take(5)
            .map(|(p, _)| self.space.encode(p))
            .collect();
        let at_best = y.iter().position(|&v| v == best).expect("best is one of y");
        starts.push(x[at_best].clone());
        for s in starts {
            let mut u = s;
            let mut here = score(&self.space.decode(&u));
            let mut step = 0.1;
            for _ in 0..60 {
                let trial: Vec<f64> = u
                    .iter()
                    .map(|v| (v + step * f64::from(rng.normal())).clamp(0.0, 1.0))
                    .collect();
                let p = self.space.decode(&trial);
                let s = score(&p);
                if s > here {
                    (u, here) = (trial, s);
                } else {
                    step = (step * 0.9).max(0.005);
                }
            }
            let p = self.space.decode(&u);
            cands.push((p, here));
        }
        order_best(&mut cands);
        let seen = |p: &Params| self.done.iter().any(|t| &t.params == p);
        match cands.into_iter().find(|(p, _)| !seen(p)) {
            Some((p, _)) => p,
            None => self.space.sample(rng),
        }
    }

    /// Runs the remaining trials of the search on `f` (the objective, or why it failed),
    /// calling `report` after each; returns the best trial.
    pub fn run(
        &mut self,
        mut f: impl FnMut(&Params) -> std::result::Result<f64, String>,
        report: impl FnMut(&Trial, Option<&Trial>),
    ) -> Result<Option<Trial>> {
        self.run_with(|s| f(&s.params).map(|v| (v, 0)), report)
    }

    /// [`Tuner::run`] for evaluations that take the whole suggestion (Hyperband's epochs and
    /// configuration) and say how many epochs they trained.
    pub fn run_with(
        &mut self,
        mut f: impl FnMut(&Suggestion) -> std::result::Result<(f64, usize), String>,
        mut report: impl FnMut(&Trial, Option<&Trial>),
    ) -> Result<Option<Trial>> {
        self.space.validate()?;
        let t0 = Instant::now();
        while self.done.len() < self.planned() {
            if self
                .max_seconds
                .is_some_and(|m| t0.elapsed().as_secs_f64() >= m)
            {
                break;
            }
            let number = self.done.len();
            let suggestion = self.suggest(number);
            let start = Instant::now();
            let (outcome, epochs) = match f(&suggestion) {
                Ok((v, e)) if v.is_finite() => (Outcome::Done(v), e),
                Ok((v, e)) => (Outcome::Failed(format!("the objective is {v}")), e),
                Err(why) => (Outcome::Failed(why), 0),
            };
            let trial = Trial {
                number,
                config: suggestion.config,
                params: suggestion.params,
                outcome,
                epochs,
                seconds: start.elapsed().as_secs_f64(),
            };
            self.done.push(trial);
            report(self.done.last().expect("just pushed"), self.best());
        }
        Ok(self.best().cloned())
    }
}
