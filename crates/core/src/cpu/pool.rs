//! 2-d pooling over `[N·C]` planes of `H × W`:
//!
//! - max: `y = max` of the window's cells inside the input (padding never wins). Ties go to
//!   the first cell in row-major order, and the whole gradient goes to that one cell, as
//!   PyTorch does.
//! - average: `y = mean` of the window's cells inside the input (padding is not counted, as
//!   Keras and PyTorch's `count_include_pad=False`); the gradient is shared equally by them.
//!
//! Output size: `OH = (H + pad_top + pad_bottom - kh) / sh + 1` (likewise OW).

use rayon::prelude::*;

/// Sizes of one 2-d pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dGeom {
    /// Number of planes (batch · channels).
    pub planes: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Window height and width.
    pub k: (usize, usize),
    /// Strides (vertical, horizontal).
    pub stride: (usize, usize),
    /// Padding (top, bottom, left, right).
    pub pad: (usize, usize, usize, usize),
}

impl Pool2dGeom {
    /// Output height and width, or `None` if the window does not fit.
    pub fn out_hw(&self) -> Option<(usize, usize)> {
        let ph = self.h + self.pad.0 + self.pad.1;
        let pw = self.w + self.pad.2 + self.pad.3;
        if ph < self.k.0 || pw < self.k.1 || self.stride.0 == 0 || self.stride.1 == 0 {
            return None;
        }
        Some((
            (ph - self.k.0) / self.stride.0 + 1,
            (pw - self.k.1) / self.stride.1 + 1,
        ))
    }

    /// The input rows and columns of output cell `(oy, ox)`, clipped to the input.
    fn window(&self, oy: usize, ox: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let y0 = (oy * self.stride.0) as isize - self.pad.0 as isize;
        let x0 = (ox * self.stride.1) as isize - self.pad.2 as isize;
        let clip = |a: isize, n: usize, len: usize| {
            a.max(0) as usize..((a + len as isize).max(0) as usize).min(n)
        };
        (clip(y0, self.h, self.k.0), clip(x0, self.w, self.k.1))
    }
}

/// Planes per parallel task: a few tasks per thread (one task per small plane costs more
/// in scheduling than the pooling itself).
fn planes_per_task(planes: usize) -> usize {
    planes
        .div_ceil(4 * super::threads::num_threads().max(1))
        .max(1)
}

/// Max pooling: `(y, argmax)` where `argmax` is the winning cell's index within its plane
/// (`u32::MAX` for a window that covers only padding, whose output is 0).
pub fn max_pool2d(x: &[f32], g: &Pool2dGeom) -> (Vec<f32>, Vec<u32>) {
    let (oh, ow) = g
        .out_hw()
        .expect("max_pool2d: window larger than padded input");
    let (isz, osz) = (g.h * g.w, oh * ow);
    let mut y = vec![0.0; g.planes * osz];
    let mut arg = vec![u32::MAX; g.planes * osz];
    let per = planes_per_task(g.planes);
    let corner = window_corners(g, (oh, ow));
    let blocks = y
        .par_chunks_mut(per * osz)
        .zip(arg.par_chunks_mut(per * osz));
    blocks.enumerate().for_each(|(blk, (yb, ab))| {
        for (i, (yp, ap)) in yb.chunks_mut(osz).zip(ab.chunks_mut(osz)).enumerate() {
            let xp = &x[(blk * per + i) * isz..][..isz];
            if g.pad == (0, 0, 0, 0) {
                max_pool_inside(xp, g, &corner, yp, ap);
                continue;
            }
            for oy in 0..oh {
                for ox in 0..ow {
                    let (rows, cols) = g.window(oy, ox);
                    let (mut best, mut at) = (f32::NEG_INFINITY, u32::MAX);
                    for iy in rows {
                        let row = &xp[iy * g.w..(iy + 1) * g.w];
                        for ix in cols.clone() {
                            let v = row[ix];
                            // strictly greater: the first maximum keeps the gradient; a NaN wins
                            // so that it shows
                            if at == u32::MAX || v > best || (v.is_nan() && !best.is_nan()) {
                                best = v;
                                at = (iy * g.w + ix) as u32;
                            }
                        }
                    }
                    yp[oy * ow + ox] = if at == u32::MAX { 0.0 } else { best };
                    ap[oy * ow + ox] = at;
                }
            }
        }
    });
    (y, arg)
}

