//! `Sequential` (the builder) and `Model` (a built stack of layers, optionally compiled with
//! an optimiser, a loss and metrics).

use crate::config::{InputConfig, ModelConfig, DEFAULT_INPUT};
use crate::error::{Error, Result};
use crate::gradient_hook::{trainable_ids, GradientHook};
use crate::graph::{Entry, Graph, Ref};
use crate::layer::{Ctx, Layer, Param};
use crate::losses::LossSpec;
use crate::metrics::Metric;
use crate::optimizers::{Clipping, Optimizer, OptimizerConfig};
use crate::per_output::PerOutput;
use crate::schedules::Schedule;
use nabla_core::{Gradients, Rng, Tensor};
use serde::{Deserialize, Serialize};

/// Builds a [`Model`] layer by layer: `Sequential::new([28, 28]).add(Flatten::new())...build(seed)`:
/// the model graph where each layer takes the one before it.
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
        let input = InputConfig::new(DEFAULT_INPUT, self.input_shape);
        let entries = self.layers.into_iter().map(Entry::chain).collect();
        Model::build_graph(vec![input], entries, Vec::new(), seed)
    }
}

/// What `compile` chose, as saved with a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompileConfig {
    /// The optimiser and its hyper-parameters (a name alone takes its defaults).
    #[serde(deserialize_with = "crate::optimizers::name_or_table")]
    pub optimizer: OptimizerConfig,
    /// The loss: one for every output, or one per output name.
    pub loss: PerOutput<LossSpec>,
    /// Metrics reported besides the loss: a list for every output, or one per output name.
    #[serde(default)]
    pub metrics: PerOutput<Vec<Metric>>,
    /// The weight of each output's loss in the total (default 1).
    #[serde(default = "unit_weights", skip_serializing_if = "is_unit")]
    pub loss_weights: PerOutput<f32>,
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

fn unit_weights() -> PerOutput<f32> {
    PerOutput::All(1.0)
}

fn is_unit(w: &PerOutput<f32>) -> bool {
    *w == PerOutput::All(1.0)
}

/// The optimiser, loss and metrics of a compiled model.
pub struct Compiled {
    /// Updates the weights.
    pub optimizer: Box<dyn Optimizer>,
    /// Minimised by `fit`: the loss of each output, in output order.
    pub losses: Vec<LossSpec>,
    /// Reported by `fit` and `evaluate`: the metrics of each output.
    pub metrics: Vec<Vec<Metric>>,
    /// The weight of each output's loss in the total.
    pub loss_weights: Vec<f32>,
    /// The loss, metrics and weights as given (what is saved).
    pub given: (PerOutput<LossSpec>, PerOutput<Vec<Metric>>, PerOutput<f32>),
    /// Gradient clipping before each step (none by default).
    pub clipping: Clipping,
    /// Learning-rate schedule applied by `fit` (none: constant).
    pub schedule: Option<Schedule>,
    /// The learning rate the optimiser was compiled with (a schedule's `lr0`).
    pub base_lr: f32,
    /// Run after clipping, before every optimiser step, in order.
    pub hooks: Vec<Box<dyn GradientHook>>,
    /// Micro-batches whose gradients are averaged into one step (1: every batch steps).
    pub accumulate: usize,
    /// Accumulated micro-batches: (Σ n_i · ∇_i, Σ n_i, how many).
    pending: Option<(Gradients, usize, usize)>,
    /// Batch norm's statistics cover the batches of these processes in training passes
    /// (synchronised batch norm; set by data-parallel `fit` with `sync_batch_norm`).
    pub sync_batch_norm: Option<std::sync::Arc<dyn nabla_core::Communicator>>,
}

/// A built model: its graph of layers, optionally compiled with an optimiser, a loss and
/// metrics.
pub struct Model {
    graph: Graph,
    seed: u64,
    /// The run's RNG for dropout and shuffling (derived from the seed, apart from the
    /// initialisation stream).
    pub rng: Rng,
    compiled: Option<Compiled>,
    /// The tokenizer of a text model (its JSON), saved inside the model file.
    pub(crate) tokenizer: Option<String>,
    /// A classifier's class names, by index, saved inside the model file.
    pub(crate) class_names: Option<Vec<String>>,
    /// The Hugging Face `config.json` the model was built from, for exporting it back.
    pub(crate) hf_config: Option<String>,
    /// How the training data was read (JSON), to read new files the same way.
    pub(crate) data_recipe: Option<String>,
}

impl Model {
    /// Builds a model graph from `seed`: the weights from its first stream, dropout and
    /// shuffling from the second (as every model since the first, so seeds give the same
    /// numbers as before graphs).
    pub fn build_graph(
        inputs: Vec<InputConfig>,
        entries: Vec<Entry>,
        outputs: Vec<Ref>,
        seed: u64,
    ) -> Result<Model> {
        let mut root = Rng::new(seed);
        let mut init_rng = root.fork();
        let graph = Graph::build(inputs, entries, outputs, &mut init_rng)?;
        Ok(Model::from_graph(graph, seed, root.fork()))
    }

