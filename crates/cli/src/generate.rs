//! `nabla generate MODEL --prompt "ROMEO:" --tokens 300`: text from a next-token model
//! trained on `[data] text`, printed character by character as it is sampled. The
//! vocabulary is saved inside the model file by `nabla train` (older runs: `tokenizer.json`
//! beside it).

use anyhow::{Context, Result};
use nabla::nn::generate::Sampling;
use nabla::prelude::*;
use std::io::Write;
use std::path::Path;

pub fn run(model_path: &Path, prompt: &str, tokens: usize, s: Sampling) -> Result<()> {
    let mut model = Model::load(model_path)?;
    if model.tokenizer().is_none() {
        // models saved before the vocabulary went inside the file keep it beside
        let tok_path = model_path.with_file_name("tokenizer.json");
        let json = std::fs::read_to_string(&tok_path).with_context(|| {
            format!(
                "{}: has no vocabulary inside (nabla train saves it for [data] text) and {} is missing",
                model_path.display(),
                tok_path.display()
            )
        })?;
        model.set_tokenizer(json);
    }
    let mut out = std::io::stdout().lock();
    write!(out, "{prompt}")?;
    let mut failed = None;
    model
        .generate(prompt, tokens, s, |c| {
            if let Err(e) = write!(out, "{c}").and_then(|_| out.flush()) {
                failed.get_or_insert(e);
            }
        })
        .context("--prompt")?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    writeln!(out)?;
    Ok(())
}
