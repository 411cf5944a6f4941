//! `QuantizedConv2d`: a [`super::Conv2d`] layer after static int8 quantisation (PyTorch's
//! post-training static quantisation of `nn.Conv2d`): the kernel held as 8-bit integers with
//! one scale per filter, the input quantised with one scale and zero point calibrated
//! beforehand on sample batches (the `input_range` seen then), the products summed in
//! integers (`nabla_core::backend::int8::ConvInt8`).
//!
//! ```text
//! kernel_scale_o = max |W_o| / 127,   kernel_o = round(W_o / kernel_scale_o) ∈ [−127, 127]
//! [lo, hi] = input_range ∪ {0},  sx = (hi − lo)/127,  zx = round(−lo/sx)
//! y = activation(dequantise(conv(clamp(round(x/sx) + zx, 0, 127), kernel)) + b)
//! ```
//!
//! While calibrating ([`crate::Model::quantize_static`]), the layer runs the float
//! convolution it replaces and widens `input_range` to each batch's inputs (`Layer::adapt`,
//! as PyTorch's observers do); then it quantises its kernel and from then on runs in int8.
//!
//! # Shapes
//! - input: `[batch, channels, height, width]`; kernel: int8 `[filters, channels / groups,
//!   kh, kw]`; kernel_scale, bias: `[filters]`; input_range: `[2]` (lowest, highest)
//! - output: `[batch, filters, OH, OW]`
//!
//! Inference only: it has no gradient, and nothing it holds is trained.

