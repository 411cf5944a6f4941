//! The `Layer` trait (config, lazy `build` from the input shape, `forward`, parameters), the
//! trainable `Param`, and the forward context `Ctx` (train/eval mode and the run's RNG).

use crate::config::LayerConfig;
use crate::error::Result;
use nabla_core::{Rng, Tensor};

/// A named weight of a layer. Frozen (`trainable = false`) params get no update.
#[derive(Clone, Debug)]
pub struct Param {
    /// Name inside its layer (`kernel`, `bias`).
    pub name: String,
    /// The values; a leaf that requires gradients.
    pub value: Tensor,
    /// Whether optimisers update it.
    pub trainable: bool,
}

impl Param {
    /// A trainable parameter.
    pub fn new(name: &str, value: Tensor) -> Param {
        Param {
            name: name.to_string(),
            value: value.requires_grad(true),
            trainable: true,
        }
    }
}

/// A weight stored as 8-bit integers (a quantised layer's kernel): never trained, saved as an
/// I8 tensor under `layer.name`, its scale kept as an f32 [`Param`] beside it.
#[derive(Clone, Debug)]
pub struct Int8Param {
    /// Name inside its layer (`kernel`).
    pub name: String,
    /// The shape.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub values: Vec<i8>,
}

/// What a forward pass needs besides its input: the mode and the randomness of the run; it
/// collects the activity penalties layers add on the way.
pub struct Ctx<'a> {
    /// `true` while training (dropout active), `false` for evaluation and prediction.
    pub training: bool,
    /// The run's RNG (dropout masks); untouched in eval mode.
    pub rng: &'a mut Rng,
    /// Loss terms added by layers during this pass (activity regularisers).
    pub penalties: Vec<Tensor>,
    /// New values of non-trainable weights computed by the pass (the weight's tensor id,
    /// values): batch norm's running statistics, written into that weight by the model after
    /// the pass, wherever the layer sits (inside `time_distributed` or a model layer too).
    pub stat_updates: Vec<(u64, Vec<f32>)>,
    /// Which positions of the current sequences are real (`[batch, time]`, 1 or 0), set by an
    /// embedding with `mask_padding` and read by attention as its key padding mask.
    pub key_mask: Option<Vec<f32>>,
    /// The processes whose batches batch norm's statistics cover (synchronised batch norm in
    /// data-parallel training), if any.
    pub comm: Option<std::sync::Arc<dyn nabla_core::Communicator>>,
}

