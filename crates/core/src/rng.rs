//! The one seeded random-number generator: initialisation, dropout, shuffling and
//! augmentation all draw from `Rng`s derived from the run's seed, so the same seed on the
//! same machine gives the same numbers.
//!
//! Algorithm: xoshiro256** (Blackman & Vigna, 2018), seeded through SplitMix64. Its whole
//! state is four integers, so it serialises into a checkpoint exactly, and it never changes
//! with a dependency's version (a run stays reproducible across upgrades).

use serde::{Deserialize, Serialize};

/// A small, fast, seedable, serialisable PRNG.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        Rng {
            s: [
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
            ],
        }
    }

    /// The whole state (to send it to another process).
    pub fn state(&self) -> [u64; 4] {
        self.s
    }

    /// The generator in state `s` (from [`Rng::state`]).
    pub fn from_state(s: [u64; 4]) -> Rng {
        Rng { s }
    }

    /// An independent generator derived from this one (advances this one by one step).
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 24 random bits.
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// Fills `out` with uniforms in `[0, 1)` (24 random bits each, two per 64-bit draw).
    pub fn fill_uniform(&mut self, out: &mut [f32]) {
        const SCALE: f32 = 1.0 / (1u64 << 24) as f32;
        let mut pairs = out.chunks_exact_mut(2);
        for pair in &mut pairs {
            let r = self.next_u64();
            pair[0] = ((r >> 40) as f32) * SCALE;
            pair[1] = (((r >> 8) & 0xff_ffff) as f32) * SCALE;
        }
        for v in pairs.into_remainder() {
            *v = self.uniform();
        }
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform_range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Box–Muller), computed in f64.
    pub fn normal(&mut self) -> f32 {
        let u1 = ((self.next_u64() >> 11) as f64 + 1.0) * (1.0 / (1u64 << 53) as f64); // (0, 1]
        let u2 = (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }

    /// Uniform integer in `[0, n)` (Lemire's multiply-shift; `n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Shuffles `xs` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i + 1);
            xs.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_sane_moments() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
        let n = 100_000;
        let xs: Vec<f32> = (0..n).map(|_| a.normal()).collect();
        let mean = xs.iter().sum::<f32>() / n as f32;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n as f32;
        assert!(
            mean.abs() < 0.02 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
        let u: Vec<f32> = (0..n).map(|_| a.uniform()).collect();
        assert!(u.iter().all(|&v| (0.0..1.0).contains(&v)));
        let mut p: Vec<usize> = (0..50).collect();
        a.shuffle(&mut p);
        p.sort();
        assert_eq!(p, (0..50).collect::<Vec<_>>());
    }
}
