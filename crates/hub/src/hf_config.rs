//! `config.json` of a Hugging Face model folder: the fields nabla reads, by architecture.

use crate::error::{read, Error, Result};
use serde::Deserialize;
use std::path::Path;

/// A BERT encoder's `config.json` (`BertConfig`: MiniLM, BERT-base and the like).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct BertConfig {
    /// Token ids are below this.
    pub vocab_size: usize,
    /// The width of every hidden state.
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// The MLP's hidden width.
    pub intermediate_size: usize,
    /// The MLP's activation (`gelu`: the exact, erf form).
    #[serde(default = "gelu")]
    pub hidden_act: String,
    /// Dropout on the embeddings and each residual branch.
    #[serde(default = "p01")]
    pub hidden_dropout_prob: f32,
    /// Dropout on the attention weights.
    #[serde(default = "p01")]
    pub attention_probs_dropout_prob: f32,
    /// The longest sequence (learned positions).
    #[serde(default = "n512")]
    pub max_position_embeddings: usize,
    /// Token types (segments A and B).
    #[serde(default = "n2")]
    pub type_vocab_size: usize,
    /// The layer norms' ε.
    #[serde(default = "eps")]
    pub layer_norm_eps: f32,
    /// The padding token's id.
    #[serde(default)]
    pub pad_token_id: u32,
    /// Only `absolute` (learned positions) is supported.
    #[serde(default = "absolute")]
    pub position_embedding_type: String,
    /// `BertModel` (the encoder) or `BertForSequenceClassification` (with its pooler and
    /// classifier).
    #[serde(default)]
    pub architectures: Vec<String>,
    /// A classifier's class names by index (`{"0": "negative", ..}`).
    #[serde(default)]
    pub id2label: std::collections::BTreeMap<String, String>,
    /// Dropout before a classifier (default: `hidden_dropout_prob`).
    #[serde(default)]
    pub classifier_dropout: Option<f32>,
}

impl BertConfig {
    /// Whether the folder is a `BertForSequenceClassification`.
    pub fn is_classifier(&self) -> bool {
        self.architectures
            .iter()
            .any(|a| a == "BertForSequenceClassification")
    }

    /// The class names, by index (from `id2label`; `LABEL_i` where it has none).
    pub fn class_names(&self) -> Vec<String> {
        (0..self.id2label.len())
            .map(|i| {
                self.id2label
                    .get(&i.to_string())
                    .cloned()
                    .unwrap_or(format!("LABEL_{i}"))
            })
            .collect()
    }
}

fn gelu() -> String {
    "gelu".into()
}
fn p01() -> f32 {
    0.1
}
fn n512() -> usize {
    512
}
fn n2() -> usize {
    2
}
fn eps() -> f32 {
    1e-12
}
fn absolute() -> String {
    "absolute".into()
}

/// A GPT-2 language model's `config.json` (`GPT2Config`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Gpt2Config {
    /// Token ids are below this.
    pub vocab_size: usize,
    /// The longest sequence (learned positions).
    pub n_positions: usize,
    /// The width of every hidden state.
    pub n_embd: usize,
    /// Blocks.
    pub n_layer: usize,
    /// Attention heads per block.
    pub n_head: usize,
    /// The MLP's hidden width (default 4·n_embd).
    #[serde(default)]
    pub n_inner: Option<usize>,
    /// `gelu_new` (GELU's tanh form, GPT-2's).
    #[serde(default = "gelu_new")]
    pub activation_function: String,
    /// Dropout on each residual branch.
    #[serde(default = "p01")]
    pub resid_pdrop: f32,
    /// Dropout on the embeddings.
    #[serde(default = "p01")]
    pub embd_pdrop: f32,
    /// The layer norms' ε.
    #[serde(default = "eps5")]
    pub layer_norm_epsilon: f32,
    /// The head shares the token embeddings (default true).
    #[serde(default = "yes")]
    pub tie_word_embeddings: bool,
    /// Must be false (not supported).
    #[serde(default)]
    pub scale_attn_by_inverse_layer_idx: bool,
    /// Must be false (not supported).
    #[serde(default)]
    pub reorder_and_upcast_attn: bool,
    /// The end-of-text token.
    #[serde(default)]
    pub eos_token_id: Option<u32>,
}

fn gelu_new() -> String {
    "gelu_new".into()
}
fn eps5() -> f32 {
    1e-5
}
fn yes() -> bool {
    true
}

impl Gpt2Config {
    /// The MLP's hidden width.
    pub fn inner(&self) -> usize {
        self.n_inner.unwrap_or(4 * self.n_embd)
    }

