//! 2-d upsampling of `[planes, H, W]` by integer factors `(fh, fw)` to `[planes, fh·H, fw·W]`:
//!
//! - nearest: `y[i, j] = x[i / fh, j / fw]`; the gradient of a cell is the sum over its block.
//! - bilinear (half-pixel centres, as Keras's `UpSampling2D(interpolation="bilinear")` and
//!   PyTorch's `align_corners=False`): output `i` samples input coordinate
//!   `s = (i + 0.5) / fh - 0.5`, clamped to `[0, H-1]`, as
//!   `(1-t)·x[⌊s⌋] + t·x[⌊s⌋+1]` with `t = s - ⌊s⌋`, likewise along the width; the
//!   gradient sends each output's value back to its 4 cells with the same weights.

/// The interpolation of [`upsample2d`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    /// Copy each cell into an `fh × fw` block.
    Nearest,
    /// Weighted mean of the 4 nearest cells.
    Bilinear,
}

/// Sizes of one upsampling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpsampleGeom {
    /// Number of planes (batch · channels).
    pub planes: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Factors (vertical, horizontal).
    pub factor: (usize, usize),
    /// Interpolation.
    pub mode: Interpolation,
}

/// `(lower cell, upper cell, weight of upper)` along one axis for each output position.
fn taps(n: usize, f: usize, mode: Interpolation) -> Vec<(usize, usize, f32)> {
    (0..n * f)
        .map(|o| match mode {
            Interpolation::Nearest => (o / f, o / f, 0.0),
            Interpolation::Bilinear => {
                let s = ((o as f32 + 0.5) / f as f32 - 0.5).clamp(0.0, (n - 1) as f32);
                let lo = s.floor() as usize;
                let hi = (lo + 1).min(n - 1);
                (lo, hi, s - lo as f32)
            }
        })
        .collect()
}

/// Forward: `x [planes, H, W]` to `[planes, fh·H, fw·W]`.
pub fn upsample2d(x: &[f32], g: &UpsampleGeom) -> Vec<f32> {
    let (ty, tx) = (taps(g.h, g.factor.0, g.mode), taps(g.w, g.factor.1, g.mode));
    let (isz, ow) = (g.h * g.w, tx.len());
    let mut y = vec![0.0; g.planes * ty.len() * ow];
    for (xp, yp) in x.chunks(isz).zip(y.chunks_mut(ty.len() * ow)) {
        for (&(y0, y1, a), yr) in ty.iter().zip(yp.chunks_mut(ow)) {
            let (r0, r1) = (&xp[y0 * g.w..][..g.w], &xp[y1 * g.w..][..g.w]);
            for (&(x0, x1, b), v) in tx.iter().zip(yr.iter_mut()) {
                let top = r0[x0] + b * (r0[x1] - r0[x0]);
                let bottom = r1[x0] + b * (r1[x1] - r1[x0]);
                *v = top + a * (bottom - top);
            }
        }
    }
    y
}

/// Backward: `dx [planes, H, W]` from `dy [planes, fh·H, fw·W]`.
pub fn upsample2d_backward(dy: &[f32], g: &UpsampleGeom) -> Vec<f32> {
    let (ty, tx) = (taps(g.h, g.factor.0, g.mode), taps(g.w, g.factor.1, g.mode));
    let (isz, ow) = (g.h * g.w, tx.len());
    let mut dx = vec![0.0; g.planes * isz];
    for (dxp, dyp) in dx.chunks_mut(isz).zip(dy.chunks(ty.len() * ow)) {
        for (&(y0, y1, a), dr) in ty.iter().zip(dyp.chunks(ow)) {
            for (&(x0, x1, b), &d) in tx.iter().zip(dr) {
                let (top, bottom) = ((1.0 - a) * d, a * d);
                dxp[y0 * g.w + x0] += (1.0 - b) * top;
                dxp[y0 * g.w + x1] += b * top;
                dxp[y1 * g.w + x0] += (1.0 - b) * bottom;
                dxp[y1 * g.w + x1] += b * bottom;
            }
        }
    }
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_and_bilinear_match_pytorch() {
        let g = UpsampleGeom {
            planes: 1,
            h: 2,
            w: 2,
            factor: (2, 2),
            mode: Interpolation::Nearest,
        };
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(&upsample2d(&x, &g)[..8], &[1., 1., 2., 2., 1., 1., 2., 2.]);
        assert_eq!(upsample2d_backward(&[1.0; 16], &g), vec![4.0; 4]);
        // torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear") first row:
        // [1.0, 1.25, 1.75, 2.0]; second row [1.5, 1.75, 2.25, 2.5]
        let g = UpsampleGeom {
            mode: Interpolation::Bilinear,
            ..g
        };
        let y = upsample2d(&x, &g);
        assert_eq!(&y[..8], &[1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5]);
        let dx = upsample2d_backward(&[1.0; 16], &g);
        assert!(dx.iter().all(|&d| (d - 4.0).abs() < 1e-6), "{dx:?}");
    }
}
