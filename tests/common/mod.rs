//! Helpers shared by the tests: fixtures, their numbers, weights in order.
#![allow(dead_code)] // each test file uses some of them

use nabla::prelude::*;
use serde_json::Value;

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

pub fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

pub fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

/// A model's weights, in `named_params` order.
pub fn weights(m: &Model) -> Vec<Vec<f32>> {
    m.named_params()
        .iter()
        .map(|(_, p)| p.value.to_vec())
        .collect()
}

/// Sets a built model's weights, in `named_params` order.
pub fn set_weights(model: &mut Model, values: &[Vec<f32>]) {
    for (p, v) in model.params_mut().into_iter().zip(values) {
        p.value.update(|w| w.copy_from_slice(v));
    }
}

/// `(value, d(Σ y·r)/d inputs)` of `f` at `inputs`.
pub fn grads_of(
    inputs: &[Tensor],
    r: &[f32],
    f: impl Fn(&[Tensor]) -> Tensor,
) -> (Tensor, Vec<Vec<f32>>) {
    let xs: Vec<Tensor> = inputs
        .iter()
        .map(|t| t.clone().requires_grad(true))
        .collect();
    let y = f(&xs);
    let g = y
        .mul(&Tensor::from_vec(r.to_vec(), y.shape()))
        .sum()
        .backward();
    let d = xs.iter().map(|x| g.get(x).unwrap().to_vec()).collect();
    (y, d)
}

/// A small deterministic generator (xorshift) for the fuzz tests.
pub struct Gen(pub u64);

impl Gen {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
