//! The x86 paths of `int8_matmul.rs`: AVX-512 VNNI and AVX2 versions of its row
//! quantisation and products, each giving exactly the portable path's numbers.

use super::{finish, PackedInt8, QuantRows, BLOCK};
use std::arch::x86_64::*;

/// [`super::min_max`] on AVX2: 4 × 8 lanes, so the min/max latency chains overlap.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn min_max(x: &[f32]) -> (f32, f32) {
    let (mut lo, mut hi) = ([_mm256_setzero_ps(); 4], [_mm256_setzero_ps(); 4]);
    let mut i = 0;
    while i + 8 <= x.len() {
        let j = (i / 8) % 4;
        // SAFETY: `i + 8 <= x.len()`.
        let v = unsafe { _mm256_loadu_ps(x.as_ptr().add(i)) };
        lo[j] = _mm256_min_ps(v, lo[j]);
        hi[j] = _mm256_max_ps(v, hi[j]);
        i += 8;
    }
    let l = _mm256_min_ps(_mm256_min_ps(lo[0], lo[1]), _mm256_min_ps(lo[2], lo[3]));
    let h = _mm256_max_ps(_mm256_max_ps(hi[0], hi[1]), _mm256_max_ps(hi[2], hi[3]));
    let (mut ls, mut hs) = ([0f32; 8], [0f32; 8]);
    // SAFETY: the arrays hold 8 floats.
    unsafe {
        _mm256_storeu_ps(ls.as_mut_ptr(), l);
        _mm256_storeu_ps(hs.as_mut_ptr(), h);
    }
    let tail = &x[i..];
    let lo = ls
        .iter()
        .chain(tail)
        .fold(0f32, |a, &v| if v < a { v } else { a });
    let hi = hs
        .iter()
        .chain(tail)
        .fold(0f32, |a, &v| if v > a { v } else { a });
    (lo, hi)
}

/// [`super::min_max`] on AVX-512: 4 × 16 lanes, the tail by a masked load (its
/// missing lanes read as 0, which the result includes anyway).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn min_max_512(x: &[f32]) -> (f32, f32) {
    let (mut lo, mut hi) = ([_mm512_setzero_ps(); 4], [_mm512_setzero_ps(); 4]);
    let mut i = 0;
    while i < x.len() {
        let (j, left) = ((i / 16) % 4, x.len() - i);
        let mask = if left >= 16 {
            u16::MAX
        } else {
            (1u16 << left) - 1
        };
        // SAFETY: the mask covers only elements below `x.len()`.
        let v = unsafe { _mm512_maskz_loadu_ps(mask, x.as_ptr().add(i)) };
        lo[j] = _mm512_min_ps(v, lo[j]);
        hi[j] = _mm512_max_ps(v, hi[j]);
        i += 16;
    }
    let l = _mm512_min_ps(_mm512_min_ps(lo[0], lo[1]), _mm512_min_ps(lo[2], lo[3]));
    let h = _mm512_max_ps(_mm512_max_ps(hi[0], hi[1]), _mm512_max_ps(hi[2], hi[3]));
    (_mm512_reduce_min_ps(l), _mm512_reduce_max_ps(h))
}

/// [`super::quantize_row`] on AVX-512 for whole groups of 16; returns how many it did.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn quantize_row_512(x: &[f32], inv: f32, zero: f32, q: &mut [u8]) -> usize {
    let whole = x.len() / 16 * 16;
    let (vi, vz) = (_mm512_set1_ps(inv), _mm512_set1_ps(zero));
    let (top, bottom) = (_mm512_set1_epi32(127), _mm512_setzero_si512());
    for i in (0..whole).step_by(16) {
        // SAFETY: `i + 16 <= whole <= x.len() == q.len()`.
        unsafe {
            let v = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(x.as_ptr().add(i)), vi), vz);
            // NaN converts to i32::MIN and clamps to 0, as the scalar cast does
            let t = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(v), bottom), top);
            _mm_storeu_si128(q.as_mut_ptr().add(i) as *mut _, _mm512_cvtepi32_epi8(t));
        }
    }
    whole
}

