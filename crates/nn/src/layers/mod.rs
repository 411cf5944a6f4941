//! The layers, one file each.

mod activation;
mod batch_norm;
mod conv2d;
mod dense;
mod dropout;
mod flatten;
mod global_pool2d;
mod normalization;
mod pool2d;
mod reshape;
mod spatial_dropout;
pub mod window;

pub use activation::{ActivationConfig, ActivationLayer};
pub use batch_norm::{BatchNorm, BatchNormConfig};
pub use conv2d::{Conv2d, Conv2dConfig};
pub use dense::{Dense, DenseConfig};
pub use dropout::{Dropout, DropoutConfig};
pub use flatten::{Flatten, FlattenConfig};
pub use global_pool2d::{GlobalPool2d, GlobalPoolConfig};
pub use normalization::{Method, Normalization, NormalizationConfig};
pub use pool2d::{Pool2d, Pool2dConfig, PoolKind};
pub use reshape::{Reshape, ReshapeConfig};
pub use spatial_dropout::{SpatialDropout2d, SpatialDropoutConfig};
pub use window::{Padding, Pair};

fn default_true() -> bool {
    true
}
