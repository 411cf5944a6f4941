//! `SubModel`: a whole model used as one layer of another (Keras's model-as-layer): a
//! pretrained body under a new head, or a block reused as a unit. Its weights are named
//! `body.dense.kernel` in the outer model.
//!
//! `{ type = "model", name = "body", model = { input_shape = [784], layers = [..] } }`

use super::default_true;
use crate::config::{LayerConfig, ModelConfig};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::layer::{Ctx, Layer, Param};
use crate::model::Model;
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of [`SubModel`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubModelConfig {
    /// The inner model's architecture.
    pub model: Box<ModelConfig>,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the inner weights are trained (default true).
    #[serde(default = "default_true")]
    pub trainable: bool,
}

/// A model inside a model: one input per inner input, its one output.
pub struct SubModel {
    cfg: SubModelConfig,
    graph: Option<Graph>,
}

impl SubModel {
    /// A layer from its config (built, with fresh weights, inside the outer model).
    pub fn from_config(cfg: SubModelConfig) -> SubModel {
        SubModel { cfg, graph: None }
    }

    /// Wraps a built model, keeping its weights (a pretrained body).
    pub fn new(model: Model) -> SubModel {
        let graph = model.into_graph();
        let cfg = SubModelConfig {
            model: Box::new(graph.config()),
            name: None,
            trainable: true,
        };
        let mut s = SubModel { cfg, graph: None };
        s.adopt(graph);
        s
    }

    /// Takes `graph` as the inner model, its weights named by inner layer (`dense.kernel`).
    fn adopt(&mut self, mut graph: Graph) {
        for l in graph.layers.iter_mut() {
            let prefix = format!("{}.", l.name());
            let named = |n: &mut String| {
                if !n.starts_with(&prefix) {
                    *n = format!("{prefix}{n}");
                }
            };
            l.params_mut().into_iter().for_each(|p| named(&mut p.name));
            l.int8_params_mut()
                .into_iter()
                .for_each(|p| named(&mut p.name));
        }
        self.graph = Some(graph);
    }

    fn graph(&self) -> &Graph {
        self.graph
            .as_ref()
            .expect("a model layer is built before use")
    }
}

impl Layer for SubModel {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("model")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        let mut cfg = self.cfg.clone();
        if let Some(g) = &self.graph {
            cfg.model = Box::new(g.config());
            // false only when nothing inside trains: a partly frozen model (its first
            // blocks) keeps that in its inner layers' own configs, which loading applies
            cfg.trainable = self.params().iter().any(|p| p.trainable);
        }
        LayerConfig::Model(cfg)
    }

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        self.build_multi(&[input.to_vec()], rng)
    }

    fn build_multi(&mut self, inputs: &[Vec<usize>], rng: &mut Rng) -> Result<Vec<usize>> {
        if self.graph.is_none() {
            let g = self.cfg.model.build_graph(rng)?;
            self.adopt(g);
            if !self.cfg.trainable {
                self.set_trainable(false);
            }
        }
        let g = self.graph();
        let want: Vec<Vec<usize>> = g.inputs.iter().map(|i| i.shape.clone()).collect();
        if want != inputs {
            return Err(Error::config(
                format!("inputs of model layer '{}'", self.name()),
                format!("{want:?}"),
                format!("{inputs:?}"),
            ));
        }
        if g.outputs.len() != 1 {
            return Err(Error::config(
                format!("outputs of model layer '{}'", self.name()),
                "1 output (a model inside a model returns one tensor)",
                g.outputs.len(),
            ));
        }
        Ok(g.output_shape(0).to_vec())
    }

    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        self.forward_multi(std::slice::from_ref(x), ctx)
    }

    fn forward_multi(&self, xs: &[Tensor], ctx: &mut Ctx) -> Tensor {
        self.graph().run(xs, ctx).swap_remove(0)
    }

    fn params(&self) -> Vec<&Param> {
        self.graph()
            .layers
            .iter()
            .flat_map(|l| l.params())
            .collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        let g = self.graph.as_mut().expect("built");
        g.layers.iter_mut().flat_map(|l| l.params_mut()).collect()
    }

    fn int8_params(&self) -> Vec<&crate::layer::Int8Param> {
        let g = self.graph();
        g.layers.iter().flat_map(|l| l.int8_params()).collect()
    }

    fn int8_params_mut(&mut self) -> Vec<&mut crate::layer::Int8Param> {
        let g = self.graph.as_mut().expect("built");
        g.layers
            .iter_mut()
            .flat_map(|l| l.int8_params_mut())
            .collect()
    }

    fn quantize_inside(&mut self, mode: crate::quantize::QuantMode) -> Result<Vec<String>> {
        let Some(mut g) = self.graph.take() else {
            return Ok(Vec::new());
        };
        let done = crate::quantize::quantize_layers(&mut g.layers, mode);
        self.adopt(g); // the new layers' weights get their names inside this model
        done
    }

    fn trainable(&self) -> bool {
        self.cfg.trainable
            && self
                .graph
                .iter()
                .flat_map(|g| &g.layers)
                .all(|l| l.trainable())
    }

    fn set_trainable(&mut self, on: bool) {
        self.cfg.trainable = on;
        for l in self.graph.iter_mut().flat_map(|g| g.layers.iter_mut()) {
            l.set_trainable(on);
        }
    }

    fn regularization(&self) -> Option<Tensor> {
        let g = self.graph();
        g.layers
            .iter()
            .filter(|l| l.trainable())
            .filter_map(|l| l.regularization())
            .reduce(|a, b| a.add(&b))
    }

    fn needs_adapt(&self) -> bool {
        self.graph
            .iter()
            .flat_map(|g| &g.layers)
            .any(|l| l.needs_adapt())
    }

    fn adapt(&mut self, x: &Tensor) {
        if let Some(g) = self.graph.as_mut().filter(|g| g.inputs.len() == 1) {
            g.adapt(std::slice::from_ref(x));
        }
    }

    fn check_input(&self, x: &[f32]) -> Result<()> {
        self.graph().check_input(0, x)
    }

    /// Token ids when its input reaches an embedding inside: the outer model then refuses
    /// to feed it computed values, as it does for an embedding of its own.
    fn takes_ids(&self) -> bool {
        self.graph
            .as_ref()
            .is_some_and(|g| g.inputs.len() == 1 && g.input_reads_ids(0))
    }
}
