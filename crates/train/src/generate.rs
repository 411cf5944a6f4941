//! `model.generate(prompt, max_tokens, sampling, on_text)`: text from a character model
//! trained on `[data] text`, with the vocabulary saved inside the model (see
//! [`Model::set_tokenizer`]). The tokens come from [`nabla_nn::generate::generate`] (key/value
//! cache, temperature, top-k, top-p, seeded).

use crate::error::{Error, Result};
use nabla_data::CharTokenizer;
use nabla_nn::generate::{generate, Sampling};
use nabla_nn::Model;

/// Text generation for models that carry their tokenizer.
pub trait Generate {
    /// `max_tokens` characters after `prompt` (returned without the prompt), each also passed
    /// to `on_text` as soon as it is sampled.
    fn generate(
        &self,
        prompt: &str,
        max_tokens: usize,
        sampling: Sampling,
        on_text: impl FnMut(&str),
    ) -> Result<String>;
}

impl Generate for Model {
    fn generate(
        &self,
        prompt: &str,
        max_tokens: usize,
        sampling: Sampling,
        mut on_text: impl FnMut(&str),
    ) -> Result<String> {
        let json = self.tokenizer().ok_or_else(|| {
            Error::Input(
                "generate: expected a model trained on [data] text (its vocabulary inside), \
                 received a model without a tokenizer"
                    .into(),
            )
        })?;
        let tok: CharTokenizer = serde_json::from_str(json)
            .map_err(|e| Error::Input(format!("generate: the saved vocabulary: {e}")))?;
        let ids = tok.encode(prompt)?;
        let mut text = String::new();
        let mut failed = None;
        generate(self, &ids, max_tokens, sampling, |id| {
            match tok.decode(&[id]) {
                Ok(c) => {
                    on_text(&c);
                    text.push_str(&c);
                }
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        })?;
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(text),
        }
    }
}
