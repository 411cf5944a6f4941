//! A layer of your own, with no edit of nabla: implement `Layer`, register its `type` name,
//! and models that use it build from a spec, train, save, load and predict like any other.
//!
//! `ScaledTanh` is y = α ⊙ tanh(x) with one learned α per feature (a tanh whose output
//! range is trained; α starts at `init`).
//!
//! `cargo run --release --example custom_layer`

use nabla::nn::{registry, Ctx, LayerConfig, Param, Result};
use nabla::prelude::*;
use serde::{Deserialize, Serialize};

/// The config of [`ScaledTanh`]: what the spec writes and the saved model stores.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaledTanhConfig {
    /// The starting value of every α.
    #[serde(default = "one")]
    pub init: f32,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

fn one() -> f32 {
    1.0
}

/// y = α ⊙ tanh(x) over the last axis.
pub struct ScaledTanh {
    cfg: ScaledTanhConfig,
    alpha: Option<Param>,
}

impl ScaledTanh {
    /// The layer from its config (what `register_layer` calls).
    pub fn from_config(cfg: ScaledTanhConfig) -> ScaledTanh {
        ScaledTanh { cfg, alpha: None }
    }
}

impl Layer for ScaledTanh {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("scaled_tanh")
    }
    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }
    fn config(&self) -> LayerConfig {
        LayerConfig::custom("scaled_tanh", &self.cfg)
    }
    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        let features = *input.last().unwrap_or(&1);
        let alpha = Tensor::full(&[features], self.cfg.init);
        self.alpha = Some(Param::new("alpha", alpha));
        Ok(input.to_vec())
    }
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        x.tanh().mul(&self.alpha.as_ref().expect("built").value)
    }
    fn params(&self) -> Vec<&Param> {
        self.alpha.iter().collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.alpha.iter_mut().collect()
    }
}

/// An MLP on the embedded digits with the custom layer in the middle.
pub const SPEC: &str = r#"
[model]
input_shape = [28, 28]
layers = [
  { type = "flatten" },
  { type = "dense", units = 64 },
  { type = "scaled_tanh", init = 0.5 },
  { type = "dense", units = 10, activation = "softmax" },
]

[train]
loss = "sparse_categorical_crossentropy"
metrics = ["accuracy"]
epochs = 2
"#;

/// Registers the layer, trains the spec, saves and reloads the model; returns the trained
/// model, the reloaded one and the test data.
pub fn run(dir: &std::path::Path) -> anyhow::Result<(Model, Model, Dataset)> {
    // registering twice (a second call in one process) is refused; the first one stands
    let _ = registry::register_layer("scaled_tanh", ScaledTanh::from_config);
    let spec = Spec::from_toml(SPEC)?;
    let mut model = spec.build_model(42)?;
    let (train, test) = spec.load_data(&model)?;
    model.fit(&train, spec.fit_options().verbose(0))?;
    let path = dir.join("custom.safetensors");
    model.save(&path)?;
    let back = Model::load(&path)?;
    Ok((model, back, test.expect("mnist has a test split")))
}

#[allow(dead_code)] // the test that includes this file has its own main
fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir();
    let (model, back, test) = run(&dir)?;
    print!("{}", model.summary());
    println!("test: {}", model.evaluate(&test)?.line());
    let x = test.batch(&[0, 1, 2]).0;
    let same = model.predict(&x)?.to_vec() == back.predict(&x)?.to_vec();
    println!("reloaded model predicts the same: {same}");
    Ok(())
}
