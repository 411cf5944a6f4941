//! `Conv2d`: 2-d convolution over channels-first images,
//! `y = activation(conv(x, kernel) + bias)` (cross-correlation, as Keras and PyTorch).
//!
//! # Shapes
//! - input: `[batch, channels, height, width]` (NCHW, PyTorch's layout; Keras defaults to NHWC)
//! - kernel: `[filters, channels / groups, kh, kw]` (PyTorch's layout), bias: `[filters]`
//! - output: `[batch, filters, OH, OW]`, `OH = (H + pads - dilation·(kh - 1) - 1) / stride + 1`

use super::default_true;
use super::window::{one, Padding, Pair};
use crate::activations::Activation;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::init::Initializer;
use crate::layer::{Ctx, Layer, Param};
use crate::named::name_or_table;
use crate::regularizers::{optional, Regularizer};
use nabla_core::backend::Epilogue;
use nabla_core::{Rng, Tensor, Window2d};
use serde::{Deserialize, Serialize};

/// The config of [`Conv2d`] (Keras's keyword arguments).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv2dConfig {
    /// Output channels.
    pub filters: usize,
    /// Window size: `3` or `[3, 5]`.
    pub kernel_size: Pair,
    /// Step between windows (default 1).
    #[serde(default = "one")]
    pub strides: Pair,
    /// `"valid"` (default), `"same"` or explicit numbers.
    #[serde(default)]
    pub padding: Padding,
    /// Spacing of the kernel's taps (default 1).
    #[serde(default = "one")]
    pub dilation_rate: Pair,
    /// Independent channel groups (default 1; `groups = channels` is a depthwise convolution).
    #[serde(default = "one_group")]
    pub groups: usize,
    /// Applied to the output (default: linear).
    #[serde(default)]
    pub activation: Activation,
    /// Whether to add a bias (default: true).
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Kernel initialiser (default: glorot_uniform over fan_in = C/g·kh·kw, fan_out = filters·kh·kw).
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

fn one_group() -> usize {
    1
}
fn zeros() -> Initializer {
    Initializer::Zeros
}

/// The window settings of a 2-d convolution (float or quantised).
pub(crate) struct Geometry {
    pub filters: usize,
    pub kernel_size: Pair,
    pub strides: Pair,
    pub padding: Padding,
    pub dilation_rate: Pair,
    pub groups: usize,
}

impl Conv2dConfig {
    pub(crate) fn geometry(&self) -> Geometry {
        Geometry {
            filters: self.filters,
            kernel_size: self.kernel_size,
            strides: self.strides,
            padding: self.padding.clone(),
            dilation_rate: self.dilation_rate,
            groups: self.groups,
        }
    }
}

/// The window of a convolution named `name` over `input [channels, height, width]` and its
/// output shape `[filters, OH, OW]`, or the error naming what does not fit.
pub(crate) fn window(name: &str, c: &Geometry, input: &[usize]) -> Result<(Window2d, Vec<usize>)> {
    let positive = |what: &str, v: usize| {
        if v == 0 {
            Err(Error::config(
                format!("{what} of layer '{name}'"),
                "a positive integer",
                0,
            ))
        } else {
            Ok(())
        }
    };
    for (what, v) in [
        ("filters", c.filters),
        ("kernel_size", c.kernel_size.0.min(c.kernel_size.1)),
        ("strides", c.strides.0.min(c.strides.1)),
        ("dilation_rate", c.dilation_rate.0.min(c.dilation_rate.1)),
        ("groups", c.groups),
    ] {
        positive(what, v)?;
    }
    let [ch, h, w] = *input else {
        return Err(Error::Shape {
            layer: name.to_string(),
            expected: "[channels, height, width]".into(),
            received: input.to_vec(),
        });
    };
    if !ch.is_multiple_of(c.groups) || !c.filters.is_multiple_of(c.groups) {
        return Err(Error::Shape {
            layer: name.to_string(),
            expected: format!(
                "channels and filters ({}) divisible by groups ({})",
                c.filters, c.groups
            ),
            received: input.to_vec(),
        });
    }
    let pad = c
        .padding
        .amounts(h, w, c.kernel_size, c.strides, c.dilation_rate);
    let win = Window2d {
        stride: (c.strides.0, c.strides.1),
        pad,
        dilation: (c.dilation_rate.0, c.dilation_rate.1),
        groups: c.groups,
    };
    let geom = nabla_core::backend::Conv2dGeom {
        n: 1,
        c: ch,
        h,
        w,
        oc: c.filters,
        kh: c.kernel_size.0,
        kw: c.kernel_size.1,
        stride: win.stride,
        pad,
        dilation: win.dilation,
        groups: c.groups,
    };
    let Some((oh, ow)) = geom.out_hw() else {
        return Err(Error::Shape {
            layer: name.to_string(),
            expected: format!(
                "an image at least as large as the kernel {:?} (dilated, after padding)",
                c.kernel_size
            ),
            received: input.to_vec(),
        });
    };
    Ok((win, vec![c.filters, oh, ow]))
}

