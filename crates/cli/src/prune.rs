//! `nabla prune SPEC --out DIR [--from MODEL]`: the spec's model trained dense (or read from
//! MODEL), then trained again from those weights under the spec's `[prune]` schedule; prints
//! the test metrics, the sparsity and the file size of both. Writes DIR/dense.safetensors
//! (when trained here) and DIR/model.safetensors (its pruned weights in the sparse form; with
//! `structure = "channels"` the pruned units and filters removed, and the inference speed of
//! both printed).

use anyhow::{Context, Result};
use nabla::nn::pruning::sparsity;
use nabla::nn::PruneStructure;
use nabla::prelude::*;
use std::path::{Path, PathBuf};

pub fn run(spec_path: &Path, out: &Path, from: Option<PathBuf>, quiet: bool) -> Result<()> {
    let spec = Spec::from_file(spec_path)?;
    anyhow::ensure!(
        spec.prune.is_some(),
        "{}: expected a [prune] table (target_sparsity, schedule: docs/compression.md), received none",
        spec_path.display()
    );
    let mut dense_spec = spec.clone();
    dense_spec.prune = None;
    let seed = spec.train.seed;
    let mut dense = dense_spec.build_model(seed)?;
    let (train, test) = spec.load_data(&dense)?;
    let test = test.with_context(|| {
        format!(
            "{}: expected data with a test split to compare on, received none",
            spec_path.display()
        )
    })?;
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create output folder {}", out.display()))?;
    let verbose = if quiet { 0 } else { 1 };
    let dense_path = match from {
        Some(p) => {
            let report = dense.load_weights(&p)?;
            anyhow::ensure!(
                report.skipped.is_empty(),
                "--from {}: expected the weights of the spec's model, but {} of its weights were not found or did not fit: {}",
                p.display(),
                report.skipped.len(),
                report.skipped.iter().map(|(n, why)| format!("{n} ({why})")).collect::<Vec<_>>().join(", ")
            );
            p
        }
        None => {
            if !quiet {
                println!("training the dense model");
            }
            dense.fit(&train, dense_spec.fit_options().verbose(verbose))?;
            let p = out.join("dense.safetensors");
            dense.save(&p)?;
            p
        }
    };
    let before = dense.evaluate(&test)?;
    let mut pruned = spec.build_model(seed)?;
    pruned.load_weights(&dense_path)?;
    if !quiet {
        println!("training with pruning from {}", dense_path.display());
    }
    pruned.fit(&train, spec.fit_options().verbose(verbose))?;
    let channels = spec
        .prune
        .as_ref()
        .is_some_and(|p| p.structure == PruneStructure::Channels);
    if channels {
        pruned = crate::train::strip(pruned);
    }
    let after = pruned.evaluate(&test)?;
    let path = out.join("model.safetensors");
    pruned.save_sparse(&path)?;
    let (dense_bytes, bytes) = (dense.to_bytes()?.len(), std::fs::metadata(&path)?.len());
    println!("test ({} samples), dense -> pruned:", test.len());
    for (name, v) in &before.0 {
        println!(
            "  {name}: {v:.4} -> {:.4}",
            after.get(name).unwrap_or(f64::NAN)
        );
    }
    let zeros = |m: &Model| -> f32 {
        let w: Vec<f32> = m
            .named_params()
            .iter()
            .filter(|(_, p)| p.value.rank() >= 2)
            .flat_map(|(_, p)| p.value.to_vec())
            .collect();
        sparsity(&w)
    };
    if !channels {
        println!("sparsity: {:.4} -> {:.4}", zeros(&dense), zeros(&pruned));
    }
    let count =
        |m: &Model| -> usize { m.named_params().iter().map(|(_, p)| p.value.numel()).sum() };
    println!("weights: {} -> {}", count(&dense), count(&pruned));
    if channels {
        let speed = |m: &Model| crate::bench::infer_throughput(m, &test);
        let (a, b) = (speed(&dense)?, speed(&pruned)?);
        println!("inference: {a:.0} -> {b:.0} samples/s ({:.2}x)", b / a);
    }
    println!(
        "size: {dense_bytes} -> {bytes} bytes ({:.2}x smaller)",
        dense_bytes as f64 / bytes as f64
    );
    println!("saved {}", path.display());
    Ok(())
}
