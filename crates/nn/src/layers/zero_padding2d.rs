//! `ZeroPadding2d`: zeros around each image (Keras's `ZeroPadding2D`).
//!
//! `padding` is one number (every side), `[ph, pw]` (top and bottom, left and right),
//! `[top, bottom, left, right]` or Keras's `[[top, bottom], [left, right]]`.
//!
//! # Shapes
//! - input: `[batch, channels, height, width]`
//! - output: `[batch, channels, top + height + bottom, left + width + right]`

use super::default_true;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Padding amounts `[top, bottom, left, right]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sides(pub [usize; 4]);

impl Serialize for Sides {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Sides {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let n = |v: &Value| v.as_u64().map(|n| n as usize);
        let flat: Option<Vec<usize>> = match &v {
            Value::Number(_) => n(&v).map(|p| vec![p]),
            Value::Array(a) if a.iter().all(Value::is_array) => a
                .iter()
                .flat_map(|p| p.as_array().into_iter().flatten())
                .map(n)
                .collect(),
            Value::Array(a) => a.iter().map(n).collect(),
            _ => None,
        };
        match flat.as_deref() {
            Some([p]) => Ok(Sides([*p; 4])),
            Some([h, w]) => Ok(Sides([*h, *h, *w, *w])),
            Some([t, b, l, r]) => Ok(Sides([*t, *b, *l, *r])),
            _ => Err(serde::de::Error::custom(format!(
                "padding: expected p, [ph, pw], [top, bottom, left, right] or [[top, bottom], [left, right]] (non-negative integers), received {v}"
            ))),
        }
    }
}

/// The config of [`ZeroPadding2d`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZeroPadding2dConfig {
    /// Zeros added on each side (default 1).
    #[serde(default = "one_each")]
    pub padding: Sides,
    /// Layer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Has no weights; kept so every layer accepts `trainable`.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

fn one_each() -> Sides {
    Sides([1; 4])
}

/// Pads images with zeros.
pub struct ZeroPadding2d {
    cfg: ZeroPadding2dConfig,
}

impl ZeroPadding2d {
    /// `[top, bottom, left, right]` zeros.
    pub fn new(padding: [usize; 4]) -> ZeroPadding2d {
        ZeroPadding2d::from_config(super::with_defaults(
            serde_json::json!({"padding": Sides(padding)}),
        ))
    }

    /// A layer from its config.
    pub fn from_config(cfg: ZeroPadding2dConfig) -> ZeroPadding2d {
        ZeroPadding2d { cfg }
    }
}

impl Layer for ZeroPadding2d {
    fn name(&self) -> &str {
        self.cfg.name.as_deref().unwrap_or("zero_padding2d")
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = Some(name);
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::ZeroPadding2d(self.cfg.clone())
    }

    fn build(&mut self, input: &[usize], _rng: &mut Rng) -> Result<Vec<usize>> {
        let [c, h, w] = *input else {
            return Err(Error::Shape {
                layer: self.name().to_string(),
                expected: "[channels, height, width]".into(),
                received: input.to_vec(),
            });
        };
        let [t, b, l, r] = self.cfg.padding.0;
        let sum = |a: usize, b: usize, c: usize| a.checked_add(b)?.checked_add(c);
        match (sum(h, t, b), sum(w, l, r)) {
            (Some(oh), Some(ow)) => Ok(vec![c, oh, ow]),
            _ => Err(Error::config(
                format!("padding of layer '{}'", self.name()),
                "a padded size that fits in memory",
                format!("{:?} around {h}x{w}", self.cfg.padding),
            )),
        }
    }

    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let [t, b, l, r] = self.cfg.padding.0;
        x.pad(&[(0, 0), (0, 0), (t, b), (l, r)])
    }

    crate::layer::trainable_from_config!();
}