use super::conv2d::{window, Geometry};
use super::default_true;
use super::window::{one, Padding, Pair};
use crate::activations::Activation;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Int8Param, Layer, Param};
use crate::quantize::{check_inputs, frozen};
use nabla_core::backend::int8::{ConvInt8, Int8Path};
use nabla_core::backend::{Conv2dGeom, Epilogue};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// The config of [`QuantizedConv2d`]: the window of the convolution it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantizedConv2dConfig {
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
    /// Independent channel groups (default 1).
    #[serde(default = "one_group")]
    pub groups: usize,
    /// Applied to the output (default: linear).
    #[serde(default)]
    pub activation: Activation,
    /// Whether to add a bias (default: true).
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Layer name (default: `quantized_conv2d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

fn one_group() -> usize {
    1
}

impl QuantizedConv2dConfig {
    fn geometry(&self) -> Geometry {
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

/// The float convolution a calibrating layer runs, and the range of its inputs so far.
struct Calibration {
    float: Box<dyn Layer>,
    seen: Option<(f32, f32)>,
}

/// A 2-d convolution with int8 weights and statically quantised inputs.
pub struct QuantizedConv2d {
    cfg: QuantizedConv2dConfig,
    kernel: Option<Int8Param>,
    scale: Option<Param>,
    bias: Option<Param>,
    input_range: Option<Param>,
    calibration: Option<Calibration>,
    /// The weights packed for the kernels, made at the first pass after any change.
    packed: OnceLock<ConvInt8>,
}

impl QuantizedConv2d {
    /// A layer from its config (unbuilt).
    pub fn from_config(cfg: QuantizedConv2dConfig) -> QuantizedConv2d {
        QuantizedConv2d {
            cfg,
            kernel: None,
            scale: None,
            bias: None,
            input_range: None,
            calibration: None,
            packed: OnceLock::new(),
        }
    }

    /// A calibrating layer for the built float convolution `float` (config `cfg`): it runs
    /// `float` and records the range of its inputs (`Layer::adapt`) until
    /// [`Layer::quantize_inside`] quantises it.
    pub fn calibrating(float: Box<dyn Layer>, cfg: &super::Conv2dConfig) -> QuantizedConv2d {
        let name = float.name().to_string();
        let mut layer = QuantizedConv2d::from_config(QuantizedConv2dConfig {
            filters: cfg.filters,
            kernel_size: cfg.kernel_size,
            strides: cfg.strides,
            padding: cfg.padding.clone(),
            dilation_rate: cfg.dilation_rate,
            groups: cfg.groups,
            activation: cfg.activation,
            use_bias: cfg.use_bias,
            name: Some(name),
        });
        layer.calibration = Some(Calibration { float, seen: None });
        layer
    }

    /// Whether the layer still runs in float, waiting for calibration batches.
    pub fn is_calibrating(&self) -> bool {
        self.calibration.is_some()
    }

    /// Ends calibration: the float kernel quantised per filter, the range seen kept.
    fn finish_calibration(&mut self) -> Result<()> {
        let Some(cal) = self.calibration.take() else {
            return Ok(());
        };
        let Some((lo, hi)) = cal.seen else {
            return Err(Error::config(
                format!("calibration of layer '{}'", self.name()),
                "at least one batch",
                "none reached the layer",
            ));
        };
        let params = cal.float.params();
        // inside a model used as a layer the names carry the layer's prefix
        let find = |w: &str| {
            params
                .iter()
                .find(|p| p.name == w || p.name.ends_with(&format!(".{w}")))
                .map(|p| &p.value)
        };
        let Some(kernel) = find("kernel") else {
            let name = self.name().to_string();
            return Err(Error::config(
                format!("layer '{name}'"),
                "a built conv2d layer",
                "no kernel",
            ));
        };
        let oc = self.cfg.filters;
        let (q, scale) = crate::quantize::per_row(kernel.data(), oc, kernel.numel() / oc);
        self.kernel = Some(Int8Param {
            name: "kernel".into(),
            shape: kernel.shape().to_vec(),
            values: q,
        });
        self.scale = Some(frozen("kernel_scale", scale));
        self.bias = find("bias").map(|b| frozen("bias", b.data().to_vec()));
        self.input_range = Some(frozen("input_range", vec![lo, hi]));
        self.packed = OnceLock::new();
        Ok(())
    }

    fn geom(&self, x: &Tensor) -> Conv2dGeom {
        let [n, c, h, w] = *x.shape() else {
            panic!("QuantizedConv2d: input {:?} is not [N, C, H, W]", x.shape());
        };
        let q = &self.cfg;
        let pad = q
            .padding
            .amounts(h, w, q.kernel_size, q.strides, q.dilation_rate);
        Conv2dGeom {
            n,
            c,
            h,
            w,
            oc: q.filters,
            kh: q.kernel_size.0,
            kw: q.kernel_size.1,
            stride: (q.strides.0, q.strides.1),
            pad,
            dilation: (q.dilation_rate.0, q.dilation_rate.1),
            groups: self.cfg.groups,
        }
    }

    fn pack(&self, g: &Conv2dGeom) -> ConvInt8 {
        let kernel = self.kernel.as_ref().expect("built");
        let scale = self.scale.as_ref().expect("built with its kernel");
        let range = self.input_range.as_ref().expect("built with its kernel");
        let r = range.value.data();
        let bias = self.bias.as_ref().map(|b| b.value.data());
        ConvInt8::new(&kernel.values, scale.value.data(), bias, g, (r[0], r[1]))
    }

    /// The int8 convolution of `x`, then `epi` and (when not fused) the activation.
    fn run(&self, x: &Tensor, epi: Epilogue) -> Tensor {
        let g = self.geom(x);
        let packed = self.packed.get_or_init(|| self.pack(&g));
        let y = packed.forward(x.data(), &g, epi, Int8Path::best());
        let (oh, ow) = g.out_hw().expect("checked at build");
        let (eh, ew) = epi.out_hw(oh, ow).expect("checked by the caller");
        let y = Tensor::from_vec(y, &[g.n, g.oc, eh, ew]);
        match epi {
            Epilogue::Bias { relu: false } => self.cfg.activation.apply_owned(y),
            _ => y,
        }
    }
}

impl Layer for QuantizedConv2d {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("quantized_conv2d")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::QuantizedConv2d(self.cfg.clone())
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        let name = self.name().to_string();
        let (_, out) = window(&name, &self.cfg.geometry(), input)?;
        let c = &self.cfg;
        check_inputs(
            "window inputs",
            &name,
            input[0] / c.groups * c.kernel_size.0 * c.kernel_size.1,
        )?;
        let shape = vec![
            c.filters,
            input[0] / c.groups,
            c.kernel_size.0,
            c.kernel_size.1,
        ];
        let n = crate::budget::checked_weight(|| format!("kernel of layer '{name}'"), &shape)?;
        if self.calibration.is_some() || self.kernel.as_ref().is_some_and(|k| k.shape == shape) {
            return Ok(out);
        }
        let filters = c.filters;
        self.kernel = Some(Int8Param {
            name: "kernel".into(),
            shape,
            values: vec![0; n],
        });
        self.scale = Some(frozen("kernel_scale", vec![1.0; filters]));
        self.bias = c.use_bias.then(|| frozen("bias", vec![0.0; filters]));
        self.input_range = Some(frozen("input_range", vec![0.0, 1.0]));
        self.packed = OnceLock::new();
        Ok(out)
    }

    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        if let Some(cal) = &self.calibration {
            return cal.float.forward(x, ctx);
        }
        let relu = self.cfg.activation == Activation::Relu;
        self.run(x, Epilogue::Bias { relu })
    }

    /// With ReLU and a following unpadded max pooling: pooled in the epilogue, as
    /// [`super::Conv2d`] does, never storing the full-size map.
    fn forward_fused(&self, next: &dyn Layer, x: &Tensor, ctx: &mut Ctx) -> Option<Tensor> {
        if let Some(cal) = &self.calibration {
            return cal.float.forward_fused(next, x, ctx);
        }
        let epi = super::conv2d::relu_max_pool_after(self.cfg.activation, next)?;
        let (oh, ow) = self.geom(x).out_hw()?;
        epi.out_hw(oh, ow)?;
        Some(self.run(x, epi))
    }

    fn needs_adapt(&self) -> bool {
        self.calibration.is_some()
    }

    /// Widens the calibrated input range to `x`'s (finite) values.
    fn adapt(&mut self, x: &Tensor) {
        let Some(cal) = self.calibration.as_mut() else {
            return;
        };
        let finite = x.data().iter().filter(|v| v.is_finite());
        let (lo, hi) = finite.fold(cal.seen.unwrap_or((0.0, 0.0)), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
        cal.seen = Some((lo, hi));
    }

    /// Ends calibration (static quantisation's second step): quantises the kernel.
    fn quantize_inside(&mut self, _mode: crate::quantize::QuantMode) -> Result<Vec<String>> {
        self.finish_calibration()?;
        Ok(Vec::new())
    }

    fn params(&self) -> Vec<&Param> {
        if let Some(cal) = &self.calibration {
            return cal.float.params();
        }
        let ps = [&self.scale, &self.bias, &self.input_range];
        ps.into_iter().flatten().collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.packed = OnceLock::new(); // the caller may change them
        if let Some(cal) = &mut self.calibration {
            return cal.float.params_mut();
        }
        let ps = [&mut self.scale, &mut self.bias, &mut self.input_range];
        ps.into_iter().flatten().collect()
    }

    fn int8_params(&self) -> Vec<&Int8Param> {
        self.kernel.iter().collect()
    }

    fn int8_params_mut(&mut self) -> Vec<&mut Int8Param> {
        self.packed = OnceLock::new();
        self.kernel.iter_mut().collect()
    }

    fn trainable(&self) -> bool {
        false
    }

    fn set_trainable(&mut self, _on: bool) {}
}
