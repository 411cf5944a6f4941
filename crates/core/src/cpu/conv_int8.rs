//! Statically quantised 2-d convolution (PyTorch's quantised `Conv2d` after calibration): the
//! input quantised with one scale and zero point fixed beforehand (calibrated on sample
//! batches), the kernel held as int8 per output channel, the products summed exactly in i32
//! by the int8 matrix product ([`super::int8_matmul`]) over unrolled windows.
//!
//! ```text
//! x ≈ sx·(qx − zx),  qx = clamp(round(x/sx) + zx, 0, 127)   (one sx, zx for every input)
//! W_o ≈ sw_o·qw_o,   qw ∈ [−127, 127]                       (per output channel o)
//! y[o, p] = (Σ_k qx[p, k]·qw[o, k] − zx·Σ_k qw[o, k])·sx·sw_o + b_o
//! ```
//!
//! Each sample is quantised into channels-last bytes `[H, W, C]`, so one kernel row of a
//! window (`kw` taps of `C` channels) is one run of `kw·C` bytes; the kernel is packed in the
//! same `(ky, kx, c)` order. Padding holds `zx`, the quantised 0. The float convolution's
//! epilogue (ReLU, or ReLU and max pooling) then lays out the planes `[OC, ..]`.

use super::conv::Conv2dGeom;
use super::conv_epilogue::{add_bias, relu_max_pool, Epilogue};
use super::int8_matmul::{product, qparams, quantize_row, Int8Path, PackedInt8, QuantRows};
use super::recycle::{recycle, scratch};
use super::threads::num_threads;
use rayon::prelude::*;

/// Output pixels unrolled and multiplied together (their bytes stay in L1/L2).
const ROWS: usize = 128;

/// A convolution's int8 kernel packed per group, with the input's scale and zero point.
#[derive(Clone, Debug)]
pub struct ConvInt8 {
    packed: Vec<PackedInt8>,
    scale: f32,
    zero: i32,
    /// `(c, oc, kh, kw, groups)` the kernel was packed for.
    dims: (usize, usize, usize, usize, usize),
}

impl ConvInt8 {
    /// Packs `w [OC, C/groups, kh, kw]` (values in [−127, 127]) with its per-channel
    /// `scale [OC]` and `bias [OC]` for the geometry `g` (its batch and image size unused),
    /// the inputs calibrated to `range` (widened to hold 0). Panics if a length disagrees or
    /// a window holds more than `MAX_INPUTS` inputs (the layer checks both first).
    pub fn new(
        w: &[i8],
        scale: &[f32],
        bias: Option<&[f32]>,
        g: &Conv2dGeom,
        range: (f32, f32),
    ) -> ConvInt8 {
        let (cg, ocg, area) = (g.c / g.groups, g.oc / g.groups, g.kh * g.kw);
        let k = cg * area;
        assert!(w.len() == g.oc * k && scale.len() == g.oc);
        let packed = (0..g.groups)
            .map(|grp| {
                // [o][c][ky][kx] -> [o][ky][kx][c]: a window row's taps side by side
                let mut t = vec![0i8; ocg * k];
                for o in 0..ocg {
                    let src = &w[(grp * ocg + o) * k..][..k];
                    for c in 0..cg {
                        for tap in 0..area {
                            t[o * k + tap * cg + c] = src[c * area + tap];
                        }
                    }
                }
                let part = grp * ocg..(grp + 1) * ocg;
                let b = bias.map(|b| &b[part.clone()]);
                PackedInt8::new(&t, &scale[part], b, ocg, k)
            })
            .collect();
        let (scale, zero) = qparams(range.0.min(0.0), range.1.max(0.0)).unwrap_or((1.0, 0));
        ConvInt8 {
            packed,
            scale,
            zero,
            dims: (g.c, g.oc, g.kh, g.kw, g.groups),
        }
    }

    /// The input's scale and zero point.
    pub fn input_qparams(&self) -> (f32, i32) {
        (self.scale, self.zero)
    }

