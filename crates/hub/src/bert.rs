//! BERT (`BertModel`, `BertForSequenceClassification`) as a nabla functional model, and its
//! Hugging Face weights put in place.
//!
//! ```text
//! inputs: input_ids, token_type_ids, attention_mask      (each [time], integers)
//! x = LayerNorm(word[input_ids] + position[0..time] + token_type[token_type_ids])
//! x = block_i(x, attention_mask)   for i in 0..layers     (post-norm transformer blocks:
//!     x = LN(x + attn(x)),  y = LN(x + W2·gelu(W1·x)), padded keys masked out)
//! output: the last hidden state [time, hidden]
//! classifier: logits = W_c · dropout(tanh(W_p · x[first token] + b_p)) + b_c
//! ```
//!
//! Weight names: `embeddings.word_embeddings.weight` → `word_embeddings.embeddings`,
//! `encoder.layer.{i}.attention.self.query.weight` → `layer_{i}.attn/query/kernel`
//! (transposed: PyTorch's `Linear` is `[out, in]`, nabla's `[in, out]`), and so on (see
//! [`places`]). `pooler.*` (BertModel's pooler) is known and not used by the encoder alone;
//! a classifier's `id2label` names become the model's class names.

use crate::error::{Error, Result};
use crate::hf_config::BertConfig;
use crate::weights::Stored;
use crate::weights::{Place, Take};
use nabla_nn::functional::{Functional, Input, Shared, Sym};
use nabla_nn::{LayerConfig, Model};
use serde_json::json;
use std::collections::BTreeMap;

/// A layer from its spec table (the same form a spec file writes).
pub(crate) fn layer(table: serde_json::Value) -> Result<Shared> {
    let cfg: LayerConfig = serde_json::from_value(table)
        .map_err(|e| Error::Format(format!("a BERT layer's config: {e}")))?;
    Ok(Shared::boxed(cfg.into_layer()))
}

/// The encoder for sequences of up to `time` tokens (at most `max_position_embeddings`),
/// with freshly initialised weights.
pub fn build(c: &BertConfig, time: usize, seed: u64) -> Result<Model> {
    let (inputs, mut x) = encoder(c, time)?;
    if c.is_classifier() {
        x = classifier(c, &x)?;
    }
    let [ids, types, mask] = &inputs;
    let mut model = Functional::new([ids, types, mask], [&x]).build(seed)?;
    if c.is_classifier() {
        model.set_class_names(c.class_names());
    }
    Ok(model)
}

/// `BertForSequenceClassification`'s head on the last hidden state: the pooler (the first
/// token through a tanh dense layer), dropout, a linear classifier; logits out.
fn classifier(c: &BertConfig, x: &Sym) -> Result<Sym> {
    let cls = layer(json!({"type": "first_token", "name": "cls"}))?.call(x);
    let pooled = layer(
        json!({"type": "dense", "units": c.hidden_size, "activation": "tanh",
        "name": "pooler"}),
    )?
    .call(&cls);
    let rate = c.classifier_dropout.unwrap_or(c.hidden_dropout_prob);
    let dropped = layer(json!({"type": "dropout", "rate": rate, "name": "classifier_dropout"}))?
        .call(&pooled);
    Ok(
        layer(json!({"type": "dense", "units": c.id2label.len(), "name": "classifier"}))?
            .call(&dropped),
    )
}

