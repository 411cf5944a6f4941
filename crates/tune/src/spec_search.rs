//! A search over a spec: the `[tune]` table, one training run per trial, and the files of
//! `nabla tune` (`trials.csv`, `best.toml`, `best_model.safetensors`, `tune.png`).
//!
//! ```toml
//! [tune]
//! objective = "val_accuracy"   # any logged quantity; its best epoch counts
//! algorithm = "bayesian"       # grid | random | bayesian | hyperband
//! trials = 20
//! epochs = 2                   # per trial (default: the spec's)
//! seed = 0
//! [tune.space]
//! "train.optimizer.learning_rate" = { log_uniform = [1e-4, 1e-2] }
//! "model.layers.1.units" = { choice = [64, 128, 256] }
//! ```

use crate::error::{Error, Result};
use crate::space::{Dist, Params, Space};
use crate::spec_paths::set_path;
use crate::trials_csv;
use crate::tuner::{best_of, Algorithm, Direction, Suggestion, Trial, Tuner};
use nabla_train::{Spec, Training};
use serde::Deserialize;
use std::path::Path;
use toml::{Table, Value};

/// The `[tune]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuneConfig {
    /// The logged quantity to optimise (`val_accuracy`, `val_loss`, `loss`, ...).
    pub objective: String,
    /// `"min"` or `"max"` (default: min for losses and errors, max otherwise).
    #[serde(default)]
    pub direction: Option<String>,
    /// `"grid"`, `"random"` (default) or `"bayesian"`.
    #[serde(default = "random")]
    pub algorithm: String,
    /// How many trials (default 10).
    #[serde(default = "ten")]
    pub trials: usize,
    /// Epochs per trial (default: the spec's).
    #[serde(default)]
    pub epochs: Option<usize>,
    /// Seed of the search (default 0); each trial trains with the spec's own seed.
    #[serde(default)]
    pub seed: u64,
    /// Start no trial after this many minutes.
    #[serde(default)]
    pub max_minutes: Option<f64>,
    /// Values per real parameter in a grid search (default 3).
    #[serde(default = "three")]
    pub grid_points: usize,
    /// Random trials before the Gaussian process (default: parameters + 2).
    #[serde(default)]
    pub initial_points: Option<usize>,
    /// Hyperband: the most epochs a configuration gets (default: `epochs`, else the spec's).
    #[serde(default)]
    pub max_epochs: Option<usize>,
    /// Hyperband: the reduction factor η between rungs (default 3).
    #[serde(default = "three")]
    pub factor: usize,
    /// Hyperband: rounds of brackets (default 1).
    #[serde(default = "one")]
    pub hyperband_iterations: usize,
    /// The parameters: dotted paths into the spec and their distributions.
    pub space: Table,
}

fn random() -> String {
    "random".into()
}
fn ten() -> usize {
    10
}
fn three() -> usize {
    3
}
fn one() -> usize {
    1
}

/// Whether a quantity named `name` is better small (losses, errors) or large.
pub fn default_direction(name: &str) -> Direction {
    let base = name.strip_prefix("val_").unwrap_or(name);
    let small = ["loss", "error", "mae", "mse", "rmse", "perplexity"];
    match small.iter().any(|s| base.contains(s)) {
        true => Direction::Minimize,
        false => Direction::Maximize,
    }
}

/// A spec with a `[tune]` table, ready to search.
pub struct SpecSearch {
    /// The spec without its `[tune]` table.
    pub base: Table,
    /// The `[tune]` table.
    pub config: TuneConfig,
    /// The search.
    pub tuner: Tuner,
}

