//! `QuantizedDense`: a [`super::Dense`] layer after dynamic int8 quantisation (PyTorch's
//! `quantize_dynamic` of `nn.Linear`, Keras 3's `Dense.quantize("int8")`): the kernel is held
//! as 8-bit integers with one scale per output unit, the input is quantised per row when the
//! layer runs, and the product is summed in integers (`nabla_core::backend::int8`).
//!
//! ```text
//! kernel_scale_u = max_i |W_iu| / 127,   kernel_iu = round(W_iu / kernel_scale_u) ∈ [−127, 127]
//! y = activation(dequantise(quantise(x) · kernel) + b)
//! ```
//!
//! # Shapes
//! - input: `[batch, .., in]`; kernel: int8 `[in, units]`; kernel_scale, bias: `[units]`
//! - output: `[batch, .., units]`
//!
//! Inference only: it has no gradient, and nothing it holds is trained.

use super::default_true;
use crate::activations::Activation;
use crate::config::LayerConfig;
use crate::error::Result;
use crate::layer::{Ctx, Int8Param, Layer, Param};
use crate::quantize::{check_inputs, frozen};
use nabla_core::backend::int8::{self, Int8Path, PackedInt8};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// The config of [`QuantizedDense`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantizedDenseConfig {
    /// Output size.
    pub units: usize,
    /// Applied to the output (default: linear).
    #[serde(default)]
    pub activation: Activation,
    /// Whether to add a bias (default: true).
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Layer name (default: `quantized_dense`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A dense layer with int8 weights.
pub struct QuantizedDense {
    cfg: QuantizedDenseConfig,
    kernel: Option<Int8Param>,
    scale: Option<Param>,
    bias: Option<Param>,
    /// The weights packed for the kernels, made at the first pass after any change.
    packed: OnceLock<PackedInt8>,
}

impl QuantizedDense {
    /// A layer from its config (unbuilt).
    pub fn from_config(cfg: QuantizedDenseConfig) -> QuantizedDense {
        QuantizedDense {
            cfg,
            kernel: None,
            scale: None,
            bias: None,
            packed: OnceLock::new(),
        }
    }

    /// Quantises a float dense layer (named `name`) with `kernel [in, units]`, `bias [units]`.
    pub fn quantize(
        name: &str,
        units: usize,
        activation: Activation,
        kernel: &Tensor,
        bias: Option<&Tensor>,
    ) -> Result<QuantizedDense> {
        let fan_in = kernel.shape()[0];
        check_inputs("inputs", name, fan_in)?;
        let (q, scale) = crate::quantize::per_channel(kernel.data(), fan_in, units);
        let mut layer = QuantizedDense::from_config(QuantizedDenseConfig {
            units,
            activation,
            use_bias: bias.is_some(),
            name: Some(name.to_string()),
        });
        layer.kernel = Some(Int8Param {
            name: "kernel".into(),
            shape: vec![fan_in, units],
            values: q,
        });
        layer.scale = Some(frozen("kernel_scale", scale));
        layer.bias = bias.map(|b| frozen("bias", b.to_vec()));
        Ok(layer)
    }

    fn pack(&self) -> PackedInt8 {
        let kernel = self
            .kernel
            .as_ref()
            .expect("QuantizedDense::forward before build");
        let (fan_in, units) = (kernel.shape[0], kernel.shape[1]);
        // [in, units] → [units, in]: a unit's weights side by side, as the kernel packs them
        let mut t = vec![0i8; fan_in * units];
        for (i, row) in kernel.values.chunks_exact(units).enumerate() {
            for (u, &v) in row.iter().enumerate() {
                t[u * fan_in + i] = v;
            }
        }
        let scale = self.scale.as_ref().expect("built with its kernel");
        let bias = self.bias.as_ref().map(|b| b.value.data());
        PackedInt8::new(&t, scale.value.data(), bias, units, fan_in)
    }
}

impl Layer for QuantizedDense {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("quantized_dense")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::QuantizedDense(self.cfg.clone())
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        let units = self.cfg.units;
        let fan_in = super::dense::fan_in(self.name(), units, input)?;
        check_inputs("inputs", self.name(), fan_in)?;
        let n = crate::budget::checked_weight(
            || format!("kernel of layer '{}'", self.name()),
            &[fan_in, units],
        )?;
        let fits = |p: &Option<Int8Param>| p.as_ref().is_some_and(|k| k.shape == [fan_in, units]);
        if !fits(&self.kernel) {
            self.kernel = Some(Int8Param {
                name: "kernel".into(),
                shape: vec![fan_in, units],
                values: vec![0; n],
            });
            self.scale = Some(frozen("kernel_scale", vec![1.0; units]));
            self.bias = self.cfg.use_bias.then(|| frozen("bias", vec![0.0; units]));
            self.packed = OnceLock::new();
        }
        let mut out = input.to_vec();
        *out.last_mut().unwrap() = units;
        Ok(out)
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let packed = self.packed.get_or_init(|| self.pack());
        let fan_in = packed.k();
        let m = x.numel() / fan_in;
        // every element is written
        let mut out = nabla_core::backend::scratch::<f32>(m * packed.n());
        int8::linear(x.data(), m, packed, &mut out, Int8Path::best());
        let mut shape = x.shape().to_vec();
        *shape.last_mut().unwrap() = packed.n();
        self.cfg
            .activation
            .apply_owned(Tensor::from_vec(out, &shape))
    }

    fn decode(
        &self,
        x: &Tensor,
        _start: usize,
        _s: &mut crate::decode::DecodeState,
    ) -> Option<Tensor> {
        Some(crate::decode::position_wise(self, x))
    }

    fn params(&self) -> Vec<&Param> {
        self.scale.iter().chain(self.bias.iter()).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.packed = OnceLock::new(); // the caller may change them
        self.scale.iter_mut().chain(self.bias.iter_mut()).collect()
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
