//! Hugging Face model folders for nabla: `config.json`, `model.safetensors` (or shards;
//! float32, float16, bfloat16) and `tokenizer.json` read into nabla models, never pickle.
//!
//! ```no_run
//! let enc = nabla_hub::SentenceEncoder::load("all-MiniLM-L6-v2".as_ref())?;
//! let v = enc.embed(&["A sentence.", "Another one."], 32)?;
//! # Ok::<(), nabla_hub::Error>(())
//! ```

pub mod bert;
pub mod error;
pub mod export;
pub mod gpt2;
pub mod hf_config;
pub mod sentence;
pub mod tokenizer;
pub mod weights;

pub use error::{Error, Result};
pub use export::export_bert_classifier;
pub use hf_config::{BertConfig, Gpt2Config, HfConfig};
pub use sentence::{Pooling, SentenceEncoder};
pub use tokenizer::{Encoded, Tokenizer};

use std::path::Path;

/// A pretrained model and its tokenizer.
pub struct Pretrained {
    /// The architecture's config.
    pub config: HfConfig,
    /// The model. BERT: `input_ids`, `token_type_ids` and `attention_mask` in, the last
    /// hidden state out; GPT-2: `input_ids` in, next-token logits out.
    pub model: nabla_nn::Model,
    /// The folder's tokenizer.
    pub tokenizer: Tokenizer,
}

/// Reads a model folder into a nabla model with its weights and tokenizer (`time`: the
/// longest sequence it will take, at most the config's positions).
pub fn load(dir: impl AsRef<Path>, time: usize) -> Result<Pretrained> {
    let dir = dir.as_ref();
    let config = HfConfig::read(dir)?;
    let stored = weights::read_weights(dir)?;
    weights::check_size(&config, &stored)?;
    let mut model = match &config {
        HfConfig::Bert(c) => {
            let mut m = bert::build(c, time, 0)?;
            bert::load_weights(&mut m, c, &stored)?;
            m
        }
        HfConfig::Gpt2(c) => {
            let mut m = gpt2::build(c, time, 0)?;
            let untied = stored.contains_key("lm_head.weight") && !c.tie_word_embeddings;
            let places = gpt2::places(c, untied);
            weights::place(&mut m, &stored, &places, |n| n == "lm_head.weight")?;
            m
        }
    };
    let tokenizer = Tokenizer::from_file(&dir.join("tokenizer.json"))?;
    model.set_tokenizer(tokenizer.to_json()?);
    let text = error::read(&dir.join("config.json"))?;
    model.set_hf_config(String::from_utf8_lossy(&text).into_owned());
    Ok(Pretrained {
        config,
        model,
        tokenizer,
    })
}
