//! Hyper-parameter search for nabla: grid, random, Bayesian optimisation (a Gaussian
//! process with expected improvement) and Hyperband over any field of a spec (`[tune]`, `nabla tune`) or
//! over any function of the parameters ([`Tuner::run`]).

pub mod error;
pub mod gp;
pub mod hyperband;
pub mod plot;
pub mod space;
pub mod spec_paths;
pub mod spec_search;
pub mod trials_csv;
pub mod tuner;

pub use error::{Error, Result};
pub use space::{get_f64, Dist, Params, Space};
pub use spec_search::{SpecSearch, TuneConfig};
pub use tuner::{Algorithm, Direction, Outcome, Suggestion, Trial, Tuner};
