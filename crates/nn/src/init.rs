//! Weight initialisers. Defaults are Keras's: `glorot_uniform` kernels and `zeros` biases.
//!
//! - glorot_uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out))  (Glorot & Bengio, 2010)
//! - glorot_normal:  N(0, 2 / (fan_in + fan_out))
//! - he_uniform:     U(-l, l), l = sqrt(6 / fan_in)               (He et al., 2015)
//! - he_normal:      N(0, 2 / fan_in)
//! - lecun_uniform:  U(-l, l), l = sqrt(3 / fan_in)  (PyTorch's Linear default is U(±1/sqrt(fan_in)))

use nabla_core::Rng;
use serde::{Deserialize, Serialize};

/// How a weight is filled at build time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Initializer {
    /// Glorot (Xavier) uniform, Keras's default kernel initialiser.
    #[default]
    GlorotUniform,
    /// Glorot (Xavier) normal.
    GlorotNormal,
    /// He (Kaiming) uniform.
    HeUniform,
    /// He (Kaiming) normal.
    HeNormal,
    /// LeCun uniform.
    LecunUniform,
    /// All zeros, Keras's default bias initialiser.
    Zeros,
    /// All ones.
    Ones,
}

impl Initializer {
    /// `n` values for a weight with the given fans.
    pub fn sample(self, n: usize, fan_in: usize, fan_out: usize, rng: &mut Rng) -> Vec<f32> {
        let (fi, fo) = (fan_in.max(1) as f32, fan_out.max(1) as f32);
        let uniform = |l: f32, rng: &mut Rng| (0..n).map(|_| rng.uniform_range(-l, l)).collect();
        let normal = |s: f32, rng: &mut Rng| (0..n).map(|_| s * rng.normal()).collect();
        match self {
            Initializer::GlorotUniform => uniform((6.0 / (fi + fo)).sqrt(), rng),
            Initializer::GlorotNormal => normal((2.0 / (fi + fo)).sqrt(), rng),
            Initializer::HeUniform => uniform((6.0 / fi).sqrt(), rng),
            Initializer::HeNormal => normal((2.0 / fi).sqrt(), rng),
            Initializer::LecunUniform => uniform((3.0 / fi).sqrt(), rng),
            Initializer::Zeros => vec![0.0; n],
            Initializer::Ones => vec![1.0; n],
        }
    }
}