    /// `y [N, OC, ..plane]` of `x [N, C, H, W]` through int8 on `path`, then `epi` (its
    /// bias is already added). The samples are shared among the threads.
    pub fn forward(&self, x: &[f32], g: &Conv2dGeom, epi: Epilogue, path: Int8Path) -> Vec<f32> {
        assert_eq!(self.dims, (g.c, g.oc, g.kh, g.kw, g.groups));
        let (oh, ow) = g.out_hw().expect("conv2d: kernel larger than padded input");
        let (eh, ew) = epi
            .out_hw(oh, ow)
            .expect("conv2d: pooling window larger than the map");
        let (p, plane) = (oh * ow, eh * ew);
        let (in_sz, out_sz) = (g.c * g.h * g.w, g.oc * plane);
        assert_eq!(x.len(), g.n * in_sz);
        let path = path.or_portable();
        // every output is written by the epilogue below
        let mut y = scratch(g.n * out_sz);
        if y.is_empty() {
            return y;
        }
        let per = g.n.div_ceil(num_threads().max(1)).max(1);
        y.par_chunks_mut(per * out_sz)
            .enumerate()
            .for_each(|(t, ys)| {
                let mut run = Run::new(self, g, p, plane);
                for (i, yo) in ys.chunks_mut(out_sz).enumerate() {
                    let s = t * per + i;
                    run.sample(self, &x[s * in_sz..][..in_sz], g, epi, yo, path);
                }
                run.recycle();
            });
        y
    }
}

/// One thread's buffers: the quantised sample, the unrolled windows, the products.
struct Run {
    nhwc: Vec<u8>,
    plane_q: Vec<u8>,
    rows: QuantRows,
    prod: Vec<f32>,
    planes: Vec<f32>,
    arg: Vec<u32>,
}

impl Run {
    fn new(conv: &ConvInt8, g: &Conv2dGeom, p: usize, plane: usize) -> Run {
        let (ocg, k) = (g.oc / g.groups, g.c / g.groups * g.kh * g.kw);
        let (rows, kp) = (ROWS.min(p), k.next_multiple_of(4));
        Run {
            nhwc: vec![0; g.c * g.h * g.w],
            plane_q: vec![0; g.h * g.w],
            // the padding bytes past `k` stay 0 (the packed kernel's padding is 0 too)
            rows: QuantRows {
                q: vec![0; rows * kp],
                sx: vec![conv.scale; rows],
                zx: vec![conv.zero; rows],
                kp,
            },
            // both fully written before being read, per group
            prod: scratch(p * ocg),
            planes: scratch(p * ocg),
            arg: vec![0; plane],
        }
    }

    /// One sample `x [C, H, W]` into `y [OC, ..plane]`.
    fn sample(
        &mut self,
        conv: &ConvInt8,
        x: &[f32],
        g: &Conv2dGeom,
        epi: Epilogue,
        y: &mut [f32],
        path: Int8Path,
    ) {
        let (hw, c) = (g.h * g.w, g.c);
        let (inv, zero) = (1.0 / conv.scale, conv.zero as f32);
        for (ch, src) in x.chunks_exact(hw).enumerate() {
            if c == 1 {
                quantize_row(src, inv, zero, &mut self.nhwc, path);
                break;
            }
            quantize_row(src, inv, zero, &mut self.plane_q, path);
            for (d, &v) in self.nhwc[ch..].iter_mut().step_by(c).zip(&self.plane_q) {
                *d = v;
            }
        }
        let (oh, ow) = g.out_hw().expect("checked by forward");
        let p = oh * ow;
        let (cg, ocg) = (g.c / g.groups, g.oc / g.groups);
        let plane = y.len() / g.oc;
        let chunk = self.rows.sx.len();
        for (grp, packed) in conv.packed.iter().enumerate() {
            for p0 in (0..p).step_by(chunk) {
                let r = chunk.min(p - p0);
                im2row(
                    &self.nhwc,
                    g,
                    grp * cg,
                    (p0, r),
                    &mut self.rows,
                    conv.zero as u8,
                );
                let out = &mut self.prod[p0 * ocg..(p0 + r) * ocg];
                product(&self.rows, r, packed, out, false, path);
            }
            // [P, OCg] -> [OCg, P]
            for (pix, row) in self.prod.chunks_exact(ocg).enumerate() {
                for (o, &v) in row.iter().enumerate() {
                    self.planes[o * p + pix] = v;
                }
            }
            for (o, src) in self.planes.chunks_exact(p).enumerate() {
                let dst = &mut y[(grp * ocg + o) * plane..][..plane];
                match epi {
                    Epilogue::Bias { relu } => add_bias(dst, src, 0.0, relu),
                    Epilogue::ReluMaxPool { k, s } => {
                        relu_max_pool(src, 0.0, ow, (k, s), dst, &mut self.arg)
                    }
                }
            }
        }
    }

    fn recycle(self) {
        recycle(self.prod);
        recycle(self.planes);
    }
}