/// The encoder's inputs (`input_ids`, `token_type_ids`, `attention_mask`) and its last
/// hidden state, to build on.
pub fn encoder(c: &BertConfig, time: usize) -> Result<([Sym; 3], Sym)> {
    let time = time.min(c.max_position_embeddings);
    let h = c.hidden_size;
    let ids = Input::int("input_ids", [time]);
    let types = Input::int("token_type_ids", [time]);
    let mask = Input::int("attention_mask", [time]);
    let emb = |name: &str, n: usize| {
        layer(json!({"type": "embedding", "input_dim": n, "output_dim": h, "name": name}))
    };
    let words = emb("word_embeddings", c.vocab_size)?.call(&ids);
    let positions = layer(json!({"type": "positional_embedding",
        "max_length": c.max_position_embeddings, "name": "position_embeddings"}))?
    .call(&words);
    let segments = emb("token_type_embeddings", c.type_vocab_size)?.call(&types);
    let mut x: Sym =
        layer(json!({"type": "add", "name": "embeddings_sum"}))?.call([&positions, &segments]);
    x = layer(
        json!({"type": "layer_norm", "epsilon": c.layer_norm_eps, "name": "embeddings_norm"}),
    )?
    .call(&x);
    x = layer(
        json!({"type": "dropout", "rate": c.hidden_dropout_prob, "name": "embeddings_dropout"}),
    )?
    .call(&x);
    for i in 0..c.num_hidden_layers {
        x = layer(json!({
            "type": "transformer_block",
            "num_heads": c.num_attention_heads,
            "mlp_ratio": c.intermediate_size / h,
            "activation": "gelu",
            "dropout": c.hidden_dropout_prob,
            "norm_first": false,
            "epsilon": c.layer_norm_eps,
            "name": format!("layer_{i}"),
        }))?
        .call([&x, &mask]);
    }
    Ok(([ids, types, mask], x))
}

/// Where each nabla weight comes from (`Linear` weights transposed).
pub fn places(c: &BertConfig) -> Vec<Place> {
    let p = |ours: String, theirs: String, take: Take| Place { ours, theirs, take };
    let mut v: Vec<Place> = [
        (
            "word_embeddings.embeddings",
            "embeddings.word_embeddings.weight",
        ),
        (
            "position_embeddings.positions",
            "embeddings.position_embeddings.weight",
        ),
        (
            "token_type_embeddings.embeddings",
            "embeddings.token_type_embeddings.weight",
        ),
        ("embeddings_norm.gamma", "embeddings.LayerNorm.weight"),
        ("embeddings_norm.beta", "embeddings.LayerNorm.bias"),
    ]
    .into_iter()
    .map(|(a, b)| p(a.into(), b.into(), Take::Same))
    .collect();
    if c.is_classifier() {
        for (ours, theirs) in [("pooler", "pooler.dense"), ("classifier", "classifier")] {
            v.push(p(
                format!("{ours}.kernel"),
                format!("{theirs}.weight"),
                Take::Transposed,
            ));
            v.push(p(
                format!("{ours}.bias"),
                format!("{theirs}.bias"),
                Take::Same,
            ));
        }
    }
    for i in 0..c.num_hidden_layers {
        let hf = format!("encoder.layer.{i}.");
        for (ours, theirs) in [
            ("attn/query", "attention.self.query"),
            ("attn/key", "attention.self.key"),
            ("attn/value", "attention.self.value"),
            ("attn/output", "attention.output.dense"),
            ("mlp1", "intermediate.dense"),
            ("mlp2", "output.dense"),
        ] {
            v.push(p(
                format!("layer_{i}.{ours}/kernel"),
                format!("{hf}{theirs}.weight"),
                Take::Transposed,
            ));
            v.push(p(
                format!("layer_{i}.{ours}/bias"),
                format!("{hf}{theirs}.bias"),
                Take::Same,
            ));
        }
        for (ours, theirs) in [
            ("ln1", "attention.output.LayerNorm"),
            ("ln2", "output.LayerNorm"),
        ] {
            v.push(p(
                format!("layer_{i}.{ours}/gamma"),
                format!("{hf}{theirs}.weight"),
                Take::Same,
            ));
            v.push(p(
                format!("layer_{i}.{ours}/beta"),
                format!("{hf}{theirs}.bias"),
                Take::Same,
            ));
        }
    }
    v
}

/// Puts the folder's tensors into `model`'s weights; BertModel's pooler (`pooler.*`) is known
/// and not used by the encoder alone.
pub fn load_weights(
    model: &mut Model,
    c: &BertConfig,
    stored: &BTreeMap<String, Stored>,
) -> Result<()> {
    crate::weights::place(model, stored, &places(c), |name| {
        name.starts_with("pooler.")
    })
}
