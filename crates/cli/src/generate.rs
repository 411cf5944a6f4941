//! `nabla generate MODEL --prompt "ROMEO:" --tokens 300`: text from a next-token model
//! trained on `[data] text`, printed character by character as it is sampled. The
//! vocabulary is read from `tokenizer.json` beside the model (written by `nabla train`).

use anyhow::{Context, Result};
use nabla::data::CharTokenizer;
use nabla::nn::generate::{generate, Sampling};
use nabla::prelude::*;
use std::io::Write;
use std::path::Path;

pub fn run(model_path: &Path, prompt: &str, tokens: usize, s: Sampling) -> Result<()> {
    let model = Model::load(model_path)?;
    let tok_path = model_path.with_file_name("tokenizer.json");
    let text = std::fs::read_to_string(&tok_path).with_context(|| {
        format!(
            "{}: the vocabulary of {} (written by nabla train for [data] text) is missing",
            tok_path.display(),
            model_path.display()
        )
    })?;
    let tok: CharTokenizer = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a tokenizer", tok_path.display()))?;
    let ids = tok.encode(prompt).context("--prompt")?;
    let mut out = std::io::stdout().lock();
    write!(out, "{prompt}")?;
    let mut failed = None;
    generate(&model, &ids, tokens, s, |id| {
        let shown = tok
            .decode(&[id])
            .map_err(anyhow::Error::from)
            .and_then(|c| Ok(write!(out, "{c}").and_then(|_| out.flush())?));
        if let Err(e) = shown {
            failed.get_or_insert(e);
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    writeln!(out)?;
    Ok(())
}
