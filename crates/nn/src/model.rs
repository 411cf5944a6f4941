//! `Sequential` (the builder) and `Model` (a built stack of layers, optionally compiled with
//! an optimiser, a loss and metrics).

use crate::config::{LayerConfig, ModelConfig};
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer, Param};
use crate::losses::LossSpec;
use crate::metrics::Metric;
use crate::optimizers::{Clipping, Optimizer, OptimizerConfig};
use crate::schedules::Schedule;
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Builds a [`Model`] layer by layer: `Sequential::new([28, 28]).add(Flatten::new())...build(seed)`.
pub struct Sequential {
    input_shape: Vec<usize>,
    layers: Vec<Box<dyn Layer>>,
}

impl Sequential {
    /// A model taking samples of `input_shape` (without the batch axis).
    pub fn new(input_shape: impl Into<Vec<usize>>) -> Sequential {
        Sequential {
            input_shape: input_shape.into(),
            layers: Vec::new(),
        }
    }

    /// Appends a layer.
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, layer: impl Layer + 'static) -> Sequential {
        self.add_boxed(Box::new(layer))
    }

    /// Appends a boxed layer.
    pub fn add_boxed(mut self, layer: Box<dyn Layer>) -> Sequential {
        self.layers.push(layer);
        self
    }

    /// Names unnamed layers (`dense`, `dense_1`, ... as Keras), checks every shape and creates
    /// the weights from `seed`.
    pub fn build(self, seed: u64) -> Result<Model> {
        let mut root = Rng::new(seed);
        let mut init_rng = root.fork();
        let train_rng = root.fork();
        let mut layers = self.layers;
        let mut counts: HashMap<&'static str, usize> = HashMap::new();
        let mut taken: Vec<String> = Vec::new();
        for l in layers.iter_mut() {
            let cfg = l.config();
            if has_name(&cfg) {
                if taken.iter().any(|n| n == l.name()) {
                    return Err(Error::config("layer name", "a name used once", l.name()));
                }
                taken.push(l.name().to_string());
            }
        }
        let mut shape = self.input_shape.clone();
        if shape.contains(&0) {
            return Err(Error::config(
                "input_shape",
                "positive sizes",
                format!("{shape:?}"),
            ));
        }
        let mut shapes = Vec::new();
        for l in layers.iter_mut() {
            if !has_name(&l.config()) {
                let kind = l.config().type_name();
                loop {
                    let c = counts.entry(kind).or_insert(0);
                    let name = if *c == 0 {
                        kind.to_string()
                    } else {
                        format!("{kind}_{c}")
                    };
                    *c += 1;
                    if !taken.contains(&name) {
                        taken.push(name.clone());
                        l.set_name(name);
                        break;
                    }
                }
            }
            shape = l.build(&shape, &mut init_rng)?;
            shapes.push(shape.clone());
        }
        Ok(Model {
            input_shape: self.input_shape,
            layers,
            output_shapes: shapes,
            seed,
            rng: train_rng,
            compiled: None,
            tokenizer: None,
        })
    }
}

