//! NumPy's `default_rng(seed).permutation(n)`, bit for bit, so data splits made by Python
//! references (W5's) are the same here: `SeedSequence(seed)` → PCG64 (XSL-RR output of a
//! 128-bit LCG) → Fisher–Yates with NumPy's masked rejection sampling (`random_interval`).

const MASK32: u64 = 0xFFFF_FFFF;
const PCG_MULT: u128 = 0x2360_ED05_1FC6_5DA4_4385_DF64_9FCC_F645;

/// `SeedSequence([seed]).generate_state(n32, uint32)` for `seed < 2³²`.
fn seed_sequence(seed: u32, n32: usize) -> Vec<u32> {
    const INIT_A: u32 = 0x43b0_d7e5;
    const MULT_A: u32 = 0x931e_8875;
    const INIT_B: u32 = 0x8b51_f9dd;
    const MULT_B: u32 = 0x58f3_8ded;
    let mut hc = INIT_A;
    let mut hashmix = |v: u32| {
        let mut v = v ^ hc;
        hc = hc.wrapping_mul(MULT_A);
        v = v.wrapping_mul(hc);
        v ^ (v >> 16)
    };
    let mix = |x: u32, y: u32| {
        let r = 0xca01_f9ddu32
            .wrapping_mul(x)
            .wrapping_sub(0x4973_f715u32.wrapping_mul(y));
        r ^ (r >> 16)
    };
    let mut pool = [0u32; 4];
    for (i, p) in pool.iter_mut().enumerate() {
        *p = hashmix(if i == 0 { seed } else { 0 });
    }
    for src in 0..4 {
        for dst in 0..4 {
            if src != dst {
                let h = hashmix(pool[src]);
                pool[dst] = mix(pool[dst], h);
            }
        }
    }
    let mut h = INIT_B;
    (0..n32)
        .map(|i| {
            let mut v = pool[i % 4] ^ h;
            h = h.wrapping_mul(MULT_B);
            v = v.wrapping_mul(h);
            v ^ (v >> 16)
        })
        .collect()
}

/// NumPy's PCG64 bit generator.
struct Pcg64 {
    state: u128,
    inc: u128,
    spare: Option<u32>,
}

impl Pcg64 {
    fn new(seed: u32) -> Pcg64 {
        let w = seed_sequence(seed, 8);
        let u: Vec<u128> = (0..4)
            .map(|k| (w[2 * k] as u128) | ((w[2 * k + 1] as u128) << 32))
            .collect();
        let (init_state, init_seq) = ((u[0] << 64) | u[1], (u[2] << 64) | u[3]);
        let mut g = Pcg64 {
            state: 0,
            inc: (init_seq << 1) | 1,
            spare: None,
        };
        g.step();
        g.state = g.state.wrapping_add(init_state);
        g.step();
        g
    }

    fn step(&mut self) {
        self.state = self.state.wrapping_mul(PCG_MULT).wrapping_add(self.inc);
    }

    fn next_u64(&mut self) -> u64 {
        self.step();
        let x = ((self.state >> 64) as u64) ^ (self.state as u64);
        x.rotate_right((self.state >> 122) as u32)
    }

    /// Half of a 64-bit draw, the low half first (NumPy buffers the high one).
    fn next_u32(&mut self) -> u32 {
        if let Some(u) = self.spare.take() {
            return u;
        }
        let n = self.next_u64();
        self.spare = Some((n >> 32) as u32);
        (n & MASK32) as u32
    }

    /// Uniform in `[0, max]` by masked rejection (`random_interval`).
    fn interval(&mut self, max: u64) -> u64 {
        let mut mask = max;
        for s in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> s;
        }
        loop {
            let v = if max <= MASK32 {
                self.next_u32() as u64 & mask
            } else {
                self.next_u64() & mask
            };
            if v <= max {
                return v;
            }
        }
    }
}

/// `numpy.random.default_rng(seed).permutation(n)`.
pub fn numpy_permutation(n: usize, seed: u32) -> Vec<usize> {
    let mut g = Pcg64::new(seed);
    let mut a: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = g.interval(i as u64) as usize;
        a.swap(i, j);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by NumPy 2 (`default_rng(s).permutation(n)`, `.bit_generator.random_raw()`).
    #[test]
    fn equals_numpy() {
        assert_eq!(Pcg64::new(0).next_u64(), 11749869230777074271);
        assert_eq!(numpy_permutation(10, 0), [4, 6, 2, 7, 3, 5, 9, 0, 8, 1]);
        assert_eq!(
            numpy_permutation(2399, 0)[..8],
            [1732, 1702, 720, 1423, 1234, 1358, 1633, 1257]
        );
        assert_eq!(
            numpy_permutation(100, 7)[..8],
            [88, 42, 26, 50, 54, 70, 4, 53]
        );
    }
}
