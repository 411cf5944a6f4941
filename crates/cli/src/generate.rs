//! `nabla generate MODEL --prompt "ROMEO:" --tokens 300`: text from a next-token model
//! trained on `[data] text`, printed character by character as it is sampled. The
//! vocabulary is saved inside the model file by `nabla train` (older runs: `tokenizer.json`
//! beside it). MODEL may also be a Hugging Face GPT-2 folder (`config.json`,
//! `model.safetensors`, `tokenizer.json`): its tokens are printed as they are sampled.

use anyhow::{Context, Result};
use nabla::nn::generate::Sampling;
use nabla::prelude::*;
use std::io::Write;
use std::path::Path;

pub fn run(model_path: &Path, prompt: &str, tokens: usize, s: Sampling) -> Result<()> {
    if model_path.is_dir() {
        return from_folder(model_path, prompt, tokens, s);
    }
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

/// A Hugging Face GPT-2 folder: the prompt through its tokenizer, new tokens printed as the
/// text they complete (a byte-level token may end inside a character: the text is decoded
/// from all new tokens each time and only what has grown is printed).
#[cfg(feature = "hub")]
fn from_folder(dir: &Path, prompt: &str, tokens: usize, s: Sampling) -> Result<()> {
    let p = nabla::hub::load(dir, usize::MAX)?;
    anyhow::ensure!(
        matches!(p.config, nabla::hub::HfConfig::Gpt2(_)),
        "{}: expected a GPT-2 folder to generate from, received {}",
        dir.display(),
        p.config.model_type()
    );
    let ids: Vec<usize> = p
        .tokenizer
        .encode(prompt)?
        .into_iter()
        .map(|i| i as usize)
        .collect();
    let mut out = std::io::stdout().lock();
    write!(out, "{prompt}")?;
    let (mut new, mut shown, mut failed) = (Vec::new(), String::new(), None);
    nabla::nn::generate::generate(&p.model, &ids, tokens, s, |id| {
        new.push(id as u32);
        let text = p.tokenizer.decode(&new).unwrap_or_default();
        let grown = text.strip_prefix(shown.as_str()).unwrap_or("").to_string();
        if !text.ends_with('\u{FFFD}') {
            if let Err(e) = write!(out, "{grown}").and_then(|_| out.flush()) {
                failed.get_or_insert(e);
            }
            shown = text;
        }
    })
    .context("--prompt")?;
    let text = p.tokenizer.decode(&new)?;
    write!(out, "{}", text.strip_prefix(shown.as_str()).unwrap_or(""))?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    writeln!(out)?;
    Ok(())
}

#[cfg(not(feature = "hub"))]
fn from_folder(dir: &Path, _: &str, _: usize, _: Sampling) -> Result<()> {
    anyhow::bail!(
        "{}: a model folder needs nabla built with the hub feature",
        dir.display()
    )
}
