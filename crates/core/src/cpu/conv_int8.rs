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
use super::conv_epilogue::Epilogue;
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
        // a few tasks per thread, so a thread held up elsewhere leaves its share to the others
        let per = g.n.div_ceil(4 * num_threads().max(1)).max(1);
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

/// Bytes of slack after the quantised sample and the unrolled rows: window runs are copied
/// in whole 16-byte moves, which may read and write up to 15 bytes past a run. What they
/// write past it is overwritten by the next run or lands in a row's padding, whose packed
/// weights are 0.
const SLACK: usize = 16;

/// One thread's buffers: the quantised sample, the unrolled windows, the products.
struct Run {
    nchw: Vec<u8>,
    nhwc: Vec<u8>,
    rows: QuantRows,
    prod: Vec<f32>,
    pooled: Vec<f32>,
}

impl Run {
    fn new(conv: &ConvInt8, g: &Conv2dGeom, p: usize, plane: usize) -> Run {
        let (ocg, k) = (g.oc / g.groups, g.c / g.groups * g.kh * g.kw);
        let (rows, kp) = (ROWS.min(p), k.next_multiple_of(4));
        let in_sz = g.c * g.h * g.w;
        Run {
            nchw: vec![0; in_sz],
            nhwc: vec![0; in_sz + SLACK],
            rows: QuantRows {
                q: vec![0; rows * kp + SLACK],
                sx: vec![conv.scale; rows],
                zx: vec![conv.zero; rows],
                kp,
            },
            // both fully written before being read, per group
            prod: scratch(p * ocg),
            pooled: scratch(plane * ocg),
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
        let c = g.c;
        let (inv, zero) = (1.0 / conv.scale, conv.zero as f32);
        match c {
            1 => quantize_row(x, inv, zero, &mut self.nhwc[..x.len()], path),
            _ => {
                quantize_row(x, inv, zero, &mut self.nchw, path);
                scatter(&self.nchw, g.h * g.w, c, &mut self.nhwc);
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
            // [pixels, OCg] -> the epilogue -> [OCg, plane] at the group's channels
            let pixels = match epi {
                Epilogue::Bias { relu } => {
                    if relu {
                        relu_in_place(&mut self.prod);
                    }
                    &self.prod
                }
                Epilogue::ReluMaxPool { k, s } => {
                    max_pool_channels_last(&self.prod, ocg, ow, (k, s), &mut self.pooled);
                    &self.pooled
                }
            };
            let out = &mut y[grp * ocg * plane..(grp + 1) * ocg * plane];
            transpose(pixels, ocg, plane, out);
        }
    }

    fn recycle(self) {
        recycle(self.prod);
        recycle(self.pooled);
    }
}

/// `out [ch, plane] = xᵀ` for channels-last `x [plane, ch]`, in tiles of 8 pixels so that
/// both the reads and the writes stay within a few cache lines.
fn transpose(x: &[f32], ch: usize, plane: usize, out: &mut [f32]) {
    const T: usize = 8;
    let whole = plane / T * T;
    for p0 in (0..whole).step_by(T) {
        let tile = &x[p0 * ch..(p0 + T) * ch];
        for (o, dst) in out.chunks_exact_mut(plane).enumerate() {
            let dst: &mut [f32; T] = (&mut dst[p0..p0 + T]).try_into().expect("T values");
            for (i, d) in dst.iter_mut().enumerate() {
                *d = tile[i * ch + o];
            }
        }
    }
    for pix in whole..plane {
        for (o, &v) in x[pix * ch..(pix + 1) * ch].iter().enumerate() {
            out[o * plane + pix] = v;
        }
    }
}

/// `nhwc [hw, c] = nchwᵀ` for the bytes of one sample `nchw [c, hw]`.
fn scatter(nchw: &[u8], hw: usize, c: usize, nhwc: &mut [u8]) {
    for (pix, dst) in nhwc[..hw * c].chunks_exact_mut(c).enumerate() {
        for (d, src) in dst.iter_mut().zip(nchw[pix..].iter().step_by(hw)) {
            *d = *src;
        }
    }
}

crate::multiversion! {
    /// `x = max(x, 0)`.
    fn relu_in_place(x: &mut [f32]) {
        for v in x.iter_mut() {
            *v = v.max(0.0);
        }
    }
}

crate::multiversion! {
    /// ReLU then max pooling without padding (windows `k`, strides `s`) of channels-last
    /// `x [OH·OW, ch]` (rows `ow` pixels wide) into `out [PH·PW, ch]`: `max(0, window
    /// max)`, the whole channel row at once.
    fn max_pool_channels_last(
        x: &[f32],
        ch: usize,
        ow: usize,
        ks: ((usize, usize), (usize, usize)),
        out: &mut [f32],
    ) {
        let (k, s) = ks;
        let pw = (ow - k.1) / s.1 + 1;
        for (cell, o) in out.chunks_exact_mut(ch).enumerate() {
            let (py, px) = (cell / pw, cell % pw);
            o.fill(0.0);
            for wy in py * s.0..py * s.0 + k.0 {
                for wx in px * s.1..px * s.1 + k.1 {
                    let src = &x[(wy * ow + wx) * ch..][..ch];
                    for (d, &v) in o.iter_mut().zip(src) {
                        *d = d.max(v);
                    }
                }
            }
        }
    }
}

/// Unrolls the windows of output pixels `p0..p0+rows` over channels `c0..c0+cg` of a
/// channels-last sample `x [H, W, C]` (with [`SLACK`] bytes after it) into rows of `q`
/// (taps in `(ky, kx, c)` order), `zero` where a tap falls in the padding.
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
        let row = r * q.kp;
        for ky in 0..g.kh {
            let at = row + ky * run;
            let iy = (oy * sh + ky * dh) as isize - g.pad.0 as isize;
            if iy < 0 || iy >= g.h as isize {
                q.q[at..at + run].fill(zero);
                continue;
            }
            let line = iy as usize * g.w * c;
            let x0 = (ox * sw) as isize - g.pad.2 as isize;
            if whole_rows && x0 >= 0 && x0 as usize + g.kw <= g.w {
                copy_run(&mut q.q[at..], &x[line + x0 as usize * c..], run);
                continue;
            }
            for kx in 0..g.kw {
                let (ix, d) = (x0 + (kx * dw) as isize, at + kx * cg);
                match ix >= 0 && ix < g.w as isize {
                    true => copy_run(&mut q.q[d..], &x[line + ix as usize * c + c0..], cg),
                    false => q.q[d..d + cg].fill(zero),
                }
            }
        }
    }
}

/// Copies the first `len` bytes of `src` to `dst` in whole 16-byte moves (both hold `len`
/// rounded up to 16, thanks to [`SLACK`]): a few vector moves where a `memcpy` call per
/// short run would cost more than the copy.
#[inline]
fn copy_run(dst: &mut [u8], src: &[u8], len: usize) {
    let n = len.next_multiple_of(16);
    for (d, s) in dst[..n].chunks_exact_mut(16).zip(src[..n].chunks_exact(16)) {
        let v: [u8; 16] = s.try_into().expect("16 bytes");
        d.copy_from_slice(&v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_run_copies_every_length_and_overwrites_only_its_slack() {
        let src: Vec<u8> = (0..64).collect();
        for n in 0..40 {
            let mut dst = vec![255u8; 48];
            copy_run(&mut dst, &src, n);
            assert_eq!(dst[..n], src[..n]);
            assert!(dst[n.next_multiple_of(16)..].iter().all(|&v| v == 255));
        }
    }
}
