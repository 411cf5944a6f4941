//! nabla (∇): a deep-learning framework in Rust with Keras's vocabulary.
//!
//! ```ignore
//! use nabla::prelude::*;
//! ```

pub use nabla_core as core;