    fn check(&self) -> std::result::Result<(), String> {
        let sizes = [
            ("vocab_size", self.vocab_size, 1 << 24),
            ("n_positions", self.n_positions, 1 << 20),
            ("n_embd", self.n_embd, 1 << 16),
            ("n_layer", self.n_layer, 1024),
            ("n_head", self.n_head, 1024),
            ("n_inner", self.inner(), 1 << 18),
        ];
        for (name, v, max) in sizes {
            if v == 0 || v > max {
                return Err(format!("{name}: expected 1 to {max}, received {v}"));
            }
        }
        if !self.n_embd.is_multiple_of(self.n_head) || !self.inner().is_multiple_of(self.n_embd) {
            return Err(format!(
                "n_embd, n_inner: expected n_embd a multiple of n_head ({}) and n_inner of n_embd, received {}, {}",
                self.n_head,
                self.n_embd,
                self.inner()
            ));
        }
        if !matches!(
            self.activation_function.as_str(),
            "gelu_new" | "gelu_pytorch_tanh"
        ) {
            return Err(format!(
                "activation_function: expected \"gelu_new\", received {:?}",
                self.activation_function
            ));
        }
        if self.scale_attn_by_inverse_layer_idx || self.reorder_and_upcast_attn {
            return Err("scale_attn_by_inverse_layer_idx, reorder_and_upcast_attn: expected false, received true".into());
        }
        Ok(())
    }
}

/// A supported architecture's config.
#[derive(Clone, Debug, PartialEq)]
pub enum HfConfig {
    /// `model_type = "bert"`.
    Bert(BertConfig),
    /// `model_type = "gpt2"`.
    Gpt2(Gpt2Config),
}

impl HfConfig {
    /// Reads `dir/config.json`; an architecture nabla does not build is an error naming it.
    pub fn read(dir: &Path) -> Result<HfConfig> {
        let path = dir.join("config.json");
        let bad = |e: String| Error::Format(format!("{}: {e}", path.display()));
        let v: serde_json::Value =
            serde_json::from_slice(&read(&path)?).map_err(|e| bad(e.to_string()))?;
        let kind = v.get("model_type").and_then(|t| t.as_str()).unwrap_or("");
        match kind {
            "bert" => {
                let c: BertConfig = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
                c.check().map_err(bad)?;
                Ok(HfConfig::Bert(c))
            }
            "gpt2" => {
                let c: Gpt2Config = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
                c.check().map_err(bad)?;
                Ok(HfConfig::Gpt2(c))
            }
            other => Err(bad(format!(
                "model_type: expected \"bert\" or \"gpt2\" (the architectures nabla reads), received {other:?}"
            ))),
        }
    }

    /// How many weights the file must hold for this config (the head tied to the token
    /// embeddings, BERT's pooler left out), to compare with the file before anything of that
    /// size is allocated.
    pub fn weight_count(&self) -> u128 {
        let u = |v: usize| v as u128;
        match self {
            HfConfig::Bert(c) => {
                let (h, i) = (u(c.hidden_size), u(c.intermediate_size));
                let block = 4 * h * h + 4 * h + 2 * h * i + i + h + 4 * h;
                let head = if c.is_classifier() {
                    h * h + h + (h + 1) * u(c.id2label.len())
                } else {
                    0
                };
                (u(c.vocab_size) + u(c.max_position_embeddings) + u(c.type_vocab_size)) * h
                    + 2 * h
                    + u(c.num_hidden_layers) * block
                    + head
            }
            HfConfig::Gpt2(c) => {
                let (e, i) = (u(c.n_embd), u(c.inner()));
                let block = 4 * e * e + 4 * e + 2 * e * i + i + e + 4 * e;
                (u(c.vocab_size) + u(c.n_positions)) * e + 2 * e + u(c.n_layer) * block
            }
        }
    }

    /// The `model_type` it was read from.
    pub fn model_type(&self) -> &'static str {
        match self {
            HfConfig::Bert(_) => "bert",
            HfConfig::Gpt2(_) => "gpt2",
        }
    }
}

impl BertConfig {
    /// Sizes nabla can build (and that cannot ask for absurd memory before weights are read).
    fn check(&self) -> std::result::Result<(), String> {
        let sizes = [
            ("vocab_size", self.vocab_size, 1 << 24),
            ("hidden_size", self.hidden_size, 1 << 16),
            ("num_hidden_layers", self.num_hidden_layers, 1024),
            ("num_attention_heads", self.num_attention_heads, 1024),
            ("intermediate_size", self.intermediate_size, 1 << 18),
            (
                "max_position_embeddings",
                self.max_position_embeddings,
                1 << 20,
            ),
            ("type_vocab_size", self.type_vocab_size, 1 << 16),
        ];
        for (name, v, max) in sizes {
            if v == 0 || v > max {
                return Err(format!("{name}: expected 1 to {max}, received {v}"));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(format!(
                "hidden_size: expected a multiple of num_attention_heads ({}), received {}",
                self.num_attention_heads, self.hidden_size
            ));
        }
        if !self.intermediate_size.is_multiple_of(self.hidden_size) {
            return Err(format!(
                "intermediate_size: expected a multiple of hidden_size ({}), received {}",
                self.hidden_size, self.intermediate_size
            ));
        }
        if self.hidden_act != "gelu" {
            return Err(format!(
                "hidden_act: expected \"gelu\", received {:?}",
                self.hidden_act
            ));
        }
        if self.is_classifier() && !(1..=1 << 16).contains(&self.id2label.len()) {
            return Err(format!(
                "id2label: expected 1 to 65536 classes for BertForSequenceClassification, received {}",
                self.id2label.len()
            ));
        }
        if self.position_embedding_type != "absolute" {
            return Err(format!(
                "position_embedding_type: expected \"absolute\", received {:?}",
                self.position_embedding_type
            ));
        }
        Ok(())
    }
}
