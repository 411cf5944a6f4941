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

/// One to four mutations of `seed`: a bit flipped, a byte overwritten (random, or 0, 0xff,
/// 0x80, 0x7f), a digit changed into another (sizes, offsets, numbers), a cut, a run of up
/// to 16 bytes repeated; half of them inside `focus` (a file's header).
pub fn mutate(g: &mut Gen, seed: &[u8], focus: std::ops::Range<usize>) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + g.below(4) {
        if b.is_empty() {
            break;
        }
        let at = if g.below(2) == 0 && !focus.is_empty() {
            focus.start + g.below(focus.len())
        } else {
            g.below(b.len())
        };
        let at = at.min(b.len() - 1);
        match g.below(6) {
            0 => b[at] ^= 1 << g.below(8),
            1 => b[at] = g.next() as u8,
            2 => b[at] = [0u8, 0xff, 0x80, 0x7f][g.below(4)],
            3 => {
                let end = focus.end.max(at + 1).min(b.len());
                if let Some(p) = (at..end).find(|&i| b[i].is_ascii_digit()) {
                    b[p] = b"0123456789"[g.below(10)];
                }
            }
            4 => b.truncate(at),
            _ => {
                let n = g.below(16).min(b.len() - at);
                let chunk: Vec<u8> = b[at..at + n].to_vec();
                b.splice(at..at, chunk);
            }
        }
    }
    b
}

/// With `NABLA_FUZZ_SEEDS=DIR`, writes `seeds` to `DIR/target/seed_K`: the valid files the
/// mutation fuzzers start from become the corpus of the coverage-guided one
/// (`scripts/fuzz.sh`, cargo-fuzz target `target`).
pub fn write_seeds(target: &str, seeds: &[Vec<u8>]) {
    let Ok(dir) = std::env::var("NABLA_FUZZ_SEEDS") else {
        return;
    };
    let dir = std::path::Path::new(&dir).join(target);
    std::fs::create_dir_all(&dir).unwrap();
    for (k, s) in seeds.iter().enumerate() {
        std::fs::write(dir.join(format!("seed_{k}")), s).unwrap();
    }
}
