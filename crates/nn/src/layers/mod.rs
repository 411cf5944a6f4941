//! The layers, one file each.

mod activation;
mod dense;
mod dropout;
mod flatten;
mod normalization;

pub use activation::{ActivationConfig, ActivationLayer};
pub use dense::{Dense, DenseConfig};
pub use dropout::{Dropout, DropoutConfig};
pub use flatten::{Flatten, FlattenConfig};
pub use normalization::{Method, Normalization, NormalizationConfig};

fn default_true() -> bool {
    true
}
