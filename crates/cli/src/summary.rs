//! `nabla summary SPEC|MODEL`: the layer table of a spec (built with its seed) or a saved model.

use anyhow::Result;
use nabla::prelude::*;
use std::path::Path;

pub fn run(path: &Path) -> Result<()> {
    let is_spec = path.extension().is_some_and(|e| e == "toml");
    let model = if is_spec {
        let spec = Spec::from_file(path)?;
        spec.build_model(spec.train.seed)?
    } else {
        Model::load(path)?
    };
    print!("{}", model.summary());
    Ok(())
}
