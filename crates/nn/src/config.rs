//! Serde configs: `LayerConfig` (one variant per layer, tagged by `type`) and `ModelConfig`
//! (the spec's `[model]` table, also stored inside saved models): named inputs, the layers
//! with what each takes, and the outputs.

use crate::error::{Error, Result};
use crate::graph::{Call, Entry, Graph, Ref, Source};
use crate::layer::Layer;
use crate::layers::{
    ActivationConfig, ActivationLayer, AttentionConfig, BatchNorm, BatchNormConfig, Conv1d,
    Conv1dConfig, Conv2d, Conv2dConfig, Dense, DenseConfig, Dropout, DropoutConfig, Embedding,
    EmbeddingConfig, Flatten, FlattenConfig, GlobalPool2d, GlobalPoolConfig, LayerNorm,
    LayerNormConfig, MultiHeadAttention, Normalization, NormalizationConfig, Permute,
    PermuteConfig, Pool1d, Pool1dConfig, Pool2d, Pool2dConfig, PoolKind, QuantizedConv2d,
    QuantizedConv2dConfig, QuantizedDense, QuantizedDenseConfig, QuantizedRecurrent,
    QuantizedRecurrentConfig, Reshape, ReshapeConfig, SpatialDropout2d, SpatialDropoutConfig,
    UnitNormalization, UnitNormalizationConfig, UpSampling2d, UpSampling2dConfig, ZeroPadding2d,
    ZeroPadding2dConfig,
};
use crate::layers::{
    Concatenate, ConcatenateConfig, Dot, DotConfig, Merge, MergeConfig, MergeOp, SharedConfig,
    SubModel, SubModelConfig, Unbuildable,
};
use crate::layers::{Gru, Lstm, RecurrentConfig, SimpleRnn};
use crate::layers::{
    PositionalConfig, PositionalEmbedding, SequencePool, SequencePoolConfig, SequenceReduce,
    TimeDistributed, TimeDistributedConfig, TransformerBlock, TransformerConfig,
};
use crate::model::Model;
use crate::registry::CustomConfig;
use nabla_core::{Rng, RnnCell as Cell};
use serde::{Deserialize, Serialize};

/// A layer's config, tagged by `type` (`{ type = "dense", units = 128 }`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerConfig {
    /// [`Dense`]
    Dense(DenseConfig),
    /// [`QuantizedDense`]: a dense layer after int8 quantisation
    QuantizedDense(QuantizedDenseConfig),
    /// [`QuantizedRecurrent`]: an LSTM stack after int8 quantisation
    QuantizedLstm(QuantizedRecurrentConfig),
    /// [`QuantizedRecurrent`]: a GRU stack after int8 quantisation
    QuantizedGru(QuantizedRecurrentConfig),
    /// [`QuantizedRecurrent`]: a simple RNN stack after int8 quantisation
    QuantizedSimpleRnn(QuantizedRecurrentConfig),
    /// [`QuantizedConv2d`]: a 2-d convolution after static int8 quantisation
    QuantizedConv2d(QuantizedConv2dConfig),
    /// [`ActivationLayer`]
    Activation(ActivationConfig),
    /// [`Dropout`]
    Dropout(DropoutConfig),
    /// [`Flatten`]
    Flatten(FlattenConfig),
    /// [`UnitNormalization`]
    UnitNormalization(UnitNormalizationConfig),
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
    /// [`SequencePool`], the first token (BERT's `[CLS]`)
    FirstToken(SequencePoolConfig),
    /// [`TimeDistributed`]
    TimeDistributed(TimeDistributedConfig),
    /// [`Lstm`]
    Lstm(RecurrentConfig),
    /// [`Gru`]
    Gru(RecurrentConfig),
    /// [`SimpleRnn`]
    SimpleRnn(RecurrentConfig),
    /// [`Merge`], sum
    Add(MergeConfig),
    /// [`Merge`], difference of two
    Subtract(MergeConfig),
    /// [`Merge`], product
    Multiply(MergeConfig),
    /// [`Merge`], mean
    Average(MergeConfig),
    /// [`Merge`], maximum
    Maximum(MergeConfig),
    /// [`Merge`], minimum
    Minimum(MergeConfig),
    /// [`Concatenate`]
    Concatenate(ConcatenateConfig),
    /// [`Dot`]
    Dot(DotConfig),
    /// [`SubModel`]: a whole model used as one layer
    Model(SubModelConfig),
    /// Another call of an earlier layer of the model graph, sharing its weights
    Shared(SharedConfig),
    /// A layer type registered by user code ([`crate::registry`]): in a spec its own `type`
    /// (see [`layer_config`]), saved as `{ type = "custom", registered_name = .., ..fields }`
    Custom(CustomConfig),
}