/// [`super::quantize_row`] on AVX2 for whole groups of 8; returns how many it did.
/// `cvtps2dq` rounds to nearest even (the default MXCSR mode) like `round_ties_even`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn quantize_row(x: &[f32], inv: f32, zero: f32, q: &mut [u8]) -> usize {
    let whole = x.len() / 8 * 8;
    let (vi, vz) = (_mm256_set1_ps(inv), _mm256_set1_ps(zero));
    let (top, bottom) = (_mm256_set1_epi32(127), _mm256_setzero_si256());
    for i in (0..whole).step_by(8) {
        // SAFETY: `i + 8 <= whole <= x.len() == q.len()`.
        unsafe {
            let v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x.as_ptr().add(i)), vi), vz);
            // NaN converts to i32::MIN and clamps to 0, as the scalar cast does
            let t = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(v), bottom), top);
            let p = _mm256_packus_epi32(t, t); // 16-bit lanes, per 128-bit half
            let p = _mm256_packus_epi16(p, p); // bytes 0-3 and 16-19 hold the values
            let lo = _mm256_castsi256_si128(p);
            let hi = _mm256_extracti128_si256::<1>(p);
            let w = _mm_unpacklo_epi32(lo, hi);
            std::ptr::write_unaligned(q.as_mut_ptr().add(i) as *mut i64, _mm_cvtsi128_si64(w));
        }
    }
    whole
}

/// Stores the 16 floats of `v` at `dst`, only the first `valid`; with `acc`, adds them
/// to what is there.
#[target_feature(enable = "avx512f")]
unsafe fn store16(dst: *mut f32, v: __m512, valid: usize, acc: bool) {
    let mask = if valid >= 16 {
        u16::MAX
    } else {
        ((1u32 << valid) - 1) as u16
    };
    // SAFETY: the caller gives `valid` writable floats at `dst`.
    unsafe {
        let v = if acc {
            _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, dst))
        } else {
            v
        };
        _mm512_mask_storeu_ps(dst, mask, v)
    }
}