/// Unrolls the windows of output pixels `p0..p0+rows` over channels `c0..c0+cg` of a
/// channels-last sample `x [H, W, C]` into rows of `q` (taps in `(ky, kx, c)` order),
/// `zero` where a tap falls in the padding.
fn im2row(
    x: &[u8],
    g: &Conv2dGeom,
    c0: usize,
    (p0, rows): (usize, usize),
    q: &mut QuantRows,
    zero: u8,
) {
    let (_, ow) = g.out_hw().expect("checked by forward");
    let (cg, c) = (g.c / g.groups, g.c);
    let ((sh, sw), (dh, dw)) = (g.stride, g.dilation);
    let run = g.kw * cg;
    let whole_rows = cg == c && dw == 1;
    for r in 0..rows {
        let (oy, ox) = ((p0 + r) / ow, (p0 + r) % ow);
        let dst = &mut q.q[r * q.kp..][..g.kh * run];
        for (ky, d) in dst.chunks_exact_mut(run).enumerate() {
            let iy = (oy * sh + ky * dh) as isize - g.pad.0 as isize;
            if iy < 0 || iy >= g.h as isize {
                d.fill(zero);
                continue;
            }
            let line = &x[iy as usize * g.w * c..][..g.w * c];
            let x0 = (ox * sw) as isize - g.pad.2 as isize;
            if whole_rows && x0 >= 0 && x0 as usize + g.kw <= g.w {
                copy_bytes(d, &line[x0 as usize * c..][..run]);
                continue;
            }
            for (kx, dd) in d.chunks_exact_mut(cg).enumerate() {
                let ix = x0 + (kx * dw) as isize;
                match ix >= 0 && ix < g.w as isize {
                    true => copy_bytes(dd, &line[ix as usize * c + c0..][..cg]),
                    false => dd.fill(zero),
                }
            }
        }
    }
}