    /// A model of a built graph.
    pub fn from_graph(graph: Graph, seed: u64, rng: Rng) -> Model {
        Model {
            graph,
            seed,
            rng,
            compiled: None,
            tokenizer: None,
            class_names: None,
            hf_config: None,
            data_recipe: None,
        }
    }

    /// Checks that a batch of `batch` samples fits in memory before it is run: every
    /// layer's output for the batch within `NABLA_MAX_VALUES`, all of them together within
    /// `NABLA_MAX_MEMORY` (default: this machine's memory). `fit`, `evaluate` and
    /// `predict` call it; a model that builds can still ask for too much per batch.
    pub fn check_batch(&self, batch: usize) -> Result<()> {
        let g = &self.graph;
        let inputs = g.inputs.iter().map(|i| (i.name.as_str(), &i.shape[..]));
        let nodes = g.nodes.iter().map(|n| (n.name.as_str(), &n.shape[..]));
        crate::budget::check_batch(inputs.chain(nodes), batch)
    }

    /// The graph (inputs, layers, nodes, outputs).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The graph, giving up the rest (to use the model as a layer of another).
    pub fn into_graph(self) -> Graph {
        self.graph
    }

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
        let given = (
            PerOutput::All(loss),
            PerOutput::All(metrics.to_vec()),
            unit_weights(),
        );
        self.compile_outputs(optimizer, given)
    }

    /// Compiles a model with several outputs: a loss, metrics and a loss weight for every
    /// output or per output name (Keras's `compile(loss={"main": ..}, loss_weights=..)`).
    pub fn compile_outputs(
        &mut self,
        optimizer: Box<dyn Optimizer>,
        given: (PerOutput<LossSpec>, PerOutput<Vec<Metric>>, PerOutput<f32>),
    ) -> Result<()> {
        let names: Vec<&str> = self.outputs().iter().map(|o| o.0).collect();
        let losses = given.0.resolve(&names, "loss", None)?;
        let metrics = given.1.resolve(&names, "metrics", Some(Vec::new()))?;
        let loss_weights = given.2.resolve(&names, "loss_weights", Some(1.0))?;
        for l in &losses {
            l.validate()?;
        }
        if let Some(w) = loss_weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return Err(Error::config("loss_weights", "finite numbers >= 0", w));
        }
        optimizer.config().validate()?;
        let base_lr = optimizer.learning_rate();
        self.compiled = Some(Compiled {
            optimizer,
            losses,
            metrics,
            loss_weights,
            given,
            clipping: Clipping::default(),
            schedule: None,
            base_lr,
            hooks: Vec::new(),
            accumulate: 1,
            pending: None,
            sync_batch_norm: None,
        });
        Ok(())
    }

    /// Compiles from a saved or spec'd [`CompileConfig`].
    pub fn compile_from_config(&mut self, cfg: &CompileConfig) -> Result<()> {
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
        let given = (
            cfg.loss.clone(),
            cfg.metrics.clone(),
            cfg.loss_weights.clone(),
        );
        self.compile_outputs(optimizer, given)?;
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
    pub fn compile_config(&self) -> Option<CompileConfig> {
        self.compiled.as_ref().map(|c| {
            // saved with the compiled learning rate, not the one a schedule reached
            let mut opt = c.optimizer.config().into_optimizer();
            opt.set_learning_rate(c.base_lr);
            CompileConfig {
                optimizer: opt.config(),
                loss: c.given.0.clone(),
                metrics: c.given.1.clone(),
                loss_weights: c.given.2.clone(),
                clipping: c.clipping,
                lr_schedule: c.schedule.clone(),
            }
        })
    }

    /// Runs the model on `x` (`[batch, ..input_shape]`) and returns its first output.
    pub fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        self.graph.run(std::slice::from_ref(x), ctx).swap_remove(0)
    }

    /// Runs the model on one tensor per input and returns every output.
    pub fn forward_multi(&self, xs: &[Tensor], ctx: &mut Ctx) -> Vec<Tensor> {
        self.graph.run(xs, ctx)
    }

    /// Checks input values `x` (samples of `input_shape`) for the layers that read the first
    /// input: token ids of an embedding must be whole numbers below its vocabulary.
    pub fn check_input(&self, x: &[f32]) -> Result<()> {
        self.graph.check_input(0, x)
    }

    /// Checks the values of every input (see [`Model::check_input`]).
    pub fn check_inputs(&self, xs: &[&[f32]]) -> Result<()> {
        for (k, x) in xs.iter().enumerate() {
            self.graph.check_input(k, x)?;
        }
        Ok(())
    }

    /// One training forward pass drawing dropout masks from the model's RNG.
    pub fn forward_train(&mut self, x: &Tensor) -> Tensor {
        self.forward_train_regularized(x).0
    }

    /// Adapts every layer that wants statistics (`Normalization`) to `x` `[n, ..input]`, each
    /// on what reaches it. Called by `fit` on the training data when needed.
    pub fn adapt(&mut self, x: &Tensor) {
        self.graph.adapt(std::slice::from_ref(x));
    }

    /// [`Model::adapt`] with one tensor per input.
    pub fn adapt_multi(&mut self, xs: &[Tensor]) {
        self.graph.adapt(xs);
    }

    /// Whether any layer still wants statistics from the training data.
    pub fn needs_adapt(&self) -> bool {
        self.graph.layers.iter().any(|l| l.needs_adapt())
    }

    /// The weight penalties (kernel and bias regularisers) of the trainable layers, if any.
    pub fn regularization(&self) -> Option<Tensor> {
        self.graph
            .layers
            .iter()
            .filter(|l| l.trainable())
            .filter_map(|l| l.regularization())
            .reduce(|a, b| a.add(&b))
    }

    /// A training forward pass and the regularisation penalty (weight regularisers of the
    /// trainable layers plus the activity penalties of this pass), if the model has any.
    pub fn forward_train_regularized(&mut self, x: &Tensor) -> (Tensor, Option<Tensor>) {
        let (mut ys, penalty) = self.forward_train_multi(std::slice::from_ref(x));
        (ys.swap_remove(0), penalty)
    }

    /// [`Model::forward_train_regularized`] with one tensor per input, returning every output.
    pub fn forward_train_multi(&mut self, xs: &[Tensor]) -> (Vec<Tensor>, Option<Tensor>) {
        let mut rng = std::mem::replace(&mut self.rng, Rng::new(0));
        let mut ctx = Ctx::new(true, &mut rng);
        ctx.comm = self
            .compiled
            .as_ref()
            .and_then(|c| c.sync_batch_norm.clone());
        let ys = self.graph.run(xs, &mut ctx);
        let mut terms = std::mem::take(&mut ctx.penalties);
        let updates = std::mem::take(&mut ctx.stat_updates);
        self.rng = rng;
        // running statistics computed by the pass (batch norm), written into their weights
        // now that no layer is borrowed
        if !updates.is_empty() {
            for p in self.params_mut() {
                if let Some((_, values)) = updates.iter().rev().find(|(id, _)| *id == p.value.id())
                {
                    p.value.update(|w| w.copy_from_slice(values));
                }
            }
        }
        terms.extend(self.regularization());
        let penalty = terms.into_iter().reduce(|a, b| a.add(&b));
        (ys, penalty)
    }

    /// An inference forward pass (eval mode, nothing recorded).
    pub fn forward_eval(&self, x: &Tensor) -> Tensor {
        self.forward_eval_multi(std::slice::from_ref(x))
            .swap_remove(0)
    }

    /// [`Model::forward_eval`] with one tensor per input, returning every output.
    pub fn forward_eval_multi(&self, xs: &[Tensor]) -> Vec<Tensor> {
        let mut rng = Rng::new(0);
        nabla_core::no_grad(|| self.graph.run(xs, &mut Ctx::new(false, &mut rng)))
    }

    /// Per-sample shape of the first input.
    pub fn input_shape(&self) -> &[usize] {
        &self.graph.inputs[0].shape
    }

    /// The named inputs.
    pub fn inputs(&self) -> &[InputConfig] {
        &self.graph.inputs
    }

    /// Per-sample shape of the first output.
    pub fn output_shape(&self) -> &[usize] {
        self.graph.output_shape(0)
    }

    /// The outputs: `(name, per-sample shape)` each.
    pub fn outputs(&self) -> Vec<(&str, &[usize])> {
        (0..self.graph.outputs.len())
            .map(|i| (self.graph.output_name(i), self.graph.output_shape(i)))
            .collect()
    }

    /// The output shape of each layer (at its first call).
    pub fn output_shapes(&self) -> Vec<&[usize]> {
        let mut first: Vec<Option<&[usize]>> = vec![None; self.graph.layers.len()];
        for n in self.graph.nodes.iter().rev() {
            first[n.layer] = Some(&n.shape);
        }
        first
            .into_iter()
            .map(|s| s.expect("every layer is called"))
            .collect()
    }

    /// The seed the model was built with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The layers.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.graph.layers
    }

    /// The layers, mutable (freeze with `set_trainable(false)`).
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Layer>] {
        &mut self.graph.layers
    }

    /// The layer called `name`.
    pub fn layer_mut(&mut self, name: &str) -> Option<&mut Box<dyn Layer>> {
        self.graph.layers.iter_mut().find(|l| l.name() == name)
    }

    /// Every weight as `(layer.param name, param)`, in a fixed order.
    pub fn named_params(&self) -> Vec<(String, &Param)> {
        self.graph
            .layers
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
        self.graph
            .layers
            .iter_mut()
            .flat_map(|l| l.params_mut())
            .collect()
    }

    /// The architecture as a config (what `save` stores and `ModelConfig::build` rebuilds).
    pub fn config(&self) -> ModelConfig {
        self.graph.config()
    }

    /// Adds a hook run on every step's gradients after clipping, before the optimiser
    /// (Keras has none; PyTorch users write this between `backward()` and `step()`).
    pub fn add_gradient_hook(&mut self, hook: impl GradientHook + 'static) -> Result<()> {
        self.compiled_mut()?.hooks.push(Box::new(hook));
        Ok(())
    }

    /// Applies one optimiser step with `grads` to every trainable weight (after clipping and
    /// the gradient hooks; no accumulation).
    ///
    /// Drop the loss and the outputs first: while their graph lives it holds the old weights,
    /// so every weight is copied before it changes (PyTorch frees the graph in `backward`).
    pub fn apply_gradients(&mut self, grads: &Gradients) -> Result<()> {
        if self.changes_gradients()? {
            return self.step_now(grads.clone(), None);
        }
        self.optimizer_step(grads)
    }

    /// The gradients of one batch of `samples` samples: an optimiser step now, or, with
    /// `accumulate` micro-batches, added to the pending sum, which steps with the mean
    /// Σ n_i ∇_i / Σ n_i once it holds `accumulate` batches.
    pub fn apply_batch_gradients(&mut self, grads: Gradients, samples: usize) -> Result<()> {
        let c = self.compiled_mut()?;
        if c.accumulate <= 1 {
            return self.step_now(grads, Some(samples));
        }
        let mut g = grads;
        g.scale(samples as f32);
        let (sum, count, batches) = c.pending.get_or_insert_with(Default::default);
        sum.accumulate(g);
        *count += samples;
        *batches += 1;
        if *batches >= c.accumulate {
            self.flush_gradients()?;
        }
        Ok(())
    }

    /// Applies the pending accumulated gradients, if any (an epoch's last micro-batches form
    /// a smaller step).
    pub fn flush_gradients(&mut self) -> Result<()> {
        if let Some((mut sum, count, _)) = self.compiled_mut()?.pending.take() {
            sum.scale(1.0 / count.max(1) as f32);
            self.step_now(sum, Some(count))?;
        }
        Ok(())
    }

    /// Whether clipping or a hook changes the gradients before the optimiser.
    fn changes_gradients(&mut self) -> Result<bool> {
        let c = self.compiled_mut()?;
        Ok(c.clipping.is_active() || !c.hooks.is_empty())
    }

    /// Whether a collective gradient hook (data-parallel training) is attached: every process
    /// must then take every step, even one whose loss is not finite.
    pub fn is_collective(&self) -> bool {
        self.compiled
            .as_ref()
            .is_some_and(|c| c.hooks.iter().any(|h| h.collective()))
    }

    /// The collective hooks, clipping, the other hooks, then the optimiser (the weights'
    /// names are made only when something reads them, not on every step). `samples`: how
    /// many samples `grads` average over.
    fn step_now(&mut self, mut grads: Gradients, samples: Option<usize>) -> Result<()> {
        if self.changes_gradients()? {
            let mut compiled = self.compiled.take().ok_or(Error::NotCompiled)?;
            let params = self.named_params();
            let (collective, others): (Vec<_>, Vec<_>) =
                compiled.hooks.iter_mut().partition(|h| h.collective());
            let any_collective = !collective.is_empty();
            for h in collective {
                h.apply_step(&mut grads, &params, samples);
            }
            compiled.clipping.apply(&mut grads, &params);
            for h in others {
                h.apply_step(&mut grads, &params, samples);
            }
            // every process reached the same reduced gradients, so all skip together
            let skip = any_collective && !grads.global_norm(&trainable_ids(&params)).is_finite();
            drop(params);
            if !skip {
                let mut named = self.params_mut_named();
                let opt = compiled.optimizer.state_mut();
                for h in compiled.hooks.iter_mut() {
                    h.before_update(&mut grads, &mut named, opt);
                }
            }
            self.compiled = Some(compiled);
            if skip {
                return Ok(());
            }
        }
        self.optimizer_step(&grads)
    }

    /// The optimiser's update of every trainable weight.
    fn optimizer_step(&mut self, grads: &Gradients) -> Result<()> {
        let mut compiled = self.compiled.take().ok_or(Error::NotCompiled)?;
        compiled.optimizer.step(&mut self.params_mut(), grads);
        self.compiled = Some(compiled);
        Ok(())
    }
}
