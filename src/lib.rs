//! nabla (∇): a deep-learning framework in Rust with Keras's vocabulary, correct gradients,
//! reproducible runs and fast CPU training.
//!
//! ```no_run
//! use nabla::prelude::*;
//!
//! # fn main() -> anyhow::Result<()> {
//! let (train, test) = nabla::datasets::mnist()?;          // embedded 10k digits, 8k/2k
//! let mut model = Sequential::new([28, 28])
//!     .add(Flatten::new())
//!     .add(Dense::new(128).activation(Activation::Relu))
//!     .add(Dropout::new(0.2))
//!     .add(Dense::new(10).activation(Activation::Softmax))
//!     .build(42)?;
//! model.compile(Adam::default(), Loss::SparseCategoricalCrossentropy, &[Metric::Accuracy])?;
//! let history = model.fit(&train, Fit::new().epochs(5).batch_size(32).validation_data(&test))?;
//! let scores = model.evaluate(&test)?;
//! model.save("mnist_mlp.safetensors")?;
//! let same = Model::load("mnist_mlp.safetensors")?;
//! # Ok(()) }
//! ```

pub use nabla_core as core;
pub use nabla_data as data;
pub use nabla_dist as dist;
/// Hugging Face model folders (BERT encoders, sentence-transformers) and tokenizers.
#[cfg(feature = "hub")]
pub use nabla_hub as hub;
pub use nabla_nn as nn;
pub use nabla_train as train;
/// Hyper-parameter search over a spec or any function.
pub use nabla_tune as tune;

/// Built-in datasets, embedded in the binary.
pub mod datasets {
    pub use nabla_data::mnist;
}

/// Everything a training program needs, in one `use`.
pub mod prelude {
    pub use nabla_core::{no_grad, Gradients, Rng, Tensor};
    pub use nabla_data::{DataLoader, Dataset};
    pub use nabla_nn::functional::{Call, Functional, Input, Shared, Sym};
    pub use nabla_nn::generate::Sampling;
    pub use nabla_nn::{
        Activation, ActivationLayer, Adam, AdamW, Add, Average, AvgPool2d, BatchNorm, Concatenate,
        Conv2d, Dense, Dot, Dropout, Flatten, GlobalPool2d, Gru, Initializer, Layer, Loss,
        LossSpec, Lstm, MaxPool2d, Maximum, Metric, Minimum, Model, ModelConfig, Multiply,
        Normalization, Optimizer, Padding, Pool2d, QuantMode, Regularizer, Reshape, Sequential,
        Sgd, SimpleRnn, SubModel, Subtract,
    };
    pub use nabla_train::{Fit, Generate, History, Logs, Spec, Training};
}
