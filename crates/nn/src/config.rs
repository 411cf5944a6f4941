//! Serde configs: `LayerConfig` (one variant per layer, tagged by `type`) and `ModelConfig`
//! (the spec's `[model]` table, also stored inside saved models).

use crate::error::Result;
use crate::layer::Layer;
use crate::layers::{
    ActivationConfig, ActivationLayer, AttentionConfig, BatchNorm, BatchNormConfig, Conv1d,
    Conv1dConfig, Conv2d, Conv2dConfig, Dense, DenseConfig, Dropout, DropoutConfig, Embedding,
    EmbeddingConfig, Flatten, FlattenConfig, GlobalPool2d, GlobalPoolConfig, LayerNorm,
    LayerNormConfig, MultiHeadAttention, Normalization, NormalizationConfig, Permute,
    PermuteConfig, Pool1d, Pool1dConfig, Pool2d, Pool2dConfig, PoolKind, Reshape, ReshapeConfig,
    SpatialDropout2d, SpatialDropoutConfig, UpSampling2d, UpSampling2dConfig, ZeroPadding2d,
    ZeroPadding2dConfig,
};
use crate::layers::{
    PositionalConfig, PositionalEmbedding, SequencePool, SequencePoolConfig, SequenceReduce,
    TimeDistributed, TimeDistributedConfig, TransformerBlock, TransformerConfig,
};
use crate::layers::{Recurrent, RecurrentConfig};
use crate::model::{Model, Sequential};
use nabla_core::RnnCell;
use serde::{Deserialize, Serialize};

/// A layer's config, tagged by `type` (`{ type = "dense", units = 128 }`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerConfig {
    /// [`Dense`]
    Dense(DenseConfig),
    /// [`ActivationLayer`]
    Activation(ActivationConfig),
    /// [`Dropout`]
    Dropout(DropoutConfig),
    /// [`Flatten`]
    Flatten(FlattenConfig),
    /// [`Normalization`]
    Normalization(NormalizationConfig),
    /// [`Conv2d`]
    Conv2d(Conv2dConfig),
    /// [`Pool2d`], maximum
    MaxPool2d(Pool2dConfig),
    /// [`Pool2d`], mean
    AvgPool2d(Pool2dConfig),
    /// [`GlobalPool2d`], mean
    GlobalAvgPool2d(GlobalPoolConfig),
    /// [`GlobalPool2d`], maximum
    GlobalMaxPool2d(GlobalPoolConfig),
    /// [`Reshape`]
    Reshape(ReshapeConfig),
    /// [`BatchNorm`]
    BatchNorm(BatchNormConfig),
    /// [`SpatialDropout2d`]
    #[serde(rename = "spatial_dropout2d")]
    SpatialDropout2d(SpatialDropoutConfig),
    /// [`Conv1d`]
    Conv1d(Conv1dConfig),
    /// [`Pool1d`], maximum
    MaxPool1d(Pool1dConfig),
    /// [`Pool1d`], mean
    AvgPool1d(Pool1dConfig),
    /// [`ZeroPadding2d`]
    #[serde(rename = "zero_padding2d")]
    ZeroPadding2d(ZeroPadding2dConfig),
    /// [`UpSampling2d`]
    #[serde(rename = "up_sampling2d", alias = "upsampling2d")]
    UpSampling2d(UpSampling2dConfig),
    /// [`Permute`]
    Permute(PermuteConfig),
    /// [`LayerNorm`]
    LayerNorm(LayerNormConfig),
    /// [`LayerNorm`], RMS
    RmsNorm(LayerNormConfig),
    /// [`Embedding`]
    Embedding(EmbeddingConfig),
    /// [`MultiHeadAttention`]
    MultiHeadAttention(AttentionConfig),
    /// [`PositionalEmbedding`]
    PositionalEmbedding(PositionalConfig),
    /// [`TransformerBlock`]
    TransformerBlock(TransformerConfig),
    /// [`SequencePool`], mean over time
    #[serde(rename = "global_avg_pool1d")]
    GlobalAvgPool1d(SequencePoolConfig),
    /// [`SequencePool`], maximum over time
    #[serde(rename = "global_max_pool1d")]
    GlobalMaxPool1d(SequencePoolConfig),
    /// [`SequencePool`], the last step
    LastStep(SequencePoolConfig),
    /// [`TimeDistributed`]
    TimeDistributed(TimeDistributedConfig),
    /// [`Recurrent`], LSTM cells
    Lstm(RecurrentConfig),
    /// [`Recurrent`], GRU cells
    Gru(RecurrentConfig),
    /// [`Recurrent`], plain RNN cells
    SimpleRnn(RecurrentConfig),
}