fn has_name(cfg: &LayerConfig) -> bool {
    match cfg {
        LayerConfig::Dense(c) => c.name.is_some(),
        LayerConfig::Activation(c) => c.name.is_some(),
        LayerConfig::Dropout(c) => c.name.is_some(),
        LayerConfig::Flatten(c) => c.name.is_some(),
        LayerConfig::Normalization(c) => c.name.is_some(),
        LayerConfig::Conv2d(c) => c.name.is_some(),
        LayerConfig::MaxPool2d(c) | LayerConfig::AvgPool2d(c) => c.name.is_some(),
        LayerConfig::GlobalAvgPool2d(c) | LayerConfig::GlobalMaxPool2d(c) => c.name.is_some(),
        LayerConfig::Reshape(c) => c.name.is_some(),
        LayerConfig::BatchNorm(c) => c.name.is_some(),
        LayerConfig::SpatialDropout2d(c) => c.name.is_some(),
        LayerConfig::Conv1d(c) => c.name.is_some(),
        LayerConfig::MaxPool1d(c) | LayerConfig::AvgPool1d(c) => c.name.is_some(),
        LayerConfig::ZeroPadding2d(c) => c.name.is_some(),
        LayerConfig::UpSampling2d(c) => c.name.is_some(),
        LayerConfig::Permute(c) => c.name.is_some(),
        LayerConfig::LayerNorm(c) | LayerConfig::RmsNorm(c) => c.name.is_some(),
        LayerConfig::Embedding(c) => c.name.is_some(),
        LayerConfig::MultiHeadAttention(c) => c.name.is_some(),
        LayerConfig::PositionalEmbedding(c) => c.name.is_some(),
        LayerConfig::TransformerBlock(c) => c.name.is_some(),
        LayerConfig::GlobalAvgPool1d(c)
        | LayerConfig::GlobalMaxPool1d(c)
        | LayerConfig::LastStep(c) => c.name.is_some(),
        LayerConfig::TimeDistributed(c) => c.name.is_some(),
        LayerConfig::Lstm(c) | LayerConfig::Gru(c) | LayerConfig::SimpleRnn(c) => c.name.is_some(),
    }
}

/// What `compile` chose, as saved with a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompileConfig {
    /// The optimiser and its hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// The loss.
    pub loss: LossSpec,
    /// Metrics reported besides the loss.
    #[serde(default)]
    pub metrics: Vec<Metric>,
    /// Gradient clipping before each step.
    #[serde(default, skip_serializing_if = "is_default")]
    pub clipping: Clipping,
    /// How the learning rate changes over training (default: constant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_schedule: Option<Schedule>,
}

fn is_default(c: &Clipping) -> bool {
    !c.is_active()
}

/// The optimiser, loss and metrics of a compiled model.
pub struct Compiled {
    /// Updates the weights.
    pub optimizer: Box<dyn Optimizer>,
    /// Minimised by `fit`.
    pub loss: LossSpec,
    /// Reported by `fit` and `evaluate`.
    pub metrics: Vec<Metric>,
    /// Gradient clipping before each step (none by default).
    pub clipping: Clipping,
    /// Learning-rate schedule applied by `fit` (none: constant).
    pub schedule: Option<Schedule>,
    /// The learning rate the optimiser was compiled with (a schedule's `lr0`).
    pub base_lr: f32,
}

/// A built sequential model.
pub struct Model {
    input_shape: Vec<usize>,
    layers: Vec<Box<dyn Layer>>,
    output_shapes: Vec<Vec<usize>>,
    seed: u64,
    /// The run's RNG for dropout and shuffling (derived from the seed, apart from the
    /// initialisation stream).
    pub rng: Rng,
    compiled: Option<Compiled>,
    /// The tokenizer of a text model (its JSON), saved inside the model file.
    tokenizer: Option<String>,
}

impl Model {
    /// Chooses the optimiser, the loss and the metrics.
    pub fn compile(
        &mut self,
        optimizer: impl Optimizer + 'static,
        loss: impl Into<LossSpec>,
        metrics: &[Metric],
    ) -> Result<()> {
        self.compile_boxed(Box::new(optimizer), loss.into(), metrics)
    }

    /// [`Model::compile`] with a boxed optimiser.
    pub fn compile_boxed(
        &mut self,
        optimizer: Box<dyn Optimizer>,
        loss: LossSpec,
        metrics: &[Metric],
    ) -> Result<()> {
        loss.validate()?;
        optimizer.config().validate()?;
        let base_lr = optimizer.learning_rate();
        self.compiled = Some(Compiled {
            optimizer,
            loss,
            metrics: metrics.to_vec(),
            clipping: Clipping::default(),
            schedule: None,
            base_lr,
        });
        Ok(())
    }

