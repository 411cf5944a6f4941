//! `SentenceEncoder`: a sentence-transformers folder (`modules.json`: the transformer, its
//! pooling, an optional `Normalize`) as one nabla model from token ids to sentence vectors,
//! with sentence-transformers' semantics: texts truncated to `max_seq_length`
//! (`sentence_bert_config.json`), pooled over the attention mask (mean, max or the first
//! token, `1_Pooling/config.json`), L2-normalised when the folder says so.

use crate::bert;
use crate::error::{read, Error, Result};
use crate::hf_config::{BertConfig, HfConfig};
use crate::tokenizer::Tokenizer;
use nabla_core::Tensor;
use nabla_nn::functional::Functional;
use nabla_nn::{Ctx, Model};
use serde_json::{json, Value};
use std::path::Path;

/// How token vectors become one sentence vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// The mean over the tokens (padding excluded).
    Mean,
    /// The maximum over the tokens, per feature.
    Max,
    /// The first token (`[CLS]`).
    Cls,
}

/// A pretrained sentence encoder.
pub struct SentenceEncoder {
    /// Token ids, token types and mask in, sentence vectors out.
    pub model: Model,
    /// The folder's tokenizer.
    pub tokenizer: Tokenizer,
    /// Texts are cut to this many tokens.
    pub max_seq_length: usize,
    /// The pooling.
    pub pooling: Pooling,
    /// Whether vectors are L2-normalised.
    pub normalize: bool,
}

fn json_file(path: &Path) -> Result<Option<Value>> {
    if !path.exists() {
        return Ok(None);
    }
    serde_json::from_slice(&read(path)?)
        .map(Some)
        .map_err(|e| Error::Format(format!("{}: {e}", path.display())))
}

/// The pooling and normalisation `modules.json` asks for (a plain model folder: mean pooling,
/// no normalisation, as sentence-transformers does for one).
fn modules(dir: &Path) -> Result<(Pooling, bool)> {
    let Some(list) = json_file(&dir.join("modules.json"))? else {
        return Ok((Pooling::Mean, false));
    };
    let mut pooling = Pooling::Mean;
    let mut normalize = false;
    for m in list.as_array().into_iter().flatten() {
        let kind = m.get("type").and_then(Value::as_str).unwrap_or("");
        let sub = m.get("path").and_then(Value::as_str).unwrap_or("");
        match kind.rsplit('.').next().unwrap_or("") {
            "Transformer" => {}
            "Normalize" => normalize = true,
            "Pooling" => {
                if sub.contains("..") || sub.starts_with('/') {
                    return Err(Error::Format(format!("modules.json: pooling path {sub:?} leaves the folder")));
                }
                let cfg = json_file(&dir.join(sub).join("config.json"))?.unwrap_or(json!({}));
                let on = |k: &str| cfg.get(k).and_then(Value::as_bool).unwrap_or(false);
                pooling = match (on("pooling_mode_cls_token"), on("pooling_mode_max_tokens"), on("pooling_mode_mean_tokens")) {
                    (true, false, false) => Pooling::Cls,
                    (false, true, false) => Pooling::Max,
                    (false, false, true) => Pooling::Mean,
                    _ => {
                        return Err(Error::Format(format!(
                            "{sub}/config.json: expected one pooling mode of cls_token, max_tokens, mean_tokens, received {cfg}"
                        )))
                    }
                };
            }
            other => {
                return Err(Error::Format(format!(
                    "modules.json: expected Transformer, Pooling and Normalize modules, received {other:?}"
                )))
            }
        }
    }
    Ok((pooling, normalize))
}

impl SentenceEncoder {
    /// Reads the folder: config, weights, tokenizer and sentence-transformers modules.
    pub fn load(dir: &Path) -> Result<SentenceEncoder> {
        let c = match HfConfig::read(dir)? {
            // a classifier's encoder alone: its pooler and classifier are not used
            HfConfig::Bert(c) => BertConfig {
                architectures: Vec::new(),
                ..c
            },
            other => {
                return Err(Error::Format(format!(
                    "{}: expected a BERT encoder for sentence vectors, received {}",
                    dir.display(),
                    other.model_type()
                )))
            }
        };
        let stored = crate::weights::read_weights(dir)?;
        crate::weights::check_size(&HfConfig::Bert(c.clone()), &stored)?;
        let (pooling, normalize) = modules(dir)?;
        let max_seq_length = json_file(&dir.join("sentence_bert_config.json"))?
            .and_then(|v| v.get("max_seq_length").and_then(Value::as_u64))
            .map_or(c.max_position_embeddings, |n| n as usize)
            .min(c.max_position_embeddings);
        let (inputs, x) = bert::encoder(&c, max_seq_length)?;
        let [ids, types, mask] = &inputs;
        let pool = match pooling {
            Pooling::Mean => bert::layer(json!({"type": "global_avg_pool1d", "name": "pooling"}))?
                .call([&x, mask]),
            Pooling::Max => bert::layer(json!({"type": "global_max_pool1d", "name": "pooling"}))?
                .call([&x, mask]),
            Pooling::Cls => {
                bert::layer(json!({"type": "first_token", "name": "pooling"}))?.call(&x)
            }
        };
        let out = if normalize {
            bert::layer(json!({"type": "unit_normalization", "name": "normalize"}))?.call(&pool)
        } else {
            pool
        };
        let mut model = Functional::new([ids, types, mask], [&out]).build(0)?;
        let head = |n: &str| n.starts_with("pooler.") || n.starts_with("classifier.");
        crate::weights::place(&mut model, &stored, &bert::places(&c), head)?;
        let tokenizer = Tokenizer::from_file(&dir.join("tokenizer.json"))?;
        model.set_tokenizer(tokenizer.to_json()?);
        Ok(SentenceEncoder {
            model,
            tokenizer,
            max_seq_length,
            pooling,
            normalize,
        })
    }

    /// The sentence vectors of `texts`, `[texts.len()][dim]`, in batches of `batch`.
    pub fn embed(&self, texts: &[&str], batch: usize) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(batch.max(1)) {
            let pairs: Vec<(&str, Option<&str>)> = chunk.iter().map(|&t| (t, None)).collect();
            let e = self.tokenizer.encode_batch(&pairs, self.max_seq_length)?;
            let y = run(&self.model, &e)?;
            let dim = y.shape()[1];
            out.extend(y.data().chunks(dim).map(<[f32]>::to_vec));
        }
        Ok(out)
    }
}

/// `model` (BERT's three inputs) on a tokenised batch, in eval mode.
pub fn run(model: &Model, e: &crate::tokenizer::Encoded) -> Result<Tensor> {
    let n = e.input_ids.len() / e.time.max(1);
    let t = |v: &[u32]| Tensor::from_vec(v.iter().map(|&i| i as f32).collect(), &[n, e.time]);
    let xs = [t(&e.input_ids), t(&e.token_type_ids), t(&e.attention_mask)];
    let values: Vec<&[f32]> = xs.iter().map(|x| x.data()).collect();
    model.check_inputs(&values)?;
    let mut rng = nabla_core::Rng::new(0);
    let mut ctx = Ctx::new(false, &mut rng);
    let y = nabla_core::no_grad(|| model.forward_multi(&xs, &mut ctx));
    Ok(y.into_iter().next().expect("one output"))
}