/// Reads a layer config: a registered custom `type`, else one of ours (the derived
/// deserialiser, whose errors list our types and name missing or unknown fields).
pub fn layer_config<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<LayerConfig, D::Error> {
    use serde::de::Error as _;
    let mut v = serde_json::Value::deserialize(d)?;
    let registered = v
        .get("type")
        .and_then(|t| t.as_str())
        .filter(|t| crate::registry::is_registered(t));
    if let Some(t) = registered.map(str::to_string) {
        if let Some(m) = v.as_object_mut() {
            m.insert("type".into(), "custom".into());
            m.insert("registered_name".into(), t.into());
        }
    }
    serde_json::from_value(v).map_err(D::Error::custom)
}

/// The `type` names of nabla's layers (a custom layer may use none of them).
pub const LAYER_TYPES: &[&str] = &[
    "dense",
    "quantized_dense",
    "quantized_lstm",
    "quantized_gru",
    "quantized_simple_rnn",
    "quantized_conv2d",
    "activation",
    "dropout",
    "flatten",
    "unit_normalization",
    "normalization",
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "global_avg_pool2d",
    "global_max_pool2d",
    "reshape",
    "batch_norm",
    "spatial_dropout2d",
    "conv1d",
    "max_pool1d",
    "avg_pool1d",
    "zero_padding2d",
    "up_sampling2d",
    "permute",
    "layer_norm",
    "rms_norm",
    "embedding",
    "multi_head_attention",
    "positional_embedding",
    "transformer_block",
    "global_avg_pool1d",
    "global_max_pool1d",
    "last_step",
    "first_token",
    "time_distributed",
    "lstm",
    "gru",
    "simple_rnn",
    "add",
    "subtract",
    "multiply",
    "average",
    "maximum",
    "minimum",
    "concatenate",
    "dot",
    "model",
    "shared",
    "custom",
];

impl LayerConfig {
    /// The (unbuilt) layer.
    pub fn into_layer(self) -> Box<dyn Layer> {
        match self {
            LayerConfig::Dense(c) => Box::new(Dense::from_config(c)),
            LayerConfig::QuantizedDense(c) => Box::new(QuantizedDense::from_config(c)),
            LayerConfig::QuantizedLstm(c) => {
                Box::new(QuantizedRecurrent::from_config(c, Cell::Lstm))
            }
            LayerConfig::QuantizedGru(c) => Box::new(QuantizedRecurrent::from_config(c, Cell::Gru)),
            LayerConfig::QuantizedSimpleRnn(c) => {
                Box::new(QuantizedRecurrent::from_config(c, Cell::RnnTanh))
            }
            LayerConfig::QuantizedConv2d(c) => Box::new(QuantizedConv2d::from_config(c)),
            LayerConfig::Activation(c) => Box::new(ActivationLayer::from_config(c)),
            LayerConfig::Dropout(c) => Box::new(Dropout::from_config(c)),
            LayerConfig::Flatten(c) => Box::new(Flatten::from_config(c)),
            LayerConfig::UnitNormalization(c) => Box::new(UnitNormalization::from_config(c)),
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
            LayerConfig::FirstToken(c) => {
                Box::new(SequencePool::from_config(SequenceReduce::First, c))
            }
            LayerConfig::LastStep(c) => {
                Box::new(SequencePool::from_config(SequenceReduce::Last, c))
            }
            LayerConfig::TimeDistributed(c) => Box::new(TimeDistributed::from_config(c)),
            LayerConfig::Lstm(c) => Box::new(Lstm::from_config(c)),
            LayerConfig::Gru(c) => Box::new(Gru::from_config(c)),
            LayerConfig::SimpleRnn(c) => Box::new(SimpleRnn::from_config(c)),
            LayerConfig::Add(c) => Box::new(Merge::from_config(MergeOp::Add, c)),
            LayerConfig::Subtract(c) => Box::new(Merge::from_config(MergeOp::Subtract, c)),
            LayerConfig::Multiply(c) => Box::new(Merge::from_config(MergeOp::Multiply, c)),
            LayerConfig::Average(c) => Box::new(Merge::from_config(MergeOp::Average, c)),
            LayerConfig::Maximum(c) => Box::new(Merge::from_config(MergeOp::Maximum, c)),
            LayerConfig::Minimum(c) => Box::new(Merge::from_config(MergeOp::Minimum, c)),
            LayerConfig::Concatenate(c) => Box::new(Concatenate::from_config(c)),
            LayerConfig::Dot(c) => Box::new(Dot::from_config(c)),
            LayerConfig::Model(c) => Box::new(SubModel::from_config(c)),
            LayerConfig::Shared(c) => {
                let why = Error::config(
                    format!("layer type 'shared' (of '{}')", c.layer),
                    "it only as an entry of a model's layers, where it repeats an earlier layer",
                    "it inside another layer",
                );
                Box::new(Unbuildable::new(LayerConfig::Shared(c), why))
            }
            LayerConfig::Custom(c) => match c.make() {
                Ok(l) => l,
                Err(e) => Box::new(Unbuildable::new(LayerConfig::Custom(c), e)),
            },
        }
    }