/// `dst = src`; runs of a few bytes (a 3-tap window row of one channel) copied inline, where
/// a `memcpy` call would cost more than the copy.
#[inline]
fn copy_bytes(dst: &mut [u8], src: &[u8]) {
    match src.len() {
        n if n <= 4 => {
            for (d, s) in dst.iter_mut().zip(src) {
                *d = *s;
            }
        }
        n if n <= 16 => {
            // two overlapping 4-byte or 8-byte moves cover any length up to 16
            fn two<const W: usize>(dst: &mut [u8], src: &[u8]) {
                let n = src.len();
                let head: [u8; W] = src[..W].try_into().expect("n >= W");
                let tail: [u8; W] = src[n - W..].try_into().expect("n >= W");
                dst[..W].copy_from_slice(&head);
                dst[n - W..].copy_from_slice(&tail);
            }
            match n >= 8 {
                true => two::<8>(dst, src),
                false => two::<4>(dst, src),
            }
        }
        _ => dst.copy_from_slice(src),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::int8_matmul::Int8Path;

    fn ints(len: usize, seed: u64, lo: i32, hi: i32) -> Vec<i32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                lo + (s % (hi - lo + 1) as u64) as i32
            })
            .collect()
    }

    /// The integer reference: `(Σ (qx − zx)·qw)·sx·sw + b` by direct convolution, padding
    /// counting as `qx = zx`.
    fn reference(
        qx: &[i32],
        zx: i32,
        sx: f32,
        qw: &[i32],
        sw: &[f32],
        b: &[f32],
        g: &Conv2dGeom,
    ) -> Vec<f32> {
        let (oh, ow) = g.out_hw().unwrap();
        let (cg, ocg) = (g.c / g.groups, g.oc / g.groups);
        let mut y = vec![0f32; g.n * g.oc * oh * ow];
        for n in 0..g.n {
            for o in 0..g.oc {
                let grp = o / ocg;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = 0i64;
                        let mut sum = 0i64;
                        for c in 0..cg {
                            for ky in 0..g.kh {
                                for kx in 0..g.kw {
                                    let w = qw[((o * cg + c) * g.kh + ky) * g.kw + kx] as i64;
                                    sum += w;
                                    let iy = (oy * g.stride.0 + ky * g.dilation.0) as isize
                                        - g.pad.0 as isize;
                                    let ix = (ox * g.stride.1 + kx * g.dilation.1) as isize
                                        - g.pad.2 as isize;
                                    if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize
                                    {
                                        acc += zx as i64 * w;
                                        continue;
                                    }
                                    let ch = grp * cg + c;
                                    let v = qx
                                        [((n * g.c + ch) * g.h + iy as usize) * g.w + ix as usize];
                                    acc += v as i64 * w;
                                }
                            }
                        }
                        let t = (acc - zx as i64 * sum) as i32;
                        y[((n * g.oc + o) * oh + oy) * ow + ox] = t as f32 * (sx * sw[o]) + b[o];
                    }
                }
            }
        }
        y
    }

    /// Inputs on the quantisation grid convolve exactly as the integer reference, on every
    /// path, with padding, strides, dilation and groups, odd channel counts, and the extremes.
    #[test]
    fn every_path_equals_the_integer_reference() {
        let geoms = [
            // (n, c, h, w, oc, kh, kw, stride, pad, dilation, groups)
            (2, 1, 7, 6, 5, 3, 3, (1, 1), (0, 0, 0, 0), (1, 1), 1),
            (3, 3, 9, 8, 17, 3, 2, (2, 1), (1, 2, 0, 1), (1, 2), 1),
            (2, 4, 6, 6, 6, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 2),
            (1, 5, 5, 7, 33, 1, 3, (1, 2), (0, 0, 2, 2), (1, 1), 1),
        ];
        for (i, &(n, c, h, w, oc, kh, kw, stride, pad, dilation, groups)) in
            geoms.iter().enumerate()
        {
            let g = Conv2dGeom {
                n,
                c,
                h,
                w,
                oc,
                kh,
                kw,
                stride,
                pad,
                dilation,
                groups,
            };
            let k = c / groups * kh * kw;
            for extreme in [false, true] {
                let (lo, hi) = (-0.75f32, 1.5f32);
                let conv_probe =
                    ConvInt8::new(&vec![0; oc * k], &vec![1.0; oc], None, &g, (lo, hi));
                let (sx, zx) = conv_probe.input_qparams();
                let qx = match extreme {
                    true => vec![127; n * c * h * w],
                    false => ints(n * c * h * w, i as u64 + 1, 0, 127),
                };
                let qw = match extreme {
                    true => ints(oc * k, 9, 0, 1)
                        .iter()
                        .map(|&v| if v == 0 { -127 } else { 127 })
                        .collect(),
                    false => ints(oc * k, i as u64 + 7, -127, 127),
                };
                let sw: Vec<f32> = (0..oc).map(|o| 0.01 + o as f32 * 0.003).collect();
                let b: Vec<f32> = (0..oc).map(|o| o as f32 * 0.1 - 1.0).collect();
                let x: Vec<f32> = qx.iter().map(|&q| (q - zx) as f32 * sx).collect();
                let w8: Vec<i8> = qw.iter().map(|&v| v as i8).collect();
                let conv = ConvInt8::new(&w8, &sw, Some(&b), &g, (lo, hi));
                let want = reference(&qx, zx, sx, &qw, &sw, &b, &g);
                for path in Int8Path::available() {
                    let got = conv.forward(&x, &g, Epilogue::Bias { relu: false }, path);
                    assert_eq!(got, want, "geometry {i}, extreme {extreme}, {path:?}");
                }
            }
        }
    }

    /// ReLU and max pooling in the epilogue give the pooled ReLU of the plain output.
    #[test]
    fn the_pooled_epilogue_pools_the_plain_output() {
        let g = Conv2dGeom {
            n: 3,
            c: 2,
            h: 10,
            w: 9,
            oc: 20,
            kh: 3,
            kw: 3,
            stride: (1, 1),
            pad: (0, 0, 0, 0),
            dilation: (1, 1),
            groups: 1,
        };
        let k = 2 * 9;
        let w: Vec<i8> = ints(20 * k, 3, -127, 127)
            .iter()
            .map(|&v| v as i8)
            .collect();
        let x: Vec<f32> = ints(3 * 2 * 90, 4, -100, 100)
            .iter()
            .map(|&v| v as f32 / 50.0)
            .collect();
        let conv = ConvInt8::new(&w, &[0.01; 20], None, &g, (-2.0, 2.0));
        let plain = conv.forward(&x, &g, Epilogue::Bias { relu: true }, Int8Path::best());
        let pooled = conv.forward(
            &x,
            &g,
            Epilogue::ReluMaxPool {
                k: (2, 2),
                s: (2, 2),
            },
            Int8Path::best(),
        );
        let (oh, ow, ph, pw) = (8, 7, 4, 3);
        for (plane, out) in plain
            .chunks_exact(oh * ow)
            .zip(pooled.chunks_exact(ph * pw))
        {
            for (j, &v) in out.iter().enumerate() {
                let (py, px) = (j / pw, j % pw);
                let m = [0, 1, ow, ow + 1]
                    .iter()
                    .map(|d| plane[2 * py * ow + 2 * px + d])
                    .fold(f32::MIN, f32::max);
                assert_eq!(v, m);
            }
        }
    }

    #[test]
    fn copy_bytes_copies_every_length() {
        let src: Vec<u8> = (0..40).collect();
        for n in 0..40 {
            let mut dst = vec![255u8; n];
            copy_bytes(&mut dst, &src[..n]);
            assert_eq!(dst, src[..n]);
        }
    }
}
