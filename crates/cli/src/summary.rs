//! `nabla summary SPEC|MODEL [--plot model.png]`: the layer table of a spec (built with its
//! seed) or a saved model, and optionally a picture of its graph.

use anyhow::Result;
use nabla::prelude::*;
use std::path::Path;

pub fn run(path: &Path, plot: Option<&Path>) -> Result<()> {
    let is_spec = path.extension().is_some_and(|e| e == "toml");
    let model = if is_spec {
        let spec = Spec::from_file(path)?;
        spec.build_model(spec.train.seed)?
    } else {
        Model::load(path)?
    };
    print!("{}", model.summary());
    if let Some(png) = plot {
        nabla::train::plot_model(&model, png)?;
        println!("graph drawn to {}", png.display());
    }
    Ok(())
}