    /// A custom layer's config: its registered `type` and `cfg`'s fields.
    pub fn custom(type_name: &str, cfg: &impl Serialize) -> LayerConfig {
        let fields = match serde_json::to_value(cfg) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(), // a config that is not a struct carries no fields
        };
        LayerConfig::Custom(CustomConfig {
            type_name: type_name.to_string(),
            fields,
        })
    }

    /// The `type` name (`"dense"`).
    pub fn type_name(&self) -> &str {
        match self {
            LayerConfig::Dense(_) => "dense",
            LayerConfig::QuantizedDense(_) => "quantized_dense",
            LayerConfig::QuantizedLstm(_) => "quantized_lstm",
            LayerConfig::QuantizedGru(_) => "quantized_gru",
            LayerConfig::QuantizedSimpleRnn(_) => "quantized_simple_rnn",
            LayerConfig::QuantizedConv2d(_) => "quantized_conv2d",
            LayerConfig::Activation(_) => "activation",
            LayerConfig::Dropout(_) => "dropout",
            LayerConfig::Flatten(_) => "flatten",
            LayerConfig::UnitNormalization(_) => "unit_normalization",
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
            LayerConfig::FirstToken(_) => "first_token",
            LayerConfig::TimeDistributed(_) => "time_distributed",
            LayerConfig::Lstm(_) => "lstm",
            LayerConfig::Gru(_) => "gru",
            LayerConfig::SimpleRnn(_) => "simple_rnn",
            LayerConfig::Add(_) => "add",
            LayerConfig::Subtract(_) => "subtract",
            LayerConfig::Multiply(_) => "multiply",
            LayerConfig::Average(_) => "average",
            LayerConfig::Maximum(_) => "maximum",
            LayerConfig::Minimum(_) => "minimum",
            LayerConfig::Concatenate(_) => "concatenate",
            LayerConfig::Dot(_) => "dot",
            LayerConfig::Model(_) => "model",
            LayerConfig::Shared(_) => "shared",
            LayerConfig::Custom(c) => &c.type_name,
        }
    }
}

/// What kind of values a model input holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputDtype {
    /// Real numbers (the default).
    #[default]
    Float,
    /// Whole numbers such as token ids (checked before every pass; stored as f32).
    Int,
}

/// A named model input (Keras's `keras.Input(shape, name, dtype)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// The name layers and data refer to it by.
    pub name: String,
    /// Shape of one sample, without the batch axis.
    pub shape: Vec<usize>,
    /// `"float"` (default) or `"int"` (token ids).
    #[serde(default, skip_serializing_if = "is_float")]
    pub dtype: InputDtype,
}

fn is_float(d: &InputDtype) -> bool {
    *d == InputDtype::Float
}

impl InputConfig {
    /// A float input.
    pub fn new(name: &str, shape: impl Into<Vec<usize>>) -> InputConfig {
        InputConfig {
            name: name.to_string(),
            shape: shape.into(),
            dtype: InputDtype::Float,
        }
    }
}

/// The name of the one input of a model given by `input_shape`.
pub const DEFAULT_INPUT: &str = "input";

/// One layer of a model and what it takes (`inputs = ["conv_2", "block_1"]`: names of
/// inputs or earlier layers; none: the layer before it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeConfig {
    /// The layer (`type` and its fields).
    #[serde(flatten, deserialize_with = "layer_config")]
    pub layer: LayerConfig,
    /// What the layer takes, by name (default: the layer before it, or the first input).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
}

impl From<LayerConfig> for NodeConfig {
    fn from(layer: LayerConfig) -> NodeConfig {
        NodeConfig {
            layer,
            inputs: Vec::new(),
        }
    }
}

/// A model's architecture: its inputs (`input_shape` for one unnamed input, or named
/// `inputs`), its layers and what each takes, and its outputs (default: the last layer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Shape of one sample of the single input, without the batch axis (`[28, 28]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_shape: Vec<usize>,
    /// Named inputs instead of `input_shape`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputConfig>,
    /// The layers, in order.
    pub layers: Vec<NodeConfig>,
    /// Names of the layers (or inputs) whose values the model returns (default: the last).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<String>,
    /// A pretrained Hugging Face encoder the layers build on (a spec's; built by
    /// nabla-train with the `hub` feature, as a layer called `encoder`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<PretrainedConfig>,
}

