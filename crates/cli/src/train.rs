//! `nabla train SPEC`: build, compile, fit, evaluate on the test split, save.

use anyhow::{Context, Result};
use nabla::nn::saving::write_atomic;
use nabla::prelude::*;
use std::path::{Path, PathBuf};

pub fn run(
    spec_path: &Path,
    out: Option<PathBuf>,
    epochs: Option<usize>,
    seed: Option<u64>,
    quiet: bool,
) -> Result<()> {
    let mut spec = Spec::from_file(spec_path)?;
    if let Some(e) = epochs {
        anyhow::ensure!(e > 0, "--epochs: expected a positive integer, received 0");
        spec.train.epochs = e;
    }
    if let Some(s) = seed {
        spec.train.seed = s;
    }
    let out = out.unwrap_or_else(|| {
        let stem = spec_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        PathBuf::from("runs").join(stem)
    });
    let mut model = spec.build_model(spec.train.seed)?;
    let (train, test) = spec.load_data(&model)?;
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create output folder {}", out.display()))?;
    if !quiet {
        print!("{}", model.summary());
    }
    let history = model.fit(
        &train,
        spec.fit_options().verbose(if quiet { 0 } else { 1 }),
    )?;
    if let Some(test) = &test {
        let scores = model.evaluate(test)?;
        println!("test: {}", scores.line());
    }
    let write = |name: &str, bytes: &[u8]| -> Result<()> {
        let p = out.join(name);
        write_atomic(&p, bytes).with_context(|| format!("cannot write {}", p.display()))
    };
    model.save(out.join("model.safetensors"))?;
    write("history.csv", history.to_csv().as_bytes())?;
    write("spec.toml", spec.to_toml().as_bytes())?;
    println!("saved {}", out.join("model.safetensors").display());
    Ok(())
}
