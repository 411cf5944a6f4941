//! `Tokenizer`: a model folder's `tokenizer.json` (WordPiece, byte-level BPE, ...) through the
//! `tokenizers` crate, giving the ids, token types and attention masks a model takes.
//!
//! The padding and truncation stored in `tokenizer.json` are switched off, as transformers
//! does on every call; [`Tokenizer::encode_batch`] truncates to the length asked for and pads
//! to the longest sequence of the batch.

use crate::error::{Error, Result};
use std::path::Path;
use tokenizers::{EncodeInput, TruncationParams};

/// A model's tokenizer.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    pad_id: u32,
}

/// A batch of tokenised texts, padded to the longest (`[batch, time]` each, row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct Encoded {
    /// Tokens per row (the padded length).
    pub time: usize,
    /// Token ids.
    pub input_ids: Vec<u32>,
    /// 0 for the first text's tokens, 1 for a pair's second text.
    pub token_type_ids: Vec<u32>,
    /// 1 for a token, 0 for padding.
    pub attention_mask: Vec<u32>,
    /// The id padding uses.
    pub pad_id: u32,
}

impl Tokenizer {
    /// Reads `tokenizer.json` (the padding id from its `[PAD]` or `<pad>` token, else 0).
    pub fn from_file(path: &Path) -> Result<Tokenizer> {
        let bytes = crate::error::read(path)?;
        Tokenizer::from_json(&bytes).map_err(|e| Error::Format(format!("{}: {e}", path.display())))
    }

    /// A tokenizer from the bytes of a `tokenizer.json`.
    pub fn from_json(bytes: &[u8]) -> Result<Tokenizer> {
        let mut inner = tokenizers::Tokenizer::from_bytes(bytes)
            .map_err(|e| Error::Format(format!("not a tokenizer.json: {e}")))?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| Error::Format(e.to_string()))?;
        let pad_id = ["[PAD]", "<pad>"]
            .iter()
            .find_map(|t| inner.token_to_id(t))
            .unwrap_or(0);
        Ok(Tokenizer { inner, pad_id })
    }

    /// The `tokenizer.json` text (saved inside a fine-tuned model's file).
    pub fn to_json(&self) -> Result<String> {
        self.inner
            .to_string(false)
            .map_err(|e| Error::Format(format!("tokenizer: {e}")))
    }

    /// The ids of one text with the model's special tokens (`[CLS] .. [SEP]`), untruncated.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let e = self
            .inner
            .encode(text, true)
            .map_err(|e| Error::Format(format!("tokenizing {:?}: {e}", short(text))))?;
        Ok(e.get_ids().to_vec())
    }

    /// The text of `ids` (special tokens skipped; bytes that are no UTF-8 of their own, as a
    /// byte-level BPE token cut through a character, become U+FFFD, as transformers does).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, true)
            .map_err(|e| Error::Format(format!("decoding {} ids: {e}", ids.len())))
    }

    /// The token strings of one text (with special tokens).
    pub fn tokens(&self, text: &str) -> Result<Vec<String>> {
        let e = self
            .inner
            .encode(text, true)
            .map_err(|e| Error::Format(format!("tokenizing {:?}: {e}", short(text))))?;
        Ok(e.get_tokens().to_vec())
    }

    /// Texts (or pairs of texts: `(a, Some(b))`) tokenised, each truncated to `max_length`
    /// tokens (the longer of a pair first, as transformers' `longest_first`) and padded to
    /// the batch's longest.
    pub fn encode_batch(
        &self,
        texts: &[(&str, Option<&str>)],
        max_length: usize,
    ) -> Result<Encoded> {
        let mut t = self.inner.clone();
        t.with_truncation(Some(TruncationParams {
            max_length: max_length.max(2),
            ..Default::default()
        }))
        .map_err(|e| Error::Format(format!("truncation to {max_length}: {e}")))?;
        let inputs: Vec<EncodeInput> = texts
            .iter()
            .map(|&(a, b)| match b {
                Some(b) => (a, b).into(),
                None => a.into(),
            })
            .collect();
        let enc = t
            .encode_batch(inputs, true)
            .map_err(|e| Error::Format(format!("tokenizing a batch: {e}")))?;
        let time = enc.iter().map(|e| e.get_ids().len()).max().unwrap_or(0);
        let mut out = Encoded {
            time,
            input_ids: Vec::with_capacity(enc.len() * time),
            token_type_ids: Vec::with_capacity(enc.len() * time),
            attention_mask: Vec::with_capacity(enc.len() * time),
            pad_id: self.pad_id,
        };
        for e in &enc {
            let pad = time - e.get_ids().len();
            out.input_ids.extend(
                e.get_ids()
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(self.pad_id, pad)),
            );
            out.token_type_ids.extend(
                e.get_type_ids()
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(0, pad)),
            );
            out.attention_mask.extend(
                std::iter::repeat_n(1, e.get_ids().len()).chain(std::iter::repeat_n(0, pad)),
            );
        }
        Ok(out)
    }
}

impl Encoded {
    /// The batch padded to exactly `time` tokens per row (for a model of a fixed input
    /// length); rows longer than `time` are left as they are (cut them when encoding).
    pub fn padded_to(self, time: usize) -> Encoded {
        if time <= self.time {
            return self;
        }
        let (old, n) = (self.time, self.input_ids.len() / self.time.max(1));
        let pad = |v: &[u32], fill: u32| {
            let mut out = Vec::with_capacity(n * time);
            for r in 0..n {
                out.extend_from_slice(&v[r * old..(r + 1) * old]);
                out.resize((r + 1) * time, fill);
            }
            out
        };
        Encoded {
            time,
            input_ids: pad(&self.input_ids, self.pad_id),
            token_type_ids: pad(&self.token_type_ids, 0),
            attention_mask: pad(&self.attention_mask, 0),
            pad_id: self.pad_id,
        }
    }
}

/// The start of a text, for error messages.
fn short(text: &str) -> String {
    text.chars().take(40).collect()
}
