//! `nabla evaluate MODEL`: loss and metrics of a saved model on the built-in test split or on
//! IDX files.

use anyhow::{Context, Result};
use nabla::data::idx::read_idx_file;
use nabla::prelude::*;
use nabla::train::spec::data_for_model;
use std::path::{Path, PathBuf};

pub fn run(model_path: &Path, idx: Option<(PathBuf, PathBuf)>) -> Result<()> {
    let mut model = Model::load(model_path)?;
    let loss = model
        .compiled()
        .map(|c| c.losses[0].clone())
        .with_context(|| {
            format!(
                "{} was saved without a loss (not compiled): nothing to evaluate",
                model_path.display()
            )
        })?;
    let data = match idx {
        Some((images, labels)) => {
            nabla::data::mnist::from_idx(&read_idx_file(images)?, &read_idx_file(labels)?)?
        }
        None => nabla::datasets::mnist()?.1,
    };
    let data = data_for_model(data, &loss, &model)?;
    let scores = model.evaluate(&data)?;
    println!("samples: {}", data.len());
    for (name, v) in &scores.0 {
        println!("{name}: {v:.4}");
    }
    if loss.kind.is_probabilistic() {
        print!("{}", nabla::train::class_report(&mut model, &data)?);
    }
    Ok(())
}