/// `[model] pretrained = { path = "DIR", max_length = 128, freeze_blocks = 0 }`: a Hugging
/// Face folder whose encoder becomes the model's layer `encoder`, its inputs the model's
/// (`input_ids`, `token_type_ids`, `attention_mask`, each `[max_length]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainedConfig {
    /// The model folder.
    pub path: std::path::PathBuf,
    /// Tokens per text: longer texts are cut, shorter ones padded (default 128).
    #[serde(default = "n128")]
    pub max_length: usize,
    /// The embeddings and the first N encoder blocks are frozen (default 0: none).
    #[serde(default)]
    pub freeze_blocks: usize,
}

fn n128() -> usize {
    128
}

impl ModelConfig {
    /// A sequential model's config: one input of `input_shape`, each layer taking the last.
    pub fn sequential(input_shape: impl Into<Vec<usize>>, layers: Vec<LayerConfig>) -> ModelConfig {
        ModelConfig {
            input_shape: input_shape.into(),
            inputs: Vec::new(),
            layers: layers.into_iter().map(NodeConfig::from).collect(),
            outputs: Vec::new(),
            pretrained: None,
        }
    }

    /// Builds the model, initialising its weights from `seed`.
    pub fn build(&self, seed: u64) -> Result<Model> {
        let mut root = Rng::new(seed);
        let mut init_rng = root.fork();
        let graph = self.build_graph(&mut init_rng)?;
        Ok(Model::from_graph(graph, seed, root.fork()))
    }

    /// The inputs: `input_shape` as one input called `input`, or the named `inputs`.
    pub fn input_configs(&self) -> Result<Vec<InputConfig>> {
        match (self.input_shape.is_empty(), self.inputs.is_empty()) {
            (false, true) => Ok(vec![InputConfig::new(
                DEFAULT_INPUT,
                self.input_shape.clone(),
            )]),
            (true, false) => Ok(self.inputs.clone()),
            (false, false) => Err(Error::config(
                "model",
                "either input_shape or inputs",
                "both",
            )),
            (true, true) => Err(Error::config(
                "model",
                "input_shape = [..] or inputs = [{ name, shape }]",
                "neither",
            )),
        }
    }

    /// The graph of this config, its weights drawn from `rng`.
    pub fn build_graph(&self, rng: &mut Rng) -> Result<Graph> {
        if self.pretrained.is_some() {
            return Err(Error::config(
                "model.pretrained",
                "a spec built by nabla-train with the hub feature (Spec::build_model)",
                "a config built directly",
            ));
        }
        let entries = self
            .layers
            .iter()
            .map(|n| {
                let inputs = n.inputs.iter().map(|s| Ref::Name(s.clone())).collect();
                match &n.layer {
                    LayerConfig::Shared(c) => Entry {
                        call: Call::Again(Ref::Name(c.layer.clone())),
                        name: c.name.clone(),
                        inputs,
                    },
                    other => Entry {
                        call: Call::Layer(other.clone().into_layer()),
                        name: None,
                        inputs,
                    },
                }
            })
            .collect();
        let outputs = self.outputs.iter().map(|s| Ref::Name(s.clone())).collect();
        Graph::build(self.input_configs()?, entries, outputs, rng)
    }
}

impl Graph {
    /// The config that rebuilds this graph: `input_shape` and a plain layer list for a
    /// chain, else the inputs, each layer with what it takes, and the outputs.
    pub fn config(&self) -> ModelConfig {
        let simple_input = self.inputs.len() == 1
            && self.inputs[0].name == DEFAULT_INPUT
            && self.inputs[0].dtype == InputDtype::Float;
        let mut first_call = vec![true; self.layers.len()];
        let layers = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let layer = if std::mem::take(&mut first_call[n.layer]) {
                    self.layers[n.layer].config()
                } else {
                    LayerConfig::Shared(SharedConfig {
                        layer: self.layers[n.layer].name().to_string(),
                        name: Some(n.name.clone()),
                    })
                };
                let prev = if i == 0 {
                    Source::Input(0)
                } else {
                    Source::Node(i - 1)
                };
                let inputs = if n.inputs == [prev] {
                    Vec::new()
                } else {
                    n.inputs
                        .iter()
                        .map(|&s| self.source_name(s).to_string())
                        .collect()
                };
                NodeConfig { layer, inputs }
            })
            .collect();
        let last = Source::Node(self.nodes.len() - 1);
        ModelConfig {
            input_shape: if simple_input {
                self.inputs[0].shape.clone()
            } else {
                Vec::new()
            },
            inputs: if simple_input {
                Vec::new()
            } else {
                self.inputs.clone()
            },
            layers,
            outputs: if self.outputs == [last] {
                Vec::new()
            } else {
                (0..self.outputs.len())
                    .map(|i| self.output_name(i).to_string())
                    .collect()
            },
            pretrained: None,
        }
    }
}
