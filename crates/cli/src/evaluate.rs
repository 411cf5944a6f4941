//! `nabla evaluate MODEL`: loss and metrics of a saved model on the built-in test split, on
//! IDX files, or on the test split of a spec's data (any data a spec reads, any number of
//! inputs and outputs), or on a CSV file read as the model's training CSV was.

use anyhow::{Context, Result};
use nabla::data::idx::read_idx_file;
use nabla::prelude::*;
use nabla::train::spec::data_for_model;
use std::path::{Path, PathBuf};

/// Where the evaluation data comes from.
#[derive(Clone)]
pub enum Source {
    /// The built-in digits' test split.
    Digits,
    /// IDX images and labels files.
    Idx(PathBuf, PathBuf),
    /// The test split of a spec's `[data]`.
    Spec(PathBuf),
    /// A CSV file read as the model's training CSV was.
    Csv(PathBuf),
}

impl Source {
    /// The source the options name: IDX files, a CSV file, a spec, or the built-in digits.
    pub fn from_args(idx: Option<(PathBuf, PathBuf)>, data: Option<PathBuf>) -> Source {
        match (idx, data) {
            (Some((i, l)), _) => Source::Idx(i, l),
            (None, Some(f)) if f.extension().is_some_and(|e| e == "csv") => Source::Csv(f),
            (None, Some(spec)) => Source::Spec(spec),
            (None, None) => Source::Digits,
        }
    }
}

pub fn run(model_path: &Path, source: Source) -> Result<()> {
    let mut model = Model::load(model_path)?;
    let data = test_data(&model, model_path, source)?;
    let scores = model.evaluate(&data)?;
    println!("samples: {}", data.len());
    for (name, v) in &scores.0 {
        println!("{name}: {v:.4}");
    }
    let probabilistic = model
        .compiled()
        .is_some_and(|c| c.losses[0].kind.is_probabilistic());
    if probabilistic && model.outputs().len() == 1 {
        print!("{}", nabla::train::class_report(&mut model, &data)?);
    }
    Ok(())
}

/// The evaluation data of `model` (saved at `model_path`) from `source`.
pub fn test_data(model: &Model, model_path: &Path, source: Source) -> Result<Dataset> {
    let loss = model
        .compiled()
        .map(|c| c.losses[0].clone())
        .with_context(|| {
            format!(
                "{} was saved without a loss (not compiled): nothing to evaluate",
                model_path.display()
            )
        })?;
    let data = match source {
        Source::Idx(images, labels) => {
            let d = nabla::data::mnist::from_idx(&read_idx_file(images)?, &read_idx_file(labels)?)?;
            data_for_model(d, &loss, model)?
        }
        Source::Digits => data_for_model(nabla::datasets::mnist()?.1, &loss, model)?,
        Source::Csv(file) => {
            let d = crate::csv_input::read(model, model_path, &file, true)?.dataset;
            match model.outputs().len() {
                1 => data_for_model(d, &loss, model)?,
                _ => d,
            }
        }
        Source::Spec(path) => {
            let spec = Spec::from_file(&path)?;
            let (_, test) = spec.load_data(model)?;
            test.with_context(|| {
                format!(
                    "--data {}: expected a spec whose data has a test split (test_split, test files or the built-in test digits), received none",
                    path.display()
                )
            })?
        }
    };
    Ok(data)
}
