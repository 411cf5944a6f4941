//! The layers, one file each.

mod activation;
mod attention;
mod batch_norm;
mod conv1d;
pub(crate) mod conv2d;
mod dense;
mod dropout;
mod embedding;
mod flatten;
mod global_pool2d;
mod layer_norm;
mod merge;
mod normalization;
mod permute;
mod pool1d;
mod pool2d;
mod positional;
pub(crate) mod quantized_conv2d;
mod quantized_dense;
mod quantized_recurrent;
mod recurrent;
mod reshape;
mod sequence_pool;
mod shared;
mod spatial_dropout;
mod sub_model;
mod time_distributed;
mod transformer;
mod unbuildable;
mod unit_normalization;
mod upsampling2d;
pub mod window;
mod zero_padding2d;

pub use activation::{ActivationConfig, ActivationLayer};
pub use attention::{AttentionConfig, MultiHeadAttention};
pub use batch_norm::{BatchNorm, BatchNormConfig};
pub use conv1d::{Conv1d, Conv1dConfig};
pub use conv2d::{Conv2d, Conv2dConfig};
pub use dense::{Dense, DenseConfig};
pub use dropout::{Dropout, DropoutConfig};
pub use embedding::{Embedding, EmbeddingConfig};
pub use flatten::{Flatten, FlattenConfig};
pub use global_pool2d::{GlobalPool2d, GlobalPoolConfig};
pub use layer_norm::{LayerNorm, LayerNormConfig};
pub use merge::{
    Add, Average, Axes, Concatenate, ConcatenateConfig, Dot, DotConfig, Maximum, Merge,
    MergeConfig, MergeOp, Minimum, Multiply, Subtract,
};
pub use normalization::{Method, Normalization, NormalizationConfig};
pub use permute::{Permute, PermuteConfig};
pub use pool1d::{Pool1d, Pool1dConfig};
pub use pool2d::{AvgPool2d, MaxPool2d, Pool2d, Pool2dConfig, PoolKind};
pub use positional::{PositionKind, PositionalConfig, PositionalEmbedding};
pub use quantized_conv2d::{QuantizedConv2d, QuantizedConv2dConfig};
pub use quantized_dense::{QuantizedDense, QuantizedDenseConfig};
pub use quantized_recurrent::{QuantizedRecurrent, QuantizedRecurrentConfig};
pub use recurrent::{
    CellKind, Gru, GruCell, Lstm, LstmCell, Recurrent, RecurrentConfig, RnnState, SimpleRnn,
    SimpleRnnCell,
};
pub use reshape::{Reshape, ReshapeConfig};
pub use sequence_pool::{SequencePool, SequencePoolConfig, SequenceReduce};
pub use shared::SharedConfig;
pub use spatial_dropout::{SpatialDropout2d, SpatialDropoutConfig};
pub use sub_model::{SubModel, SubModelConfig};
pub use time_distributed::{TimeDistributed, TimeDistributedConfig};
pub use transformer::{TransformerBlock, TransformerConfig};
pub use unbuildable::Unbuildable;
pub use unit_normalization::{UnitNormalization, UnitNormalizationConfig};
pub use upsampling2d::{UpSampling2d, UpSampling2dConfig, UpsampleMode};
pub use window::{Padding, Padding1d, Pair};
pub use zero_padding2d::{Sides, ZeroPadding2d, ZeroPadding2dConfig};

fn default_true() -> bool {
    true
}

/// A layer config from its required fields, every other field at its default: the defaults
/// are written once, in the config's serde attributes, which the spec and the saved model
/// read too.
///
/// # Panics
/// If `required` lacks a required field of `C` (a bug here, met by the first test that
/// builds the layer).
fn with_defaults<C: serde::de::DeserializeOwned>(required: serde_json::Value) -> C {
    serde_json::from_value(required).unwrap_or_else(|e| panic!("a layer config's defaults: {e}"))
}
