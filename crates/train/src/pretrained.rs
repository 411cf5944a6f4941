//! `[model] pretrained = { path, max_length, freeze_blocks }`: a Hugging Face encoder (read by
//! nabla-hub) as the model's layer `encoder`, under the spec's own layers (pooling, a head),
//! and text data tokenised by the encoder's tokenizer, which the model keeps in its file.

use crate::error::{Error, Result};
use nabla_data::{Array, Dataset};
use nabla_nn::layers::SubModelConfig;
use nabla_nn::{LayerConfig, Model, ModelConfig, NodeConfig};
use std::collections::BTreeMap;

fn hub(e: nabla_hub::Error) -> Error {
    Error::Spec(format!("model.pretrained: {e}"))
}

/// The spec's model on the pretrained encoder: the encoder's inputs are the model's, its
/// weights come from the folder, the spec's layers start from `encoder` (and may name the
/// inputs, e.g. `attention_mask` for masked pooling).
pub(crate) fn build(cfg: &ModelConfig, seed: u64) -> Result<Model> {
    let p = cfg
        .pretrained
        .as_ref()
        .expect("called for a pretrained model");
    if !cfg.input_shape.is_empty() || !cfg.inputs.is_empty() {
        return Err(Error::Spec(
            "model: expected no input_shape or inputs with pretrained (the encoder's input_ids, token_type_ids and attention_mask are the inputs)".into(),
        ));
    }
    let pre = nabla_hub::load(&p.path, p.max_length).map_err(hub)?;
    let inputs = pre.model.inputs().to_vec();
    let encoder = NodeConfig {
        layer: LayerConfig::Model(SubModelConfig {
            model: Box::new(pre.model.config()),
            name: Some("encoder".into()),
            trainable: true,
        }),
        inputs: inputs.iter().map(|i| i.name.clone()).collect(),
    };
    let full = ModelConfig {
        input_shape: Vec::new(),
        inputs,
        layers: std::iter::once(encoder)
            .chain(cfg.layers.iter().cloned())
            .collect(),
        outputs: cfg.outputs.clone(),
        pretrained: None,
    };
    let mut model = full.build(seed)?;
    let weights: BTreeMap<String, Vec<f32>> = pre
        .model
        .named_params()
        .into_iter()
        .map(|(n, p)| (format!("encoder.{n}"), p.value.to_vec()))
        .collect();
    let names: Vec<String> = model.named_params().into_iter().map(|(n, _)| n).collect();
    for (name, param) in names.iter().zip(model.params_mut()) {
        if let Some(w) = weights.get(name) {
            param.value.update(|v| v.copy_from_slice(w));
            param.trainable = !frozen(name, p.freeze_blocks);
        }
    }
    model.set_tokenizer(pre.tokenizer.to_json().map_err(hub)?);
    if let Some(c) = pre.model.hf_config() {
        model.set_hf_config(c.to_string());
    }
    place_pooler(&mut model, &p.path)?;
    Ok(model)
}

/// A spec layer named `pooler` (a tanh dense layer on the first token, BERT's) starts from
/// the folder's pooler weights when it has them, as `BertForSequenceClassification` does.
fn place_pooler(model: &mut Model, dir: &std::path::Path) -> Result<()> {
    if !model
        .named_params()
        .iter()
        .any(|(n, _)| n == "pooler.kernel")
    {
        return Ok(());
    }
    let stored = nabla_hub::weights::read_weights(dir).map_err(hub)?;
    if !stored.contains_key("pooler.dense.weight") {
        return Ok(());
    }
    use nabla_hub::weights::{place, Place, Take};
    let places = [
        Place {
            ours: "pooler.kernel".into(),
            theirs: "pooler.dense.weight".into(),
            take: Take::Transposed,
        },
        Place {
            ours: "pooler.bias".into(),
            theirs: "pooler.dense.bias".into(),
            take: Take::Same,
        },
    ];
    place(model, &stored, &places, |_| true).map_err(hub)
}

/// Whether weight `name` of the encoder is frozen with the first `n` blocks: the embeddings
/// (`encoder.word_embeddings..`) and `encoder.layer_{i}` for `i < n`.
fn frozen(name: &str, n: usize) -> bool {
    let Some(rest) = name.strip_prefix("encoder.") else {
        return false;
    };
    match rest.strip_prefix("layer_") {
        Some(r) => r
            .split('.')
            .next()
            .and_then(|i| i.parse::<usize>().ok())
            .is_some_and(|i| i < n),
        None => n > 0,
    }
}

/// Texts as the arrays a pretrained model takes: `input_ids`, `token_type_ids`,
/// `attention_mask`, each `[max_length]` (cut or padded), by the tokenizer the model keeps;
/// `targets` unchanged.
pub(crate) fn tokenized(model: &Model, texts: &[String], targets: Vec<Array>) -> Result<Dataset> {
    let json = model.tokenizer().ok_or_else(|| {
        Error::Spec("data.csv.text: expected a model with a tokenizer ([model] pretrained)".into())
    })?;
    let tok = nabla_hub::Tokenizer::from_json(json.as_bytes()).map_err(hub)?;
    let t = match model.inputs().first() {
        Some(i) if i.name == "input_ids" => i.shape[0],
        _ => return Err(Error::Spec(
            "data.csv.text: expected a model whose first input is input_ids ([model] pretrained)"
                .into(),
        )),
    };
    let pairs: Vec<(&str, Option<&str>)> = texts.iter().map(|s| (s.as_str(), None)).collect();
    let e = tok.encode_batch(&pairs, t).map_err(hub)?.padded_to(t);
    let f = |v: Vec<u32>| v.into_iter().map(|i| i as f32).collect::<Vec<f32>>();
    let inputs = vec![
        Array::new("input_ids", f(e.input_ids), &[t]),
        Array::new("token_type_ids", f(e.token_type_ids), &[t]),
        Array::new("attention_mask", f(e.attention_mask), &[t]),
    ];
    Ok(Dataset::from_arrays(inputs, targets)?)
}
