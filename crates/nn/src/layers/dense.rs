//! `Dense`: the fully connected layer, `y = activation(x · W + b)`.
//!
//! # Shapes
//! - input: `[batch, .., in]` (applied to the last axis, as in Keras)
//! - kernel `W`: `[in, units]`, bias `b`: `[units]`
//! - output: `[batch, .., units]`

use super::default_true;
use crate::activations::Activation;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::init::Initializer;
use crate::layer::{Ctx, Layer, Param};
use crate::named::name_or_table;
use crate::quantize::{fake_quant_input, fake_quant_kernel};
use crate::regularizers::{optional, Regularizer};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};

/// The config of [`Dense`] (Keras's keyword arguments).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseConfig {
    /// Output size.
    pub units: usize,
    /// Applied to the output (default: linear).
    #[serde(default)]
    pub activation: Activation,
    /// Whether to add a bias (default: true).
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Kernel initialiser (default: glorot_uniform).
    #[serde(default, deserialize_with = "name_or_table")]
    pub kernel_initializer: Initializer,
    /// Bias initialiser (default: zeros).
    #[serde(default = "zeros", deserialize_with = "name_or_table")]
    pub bias_initializer: Initializer,
    /// Penalty on the kernel (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "optional")]
    pub kernel_regularizer: Option<Regularizer>,
    /// Penalty on the bias (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "optional")]
    pub bias_regularizer: Option<Regularizer>,
    /// Penalty on the output, per sample (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "optional")]
    pub activity_regularizer: Option<Regularizer>,
    /// Layer name (default: `dense`, `dense_1`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the weights are trained (default: true).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Quantisation-aware training: the layer computes with its input and kernel rounded as
    /// the int8 layer `Model::quantize` makes of it will (straight-through gradients), so the
    /// weights learn to live with int8 (default: false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quantization_aware: bool,
}

fn zeros() -> Initializer {
    Initializer::Zeros
}

/// A fully connected layer.
pub struct Dense {
    cfg: DenseConfig,
    kernel: Option<Param>,
    bias: Option<Param>,
}

impl Dense {
    /// A dense layer with `units` outputs, linear activation and a bias.
    pub fn new(units: usize) -> Dense {
        Dense::from_config(super::with_defaults(serde_json::json!({"units": units})))
    }

    /// A layer from its config (unbuilt).
    pub fn from_config(cfg: DenseConfig) -> Dense {
        Dense {
            cfg,
            kernel: None,
            bias: None,
        }
    }

    /// Sets the activation.
    pub fn activation(mut self, a: Activation) -> Dense {
        self.cfg.activation = a;
        self
    }

    /// Adds (or removes) the bias.
    pub fn use_bias(mut self, on: bool) -> Dense {
        self.cfg.use_bias = on;
        self
    }

    /// Sets the kernel initialiser.
    pub fn kernel_initializer(mut self, init: Initializer) -> Dense {
        self.cfg.kernel_initializer = init;
        self
    }

    /// Penalises the kernel.
    pub fn kernel_regularizer(mut self, r: Regularizer) -> Dense {
        self.cfg.kernel_regularizer = Some(r);
        self
    }

    /// Penalises the bias.
    pub fn bias_regularizer(mut self, r: Regularizer) -> Dense {
        self.cfg.bias_regularizer = Some(r);
        self
    }

    /// Penalises the output.
    pub fn activity_regularizer(mut self, r: Regularizer) -> Dense {
        self.cfg.activity_regularizer = Some(r);
        self
    }

    /// Names the layer.
    pub fn with_name(mut self, name: &str) -> Dense {
        self.cfg.name = Some(name.to_string());
        self
    }

    /// Trains it quantisation-aware (see [`DenseConfig::quantization_aware`]).
    pub fn quantization_aware(mut self, on: bool) -> Dense {
        self.cfg.quantization_aware = on;
        self
    }

    /// Freezes (`false`) the layer.
    pub fn with_trainable(mut self, on: bool) -> Dense {
        self.cfg.trainable = on;
        self
    }
}

/// The input size of a dense layer `name` of `units` on a sample of shape `input` (its last
/// axis), or the error naming what does not fit.
pub(crate) fn fan_in(name: &str, units: usize, input: &[usize]) -> Result<usize> {
    if units == 0 {
        return Err(Error::config(
            format!("units of layer '{name}'"),
            "a positive integer",
            units,
        ));
    }
    match input.last() {
        Some(&n) if n > 0 => Ok(n),
        _ => Err(Error::Shape {
            layer: name.to_string(),
            expected: "at least 1 axis with a positive last size".into(),
            received: input.to_vec(),
        }),
    }
}

impl Layer for Dense {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("dense")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        let mut cfg = self.cfg.clone();
        cfg.trainable = self.trainable();
        LayerConfig::Dense(cfg)
    }

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        let units = self.cfg.units;
        let fan_in = fan_in(self.name(), units, input)?;
        for (what, r) in [
            ("kernel_regularizer", self.cfg.kernel_regularizer),
            ("bias_regularizer", self.cfg.bias_regularizer),
            ("activity_regularizer", self.cfg.activity_regularizer),
        ] {
            if let Some(r) = r {
                r.validate(&format!("{what} of layer '{}'", self.name()))?;
            }
        }
        let n = crate::budget::checked_weight(
            || format!("kernel of layer '{}'", self.name()),
            &[fan_in, units],
        )?;
        let w = self.cfg.kernel_initializer.sample(n, fan_in, units, rng);
        let mut kernel = Param::new("kernel", Tensor::from_vec(w, &[fan_in, units]));
        kernel.trainable = self.cfg.trainable;
        self.kernel = Some(kernel);
        self.bias = if self.cfg.use_bias {
            let b = self.cfg.bias_initializer.sample(units, fan_in, units, rng);
            let mut bias = Param::new("bias", Tensor::from_vec(b, &[units]));
            bias.trainable = self.cfg.trainable;
            Some(bias)
        } else {
            None
        };
        let mut out = input.to_vec();
        *out.last_mut().unwrap() = units;
        Ok(out)
    }

    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let kernel = self.kernel.as_ref().expect("Dense::forward before build");
        let bias = self.bias.as_ref().map(|b| &b.value);
        let y = if self.cfg.quantization_aware {
            let (xq, wq) = (fake_quant_input(x), fake_quant_kernel(&kernel.value));
            xq.linear(&wq, bias)
        } else {
            x.linear(&kernel.value, bias)
        };
        let y = self.cfg.activation.apply_owned(y);
        if let (Some(r), true) = (self.cfg.activity_regularizer, ctx.training) {
            let batch = y.shape()[0].max(1);
            ctx.penalties.push(r.penalty(&y).scale(1.0 / batch as f32));
        }
        y
    }

    fn decode(
        &self,
        x: &Tensor,
        _start: usize,
        _s: &mut crate::decode::DecodeState,
    ) -> Option<Tensor> {
        Some(crate::decode::position_wise(self, x))
    }

    fn regularization(&self) -> Option<Tensor> {
        crate::regularizers::weight_penalty(&[
            (self.kernel.as_ref(), self.cfg.kernel_regularizer),
            (self.bias.as_ref(), self.cfg.bias_regularizer),
        ])
    }

    fn params(&self) -> Vec<&Param> {
        self.kernel.iter().chain(self.bias.iter()).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.kernel.iter_mut().chain(self.bias.iter_mut()).collect()
    }

    crate::layer::trainable_from_config!();
}
