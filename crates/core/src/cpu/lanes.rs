//! f32 vectors for the hand-written kernels (the fused LSTM steps): one trait, [`Lanes`],
//! with an AVX-512 (16 lanes) and an AVX2+FMA (8 lanes) implementation, so a kernel is
//! written once, generic over its vector, and compiled for each instruction set by an
//! entry point carrying `#[target_feature]` (every method is `#[inline(always)]`, so it is
//! compiled inside that entry point with its instructions).

/// A buffer of `len + 16` values (from the buffer cache) and the index of its first value
/// on a 64-byte boundary: packed weights read there whole vectors that never straddle two
/// cache lines (the allocator's large blocks start 16 bytes past a page, and a straddling
/// AVX-512 load costs two: the fused LSTM steps ran at under half speed on them).
pub(crate) fn aligned(len: usize) -> (Vec<f32>, usize) {
    let v = super::recycle::scratch(len + 16);
    let at = (v.as_ptr() as usize).wrapping_neg() % 64 / 4;
    (v, at)
}

/// A vector of `N` f32 lanes and the operations the kernels need.
///
/// # Safety
/// Every method is `unsafe`: it may only run on a CPU with the implementation's instruction
/// set, and pointers must be valid for the lanes read or written.
pub(crate) trait Lanes {
    /// The register type.
    type V: Copy;
    /// Lanes per vector.
    const N: usize;
    /// Rows a kernel tile may hold: `ROWS × 4` sums plus `ROWS` broadcasts and one loaded
    /// vector fit the register file (32 registers on AVX-512, 16 on AVX2).
    const ROWS: usize;
    /// All lanes zero.
    unsafe fn zero() -> Self::V;
    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self::V;
    /// `N` values from `p`.
    unsafe fn load(p: *const f32) -> Self::V;
    /// The first `n ≤ N` values from `p`, zeros after (nothing past them is read).
    unsafe fn load_part(p: *const f32, n: usize) -> Self::V;
    /// The first `n ≤ N` lanes of `v` to `p` (nothing past them is written).
    unsafe fn store_part(p: *mut f32, n: usize, v: Self::V);
    /// `a + b`
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// `a − b`
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    /// `a · b`
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// `a · b + c`, rounded once.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `c − a · b`, rounded once.
    unsafe fn fnmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `min(a, b)`; `b` when either is NaN (x86's rule).
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V;
    /// `max(a, b)`; `b` when either is NaN.
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// An estimate of `1 / d` (14 bits on AVX-512, 12 on AVX2).
    unsafe fn recip_estimate(d: Self::V) -> Self::V;
    /// `2^n` for lanes `v = n + round` where `round` is a float whose bits put integers in
    /// the low mantissa bits (`gates.rs`'s `ROUND`): `((bits(v) − bits(round)) + 127) << 23`.
    unsafe fn pow2(v: Self::V, round: f32) -> Self::V;
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Lanes;
    use std::arch::x86_64::*;

    /// 16 lanes: AVX-512F.
    pub(crate) struct Avx512;

    /// 8 lanes: AVX2 and FMA.
    pub(crate) struct Avx2;

    impl Lanes for Avx512 {
        type V = __m512;
        const N: usize = 16;
        const ROWS: usize = 6;
        #[inline(always)]
        unsafe fn zero() -> __m512 {
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            unsafe { _mm512_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_part(p: *const f32, n: usize) -> __m512 {
            unsafe { _mm512_maskz_loadu_ps(mask16(n), p) }
        }
        #[inline(always)]
        unsafe fn store_part(p: *mut f32, n: usize, v: __m512) {
            unsafe { _mm512_mask_storeu_ps(p, mask16(n), v) }
        }
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn sub(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_sub_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn fnmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
            unsafe { _mm512_fnmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn min(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_min_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn max(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_max_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn recip_estimate(d: __m512) -> __m512 {
            unsafe { _mm512_rcp14_ps(d) }
        }
        #[inline(always)]
        unsafe fn pow2(v: __m512, round: f32) -> __m512 {
            unsafe {
                let bits = _mm512_sub_epi32(
                    _mm512_castps_si512(v),
                    _mm512_set1_epi32(round.to_bits() as i32),
                );
                let e = _mm512_slli_epi32::<23>(_mm512_add_epi32(bits, _mm512_set1_epi32(127)));
                _mm512_castsi512_ps(e)
            }
        }
    }

    /// The first `n` of 16 lanes.
    #[inline(always)]
    fn mask16(n: usize) -> __mmask16 {
        if n >= 16 {
            0xffff
        } else {
            (1u16 << n) - 1
        }
    }

    impl Lanes for Avx2 {
        type V = __m256;
        const N: usize = 8;
        const ROWS: usize = 3;
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            unsafe { _mm256_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_part(p: *const f32, n: usize) -> __m256 {
            unsafe {
                if n >= 8 {
                    _mm256_loadu_ps(p)
                } else {
                    _mm256_maskload_ps(p, mask8(n))
                }
            }
        }
        #[inline(always)]
        unsafe fn store_part(p: *mut f32, n: usize, v: __m256) {
            unsafe {
                if n >= 8 {
                    _mm256_storeu_ps(p, v)
                } else {
                    _mm256_maskstore_ps(p, mask8(n), v)
                }
            }
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn sub(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_sub_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn fnmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
            unsafe { _mm256_fnmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn min(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_min_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn max(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_max_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn recip_estimate(d: __m256) -> __m256 {
            unsafe { _mm256_rcp_ps(d) }
        }
        #[inline(always)]
        unsafe fn pow2(v: __m256, round: f32) -> __m256 {
            unsafe {
                let bits = _mm256_sub_epi32(
                    _mm256_castps_si256(v),
                    _mm256_set1_epi32(round.to_bits() as i32),
                );
                let e = _mm256_slli_epi32::<23>(_mm256_add_epi32(bits, _mm256_set1_epi32(127)));
                _mm256_castsi256_ps(e)
            }
        }
    }

    /// All bits set in the first `n` of 8 lanes (`maskload`/`maskstore` take the sign bit).
    #[inline(always)]
    unsafe fn mask8(n: usize) -> __m256i {
        unsafe {
            _mm256_cmpgt_epi32(
                _mm256_set1_epi32(n as i32),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            )
        }
    }
}