impl LayerConfig {
    /// The (unbuilt) layer.
    pub fn into_layer(self) -> Box<dyn Layer> {
        match self {
            LayerConfig::Dense(c) => Box::new(Dense::from_config(c)),
            LayerConfig::Activation(c) => Box::new(ActivationLayer::from_config(c)),
            LayerConfig::Dropout(c) => Box::new(Dropout::from_config(c)),
            LayerConfig::Flatten(c) => Box::new(Flatten::from_config(c)),
            LayerConfig::Normalization(c) => Box::new(Normalization::from_config(c)),
            LayerConfig::Conv2d(c) => Box::new(Conv2d::from_config(c)),
            LayerConfig::MaxPool2d(c) => Box::new(Pool2d::from_config(PoolKind::Max, c)),
            LayerConfig::AvgPool2d(c) => Box::new(Pool2d::from_config(PoolKind::Avg, c)),
            LayerConfig::GlobalAvgPool2d(c) => {
                Box::new(GlobalPool2d::from_config(PoolKind::Avg, c))
            }
            LayerConfig::GlobalMaxPool2d(c) => {
                Box::new(GlobalPool2d::from_config(PoolKind::Max, c))
            }
            LayerConfig::Reshape(c) => Box::new(Reshape::from_config(c)),
            LayerConfig::BatchNorm(c) => Box::new(BatchNorm::from_config(c)),
            LayerConfig::SpatialDropout2d(c) => Box::new(SpatialDropout2d::from_config(c)),
            LayerConfig::Conv1d(c) => Box::new(Conv1d::from_config(c)),
            LayerConfig::MaxPool1d(c) => Box::new(Pool1d::from_config(PoolKind::Max, c)),
            LayerConfig::AvgPool1d(c) => Box::new(Pool1d::from_config(PoolKind::Avg, c)),
            LayerConfig::ZeroPadding2d(c) => Box::new(ZeroPadding2d::from_config(c)),
            LayerConfig::UpSampling2d(c) => Box::new(UpSampling2d::from_config(c)),
            LayerConfig::Permute(c) => Box::new(Permute::from_config(c)),
            LayerConfig::LayerNorm(c) => Box::new(LayerNorm::from_config(c, false)),
            LayerConfig::RmsNorm(c) => Box::new(LayerNorm::from_config(c, true)),
            LayerConfig::Embedding(c) => Box::new(Embedding::from_config(c)),
            LayerConfig::MultiHeadAttention(c) => Box::new(MultiHeadAttention::from_config(c)),
            LayerConfig::PositionalEmbedding(c) => Box::new(PositionalEmbedding::from_config(c)),
            LayerConfig::TransformerBlock(c) => Box::new(TransformerBlock::from_config(c)),
            LayerConfig::GlobalAvgPool1d(c) => {
                Box::new(SequencePool::from_config(SequenceReduce::Mean, c))
            }
            LayerConfig::GlobalMaxPool1d(c) => {
                Box::new(SequencePool::from_config(SequenceReduce::Max, c))
            }
            LayerConfig::LastStep(c) => {
                Box::new(SequencePool::from_config(SequenceReduce::Last, c))
            }
            LayerConfig::TimeDistributed(c) => Box::new(TimeDistributed::from_config(c)),
            LayerConfig::Lstm(c) => Box::new(Recurrent::from_config(RnnCell::Lstm, c)),
            LayerConfig::Gru(c) => Box::new(Recurrent::from_config(RnnCell::Gru, c)),
            LayerConfig::SimpleRnn(c) => Box::new(Recurrent::from_config(RnnCell::RnnTanh, c)),
        }
    }

    /// The `type` name (`"dense"`).
    pub fn type_name(&self) -> &'static str {
        match self {
            LayerConfig::Dense(_) => "dense",
            LayerConfig::Activation(_) => "activation",
            LayerConfig::Dropout(_) => "dropout",
            LayerConfig::Flatten(_) => "flatten",
            LayerConfig::Normalization(_) => "normalization",
            LayerConfig::Conv2d(_) => "conv2d",
            LayerConfig::MaxPool2d(_) => "max_pool2d",
            LayerConfig::AvgPool2d(_) => "avg_pool2d",
            LayerConfig::GlobalAvgPool2d(_) => "global_avg_pool2d",
            LayerConfig::GlobalMaxPool2d(_) => "global_max_pool2d",
            LayerConfig::Reshape(_) => "reshape",
            LayerConfig::BatchNorm(_) => "batch_norm",
            LayerConfig::SpatialDropout2d(_) => "spatial_dropout2d",
            LayerConfig::Conv1d(_) => "conv1d",
            LayerConfig::MaxPool1d(_) => "max_pool1d",
            LayerConfig::AvgPool1d(_) => "avg_pool1d",
            LayerConfig::ZeroPadding2d(_) => "zero_padding2d",
            LayerConfig::UpSampling2d(_) => "up_sampling2d",
            LayerConfig::Permute(_) => "permute",
            LayerConfig::LayerNorm(_) => "layer_norm",
            LayerConfig::RmsNorm(_) => "rms_norm",
            LayerConfig::Embedding(_) => "embedding",
            LayerConfig::MultiHeadAttention(_) => "multi_head_attention",
            LayerConfig::PositionalEmbedding(_) => "positional_embedding",
            LayerConfig::TransformerBlock(_) => "transformer_block",
            LayerConfig::GlobalAvgPool1d(_) => "global_avg_pool1d",
            LayerConfig::GlobalMaxPool1d(_) => "global_max_pool1d",
            LayerConfig::LastStep(_) => "last_step",
            LayerConfig::TimeDistributed(_) => "time_distributed",
            LayerConfig::Lstm(_) => "lstm",
            LayerConfig::Gru(_) => "gru",
            LayerConfig::SimpleRnn(_) => "simple_rnn",
        }
    }
}

/// A sequential model's architecture: per-sample input shape and its layers in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Shape of one sample, without the batch axis (`[28, 28]`).
    pub input_shape: Vec<usize>,
    /// The layers, first to last.
    pub layers: Vec<LayerConfig>,
}

impl ModelConfig {
    /// Builds the model, initialising its weights from `seed`.
    pub fn build(&self, seed: u64) -> Result<Model> {
        let mut seq = Sequential::new(self.input_shape.clone());
        for l in &self.layers {
            seq = seq.add_boxed(l.clone().into_layer());
        }
        seq.build(seed)
    }
}
