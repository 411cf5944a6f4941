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

use super::matmul::matmul;
use super::threads::num_threads;
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

/// Unrolls channels `c0..c0+cg` of one sample `x [C, H, W]` into `col [cg·kh·kw, OH·OW]`.
fn im2col(x: &[f32], g: &Conv2dGeom, c0: usize, col: &mut [f32]) {
    let (oh, ow, cg, _) = g.dims();
    let p = oh * ow;
    let (sh, sw) = g.stride;
    let (dh, dw) = g.dilation;
    for c in 0..cg {
        let plane = &x[(c0 + c) * g.h * g.w..(c0 + c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = &mut col[((c * g.kh + ki) * g.kw + kj) * p..][..p];
                let cols = valid_cols(ow, g.w, sw, kj * dw, g.pad.2);
                for oy in 0..oh {
                    let dst = &mut row[oy * ow..(oy + 1) * ow];
                    let iy = (oy * sh + ki * dh) as isize - g.pad.0 as isize;
                    if iy < 0 || iy >= g.h as isize || cols.is_empty() {
                        dst.fill(0.0);
                        continue;
                    }
                    let src = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    dst[..cols.start].fill(0.0);
                    dst[cols.end..].fill(0.0);
                    let x0 = cols.start * sw + kj * dw - g.pad.2;
                    if sw == 1 {
                        dst[cols.clone()].copy_from_slice(&src[x0..x0 + cols.len()]);
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

/// The adjoint of [`im2col`]: adds `col` back into channels `c0..c0+cg` of `dx [C, H, W]`.
fn col2im(col: &[f32], g: &Conv2dGeom, c0: usize, dx: &mut [f32]) {
    let (oh, ow, cg, _) = g.dims();
    let p = oh * ow;
    let (sh, sw) = g.stride;
    let (dh, dw) = g.dilation;
    for c in 0..cg {
        let plane = &mut dx[(c0 + c) * g.h * g.w..(c0 + c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = &col[((c * g.kh + ki) * g.kw + kj) * p..][..p];
                let cols = valid_cols(ow, g.w, sw, kj * dw, g.pad.2);
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
                        dst[x0..x0 + src.len()]
                            .iter_mut()
                            .zip(src)
                            .for_each(|(d, v)| *d += v);
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

/// Samples per parallel task: the batch split evenly over the worker threads.
fn chunk(n: usize) -> usize {
    n.div_ceil(num_threads().max(1)).max(1)
}

/// `y [N, OC, OH, OW]` of `x [N, C, H, W]` and `w [OC, C/groups, kh, kw]`, plus `b [OC]`.
pub fn conv2d(x: &[f32], w: &[f32], b: Option<&[f32]>, g: &Conv2dGeom) -> Vec<f32> {
    let (oh, ow, _, k) = g.dims();
    let p = oh * ow;
    let ocg = g.oc / g.groups;
    let (in_sz, out_sz) = (g.c * g.h * g.w, g.oc * p);
    let mut y = vec![0.0; g.n * out_sz];
    let per = chunk(g.n);
    y.par_chunks_mut(per * out_sz)
        .enumerate()
        .for_each(|(t, ys)| {
            let mut col = vec![0.0; k * p];
            for (i, yn) in ys.chunks_mut(out_sz).enumerate() {
                let xn = &x[(t * per + i) * in_sz..][..in_sz];
                for grp in 0..g.groups {
                    im2col(xn, g, grp * (g.c / g.groups), &mut col);
                    let yg = &mut yn[grp * ocg * p..(grp + 1) * ocg * p];
                    matmul(
                        yg,
                        &w[grp * ocg * k..(grp + 1) * ocg * k],
                        &col,
                        ocg,
                        k,
                        p,
                        false,
                        false,
                        false,
                    );
                }
                if let Some(b) = b {
                    for (row, &bv) in yn.chunks_mut(p).zip(b) {
                        row.iter_mut().for_each(|v| *v += bv);
                    }
                }
            }
        });
    y
}

/// `(dx, dw, db)`, each present only when asked for.
pub type ConvGrads = (Option<Vec<f32>>, Option<Vec<f32>>, Option<Vec<f32>>);

/// Gradients of [`conv2d`]: `(dx, dw, db)`, each only when asked for.
pub fn conv2d_backward(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    g: &Conv2dGeom,
    need: (bool, bool, bool),
) -> ConvGrads {
    let (oh, ow, _, k) = g.dims();
    let p = oh * ow;
    let ocg = g.oc / g.groups;
    let (in_sz, out_sz) = (g.c * g.h * g.w, g.oc * p);
    let per = chunk(g.n);
    let dx = need.0.then(|| {
        let mut dx = vec![0.0; g.n * in_sz];
        dx.par_chunks_mut(per * in_sz)
            .enumerate()
            .for_each(|(t, dxs)| {
                let mut dcol = vec![0.0; k * p];
                for (i, dxn) in dxs.chunks_mut(in_sz).enumerate() {
                    let dyn_ = &dy[(t * per + i) * out_sz..][..out_sz];
                    for grp in 0..g.groups {
                        let wg = &w[grp * ocg * k..(grp + 1) * ocg * k];
                        matmul(
                            &mut dcol,
                            wg,
                            &dyn_[grp * ocg * p..(grp + 1) * ocg * p],
                            k,
                            ocg,
                            p,
                            true,
                            false,
                            false,
                        );
                        col2im(&dcol, g, grp * (g.c / g.groups), dxn);
                    }
                }
            });
        dx
    });
    let dw = need.1.then(|| {
        // each task sums its samples into its own buffer; the buffers are added in order
        let parts: Vec<Vec<f32>> = (0..g.n.div_ceil(per))
            .into_par_iter()
            .map(|t| {
                let mut dw = vec![0.0; w.len()];
                let mut col = vec![0.0; k * p];
                for s in t * per..((t + 1) * per).min(g.n) {
                    let xn = &x[s * in_sz..][..in_sz];
                    let dyn_ = &dy[s * out_sz..][..out_sz];
                    for grp in 0..g.groups {
                        im2col(xn, g, grp * (g.c / g.groups), &mut col);
                        let dwg = &mut dw[grp * ocg * k..(grp + 1) * ocg * k];
                        matmul(
                            dwg,
                            &dyn_[grp * ocg * p..(grp + 1) * ocg * p],
                            &col,
                            ocg,
                            p,
                            k,
                            false,
                            true,
                            true,
                        );
                    }
                }
                dw
            })
            .collect();
        let mut dw = vec![0.0; w.len()];
        for part in parts {
            dw.iter_mut().zip(part).for_each(|(a, b)| *a += b);
        }
        dw
    });
    let db = need.2.then(|| {
        let mut db = vec![0.0f32; g.oc];
        for dyn_ in dy.chunks(out_sz) {
            for (d, row) in db.iter_mut().zip(dyn_.chunks(p)) {
                *d += row.iter().sum::<f32>();
            }
        }
        db
    });
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
        let want = naive(&x, &w, &g);
        let got = conv2d(&x, &w, None, &g);
        assert_eq!(got.len(), want.len());
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }
}