/// Max pooling of one plane without padding: every window lies inside, so output `j`'s
/// window starts at cell `corner[j]` and its cell `(ky, kx)` is `corner[j] + ky·W + kx`. The
/// running maximum is updated over the whole plane one window cell at a time, a long loop
/// the compiler vectorises (rows of 13 outputs were too short to); same tie and NaN rules
/// as the general path.
fn max_pool_inside(xp: &[f32], g: &Pool2dGeom, corner: &[u32], yp: &mut [f32], ap: &mut [u32]) {
    for ((y, a), &c) in yp.iter_mut().zip(ap.iter_mut()).zip(corner) {
        *y = xp[c as usize];
        *a = c;
    }
    for ky in 0..g.k.0 {
        for kx in 0..g.k.1 {
            if ky + kx > 0 {
                max_cells(yp, ap, xp, corner, (ky * g.w + kx) as u32);
            }
        }
    }
}

/// The first cell of each output's window, row-major over the outputs (no padding).
fn window_corners(g: &Pool2dGeom, (oh, ow): (usize, usize)) -> Vec<u32> {
    (0..oh)
        .flat_map(|oy| (0..ow).map(move |ox| (oy * g.stride.0 * g.w + ox * g.stride.1) as u32))
        .collect()
}

crate::multiversion! {
    /// `best[j] = max(best[j], x[corner[j] + off])` with `at[j]` following the winner: a
    /// strictly greater value wins, and a NaN wins over a number.
    fn max_cells(best: &mut [f32], at: &mut [u32], x: &[f32], corner: &[u32], off: u32) {
        // corners increase, so the last is the largest cell read
        let last = corner.last().map_or(0, |&c| c as usize + off as usize);
        assert!(last < x.len(), "max_pool2d: window cell {last} outside the plane");
        for ((b, a), &c) in best.iter_mut().zip(at.iter_mut()).zip(corner) {
            let i = c + off;
            // SAFETY: i <= last < x.len() (corners increase; checked above)
            let v = unsafe { *x.get_unchecked(i as usize) };
            let better = v > *b || (v.is_nan() && !b.is_nan());
            *b = if better { v } else { *b };
            *a = if better { i } else { *a };
        }
    }
}

/// Backward of [`max_pool2d`]: each output's gradient goes to its winning cell.
pub fn max_pool2d_backward(dy: &[f32], arg: &[u32], g: &Pool2dGeom) -> Vec<f32> {
    let (oh, ow) = g
        .out_hw()
        .expect("max_pool2d: window larger than padded input");
    let (isz, osz) = (g.h * g.w, oh * ow);
    let mut dx = vec![0.0; g.planes * isz];
    let per = planes_per_task(g.planes);
    dx.par_chunks_mut(per * isz)
        .enumerate()
        .for_each(|(blk, dxb)| {
            for (i, dxp) in dxb.chunks_mut(isz).enumerate() {
                let o = (blk * per + i) * osz;
                for (&d, &a) in dy[o..o + osz].iter().zip(&arg[o..o + osz]) {
                    if a != u32::MAX {
                        dxp[a as usize] += d;
                    }
                }
            }
        });
    dx
}

/// Average pooling over the cells inside the input.
pub fn avg_pool2d(x: &[f32], g: &Pool2dGeom) -> Vec<f32> {
    let (oh, ow) = g
        .out_hw()
        .expect("avg_pool2d: window larger than padded input");
    let (isz, osz) = (g.h * g.w, oh * ow);
    let mut y = vec![0.0; g.planes * osz];
    let per = planes_per_task(g.planes);
    y.par_chunks_mut(per * osz)
        .enumerate()
        .for_each(|(blk, yb)| {
            for (i, yp) in yb.chunks_mut(osz).enumerate() {
                let xp = &x[(blk * per + i) * isz..][..isz];
                for oy in 0..oh {
                    for ox in 0..ow {
                        let (rows, cols) = g.window(oy, ox);
                        let count = rows.len() * cols.len();
                        let s: f32 = rows
                            .map(|iy| xp[iy * g.w..][cols.clone()].iter().sum::<f32>())
                            .sum();
                        yp[oy * ow + ox] = if count > 0 { s / count as f32 } else { 0.0 };
                    }
                }
            }
        });
    y
}

