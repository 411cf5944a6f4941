//! `export_bert_classifier`: a BERT classifier fine-tuned in nabla written back as a Hugging Face
//! `BertForSequenceClassification` folder (`config.json`, `model.safetensors`,
//! `tokenizer.json`) that transformers loads and runs to the same logits.
//!
//! The model must have been built from a Hugging Face folder (it keeps that `config.json`)
//! and end as BERT's classifier does: the first token, a tanh dense layer named `pooler`
//! (`hidden → hidden`), optional dropout, and a linear dense layer named `classifier` whose
//! outputs are logits. Every weight goes back under its Hugging Face name (the inverse of
//! [`crate::bert::places`]); the class names become `id2label`.

use crate::bert;
use crate::error::{Error, Result};
use crate::hf_config::BertConfig;
use crate::weights::Take;
use nabla_nn::saving::NamedTensor;
use nabla_nn::{Activation, LayerConfig, Model};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

fn refuse(why: String) -> Error {
    Error::Format(format!("export --hf: {why}"))
}

/// The dense layer named `name` and its activation, if the model has one.
fn dense_activation(model: &Model, name: &str) -> Option<Activation> {
    model.config().layers.iter().find_map(|n| match &n.layer {
        LayerConfig::Dense(d) if d.name.as_deref() == Some(name) => Some(d.activation),
        _ => None,
    })
}

/// Writes `model` into `dir` as a `BertForSequenceClassification` folder.
pub fn export_bert_classifier(model: &Model, dir: &Path) -> Result<()> {
    let text = model.hf_config().ok_or_else(|| {
        refuse("expected a model built from a Hugging Face folder ([model] pretrained), received one without its config.json".into())
    })?;
    let mut config: Value =
        serde_json::from_str(text).map_err(|e| refuse(format!("its config.json: {e}")))?;
    if config.get("model_type").and_then(Value::as_str) != Some("bert") {
        return Err(refuse(format!(
            "expected a BERT model, received model_type {}",
            config.get("model_type").unwrap_or(&Value::Null)
        )));
    }
    let mut c: BertConfig =
        serde_json::from_value(config.clone()).map_err(|e| refuse(e.to_string()))?;
    let params: BTreeMap<String, (Vec<usize>, Vec<f32>)> = model
        .named_params()
        .into_iter()
        .map(|(n, p)| (n, (p.value.shape().to_vec(), p.value.to_vec())))
        .collect();
    match (dense_activation(model, "pooler"), dense_activation(model, "classifier")) {
        (Some(Activation::Tanh), Some(Activation::Linear)) => {}
        got => {
            return Err(refuse(format!(
                "expected BERT's head: a tanh dense layer named pooler and a linear (logits) dense layer named classifier, received {got:?}"
            )))
        }
    }
    let classes = params.get("classifier.bias").map_or(0, |p| p.1.len());
    let names: Vec<String> = (0..classes)
        .map(|i| {
            model
                .class_names()
                .and_then(|n| n.get(i).cloned())
                .unwrap_or(format!("LABEL_{i}"))
        })
        .collect();
    c.architectures = vec!["BertForSequenceClassification".into()];
    c.id2label = names
        .iter()
        .enumerate()
        .map(|(i, n)| (i.to_string(), n.clone()))
        .collect();
    // the encoder's weights sit under `encoder.` in a model built from a spec
    let prefix = if params.contains_key("encoder.word_embeddings.embeddings") {
        "encoder."
    } else {
        ""
    };
    let mut tensors: Vec<NamedTensor> = Vec::new();
    for p in bert::places(&c) {
        let head = p.ours.starts_with("pooler.") || p.ours.starts_with("classifier.");
        let ours = if head {
            p.ours.clone()
        } else {
            format!("{prefix}{}", p.ours)
        };
        let (shape, values) = params
            .get(&ours)
            .ok_or_else(|| refuse(format!("the model has no weight {ours} (for {})", p.theirs)))?;
        let (shape, values) = match (p.take, shape.as_slice()) {
            (Take::Transposed, &[r, cols]) => {
                let mut t = vec![0.0; r * cols];
                for i in 0..r {
                    for j in 0..cols {
                        t[j * r + i] = values[i * cols + j];
                    }
                }
                (vec![cols, r], t)
            }
            _ => (shape.clone(), values.clone()),
        };
        let theirs = if p.theirs.starts_with("classifier.") {
            p.theirs
        } else {
            format!("bert.{}", p.theirs)
        };
        tensors.push((theirs, shape, values));
    }
    let obj = config
        .as_object_mut()
        .expect("a JSON object (checked by model_type)");
    obj.insert("architectures".into(), json!(c.architectures));
    obj.insert("id2label".into(), json!(c.id2label));
    let label2id: BTreeMap<&String, usize> =
        names.iter().enumerate().map(|(i, n)| (n, i)).collect();
    obj.insert("label2id".into(), json!(label2id));
    obj.remove("num_labels");
    let tokenizer = model
        .tokenizer()
        .ok_or_else(|| refuse("expected a model that keeps its tokenizer".into()))?;
    write(dir, &config, &tensors, tokenizer)
}

/// The three files, each written atomically.
fn write(dir: &Path, config: &Value, tensors: &[NamedTensor], tokenizer: &str) -> Result<()> {
    let io = |path: &Path, e: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        source: e,
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let meta = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    let st = nabla_nn::saving::encode(tensors, meta)?;
    let config_text = serde_json::to_string_pretty(config).map_err(|e| refuse(e.to_string()))?;
    for (name, data) in [
        ("config.json", config_text.as_bytes()),
        ("model.safetensors", st.as_slice()),
        ("tokenizer.json", tokenizer.as_bytes()),
    ] {
        let path = dir.join(name);
        nabla_nn::saving::write_atomic(&path, data).map_err(|e| io(&path, e))?;
    }
    Ok(())
}
