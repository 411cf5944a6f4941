//! New CSV files read the way a model's training CSV was read: the recipe `nabla train`
//! keeps in the model file (the `[data] csv` columns and the normalisation), the model's
//! class names for text labels.

use anyhow::{Context, Result};
use nabla::data::{read_csv_for, CsvData, CsvSpec, Normalize};
use nabla::prelude::*;
use serde::Deserialize;
use std::path::Path;

/// What `nabla train` stores under the model file's `nabla.data` key.
#[derive(Deserialize)]
struct Recipe {
    csv: CsvSpec,
    #[serde(default)]
    normalize: Option<Normalize>,
}

/// The recipe's JSON for a spec's data, when it reads a CSV file of numbers. Feature
/// columns left implicit ("every column but the label") are named, in the training file's
/// order, so a new file may order its columns differently or lack the label.
pub fn recipe(spec: &Spec) -> Result<Option<String>> {
    let Some(csv) = spec.data.csv.as_ref().filter(|c| c.text.is_none()) else {
        return Ok(None);
    };
    let mut csv = csv.clone();
    if csv.features.is_none() && csv.inputs.is_empty() {
        csv.features = Some(nabla::data::read_csv(&csv)?.features);
    }
    let json = serde_json::json!({ "csv": csv, "normalize": spec.data.normalize });
    Ok(Some(json.to_string()))
}

/// `file` read as the model's training CSV was (every row; with `need_targets` the label
/// or target columns must be there).
pub fn read(model: &Model, model_path: &Path, file: &Path, need_targets: bool) -> Result<CsvData> {
    let json = model.data_recipe().with_context(|| {
        format!(
            "{}: the model file does not say how to read a CSV file (it was not trained on one, or was saved before models kept their CSV columns); --data SPEC reads a spec's data",
            model_path.display()
        )
    })?;
    let r: Recipe = serde_json::from_str(json).with_context(|| {
        format!(
            "{}: the CSV recipe inside is not valid",
            model_path.display()
        )
    })?;
    let mut spec = r.csv;
    spec.path = file.to_path_buf();
    spec.test_split = 0.0;
    let mut data = read_csv_for(&spec, model.class_names(), need_targets)?;
    if let Some(n) = r.normalize {
        data.dataset = n.apply(&data.dataset)?;
    }
    Ok(data)
}
