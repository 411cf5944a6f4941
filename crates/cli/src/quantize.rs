//! `nabla quantize MODEL --out Q`: post-training int8 quantisation of a saved model, printing
//! the size and the test metrics before and after.

use crate::evaluate::{test_data, Source};
use anyhow::{Context, Result};
use nabla::nn::saving::write_atomic;
use nabla::prelude::*;
use std::path::Path;

pub fn run(model_path: &Path, out: &Path, mode: &str, source: Source) -> Result<()> {
    let mode_name = mode;
    let mode: QuantMode = mode.parse()?;
    let mut model = Model::load(model_path)?;
    let data = model
        .compiled()
        .is_some()
        .then(|| test_data(&model, model_path, source))
        .transpose()?;
    let f32_bytes = model.to_bytes()?.len();
    let before = data.as_ref().map(|d| model.evaluate(d)).transpose()?;
    let layers = model.quantize(mode)?;
    if layers.is_empty() {
        anyhow::bail!(
            "{}: no layer to quantise (int8 covers dense and LSTM layers)",
            model_path.display()
        );
    }
    let bytes = model.to_bytes()?;
    println!(
        "quantised {} layers to int8 ({mode_name}): {}",
        layers.len(),
        layers.join(", ")
    );
    println!(
        "size: {f32_bytes} -> {} bytes ({:.2}x smaller)",
        bytes.len(),
        f32_bytes as f64 / bytes.len() as f64
    );
    match (data, before) {
        (Some(d), Some(before)) => {
            let after = model.evaluate(&d)?;
            println!("test ({} samples), float32 -> int8:", d.len());
            for (name, v) in &before.0 {
                println!(
                    "  {name}: {v:.4} -> {:.4}",
                    after.get(name).unwrap_or(f64::NAN)
                );
            }
        }
        _ => println!("test metrics: none (the model was saved without a loss)"),
    }
    write_atomic(out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    println!("saved {}", out.display());
    Ok(())
}