impl SpecSearch {
    /// Reads `text` (a whole spec with a `[tune]` table).
    pub fn from_toml(text: &str) -> Result<SpecSearch> {
        let mut base: Table = toml::from_str(text)
            .map_err(|e| Error::Config(e.to_string().trim_end().to_string()))?;
        let tune = base.remove("tune").ok_or_else(|| {
            Error::config(
                "the spec",
                "a [tune] table (the search: objective, trials, space)",
                "none",
            )
        })?;
        let config: TuneConfig = tune
            .try_into()
            .map_err(|e: toml::de::Error| Error::Config(format!("[tune]: {}", e.message())))?;
        let mut space = Space::new();
        for (path, d) in &config.space {
            space.params.push((path.clone(), Dist::from_toml(path, d)?));
        }
        space.validate()?;
        let direction = match config.direction.as_deref() {
            None => default_direction(&config.objective),
            Some("min") => Direction::Minimize,
            Some("max") => Direction::Maximize,
            Some(d) => {
                return Err(Error::config(
                    "tune.direction",
                    "\"min\" or \"max\"",
                    format!("\"{d}\""),
                ))
            }
        };
        if config.trials == 0 || config.epochs == Some(0) || config.grid_points == 0 {
            return Err(Error::config(
                "tune.trials, tune.epochs and tune.grid_points",
                "positive integers",
                format!(
                    "{}, {:?}, {}",
                    config.trials, config.epochs, config.grid_points
                ),
            ));
        }
        let mut tuner = Tuner::new(space, direction)
            .algorithm(Algorithm::parse(&config.algorithm)?)
            .trials(config.trials)
            .seed(config.seed);
        tuner.grid_points = config.grid_points;
        tuner.initial_points = config.initial_points;
        tuner.max_seconds = config.max_minutes.map(|m| m * 60.0);
        let mut search = SpecSearch {
            base,
            config,
            tuner,
        };
        // the first trial's spec must read (a wrong path or field fails now, not per trial)
        let first = search.tuner.space.sample(&mut nabla_core::Rng::new(0));
        let s = search.spec_for(&first)?;
        let c = &search.config;
        search.tuner.hyperband = (
            c.max_epochs.unwrap_or(s.train.epochs),
            c.factor,
            c.hyperband_iterations,
        );
        if c.objective.starts_with("val_") && s.data.validation_split <= 0.0 {
            return Err(Error::config(
                format!("tune.objective \"{}\"", c.objective),
                "data.validation_split above 0 (the validation data it is measured on)",
                s.data.validation_split,
            ));
        }
        Ok(search)
    }

    /// The spec of a trial: the base with `params` set (and the search's epochs).
    pub fn spec_for(&self, params: &Params) -> Result<Spec> {
        self.spec_with(params, self.config.epochs)
    }

    fn spec_with(&self, params: &Params, epochs: Option<usize>) -> Result<Spec> {
        Spec::from_toml(&self.trial_toml(params, epochs)?)
            .map_err(|e| Error::Config(format!("the spec with {}: {e}", describe(params))))
    }

    /// The base spec as TOML with `params` set and `epochs`, if given, as `train.epochs`.
    fn trial_toml(&self, params: &Params, epochs: Option<usize>) -> Result<String> {
        let mut t = self.base.clone();
        for (path, v) in params {
            set_path(&mut t, path, v.clone())?;
        }
        if let Some(e) = epochs {
            set_path(&mut t, "train.epochs", Value::Integer(e as i64))?;
        }
        toml::to_string(&t).map_err(|e| Error::Config(e.to_string()))
    }

    /// Trains one trial: `(the objective's best epoch value, epochs, the model)`. A
    /// Hyperband configuration continues from its checkpoint in `out/hyperband/`.
    fn train(
        &self,
        s: &Suggestion,
        out: &Path,
    ) -> std::result::Result<(f64, usize, nabla_nn::Model), String> {
        let text = |e: &dyn std::fmt::Display| e.to_string();
        let mut spec = self.spec_for(&s.params).map_err(|e| text(&e))?;
        let checkpoint = s.epochs.map(|e| {
            spec.train.epochs = e;
            out.join("hyperband")
                .join(format!("config_{}.safetensors", s.config + 1))
        });
        let (mut model, resumed) = match &checkpoint {
            Some(p) if p.exists() => {
                let (mut m, r) = nabla_train::resume(p).map_err(|e| text(&e))?;
                spec.add_hooks(&mut m).map_err(|e| text(&e))?;
                (m, Some(r))
            }
            _ => (
                spec.build_model(spec.train.seed).map_err(|e| text(&e))?,
                None,
            ),
        };
        let (train, _test) = spec.load_data(&model).map_err(|e| text(&e))?;
        let mut fit = spec.fit_options().verbose(0);
        if let Some(p) = &checkpoint {
            std::fs::create_dir_all(out.join("hyperband")).map_err(|e| text(&e))?;
            fit = fit.checkpoint(p);
        }
        if let Some(r) = resumed {
            fit = fit.resume(r);
        }
        let history = model.fit(&train, fit).map_err(|e| text(&e))?;
        let name = &self.config.objective;
        let values = history.get(name);
        if values.is_empty() {
            let known: Vec<String> = history
                .last()
                .map(|l| l.0.iter().map(|(n, _)| n.clone()).collect())
                .unwrap_or_default();
            return Err(format!(
                "tune.objective: expected one of {}, received \"{name}\"",
                known.join(", ")
            ));
        }
        let dir = self.tuner.direction;
        let best = values
            .iter()
            .copied()
            .reduce(|a, b| if dir.better(b, a) { b } else { a })
            .expect("not empty");
        Ok((best, values.len(), model))
    }