/// Backward of [`avg_pool2d`].
pub fn avg_pool2d_backward(dy: &[f32], g: &Pool2dGeom) -> Vec<f32> {
    let (oh, ow) = g
        .out_hw()
        .expect("avg_pool2d: window larger than padded input");
    let (isz, osz) = (g.h * g.w, oh * ow);
    let mut dx = vec![0.0; g.planes * isz];
    let per = planes_per_task(g.planes);
    dx.par_chunks_mut(per * isz)
        .enumerate()
        .for_each(|(blk, dxb)| {
            for (i, dxp) in dxb.chunks_mut(isz).enumerate() {
                let dyp = &dy[(blk * per + i) * osz..][..osz];
                for oy in 0..oh {
                    for ox in 0..ow {
                        let (rows, cols) = g.window(oy, ox);
                        let count = rows.len() * cols.len();
                        if count == 0 {
                            continue;
                        }
                        let share = dyp[oy * ow + ox] / count as f32;
                        for iy in rows {
                            dxp[iy * g.w..][cols.clone()]
                                .iter_mut()
                                .for_each(|d| *d += share);
                        }
                    }
                }
            }
        });
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_sizes_padding_and_ties() {
        // 1 plane 3x3, window 2, stride 2, no padding: one output (the bottom row and right
        // column are dropped, as PyTorch's floor mode does)
        let x = [1.0, 5.0, 2.0, 5.0, 0.0, 9.0, 3.0, 4.0, 8.0];
        let g = Pool2dGeom {
            planes: 1,
            h: 3,
            w: 3,
            k: (2, 2),
            stride: (2, 2),
            pad: (0, 0, 0, 0),
        };
        let (y, a) = max_pool2d(&x, &g);
        assert_eq!((y, a.clone()), (vec![5.0], vec![1])); // tie 5 at index 1 and 3: the first
        assert_eq!(
            max_pool2d_backward(&[2.0], &a, &g),
            vec![0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
        // with padding 1 on every side: 2x2 outputs, padding never wins
        let g = Pool2dGeom {
            pad: (1, 1, 1, 1),
            ..g
        };
        let (y, _) = max_pool2d(&[-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0], &g);
        assert_eq!(y, vec![-1.0, -2.0, -4.0, -5.0]);
        assert_eq!(avg_pool2d(&x, &g), vec![1.0, 3.5, 4.0, 5.25]);
    }

    #[test]
    fn unpadded_path_matches_direct_loops_with_ties() {
        for (k, stride, h, w) in [
            ((2, 2), (2, 2), 7, 9),
            ((2, 2), (2, 2), 6, 8),
            ((3, 2), (1, 3), 8, 11),
            ((2, 3), (3, 1), 9, 6),
        ] {
            let g = Pool2dGeom {
                planes: 3,
                h,
                w,
                k,
                stride,
                pad: (0, 0, 0, 0),
            };
            // few distinct values, so ties are common
            let x: Vec<f32> = (0..3 * h * w).map(|i| ((i * 7919) % 5) as f32).collect();
            let (oh, ow) = g.out_hw().unwrap();
            let (y, a) = max_pool2d(&x, &g);
            for p in 0..3 {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut best = (f32::NEG_INFINITY, 0);
                        for ky in 0..k.0 {
                            for kx in 0..k.1 {
                                let i = (oy * stride.0 + ky) * w + ox * stride.1 + kx;
                                if x[p * h * w + i] > best.0 {
                                    best = (x[p * h * w + i], i as u32);
                                }
                            }
                        }
                        let o = (p * oh + oy) * ow + ox;
                        assert_eq!((y[o], a[o]), best, "plane {p} output ({oy}, {ox})");
                    }
                }
            }
        }
    }
}
