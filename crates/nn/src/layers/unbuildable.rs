//! `Unbuildable`: a layer config that cannot become a layer here (a `shared` entry inside
//! another layer, a custom type whose config does not parse). It fails at `build` with the
//! reason, so reading a config never panics and the error comes where shapes are checked.

use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor};

/// A placeholder that only fails to build.
pub struct Unbuildable {
    cfg: LayerConfig,
    name: String,
    why: Error,
}

impl Unbuildable {
    /// The placeholder for `cfg`, failing with `why`.
    pub fn new(cfg: LayerConfig, why: Error) -> Unbuildable {
        let name = cfg.type_name().to_string();
        Unbuildable { cfg, name, why }
    }
}

impl Layer for Unbuildable {
    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: String) {
        self.name = name;
    }

    fn config(&self) -> LayerConfig {
        self.cfg.clone()
    }

    fn build(&mut self, _input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        Err(Error::config(
            format!("layer '{}'", self.name),
            "a config that makes a layer",
            &self.why,
        ))
    }

    fn forward(&self, _x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        unreachable!("an unbuildable layer never builds")
    }
}
