//! `nabla quantize MODEL --out Q`: post-training int8 quantisation of a saved model, printing
//! the size and the test metrics before and after.

use crate::evaluate::{test_data, Source};
use anyhow::{Context, Result};
use nabla::nn::saving::write_atomic;
use nabla::prelude::*;
use std::path::Path;

/// Samples in each calibration batch of the static mode.
pub const CALIBRATION_BATCH: usize = 32;

pub fn run(
    model_path: &Path,
    out: &Path,
    mode: &str,
    batches: usize,
    source: Source,
) -> Result<()> {
    let mode_name = mode;
    let mode: QuantMode = mode.parse()?;
    let mut model = Model::load(model_path)?;
    let calibration = match mode {
        QuantMode::Static => Some(calibration_data(&model, model_path, &source)?),
        _ => None,
    };
    let data = model
        .compiled()
        .is_some()
        .then(|| test_data(&model, model_path, source))
        .transpose()?;
    let f32_bytes = model.to_bytes()?.len();
    let before = data.as_ref().map(|d| model.evaluate(d)).transpose()?;
    let layers = match &calibration {
        Some(c) => calibrate(&mut model, c, batches, CALIBRATION_BATCH)?,
        None => model.quantize(mode)?,
    };
    if layers.is_empty() {
        anyhow::bail!(
            "{}: no layer to quantise (int8 covers dense, recurrent and attention layers, and 2-d convolutions in static mode)",
            model_path.display()
        );
    }
    if let Some(c) = &calibration {
        let n = c.len().min(batches * CALIBRATION_BATCH);
        println!(
            "calibrated on {n} samples ({} batches of up to {CALIBRATION_BATCH})",
            n.div_ceil(CALIBRATION_BATCH)
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

/// Static quantisation of `model` calibrated on the first `batches` batches of `size`
/// samples of `data` (fewer when `data` is shorter); the quantised layers' names.
pub fn calibrate(
    model: &mut Model,
    data: &Dataset,
    batches: usize,
    size: usize,
) -> Result<Vec<String>> {
    anyhow::ensure!(
        batches > 0,
        "--calibrate: expected at least 1 batch, received 0"
    );
    let n = data.len().min(batches * size);
    anyhow::ensure!(
        n > 0,
        "calibration data: expected at least 1 sample, received none"
    );
    let batches: Vec<Vec<Tensor>> = (0..n)
        .step_by(size)
        .map(|s| {
            data.batch_all(&(s..(s + size).min(n)).collect::<Vec<_>>())
                .0
        })
        .collect();
    Ok(model.quantize_static_multi(&batches)?)
}

/// The samples static quantisation calibrates on: the training split of a spec, the
/// built-in training digits, or (for IDX and CSV files) the file given.
fn calibration_data(model: &Model, model_path: &Path, source: &Source) -> Result<Dataset> {
    Ok(match source {
        Source::Spec(path) => Spec::from_file(path)?.load_data(model)?.0,
        Source::Digits => {
            let loss = model.compiled().map(|c| c.losses[0].clone());
            let train = nabla::datasets::mnist()?.0;
            match loss {
                Some(l) => nabla::train::spec::data_for_model(train, &l, model)?,
                None => train.with_x_shape(model.input_shape())?,
            }
        }
        other => test_data(model, model_path, other.clone())?,
    })
}
