//! nabla-nn: the `Layer` trait and the layers, activations, losses, optimisers, initialisers,
//! metrics, the `Sequential` model with `summary()`, and save/load in one `.safetensors` file.

pub mod activations;
pub mod budget;
pub mod checkpoint;
pub mod config;
pub mod decode;
pub mod error;
pub mod functional;
pub mod generate;
pub mod gradient_hook;
pub mod graph;
mod graph_checks;
pub mod init;
pub mod layer;
pub mod layers;
pub mod losses;
pub mod metrics;
pub mod model;
mod model_meta;
pub mod named;
mod onnx;
mod onnx_proto;
pub mod optimizers;
pub mod per_output;
pub mod pruning;
pub mod quantize;
pub mod registry;
pub mod regularizers;
pub mod saving;
pub mod schedules;
pub mod sparse_file;
pub mod strip;
mod structured_masks;
pub mod summary;
pub mod testing;
pub mod transfer;

pub use activations::Activation;
pub use config::{InputConfig, InputDtype, LayerConfig, ModelConfig, NodeConfig, PretrainedConfig};
pub use error::{Error, Result};
pub use gradient_hook::GradientHook;
pub use init::Initializer;
pub use layer::{Ctx, Int8Param, Layer, Param};
pub use layers::{
    ActivationLayer, Add, Average, AvgPool2d, BatchNorm, Concatenate, Conv2d, Dense, Dot, Dropout,
    Flatten, GlobalPool2d, Gru, Lstm, MaxPool2d, Maximum, Merge, Minimum, Multiply, Normalization,
    Padding, Pool2d, QuantizedDense, Reshape, SimpleRnn, SubModel, Subtract,
};
pub use losses::{Loss, LossSpec};
pub use metrics::Metric;
pub use model::{CompileConfig, Model, Sequential};
pub use optimizers::{
    Adadelta, Adagrad, Adam, AdamW, Adamax, Clipping, Nadam, OptState, Optimizer, OptimizerConfig,
    RmsProp, Sgd,
};
pub use per_output::PerOutput;
pub use pruning::{PruneConfig, PruneScope, PruneStructure, Pruning};
pub use quantize::QuantMode;
pub use regularizers::Regularizer;
pub use schedules::{Per, Schedule, ScheduleKind};
pub use transfer::LoadReport;