/// The products on AVX-512 VNNI, tiles of up to 4 rows × 4 blocks (64 channels).
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn product_vnni(
    qr: &QuantRows,
    rows: usize,
    w: &PackedInt8,
    out: &mut [f32],
    acc: bool,
) {
    let nb = w.n.div_ceil(BLOCK);
    let mut r = 0;
    while r < rows {
        let rr = (rows - r).min(4);
        let mut b = 0;
        while b < nb {
            let bb = (nb - b).min(4);
            // SAFETY: rows `r..r+rr` and blocks `b..b+bb` exist.
            unsafe {
                match (rr, bb) {
                    (4, 4) => tile_vnni::<4, 4>(qr, w, out, r, b, acc),
                    (4, 3) => tile_vnni::<4, 3>(qr, w, out, r, b, acc),
                    (4, 2) => tile_vnni::<4, 2>(qr, w, out, r, b, acc),
                    (4, _) => tile_vnni::<4, 1>(qr, w, out, r, b, acc),
                    (_, 4) => tile_vnni::<1, 4>(qr, w, out, r, b, acc),
                    (_, 3) => tile_vnni::<1, 3>(qr, w, out, r, b, acc),
                    (_, 2) => tile_vnni::<1, 2>(qr, w, out, r, b, acc),
                    _ => tile_vnni::<1, 1>(qr, w, out, r, b, acc),
                }
            }
            b += bb;
        }
        r += if rr == 4 { 4 } else { 1 };
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn tile_vnni<const R: usize, const B: usize>(
    qr: &QuantRows,
    w: &PackedInt8,
    out: &mut [f32],
    r0: usize,
    b0: usize,
    acc: bool,
) {
    let (kp, kg, n) = (qr.kp, qr.kp / 4, w.n);
    let mut sum = [[_mm512_setzero_si512(); B]; R];
    // SAFETY (whole body): rows `r0..r0+R` of `q` hold `kp` bytes; blocks `b0..b0+B`
    // hold `kg · 64` bytes each; the padded sums, scales and bias hold whole blocks.
    unsafe {
        let a = qr.q.as_ptr().add(r0 * kp);
        let wp = w.data.as_ptr().add(b0 * kg * 64);
        for g in 0..kg {
            let mut wv = [_mm512_setzero_si512(); B];
            for (j, v) in wv.iter_mut().enumerate() {
                *v = _mm512_loadu_si512(wp.add((j * kg + g) * 64) as *const _);
            }
            for (i, row) in sum.iter_mut().enumerate() {
                let x = std::ptr::read_unaligned(a.add(i * kp + g * 4) as *const i32);
                let av = _mm512_set1_epi32(x);
                for (s, v) in row.iter_mut().zip(&wv) {
                    *s = _mm512_dpbusd_epi32(*s, av, *v);
                }
            }
        }
        for (i, row) in sum.iter().enumerate() {
            let r = r0 + i;
            let (zx, sx) = (_mm512_set1_epi32(qr.zx[r]), _mm512_set1_ps(qr.sx[r]));
            for (j, s) in row.iter().enumerate() {
                let c0 = (b0 + j) * BLOCK;
                let sums = _mm512_loadu_si512(w.sums.as_ptr().add(c0) as *const _);
                let t = _mm512_cvtepi32_ps(_mm512_sub_epi32(*s, _mm512_mullo_epi32(zx, sums)));
                let sc = _mm512_mul_ps(sx, _mm512_loadu_ps(w.scale.as_ptr().add(c0)));
                let y = _mm512_add_ps(
                    _mm512_mul_ps(t, sc),
                    _mm512_loadu_ps(w.bias.as_ptr().add(c0)),
                );
                store16(out.as_mut_ptr().add(r * n + c0), y, n - c0, acc);
            }
        }
    }
}

/// The products on AVX2, tiles of up to 4 rows × 1 block (16 channels, two registers).
#[target_feature(enable = "avx2")]
pub(super) unsafe fn product_avx2(
    qr: &QuantRows,
    rows: usize,
    w: &PackedInt8,
    out: &mut [f32],
    acc: bool,
) {
    let nb = w.n.div_ceil(BLOCK);
    let mut r = 0;
    while r < rows {
        let rr = if rows - r >= 4 { 4 } else { 1 };
        for b in 0..nb {
            // SAFETY: rows `r..r+rr` and block `b` exist.
            unsafe {
                if rr == 4 {
                    tile_avx2::<4>(qr, w, out, r, b, acc)
                } else {
                    tile_avx2::<1>(qr, w, out, r, b, acc)
                }
            }
        }
        r += rr;
    }
}

#[target_feature(enable = "avx2")]
#[inline]
unsafe fn tile_avx2<const R: usize>(
    qr: &QuantRows,
    w: &PackedInt8,
    out: &mut [f32],
    r0: usize,
    b: usize,
    acc: bool,
) {
    let (kp, kg, n) = (qr.kp, qr.kp / 4, w.n);
    let ones = _mm256_set1_epi16(1);
    let mut sum = [[_mm256_setzero_si256(); 2]; R];
    // SAFETY (whole body): as in `tile_vnni`, for one block.
    unsafe {
        let a = qr.q.as_ptr().add(r0 * kp);
        let wp = w.data.as_ptr().add(b * kg * 64);
        for g in 0..kg {
            let w0 = _mm256_loadu_si256(wp.add(g * 64) as *const _);
            let w1 = _mm256_loadu_si256(wp.add(g * 64 + 32) as *const _);
            for (i, row) in sum.iter_mut().enumerate() {
                let x = std::ptr::read_unaligned(a.add(i * kp + g * 4) as *const i32);
                let av = _mm256_set1_epi32(x);
                // pairs of u8·i8 products into i16 (cannot saturate: module doc), then
                // pairs of those into i32
                let p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(av, w0), ones);
                let p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(av, w1), ones);
                row[0] = _mm256_add_epi32(row[0], p0);
                row[1] = _mm256_add_epi32(row[1], p1);
            }
        }
        for (i, row) in sum.iter().enumerate() {
            let r = r0 + i;
            let mut sums = [0i32; BLOCK];
            _mm256_storeu_si256(sums.as_mut_ptr() as *mut _, row[0]);
            _mm256_storeu_si256(sums.as_mut_ptr().add(8) as *mut _, row[1]);
            let c0 = b * BLOCK;
            for (j, &s) in sums.iter().enumerate().take(n - c0) {
                let c = c0 + j;
                let y = finish(s, qr.zx[r], w.sums[c], qr.sx[r], w.scale[c], w.bias[c]);
                let o = &mut out[r * n + c];
                *o = if acc { y + *o } else { y };
            }
        }
    }
}
