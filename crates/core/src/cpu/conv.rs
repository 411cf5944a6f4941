//! 2-d convolution (cross-correlation, as PyTorch and Keras), NCHW, through im2col + GEMM:
//! each sample's receptive fields are unrolled into a matrix `col [K, P]` (K = C/g·kh·kw,
//! P = OH·OW), so the convolution is one matrix product per group:
//!
//! ```text
//! y[n, g]  = W[g] [OCg, K] · col(x[n, g]) [K, P]  (+ b)
//! dW[g]   += dy[n, g] [OCg, P] · col(x[n, g])ᵀ [P, K]
//! dx[n, g] = col2im(W[g]ᵀ [K, OCg] · dy[n, g] [OCg, P])
//! ```
//! with `OH = (H + pad_top + pad_bottom - dh·(kh - 1) - 1) / sh + 1` (likewise OW). Samples run
//! in parallel (one thread per block of samples, each GEMM on its own thread), so the result
//! is the same for a given thread count.

pub use super::conv_epilogue::Epilogue;
use super::conv_epilogue::{add_bias, relu_max_pool};
use super::matmul::matmul_serial;
use super::recycle::{recycle, scratch};
use super::threads::num_threads;
use super::unary::relu_mask;
use rayon::prelude::*;

/// Sizes of one 2-d convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeom {
    /// Batch.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub oc: usize,
    /// Kernel height and width.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Strides (vertical, horizontal).
    pub stride: (usize, usize),
    /// Padding (top, bottom, left, right).
    pub pad: (usize, usize, usize, usize),
    /// Dilation (vertical, horizontal).
    pub dilation: (usize, usize),
    /// Groups: input and output channels split into this many independent convolutions.
    pub groups: usize,
}

impl Conv2dGeom {
    /// Output height and width, or `None` if the kernel does not fit.
    pub fn out_hw(&self) -> Option<(usize, usize)> {
        let eh = self.dilation.0 * (self.kh - 1) + 1;
        let ew = self.dilation.1 * (self.kw - 1) + 1;
        let ph = self.h + self.pad.0 + self.pad.1;
        let pw = self.w + self.pad.2 + self.pad.3;
        if ph < eh || pw < ew || self.stride.0 == 0 || self.stride.1 == 0 {
            return None;
        }
        Some(((ph - eh) / self.stride.0 + 1, (pw - ew) / self.stride.1 + 1))
    }

    fn dims(&self) -> (usize, usize, usize, usize) {
        let (oh, ow) = self
            .out_hw()
            .expect("conv2d: kernel larger than padded input");
        let cg = self.c / self.groups;
        (oh, ow, cg, cg * self.kh * self.kw)
    }
}

/// The output columns `ox` whose input column `ox·s + off - pad` lies inside `0..w`.
fn valid_cols(ow: usize, w: usize, s: usize, off: usize, pad: usize) -> std::ops::Range<usize> {
    // ox·s + off >= pad  and  ox·s + off < pad + w
    let lo = pad.saturating_sub(off).div_ceil(s);
    let hi = if pad + w > off {
        (pad + w - off).div_ceil(s)
    } else {
        0
    };
    lo.min(ow)..hi.min(ow).max(lo.min(ow))
}