    /// The best trial's spec as TOML (trainable as is), with a comment saying where it
    /// came from.
    pub fn best_toml(&self, best: &Trial) -> Result<String> {
        // a Hyperband trial's own epochs (its rung's), or the search's
        let epochs = match self.tuner.algorithm {
            Algorithm::Hyperband => Some(best.epochs),
            _ => self.config.epochs,
        };
        let body = self.trial_toml(&best.params, epochs)?;
        Ok(format!(
            "# nabla tune: trial {} of the search, {} = {} ({})\n{body}",
            best.number + 1,
            self.config.objective,
            best.objective().unwrap_or(f64::NAN),
            describe(&best.params)
        ))
    }

    /// Runs the search, writing its files into `out` after every trial and calling
    /// `report` with each finished trial and the best so far. With `resume` the trials
    /// already in `out/trials.csv` are kept and the search goes on from there.
    pub fn run(
        &mut self,
        out: &Path,
        resume: bool,
        mut report: impl FnMut(&Trial, Option<&Trial>),
    ) -> Result<Option<Trial>> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| Error::Io { path, source }
        };
        let csv_path = out.join("trials.csv");
        if resume {
            if !csv_path.exists() {
                return Err(Error::config(
                    "--resume",
                    &format!("a search in {}", out.display()),
                    "no trials.csv there",
                ));
            }
            self.tuner.done = trials_csv::read(&csv_path, &self.tuner.space)?;
        } else if csv_path.exists() {
            return Err(Error::config(
                format!("{}", out.display()),
                "a folder without a search (--resume continues the one there)",
                "one with trials.csv",
            ));
        }
        std::fs::create_dir_all(out).map_err(io(out))?;
        let this = &*self;
        let mut tuner = this.tuner.clone();
        let mut done = tuner.done.clone();
        let mut best_value = tuner.best().and_then(Trial::objective);
        let (mut save_failure, mut write_failure): (Option<Error>, Option<Error>) = (None, None);
        tuner.run_with(
            |suggestion| {
                let (v, epochs, model) = this.train(suggestion, out)?;
                // the best model so far is kept on disk (the trial's own, trained as logged)
                if best_value.is_none_or(|b| this.tuner.direction.better(v, b)) {
                    if let Err(e) = model.save(out.join("best_model.safetensors")) {
                        save_failure.get_or_insert(Error::Train(e.into()));
                    }
                    best_value = Some(v);
                }
                Ok((v, epochs))
            },
            |trial, best| {
                done.push(trial.clone());
                if let Err(e) = this.write(out, &done) {
                    write_failure.get_or_insert(e);
                }
                report(trial, best)
            },
        )?;
        self.tuner.done = tuner.done;
        self.write(out, &self.tuner.done)?;
        match save_failure.or(write_failure) {
            Some(e) => Err(e),
            None => Ok(self.tuner.best().cloned()),
        }
    }

    /// Writes `trials.csv`, `best.toml` and `tune.png` for `trials`.
    pub fn write(&self, out: &Path, trials: &[Trial]) -> Result<()> {
        let write = |name: &str, bytes: &[u8]| {
            let p = out.join(name);
            nabla_nn::saving::write_atomic(&p, bytes).map_err(|source| Error::Io {
                path: p.display().to_string(),
                source,
            })
        };
        write(
            "trials.csv",
            trials_csv::to_csv(&self.tuner.space, trials).as_bytes(),
        )?;
        if let Some(best) = best_of(self.tuner.direction, trials) {
            write("best.toml", self.best_toml(best)?.as_bytes())?;
        }
        crate::plot::plot_search(
            &self.tuner.space,
            self.tuner.direction,
            trials,
            &self.config.objective,
            &out.join("tune.png"),
        )
    }
}

/// `name=value` pairs, short names (the last part of each path).
pub fn describe(params: &Params) -> String {
    params
        .iter()
        .map(|(p, v)| {
            format!(
                "{}={}",
                p.rsplit('.').next().unwrap_or(p),
                trials_csv::show(v)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}