impl<'a> Ctx<'a> {
    /// A context for training (`true`) or evaluation.
    pub fn new(training: bool, rng: &'a mut Rng) -> Ctx<'a> {
        Ctx {
            training,
            rng,
            penalties: Vec::new(),
            stat_updates: Vec::new(),
            key_mask: None,
            comm: None,
        }
    }
}

/// A layer: Keras's `__init__` (its config) / `build` / `call`, in Rust.
pub trait Layer: Send + Sync {
    /// The layer's name (unique in its model; the prefix of its weights' names).
    fn name(&self) -> &str;
    /// Sets the name (the model does this at build time for unnamed layers).
    fn set_name(&mut self, name: String);
    /// The layer with a name of the user's (Keras's `name=`): `Dense::new(2).named("head")`.
    fn named(mut self, name: &str) -> Self
    where
        Self: Sized,
    {
        self.set_name(name.to_string());
        self
    }
    /// The config that rebuilds this layer (`type` plus Keras keyword arguments).
    fn config(&self) -> LayerConfig;
    /// Creates the weights for a per-sample `input` shape and returns the output shape, or an
    /// error naming the layer, the expected and the received shape.
    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>>;
    /// The math: `x` is `[batch, ..input]`. Panics only on programming errors.
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor;
    /// [`Layer::build`] for a layer called on several inputs (merges, a model used as a
    /// layer); the default takes exactly one.
    fn build_multi(&mut self, inputs: &[Vec<usize>], rng: &mut Rng) -> Result<Vec<usize>> {
        match inputs {
            [x] => self.build(x, rng),
            _ => Err(crate::error::Error::config(
                format!("inputs of layer '{}'", self.name()),
                "1 input",
                format!("{} inputs", inputs.len()),
            )),
        }
    }
    /// [`Layer::forward`] on one tensor per input; the default takes the one.
    fn forward_multi(&self, xs: &[Tensor], ctx: &mut Ctx) -> Tensor {
        self.forward(&xs[0], ctx)
    }
    /// The weights, in a fixed order.
    fn params(&self) -> Vec<&Param> {
        Vec::new()
    }
    /// The weights, mutable (optimisers, loading).
    fn params_mut(&mut self) -> Vec<&mut Param> {
        Vec::new()
    }
    /// The weights stored as 8-bit integers (quantised layers), in a fixed order.
    fn int8_params(&self) -> Vec<&Int8Param> {
        Vec::new()
    }
    /// The int8 weights, mutable (loading).
    fn int8_params_mut(&mut self) -> Vec<&mut Int8Param> {
        Vec::new()
    }
    /// Quantises the layers inside this one (a model used as a layer) and returns their
    /// names; the default has none.
    fn quantize_inside(&mut self, _mode: crate::quantize::QuantMode) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    /// Whether the layer's weights are trained.
    fn trainable(&self) -> bool {
        self.params().iter().all(|p| p.trainable)
    }
    /// The penalty of this layer's weights (kernel and bias regularisers), if it has any.
    fn regularization(&self) -> Option<Tensor> {
        None
    }
    /// Whether the layer still wants statistics from the training data (see `adapt`).
    fn needs_adapt(&self) -> bool {
        false
    }
    /// Computes the layer's statistics from `x` (`[n, ..input]`), as Keras's `adapt`.
    fn adapt(&mut self, _x: &Tensor) {}
    /// Runs this layer and `next` as one fused op when the pair allows it (a ReLU
    /// convolution followed by max pooling), else `None` and the model runs them one by one.
    fn forward_fused(&self, _next: &dyn Layer, _x: &Tensor, _ctx: &mut Ctx) -> Option<Tensor> {
        None
    }
    /// Checks the values of a model input before a pass (an embedding's token ids), so bad
    /// data is an error instead of a panic inside `forward`.
    fn check_input(&self, _x: &[f32]) -> Result<()> {
        Ok(())
    }
    /// Whether the layer only moves values (reshape, flatten, permute): the check of a model
    /// input goes on through it to the layers it feeds.
    fn passes_values(&self) -> bool {
        false
    }
    /// Whether the layer reads its input as indices (an embedding): it must then be fed from
    /// a model input, directly or through layers that only move values, where its
    /// [`Layer::check_input`] runs before every pass.
    fn takes_ids(&self) -> bool {
        false
    }
    /// Incremental decoding (see `decode.rs`): runs the new positions `x [batch, n, ..]`
    /// that start at absolute position `start`, keeping what later positions need in
    /// `state`. `None` (the default) when the layer cannot.
    fn decode(
        &self,
        _x: &Tensor,
        _start: usize,
        _state: &mut crate::decode::DecodeState,
    ) -> Option<Tensor> {
        None
    }
    /// Freezes (`false`) or unfreezes the layer's weights.
    fn set_trainable(&mut self, on: bool) {
        for p in self.params_mut() {
            p.trainable = on;
        }
    }
}

/// `trainable` / `set_trainable` for a layer whose config has a `trainable` flag: the flag
/// and every weight's flag, read and set together.
macro_rules! trainable_from_config {
    () => {
        fn trainable(&self) -> bool {
            self.cfg.trainable && self.params().iter().all(|p| p.trainable)
        }

        fn set_trainable(&mut self, on: bool) {
            self.cfg.trainable = on;
            for p in self.params_mut() {
                p.trainable = on;
            }
        }
    };
}
pub(crate) use trainable_from_config;
