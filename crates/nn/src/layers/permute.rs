//! `Permute`: reorders the axes of each sample (Keras's `Permute`). `dims` counts the
//! sample's axes from 1, as Keras (the batch axis stays first): `dims = [2, 1]` swaps the
//! two axes of a `[time, features]` sample.
//!
//! # Shapes
//! - input: `[batch, d1, .., dr]`
//! - output: `[batch, d_dims[0], .., d_dims[r-1]]`

use super::default_true;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of [`Permute`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermuteConfig {
    /// A permutation of `1..=r` (1-based sample axes).
    pub dims: Vec<usize>,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Has no weights; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

/// Reorders each sample's axes.
pub struct Permute {
    cfg: PermuteConfig,
}

impl Permute {
    /// `dims`: 1-based sample axes in their new order.
    pub fn new(dims: &[usize]) -> Permute {
        Permute::from_config(super::with_defaults(serde_json::json!({"dims": dims})))
    }

    /// A layer from its config.
    pub fn from_config(cfg: PermuteConfig) -> Permute {
        Permute { cfg }
    }
}

impl Layer for Permute {
    fn passes_values(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("permute")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::Permute(self.cfg.clone())
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        let d = &self.cfg.dims;
        let mut sorted = d.clone();
        sorted.sort_unstable();
        if sorted != (1..=input.len()).collect::<Vec<_>>() {
            return Err(Error::config(
                format!("dims of layer '{}'", self.name()),
                format!(
                    "a permutation of 1..={} (the sample's axes {input:?})",
                    input.len()
                ),
                format!("{d:?}"),
            ));
        }
        Ok(d.iter().map(|&a| input[a - 1]).collect())
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let axes: Vec<usize> = std::iter::once(0)
            .chain(self.cfg.dims.iter().copied())
            .collect();
        x.permute(&axes)
    }

    crate::layer::trainable_from_config!();
}