/// The epilogue that fuses a convolution with activation `act` and the layer after it,
/// `next`: ReLU then max pooling, when `act` is ReLU and `next` an unpadded max pooling.
pub(crate) fn relu_max_pool_after(act: Activation, next: &dyn Layer) -> Option<Epilogue> {
    if act != Activation::Relu {
        return None;
    }
    let LayerConfig::MaxPool2d(p) = next.config() else {
        return None;
    };
    let k = p.pool_size;
    let s = p.strides.unwrap_or(k);
    let valid =
        matches!(p.padding, super::Padding::Valid) || p.padding == super::Padding::Explicit([0; 4]);
    (valid && s.0 > 0 && s.1 > 0).then_some(Epilogue::ReluMaxPool {
        k: (k.0, k.1),
        s: (s.0, s.1),
    })
}

/// A 2-d convolution layer.
pub struct Conv2d {
    cfg: Conv2dConfig,
    win: Option<Window2d>,
    kernel: Option<Param>,
    bias: Option<Param>,
}

impl Conv2d {
    /// `filters` output channels with a `kernel_size` window, stride 1, no padding.
    pub fn new(filters: usize, kernel_size: impl Into<Pair>) -> Conv2d {
        Conv2d::from_config(super::with_defaults(
            serde_json::json!({"filters": filters, "kernel_size": kernel_size.into()}),
        ))
    }

    /// A layer from its config (unbuilt).
    pub fn from_config(cfg: Conv2dConfig) -> Conv2d {
        Conv2d {
            cfg,
            win: None,
            kernel: None,
            bias: None,
        }
    }

    /// Sets the activation.
    pub fn activation(mut self, a: Activation) -> Conv2d {
        self.cfg.activation = a;
        self
    }

    /// Sets the strides.
    pub fn strides(mut self, s: impl Into<Pair>) -> Conv2d {
        self.cfg.strides = s.into();
        self
    }

    /// Sets the padding.
    pub fn padding(mut self, p: Padding) -> Conv2d {
        self.cfg.padding = p;
        self
    }

    /// Turns the bias on or off (off before a batch norm, whose β is the bias).
    pub fn use_bias(mut self, on: bool) -> Conv2d {
        self.cfg.use_bias = on;
        self
    }

    /// Names the layer.
    pub fn with_name(mut self, name: &str) -> Conv2d {
        self.cfg.name = Some(name.to_string());
        self
    }
}

impl Layer for Conv2d {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("conv2d")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        let mut cfg = self.cfg.clone();
        cfg.trainable = self.trainable();
        LayerConfig::Conv2d(cfg)
    }

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        let c = &self.cfg;
        let name = self.name().to_string();
        let (win, out) = window(&name, &c.geometry(), input)?;
        let ch = input[0];
        let shape = [c.filters, ch / c.groups, c.kernel_size.0, c.kernel_size.1];
        // checked first: the fans below are at most the kernel's size
        let n = crate::budget::checked_weight(|| format!("kernel of layer '{name}'"), &shape)?;
        let area = c.kernel_size.0 * c.kernel_size.1;
        let (fan_in, fan_out) = (ch / c.groups * area, c.filters * area);
        let mut kernel = Param::new(
            "kernel",
            Tensor::from_vec(c.kernel_initializer.sample(n, fan_in, fan_out, rng), &shape),
        );
        kernel.trainable = c.trainable;
        self.bias = c.use_bias.then(|| {
            let b = c.bias_initializer.sample(c.filters, fan_in, fan_out, rng);
            let mut p = Param::new("bias", Tensor::from_vec(b, &[c.filters]));
            p.trainable = c.trainable;
            p
        });
        self.kernel = Some(kernel);
        self.win = Some(win);
        Ok(out)
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let kernel = self.kernel.as_ref().expect("Conv2d::forward before build");
        let (b, win) = (
            self.bias.as_ref().map(|b| &b.value),
            self.win.expect("built"),
        );
        if self.cfg.activation == Activation::Relu {
            return x.conv2d_relu(&kernel.value, b, win);
        }
        self.cfg
            .activation
            .apply_owned(x.conv2d(&kernel.value, b, win))
    }

    /// With ReLU and a following unpadded max pooling: one fused op that never stores the
    /// full-size map (`Tensor::conv2d_relu_max_pool`, the same numbers).
    fn forward_fused(&self, next: &dyn Layer, x: &Tensor, _ctx: &mut Ctx) -> Option<Tensor> {
        let Epilogue::ReluMaxPool { k, s } = relu_max_pool_after(self.cfg.activation, next)? else {
            return None;
        };
        let kernel = &self.kernel.as_ref()?.value;
        let b = self.bias.as_ref().map(|b| &b.value);
        let win = self.win?;
        Some(x.conv2d_relu_max_pool(kernel, b, win, k, s))
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