    /// Compiles from a saved or spec'd [`CompileConfig`].
    pub fn compile_config(&mut self, cfg: &CompileConfig) -> Result<()> {
        cfg.optimizer.validate()?;
        let clip = [
            ("global_clipnorm", cfg.clipping.global_clipnorm),
            ("clipvalue", cfg.clipping.clipvalue),
        ];
        for (what, v) in clip {
            if let Some(v) = v.filter(|v| !(*v > 0.0 && v.is_finite())) {
                return Err(Error::config(what, "a positive number", v));
            }
        }
        let optimizer = cfg.optimizer.clone().into_optimizer();
        self.compile_boxed(optimizer, cfg.loss.clone(), &cfg.metrics)?;
        if let Some(s) = &cfg.lr_schedule {
            s.validate()?;
        }
        let c = self.compiled.as_mut().expect("just compiled");
        c.clipping = cfg.clipping;
        c.schedule = cfg.lr_schedule.clone();
        Ok(())
    }

    /// The compile state, if compiled.
    pub fn compiled(&self) -> Option<&Compiled> {
        self.compiled.as_ref()
    }

    /// The compile state, mutable; [`Error::NotCompiled`] if `compile` was not called.
    pub fn compiled_mut(&mut self) -> Result<&mut Compiled> {
        self.compiled.as_mut().ok_or(Error::NotCompiled)
    }

    /// The compile config (to save), if compiled.
    pub fn compile_cfg(&self) -> Option<CompileConfig> {
        self.compiled.as_ref().map(|c| {
            // saved with the compiled learning rate, not the one a schedule reached
            let mut opt = c.optimizer.config().into_optimizer();
            opt.set_learning_rate(c.base_lr);
            CompileConfig {
                optimizer: opt.config(),
                loss: c.loss.clone(),
                metrics: c.metrics.clone(),
                clipping: c.clipping,
                lr_schedule: c.schedule.clone(),
            }
        })
    }

