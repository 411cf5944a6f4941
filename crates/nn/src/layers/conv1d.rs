//! `Conv1d`: 1-d convolution over channels-first sequences,
//! `y = activation(conv(x, kernel) + bias)`, computed as a `1 × L` image through the 2-d
//! convolution kernels (same gradients, same speed).
//!
//! # Shapes
//! - input: `[batch, channels, length]` (PyTorch's NCL layout; Keras defaults to NLC)
//! - kernel: `[filters, channels / groups, kernel_size]` (PyTorch's layout), bias: `[filters]`
//! - output: `[batch, filters, OL]`, `OL = (L + pads - dilation·(k - 1) - 1) / stride + 1`

use super::default_true;
use super::window::Padding1d;
use crate::activations::Activation;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::init::Initializer;
use crate::layer::{Ctx, Layer, Param};
use crate::named::name_or_table;
use crate::regularizers::{optional, Regularizer};
use nabla_core::backend::Conv2dGeom;
use nabla_core::{Rng, Tensor, Window2d};
use serde::{Deserialize, Serialize};

/// The config of [`Conv1d`] (Keras's keyword arguments).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv1dConfig {
    /// Output channels.
    pub filters: usize,
    /// Window length.
    pub kernel_size: usize,
    /// Step between windows (default 1).
    #[serde(default = "one")]
    pub strides: usize,
    /// `"valid"` (default), `"same"`, `"causal"`, `p` or `[left, right]`.
    #[serde(default)]
    pub padding: Padding1d,
    /// Spacing of the kernel's taps (default 1).
    #[serde(default = "one")]
    pub dilation_rate: usize,
    /// Independent channel groups (default 1).
    #[serde(default = "one")]
    pub groups: usize,
    /// Applied to the output (default: linear).
    #[serde(default)]
    pub activation: Activation,
    /// Whether to add a bias (default: true).
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Kernel initialiser (default: glorot_uniform over fan_in = C/g·k, fan_out = filters·k).
    #[serde(default, deserialize_with = "name_or_table")]
    pub kernel_initializer: Initializer,
    /// Bias initialiser (default: zeros).
    #[serde(default = "zeros", deserialize_with = "name_or_table")]
    pub bias_initializer: Initializer,
    /// Penalty on the kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "optional")]
    pub kernel_regularizer: Option<Regularizer>,
    /// Penalty on the bias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "optional")]
    pub bias_regularizer: Option<Regularizer>,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the weights are trained (default: true).
    #[serde(default = "default_true")]
    pub trainable: bool,
}

fn one() -> usize {
    1
}
fn zeros() -> Initializer {
    Initializer::Zeros
}

/// A 1-d convolution layer.
pub struct Conv1d {
    cfg: Conv1dConfig,
    win: Option<Window2d>,
    kernel: Option<Param>,
    bias: Option<Param>,
}

impl Conv1d {
    /// `filters` output channels with a `kernel_size` window, stride 1, no padding.
    pub fn new(filters: usize, kernel_size: usize) -> Conv1d {
        Conv1d::from_config(super::with_defaults(
            serde_json::json!({"filters": filters, "kernel_size": kernel_size}),
        ))
    }

    /// A layer from its config (unbuilt).
    pub fn from_config(cfg: Conv1dConfig) -> Conv1d {
        Conv1d {
            cfg,
            win: None,
            kernel: None,
            bias: None,
        }
    }

    /// Sets the activation.
    pub fn activation(mut self, a: Activation) -> Conv1d {
        self.cfg.activation = a;
        self
    }

    /// Sets the padding.
    pub fn padding(mut self, p: Padding1d) -> Conv1d {
        self.cfg.padding = p;
        self
    }
}

impl Layer for Conv1d {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("conv1d")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        let mut cfg = self.cfg.clone();
        cfg.trainable = self.trainable();
        LayerConfig::Conv1d(cfg)
    }

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        let c = &self.cfg;
        let name = self.name().to_string();
        for (what, v) in [
            ("filters", c.filters),
            ("kernel_size", c.kernel_size),
            ("strides", c.strides),
            ("dilation_rate", c.dilation_rate),
            ("groups", c.groups),
        ] {
            if v == 0 {
                let what = format!("{what} of layer '{name}'");
                return Err(Error::config(what, "a positive integer", 0));
            }
        }
        let [ch, len] = *input else {
            return Err(Error::Shape {
                layer: name,
                expected: "[channels, length]".into(),
                received: input.to_vec(),
            });
        };
        if !ch.is_multiple_of(c.groups) || !c.filters.is_multiple_of(c.groups) {
            return Err(Error::Shape {
                layer: name,
                expected: format!(
                    "channels and filters ({}) divisible by groups ({})",
                    c.filters, c.groups
                ),
                received: input.to_vec(),
            });
        }
        let (l, r) = c
            .padding
            .amounts(len, c.kernel_size, c.strides, c.dilation_rate);
        let win = Window2d {
            stride: (1, c.strides),
            pad: (0, 0, l, r),
            dilation: (1, c.dilation_rate),
            groups: c.groups,
        };
        let geom = Conv2dGeom {
            n: 1,
            c: ch,
            h: 1,
            w: len,
            oc: c.filters,
            kh: 1,
            kw: c.kernel_size,
            stride: win.stride,
            pad: win.pad,
            dilation: win.dilation,
            groups: c.groups,
        };
        let Some((_, out_len)) = geom.out_hw() else {
            return Err(Error::Shape {
                layer: name,
                expected: format!(
                    "a sequence at least as long as the kernel {} (dilated, after padding)",
                    c.kernel_size
                ),
                received: input.to_vec(),
            });
        };
        let shape = [c.filters, ch / c.groups, c.kernel_size];
        let n = crate::budget::checked_weight(|| format!("kernel of layer '{name}'"), &shape)?;
        let (fan_in, fan_out) = (ch / c.groups * c.kernel_size, c.filters * c.kernel_size);
        let w = c.kernel_initializer.sample(n, fan_in, fan_out, rng);
        let mut kernel = Param::new("kernel", Tensor::from_vec(w, &shape));
        kernel.trainable = c.trainable;
        self.bias = c.use_bias.then(|| {
            let b = c.bias_initializer.sample(c.filters, fan_in, fan_out, rng);
            let mut p = Param::new("bias", Tensor::from_vec(b, &[c.filters]));
            p.trainable = c.trainable;
            p
        });
        self.kernel = Some(kernel);
        self.win = Some(win);
        Ok(vec![c.filters, out_len])
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let kernel = &self
            .kernel
            .as_ref()
            .expect("Conv1d::forward before build")
            .value;
        let (n, ch, len) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let k = kernel.shape();
        let (x, kernel) = (
            x.reshape(&[n, ch, 1, len]),
            kernel.reshape(&[k[0], k[1], 1, k[2]]),
        );
        let (b, win) = (
            self.bias.as_ref().map(|b| &b.value),
            self.win.expect("built"),
        );
        let relu = self.cfg.activation == Activation::Relu;
        let y = if relu {
            x.conv2d_relu(&kernel, b, win)
        } else {
            x.conv2d(&kernel, b, win)
        };
        let s = y.shape().to_vec();
        let y = y.reshape(&[s[0], s[1], s[3]]);
        if relu {
            y
        } else {
            self.cfg.activation.apply_owned(y)
        }
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
