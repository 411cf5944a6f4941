//! The layers, one file each.

mod activation;
mod dense;
mod dropout;
mod flatten;

pub use activation::{ActivationConfig, ActivationLayer};
pub use dense::{Dense, DenseConfig};
pub use dropout::{Dropout, DropoutConfig};
pub use flatten::{Flatten, FlattenConfig};

fn default_true() -> bool {
    true
}