    /// Runs every layer on `x` (`[batch, ..input_shape]`).
    pub fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let mut h = x.clone();
        let mut i = 0;
        while i < self.layers.len() {
            // a pair that runs as one fused op (conv + ReLU + max pool) counts as two layers
            let next = self.layers.get(i + 1);
            if let Some(y) = next.and_then(|n| self.layers[i].forward_fused(n.as_ref(), &h, ctx)) {
                h = y;
                i += 2;
            } else {
                h = self.layers[i].forward(&h, ctx);
                i += 1;
            }
        }
        h
    }

    /// Keeps a text model's tokenizer (serialised, e.g. a `CharTokenizer`'s JSON) with the
    /// model: it is saved inside the model file and comes back with [`Model::load`].
    pub fn set_tokenizer(&mut self, json: impl Into<String>) {
        self.tokenizer = Some(json.into());
    }

    /// The tokenizer saved with the model, if any.
    pub fn tokenizer(&self) -> Option<&str> {
        self.tokenizer.as_deref()
    }

    /// Checks input values `x` (samples of `input_shape`) for the first layer: token ids of
    /// an embedding must be whole numbers below its vocabulary.
    pub fn check_input(&self, x: &[f32]) -> Result<()> {
        self.layers.first().map_or(Ok(()), |l| l.check_input(x))
    }

    /// One training forward pass drawing dropout masks from the model's RNG.
    pub fn forward_train(&mut self, x: &Tensor) -> Tensor {
        self.forward_train_regularized(x).0
    }

    /// Adapts every layer that wants statistics (`Normalization`) to `x` `[n, ..input]`, each
    /// on what reaches it. Called by `fit` on the training data when needed.
    pub fn adapt(&mut self, x: &Tensor) {
        let mut rng = Rng::new(0);
        let mut h = x.clone();
        for l in self.layers.iter_mut() {
            if l.needs_adapt() {
                l.adapt(&h);
            }
            h = nabla_core::no_grad(|| l.forward(&h, &mut Ctx::new(false, &mut rng)));
        }
    }

    /// Whether any layer still wants statistics from the training data.
    pub fn needs_adapt(&self) -> bool {
        self.layers.iter().any(|l| l.needs_adapt())
    }

    /// The weight penalties (kernel and bias regularisers) of the trainable layers, if any.
    pub fn regularization(&self) -> Option<Tensor> {
        self.layers
            .iter()
            .filter(|l| l.trainable())
            .filter_map(|l| l.regularization())
            .reduce(|a, b| a.add(&b))
    }

    /// A training forward pass and the regularisation penalty (weight regularisers of the
    /// trainable layers plus the activity penalties of this pass), if the model has any.
    pub fn forward_train_regularized(&mut self, x: &Tensor) -> (Tensor, Option<Tensor>) {
        let mut rng = std::mem::replace(&mut self.rng, Rng::new(0));
        let mut ctx = Ctx::new(true, &mut rng);
        let y = self.forward(x, &mut ctx);
        let mut terms = std::mem::take(&mut ctx.penalties);
        let updates = std::mem::take(&mut ctx.stat_updates);
        self.rng = rng;
        // running statistics computed by the pass (batch norm): written now that no layer
        // is being borrowed
        for (name, values) in updates {
            for l in self.layers.iter_mut() {
                let lname = l.name().to_string();
                for p in l.params_mut() {
                    if name.strip_prefix(&lname).and_then(|r| r.strip_prefix('.'))
                        == Some(p.name.as_str())
                    {
                        p.value.update(|w| w.copy_from_slice(&values));
                    }
                }
            }
        }
        terms.extend(self.regularization());
        let penalty = terms.into_iter().reduce(|a, b| a.add(&b));
        (y, penalty)
    }

    /// An inference forward pass (eval mode, nothing recorded).
    pub fn forward_eval(&self, x: &Tensor) -> Tensor {
        let mut rng = Rng::new(0);
        nabla_core::no_grad(|| self.forward(x, &mut Ctx::new(false, &mut rng)))
    }

    /// Per-sample input shape.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// Per-sample output shape.
    pub fn output_shape(&self) -> &[usize] {
        self.output_shapes
            .last()
            .map(|s| s.as_slice())
            .unwrap_or(&self.input_shape)
    }

    /// The output shape of each layer.
    pub fn output_shapes(&self) -> &[Vec<usize>] {
        &self.output_shapes
    }

    /// The seed the model was built with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The layers.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// The layers, mutable (freeze with `set_trainable(false)`).
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Layer>] {
        &mut self.layers
    }

    /// The layer called `name`.
    pub fn layer_mut(&mut self, name: &str) -> Option<&mut Box<dyn Layer>> {
        self.layers.iter_mut().find(|l| l.name() == name)
    }

    /// Every weight as `(layer.param name, param)`, in a fixed order.
    pub fn named_params(&self) -> Vec<(String, &Param)> {
        self.layers
            .iter()
            .flat_map(|l| {
                l.params()
                    .into_iter()
                    .map(move |p| (format!("{}.{}", l.name(), p.name), p))
            })
            .collect()
    }

    /// Every weight, mutable, in the same order as [`Model::named_params`].
    pub fn params_mut(&mut self) -> Vec<&mut Param> {
        self.layers
            .iter_mut()
            .flat_map(|l| l.params_mut())
            .collect()
    }

    /// The architecture as a config (what `save` stores and `ModelConfig::build` rebuilds).
    pub fn config(&self) -> ModelConfig {
        ModelConfig {
            input_shape: self.input_shape.clone(),
            layers: self.layers.iter().map(|l| l.config()).collect(),
        }
    }

    /// Applies one optimiser step with `grads` to every trainable weight.
    pub fn apply_gradients(&mut self, grads: &nabla_core::Gradients) -> Result<()> {
        let mut compiled = self.compiled.take().ok_or(Error::NotCompiled)?;
        {
            let mut params = self.params_mut();
            if compiled.clipping.is_active() {
                let ids: Vec<u64> = params
                    .iter()
                    .filter(|p| p.trainable)
                    .map(|p| p.value.id())
                    .collect();
                let mut clipped = grads.clone();
                compiled.clipping.apply(&mut clipped, &ids);
                compiled.optimizer.step(&mut params, &clipped);
            } else {
                compiled.optimizer.step(&mut params, grads);
            }
        }
        self.compiled = Some(compiled);
        Ok(())
    }
}