crate::multiversion! {
    /// Unrolls channels `c0..c0+cg` of one sample `x [C, H, W]` into columns `off..off+OH·OW`
    /// of `col [cg·kh·kw, ld]`.
    fn im2col(x: &[f32], g: &Conv2dGeom, c0: usize, col: &mut [f32], ld: usize, off: usize) {
        let (oh, ow, cg, _) = g.dims();
        let p = oh * ow;
        let (sh, sw) = g.stride;
        let (dh, dw) = g.dilation;
        if g.pad == (0, 0, 0, 0) && sw == 1 {
            // every window inside: each (channel, tap) row is OH segments of OW values
            for c in 0..cg {
                let plane = &x[(c0 + c) * g.h * g.w..(c0 + c + 1) * g.h * g.w];
                for ki in 0..g.kh {
                    for kj in 0..g.kw {
                        let row = &mut col[((c * g.kh + ki) * g.kw + kj) * ld + off..][..p];
                        let first = ki * dh * g.w + kj * dw;
                        for (oy, dst) in row.chunks_exact_mut(ow).enumerate() {
                            copy_short(dst, &plane[first + oy * sh * g.w..][..ow]);
                        }
                    }
                }
            }
            return;
        }
        // the tap's valid output columns depend only on kj
        let valid: Vec<std::ops::Range<usize>> = (0..g.kw)
            .map(|kj| valid_cols(ow, g.w, sw, kj * dw, g.pad.2))
            .collect();
        for c in 0..cg {
            let plane = &x[(c0 + c) * g.h * g.w..(c0 + c + 1) * g.h * g.w];
            for ki in 0..g.kh {
                for kj in 0..g.kw {
                    let row = &mut col[((c * g.kh + ki) * g.kw + kj) * ld + off..][..p];
                    let cols = valid[kj].clone();
                    for oy in 0..oh {
                        let dst = &mut row[oy * ow..(oy + 1) * ow];
                        let iy = (oy * sh + ki * dh) as isize - g.pad.0 as isize;
                        if iy < 0 || iy >= g.h as isize || cols.is_empty() {
                            dst.fill(0.0);
                            continue;
                        }
                        let src = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                        // (guarded: an empty `fill` can still be a `memset` call)
                        if cols.start > 0 {
                            dst[..cols.start].fill(0.0);
                        }
                        if cols.end < ow {
                            dst[cols.end..].fill(0.0);
                        }
                        let x0 = cols.start * sw + kj * dw - g.pad.2;
                        if sw == 1 {
                            copy_short(&mut dst[cols.clone()], &src[x0..x0 + cols.len()]);
                        } else {
                            for (d, s) in dst[cols.clone()]
                                .iter_mut()
                                .zip(src[x0..].iter().step_by(sw))
                            {
                                *d = *s;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds columns `off..off+OH·OW` of `col [cg·kh·kw, ld]` back
/// into channels `c0..c0+cg` of `dx [C, H, W]`.
fn col2im(col: &[f32], g: &Conv2dGeom, c0: usize, dx: &mut [f32], ld: usize, off: usize) {
    let (oh, ow, cg, _) = g.dims();
    let p = oh * ow;
    let (sh, sw) = g.stride;
    let (dh, dw) = g.dilation;
    // the tap's valid output columns depend only on kj (two divisions: once, not per tap)
    let valid: Vec<std::ops::Range<usize>> = (0..g.kw)
        .map(|kj| valid_cols(ow, g.w, sw, kj * dw, g.pad.2))
        .collect();
    for c in 0..cg {
        let plane = &mut dx[(c0 + c) * g.h * g.w..(c0 + c + 1) * g.h * g.w];
        // taps in the order (kj, ki): consecutive taps add into different rows (a row
        // re-read right after its shifted store waits for that store to complete)
        for kj in 0..g.kw {
            for ki in 0..g.kh {
                let row = &col[((c * g.kh + ki) * g.kw + kj) * ld + off..][..p];
                let cols = valid[kj].clone();
                if cols.is_empty() {
                    continue;
                }
                let x0 = cols.start * sw + kj * dw - g.pad.2;
                for oy in 0..oh {
                    let iy = (oy * sh + ki * dh) as isize - g.pad.0 as isize;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let dst = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    let src = &row[oy * ow + cols.start..oy * ow + cols.end];
                    if sw == 1 {
                        add_short(&mut dst[x0..x0 + src.len()], src);
                    } else {
                        for (d, v) in dst[x0..].iter_mut().step_by(sw).zip(src) {
                            *d += v;
                        }
                    }
                }
            }
        }
    }
}

/// `dst = src` for the short rows of im2col (3 to 30 values): two fixed-size overlapping
/// copies compile to a few vector moves, where a `memcpy` call per row cost more than the
/// copy (5% of W2's time). No loop: LLVM turned the loop this once had back into a `memmove`
/// call when its code generation units changed (W2 5% slower with an unchanged im2col).
#[inline(always)]
fn copy_short(dst: &mut [f32], src: &[f32]) {
    /// The first and the last `L` values (`L <= n <= 2L`; they overlap in the middle).
    #[inline(always)]
    fn two<const L: usize>(dst: &mut [f32], src: &[f32]) {
        let n = dst.len();
        let a: [f32; L] = src[..L].try_into().expect("L values");
        let b: [f32; L] = src[n - L..n].try_into().expect("L values");
        dst[..L].copy_from_slice(&a);
        dst[n - L..n].copy_from_slice(&b);
    }
    match dst.len() {
        0 => {}
        // fixed sizes: a few moves (W2's last layer has rows of 3)
        1 => dst[0] = src[0],
        2 => dst[..2].copy_from_slice(&src[..2]),
        3 => dst[..3].copy_from_slice(&src[..3]),
        4..=7 => two::<4>(dst, src),
        8..=15 => two::<8>(dst, src),
        16..=31 => two::<16>(dst, src),
        // a long row: one memcpy pays for itself
        _ => dst.copy_from_slice(src),
    }
}

/// `dst += src` for col2im's short rows: for 4 to 16 values, two overlapping fixed-size
/// blocks both read before either is stored (the overlap gets the same sum twice), a few
/// vector adds instead of a scalar loop.
#[inline(always)]
fn add_short(dst: &mut [f32], src: &[f32]) {
    #[inline(always)]
    fn two<const L: usize>(dst: &mut [f32], src: &[f32]) {
        let n = dst.len();
        let mut a: [f32; L] = dst[..L].try_into().expect("L values");
        let mut b: [f32; L] = dst[n - L..].try_into().expect("L values");
        for i in 0..L {
            a[i] += src[i];
            b[i] += src[n - L + i];
        }
        dst[..L].copy_from_slice(&a);
        dst[n - L..].copy_from_slice(&b);
    }
    match dst.len() {
        4..=8 => two::<4>(dst, src),
        9..=16 => two::<8>(dst, src),
        _ => dst.iter_mut().zip(src).for_each(|(d, v)| *d += v),
    }
}

crate::multiversion! {
    /// `out[r] += Σ rows[r·p .. (r+1)·p]` for each row (16 partial sums per row).
    fn add_row_sums(rows: &[f32], p: usize, out: &mut [f32]) {
        for (o, row) in out.iter_mut().zip(rows.chunks(p)) {
            let mut acc = [0.0f32; 16];
            let body = row.len() - row.len() % 16;
            for c in row[..body].chunks_exact(16) {
                for l in 0..16 {
                    acc[l] += c[l];
                }
            }
            *o += acc.iter().sum::<f32>() + row[body..].iter().sum::<f32>();
        }
    }
}

/// Samples per parallel task: the batch split evenly over the worker threads.
fn chunk(n: usize) -> usize {
    n.div_ceil(num_threads().max(1)).max(1)
}

/// Samples unrolled together into one `col` matrix: about 256 KB of it (2^16 floats), so
/// it stays in the core's L2 cache between im2col and the GEMM. Measured on W2, one run of
/// each interleaved, three times: 2^16 floats 4.35k-5.0k samples/s, 2^17 4.2k-4.7k, 2^18
/// (one 1 MB block, spilling L2: im2col's stores stalled) 3.4k-4.0k.
fn block(k: usize, p: usize) -> usize {
    ((1 << 16) / (k * p).max(1)).max(1)
}

/// `y [N, OC, OH, OW]` of `x [N, C, H, W]` and `w [OC, C/groups, kh, kw]`, plus `b [OC]`,
/// then `max(y, 0)` when `relu` (fused into the pass that lays the output out).
pub fn conv2d(x: &[f32], w: &[f32], b: Option<&[f32]>, g: &Conv2dGeom, relu: bool) -> Vec<f32> {
    conv2d_epilogue(x, w, b, g, Epilogue::Bias { relu }).0
}

/// [`conv2d`] with any [`Epilogue`]: `(y, arg)`, `y [N, OC, ..epilogue's plane]` and, for
/// pooling, each pooled cell's winner inside its conv output plane (empty otherwise).
pub fn conv2d_epilogue(
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    g: &Conv2dGeom,
    epi: Epilogue,
) -> (Vec<f32>, Vec<u32>) {
    let (oh, ow, cg, k) = g.dims();
    let p = oh * ow;
    let ocg = g.oc / g.groups;
    let (eh, ew) = epi
        .out_hw(oh, ow)
        .expect("conv2d: pooling window larger than the map");
    let plane = eh * ew;
    let (in_sz, out_sz) = (g.c * g.h * g.w, g.oc * plane);
    // every output (and winner) is written by the epilogue below
    let mut y = scratch(g.n * out_sz);
    // winners of pooled cells; one unused slot per sample otherwise, so chunks pair up
    let pooled = matches!(epi, Epilogue::ReluMaxPool { .. });
    let a_sz = if pooled { out_sz } else { 1 };
    let mut arg = scratch(g.n * a_sz);
    let per = chunk(g.n);
    y.par_chunks_mut(per * out_sz)
        .zip(arg.par_chunks_mut(per * a_sz))
        .enumerate()
        .for_each(|(t, (ys, args))| {
            let m = block(k, p).min(ys.len() / out_sz);
            // im2col fills every column it is asked for (padding too); the product overwrites
            let (mut col, mut tmp) = (scratch(k * m * p), scratch(ocg * m * p));
            for (bi, yb) in ys.chunks_mut(m * out_sz).enumerate() {
                let mb = yb.len() / out_sz;
                let (ld, first) = (mb * p, t * per + bi * m);
                for grp in 0..g.groups {
                    for i in 0..mb {
                        im2col(
                            &x[(first + i) * in_sz..][..in_sz],
                            g,
                            grp * cg,
                            &mut col,
                            ld,
                            i * p,
                        );
                    }
                    let wg = &w[grp * ocg * k..(grp + 1) * ocg * k];
                    matmul_serial(
                        &mut tmp[..ocg * ld],
                        wg,
                        &col[..k * ld],
                        ocg,
                        k,
                        ld,
                        false,
                        false,
                        false,
                    );
                    // tmp [ocg, mb·P] -> y [mb, OC, plane]
                    for o in 0..ocg {
                        let bias = b.map_or(0.0, |b| b[grp * ocg + o]);
                        for i in 0..mb {
                            let at = i * out_sz + (grp * ocg + o) * plane;
                            let dst = &mut yb[at..at + plane];
                            let src = &tmp[o * ld + i * p..][..p];
                            match epi {
                                Epilogue::Bias { relu } => add_bias(dst, src, bias, relu),
                                Epilogue::ReluMaxPool { k, s } => {
                                    let at = (bi * m + i) * out_sz + (grp * ocg + o) * plane;
                                    let a = &mut args[at..at + plane];
                                    relu_max_pool(src, bias, ow, (k, s), dst, a);
                                }
                            }
                        }
                    }
                }
            }
            recycle(col);
            recycle(tmp);
        });
    if !pooled {
        arg = Vec::new();
    }
    (y, arg)
}

/// `(dx, dw, db)`, each present only when asked for.
pub type ConvGrads = (Option<Vec<f32>>, Option<Vec<f32>>, Option<Vec<f32>>);

/// What `dy` of [`conv2d_backward`] is the gradient of.
#[derive(Clone, Copy)]
pub enum DyOf<'a> {
    /// The convolution's output.
    Conv,
    /// A fused ReLU with output `y`: the gradient passes only where `y > 0`.
    Relu(&'a [f32]),
    /// A fused ReLU + max pool ([`Epilogue::ReluMaxPool`]) with pooled output `pooled` and
    /// winners `arg`: each pooled gradient goes to its window's winner when `pooled > 0`.
    ReluMaxPool {
        /// The pooled output `[N, OC, PH, PW]`.
        pooled: &'a [f32],
        /// Each pooled cell's winner inside its conv output plane.
        arg: &'a [u32],
    },
}

/// Gradients of [`conv2d`] / [`conv2d_epilogue`]: `(dx, dw, db)`, each only when asked for.
pub fn conv2d_backward(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    g: &Conv2dGeom,
    need: (bool, bool, bool),
    of: DyOf,
) -> ConvGrads {
    let (oh, ow, cg, k) = g.dims();
    let p = oh * ow;
    let ocg = g.oc / g.groups;
    let (in_sz, out_sz) = (g.c * g.h * g.w, g.oc * p);
    let per = chunk(g.n);
    let tasks = g.n.div_ceil(per);
    // pooled cells per plane (one division here, not one per plane in the loop)
    let pp = match of {
        DyOf::ReluMaxPool { pooled, .. } => pooled.len() / (g.n * g.oc).max(1),
        _ => 0,
    };
    // Each task handles its samples in blocks: dy gathered as [ocg, mb·P], one GEMM for the
    // weight gradient (summed into the task's own buffer) and one for the input columns.
    let mut dx = need.0.then(|| super::buffer::zeros(g.n * in_sz)); // col2im adds into it
    let dx_chunks: Vec<Option<&mut [f32]>> = match dx.as_mut() {
        Some(d) => d.chunks_mut(per * in_sz).map(Some).collect(),
        None => (0..tasks).map(|_| None).collect(),
    };
    let parts: Vec<(Option<Vec<f32>>, Vec<f32>)> = dx_chunks
        .into_par_iter()
        .enumerate()
        .map(|(t, mut dxs)| {
            let count = ((t + 1) * per).min(g.n) - t * per;
            let m = block(k, p).min(count);
            let mut dw = need.1.then(|| vec![0.0; w.len()]);
            let mut db = vec![0.0; if need.2 { g.oc } else { 0 }];
            let (mut col, mut dyt) = (scratch(k * m * p), scratch(ocg * m * p));
            let mut b0 = 0;
            while b0 < count {
                let mb = m.min(count - b0);
                let (ld, first) = (mb * p, t * per + b0);
                for grp in 0..g.groups {
                    for o in 0..ocg {
                        for i in 0..mb {
                            let at = (first + i) * out_sz + (grp * ocg + o) * p;
                            let dst = &mut dyt[o * ld + i * p..][..p];
                            match of {
                                DyOf::Relu(y) => relu_mask(&y[at..at + p], &dy[at..at + p], dst),
                                DyOf::Conv => dst.copy_from_slice(&dy[at..at + p]),
                                DyOf::ReluMaxPool { pooled, arg } => {
                                    let at = ((first + i) * g.oc + grp * ocg + o) * pp;
                                    dst.fill(0.0);
                                    let cells = at..at + pp;
                                    for ((&v, &a), &d) in pooled[cells.clone()]
                                        .iter()
                                        .zip(&arg[cells.clone()])
                                        .zip(&dy[cells])
                                    {
                                        // a select: `v > 0` is a coin toss (no branch)
                                        dst[a as usize] += if v > 0.0 { d } else { 0.0 };
                                    }
                                }
                            }
                        }
                    }
                    let dyt = &dyt[..ocg * ld];
                    if need.2 {
                        add_row_sums(dyt, ld, &mut db[grp * ocg..(grp + 1) * ocg]);
                    }
                    if let Some(dw) = dw.as_mut() {
                        for i in 0..mb {
                            im2col(
                                &x[(first + i) * in_sz..][..in_sz],
                                g,
                                grp * cg,
                                &mut col,
                                ld,
                                i * p,
                            );
                        }
                        let dwg = &mut dw[grp * ocg * k..(grp + 1) * ocg * k];
                        matmul_serial(dwg, dyt, &col[..k * ld], ocg, ld, k, false, true, true);
                    }
                    if let Some(dxs) = dxs.as_mut() {
                        let wg = &w[grp * ocg * k..(grp + 1) * ocg * k];
                        matmul_serial(&mut col[..k * ld], wg, dyt, k, ocg, ld, true, false, false);
                        for i in 0..mb {
                            let dxn = &mut dxs[(b0 + i) * in_sz..][..in_sz];
                            col2im(&col, g, grp * cg, dxn, ld, i * p);
                        }
                    }
                }
                b0 += mb;
            }
            recycle(col);
            recycle(dyt);
            (dw, db)
        })
        .collect();
    // the tasks' sums added in order: the same result for the same thread count
    let mut dw = need.1.then(|| vec![0.0; w.len()]);
    let mut db = need.2.then(|| vec![0.0; g.oc]);
    for (part_w, part_b) in parts {
        if let (Some(dw), Some(pw)) = (dw.as_mut(), part_w) {
            dw.iter_mut().zip(pw).for_each(|(a, b)| *a += b);
        }
        if let Some(db) = db.as_mut() {
            db.iter_mut().zip(part_b).for_each(|(a, b)| *a += b);
        }
    }
    (dx, dw, db)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct loops, the definition.
    fn naive(x: &[f32], w: &[f32], g: &Conv2dGeom) -> Vec<f32> {
        let (oh, ow) = g.out_hw().unwrap();
        let (cg, ocg) = (g.c / g.groups, g.oc / g.groups);
        let mut y = vec![0.0; g.n * g.oc * oh * ow];
        for n in 0..g.n {
            for o in 0..g.oc {
                let grp = o / ocg;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut s = 0.0;
                        for c in 0..cg {
                            for ki in 0..g.kh {
                                for kj in 0..g.kw {
                                    let iy = (oy * g.stride.0 + ki * g.dilation.0) as isize
                                        - g.pad.0 as isize;
                                    let ix = (ox * g.stride.1 + kj * g.dilation.1) as isize
                                        - g.pad.2 as isize;
                                    if iy >= 0
                                        && ix >= 0
                                        && (iy as usize) < g.h
                                        && (ix as usize) < g.w
                                    {
                                        let xi = ((n * g.c + grp * cg + c) * g.h + iy as usize)
                                            * g.w
                                            + ix as usize;
                                        s += x[xi] * w[((o * cg + c) * g.kh + ki) * g.kw + kj];
                                    }
                                }
                            }
                        }
                        y[((n * g.oc + o) * oh + oy) * ow + ox] = s;
                    }
                }
            }
        }
        y
    }

    #[test]
    fn matches_direct_loops_with_stride_padding_dilation_groups() {
        let g = Conv2dGeom {
            n: 3,
            c: 4,
            h: 7,
            w: 6,
            oc: 6,
            kh: 3,
            kw: 2,
            stride: (2, 1),
            pad: (1, 2, 0, 1),
            dilation: (1, 2),
            groups: 2,
        };
        let x: Vec<f32> = (0..3 * 4 * 7 * 6)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect();
        let w: Vec<f32> = (0..6 * 2 * 3 * 2)
            .map(|i| ((i * 13 % 17) as f32 - 8.0) / 5.0)
            .collect();
        // the general path, then the unpadded stride-1 path (with and without dilation)
        let unpadded = |dilation| Conv2dGeom {
            stride: (1, 1),
            pad: (0, 0, 0, 0),
            dilation,
            ..g
        };
        for g in [g, unpadded((1, 1)), unpadded((2, 1))] {
            let want = naive(&x, &w, &g);
            let got = conv2d(&x, &w, None, &g, false);
            assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-4, "{g:?}: {a} vs {b}");
            }
        }
    }
}
