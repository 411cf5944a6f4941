//! Activation functions by name, as used in `activation = "relu"`, in the `Activation` layer
//! and as functions on tensors.
//!
//! In a spec an activation is a name (`"relu"`) or, for the two with a parameter, a table:
//! `{ type = "leaky_relu", negative_slope = 0.2 }`, `{ type = "elu", alpha = 0.5 }`.

use nabla_core::{Tensor, UnaryOp};
use serde::{Deserialize, Serialize};

/// An activation function. Defaults are PyTorch's; Keras 3's `leaky_relu` uses slope 0.2.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Activation {
    /// `x` (no activation)
    #[default]
    Linear,
    /// `max(x, 0)`
    Relu,
    /// `x` if `x > 0`, else `negative_slope · x` (default slope 0.01)
    LeakyRelu {
        /// Slope below zero.
        negative_slope: f32,
    },
    /// `x` if `x > 0`, else `alpha · (e^x - 1)` (default alpha 1)
    Elu {
        /// Scale of the negative part.
        alpha: f32,
    },
    /// `λ · elu_α(x)`, α ≈ 1.6733, λ ≈ 1.0507 (self-normalising)
    Selu,
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// `tanh x`
    Tanh,
    /// `x · Φ(x)` (exact, erf-based; PyTorch's and Keras 3's default)
    Gelu,
    /// `0.5 x (1 + tanh(sqrt(2/π)(x + 0.044715 x³)))` (GELU's tanh approximation)
    GeluTanh,
    /// `x · σ(x)` (`"silu"` is the same function)
    Swish,
    /// `ln(1 + e^x)`
    Softplus,
    /// `e^x_i / Σ_j e^x_j` over the last axis
    Softmax,
    /// `x_i - ln Σ_j e^x_j` over the last axis
    LogSoftmax,
}

/// Every activation name a spec accepts.
pub const NAMES: &[&str] = &[
    "linear",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "sigmoid",
    "tanh",
    "gelu",
    "gelu_tanh",
    "swish",
    "silu",
    "softplus",
    "softmax",
    "log_softmax",
];

impl Activation {
    /// The activation called `name` with default parameters.
    pub fn from_name(name: &str) -> Option<Activation> {
        Some(match name {
            "linear" => Activation::Linear,
            "relu" => Activation::Relu,
            "leaky_relu" => Activation::LeakyRelu {
                negative_slope: 0.01,
            },
            "elu" => Activation::Elu { alpha: 1.0 },
            "selu" => Activation::Selu,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "gelu" => Activation::Gelu,
            "gelu_tanh" => Activation::GeluTanh,
            "swish" | "silu" => Activation::Swish,
            "softplus" => Activation::Softplus,
            "softmax" => Activation::Softmax,
            "log_softmax" => Activation::LogSoftmax,
            _ => return None,
        })
    }

    /// The spec name (`"relu"`).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Elu { .. } => "elu",
            Activation::Selu => "selu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Gelu => "gelu",
            Activation::GeluTanh => "gelu_tanh",
            Activation::Swish => "swish",
            Activation::Softplus => "softplus",
            Activation::Softmax => "softmax",
            Activation::LogSoftmax => "log_softmax",
        }
    }

    /// The element-wise op, for activations that are one.
    pub fn unary_op(self) -> Option<UnaryOp> {
        Some(match self {
            Activation::Relu => UnaryOp::Relu,
            Activation::LeakyRelu { negative_slope } => UnaryOp::LeakyRelu(negative_slope),
            Activation::Elu { alpha } => UnaryOp::Elu(alpha),
            Activation::Selu => UnaryOp::Selu,
            Activation::Sigmoid => UnaryOp::Sigmoid,
            Activation::Tanh => UnaryOp::Tanh,
            Activation::Gelu => UnaryOp::Gelu,
            Activation::GeluTanh => UnaryOp::GeluTanh,
            Activation::Swish => UnaryOp::Silu,
            Activation::Softplus => UnaryOp::Softplus,
            Activation::Linear | Activation::Softmax | Activation::LogSoftmax => return None,
        })
    }

    /// Applies the function.
    pub fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Linear => x.clone(),
            Activation::Softmax => x.softmax(),
            Activation::LogSoftmax => x.log_softmax(),
            other => x.unary(other.unary_op().expect("element-wise activation")),
        }
    }

    /// Applies the function to a tensor this caller owns, in place when nothing is recorded
    /// (inference), so an activation allocates nothing.
    pub fn apply_owned(self, x: Tensor) -> Tensor {
        match self.unary_op() {
            // sigmoid keeps its input so binary cross-entropy can use the logits
            Some(op) if self != Activation::Sigmoid => x.unary_owned(op),
            _ if self == Activation::Linear => x,
            _ => self.apply(&x),
        }
    }
}

impl Serialize for Activation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match *self {
            Activation::LeakyRelu { negative_slope } if negative_slope != 0.01 => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("type", "leaky_relu")?;
                m.serialize_entry("negative_slope", &negative_slope)?;
                m.end()
            }
            Activation::Elu { alpha } if alpha != 1.0 => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("type", "elu")?;
                m.serialize_entry("alpha", &alpha)?;
                m.end()
            }
            other => s.serialize_str(other.name()),
        }
    }
}

impl<'de> Deserialize<'de> for Activation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Activation;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "an activation name or a table { type = \"leaky_relu\", negative_slope = ... }",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Activation, E> {
                Activation::from_name(s).ok_or_else(|| de::Error::unknown_variant(s, NAMES))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Activation, A::Error> {
                let (mut kind, mut param): (Option<String>, Option<(String, f32)>) = (None, None);
                while let Some(key) = m.next_key::<String>()? {
                    match key.as_str() {
                        "type" => kind = Some(m.next_value()?),
                        "negative_slope" | "alpha" => param = Some((key, m.next_value()?)),
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &["type", "negative_slope", "alpha"],
                            ))
                        }
                    }
                }
                let kind = kind.ok_or_else(|| de::Error::missing_field("type"))?;
                let mut a = self.visit_str::<A::Error>(&kind)?;
                match (&mut a, param) {
                    (_, None) => {}
                    (Activation::LeakyRelu { negative_slope }, Some((k, v)))
                        if k == "negative_slope" =>
                    {
                        *negative_slope = v
                    }
                    (Activation::Elu { alpha }, Some((k, v))) if k == "alpha" => *alpha = v,
                    (_, Some((k, _))) => {
                        return Err(de::Error::custom(format!(
                            "activation '{kind}' takes no parameter '{k}'"
                        )))
                    }
                }
                Ok(a)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_parameters_use_tables() {
        for name in NAMES {
            let a = Activation::from_name(name).unwrap();
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(
                serde_json::from_str::<Activation>(&json).unwrap(),
                a,
                "{name}"
            );
        }
        let a: Activation =
            serde_json::from_str(r#"{"type":"leaky_relu","negative_slope":0.2}"#).unwrap();
        assert_eq!(
            a,
            Activation::LeakyRelu {
                negative_slope: 0.2
            }
        );
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"type":"leaky_relu","negative_slope":0.2}"#
        );
        let e = serde_json::from_str::<Activation>(r#""relux""#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("relux") && e.contains("leaky_relu"), "{e}");
        let e = serde_json::from_str::<Activation>(r#"{"type":"relu","alpha":1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("takes no parameter 'alpha'"), "{e}");
    }
}
