//! Data movement between shapes: matrix transposition, axis permutation and zero padding
//! (whose adjoint is slicing). Row-major layouts throughout; the innermost axis is copied
//! as whole rows.

use rayon::prelude::*;

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// `y = xᵀ`: `x [rows, cols]` to `[cols, rows]`, through 16 x 16 tiles, in tasks of 256
/// output rows (256 columns of x) split over the workers when `x` is large (so an `x` of at
/// most 256 columns is one task). A task reads 16 rows of x at a time along their length:
/// down a column of x, every row would lie on another 4 KiB page, where the hardware
/// prefetchers stop.
pub fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const TILE: usize = 16;
    const SPAN: usize = 256;
    assert_eq!(
        x.len(),
        rows * cols,
        "transpose: {} values are not {rows} x {cols}",
        x.len()
    );
    let mut out = super::recycle::scratch(x.len()); // every element is written below
    if rows == 0 || cols == 0 {
        return out;
    }
    // output rows j_start .. j_start + SPAN
    let task = |(jb, o): (usize, &mut [f32])| {
        let j_start = jb * SPAN;
        let j_end = cols.min(j_start + SPAN);
        let mut tile = [[0.0f32; TILE]; TILE];
        for i0 in (0..rows).step_by(TILE) {
            let ni = (rows - i0).min(TILE);
            for j0 in (j_start..j_end).step_by(TILE) {
                let nj = (j_end - j0).min(TILE);
                for (di, t) in tile[..ni].iter_mut().enumerate() {
                    t[..nj].copy_from_slice(&x[(i0 + di) * cols + j0..][..nj]);
                }
                for dj in 0..nj {
                    let orow = &mut o[(j0 - j_start + dj) * rows + i0..][..ni];
                    for (v, t) in orow.iter_mut().zip(&tile) {
                        *v = t[dj];
                    }
                }
            }
        }
    };
    if super::threads::num_threads() > 1 && x.len() >= 1 << 16 {
        out.par_chunks_mut(SPAN * rows).enumerate().for_each(task);
    } else {
        out.chunks_mut(SPAN * rows).enumerate().for_each(task);
    }
    out
}

/// `y = x.permute(axes)`: output axis `i` is input axis `axes[i]`, so
/// `y[j_0, .., j_{r-1}] = x[i]` with `i_{axes[k]} = j_k`.
pub fn permute(x: &[f32], shape: &[usize], axes: &[usize]) -> Vec<f32> {
    let r = shape.len();
    let xs = strides(shape);
    let out_shape: Vec<usize> = axes.iter().map(|&a| shape[a]).collect();
    // input stride of each output axis
    let st: Vec<usize> = axes.iter().map(|&a| xs[a]).collect();
    let mut y = Vec::with_capacity(x.len());
    if x.is_empty() {
        return y;
    }
    let mut idx = vec![0usize; r];
    let (last, inner) = (r - 1, out_shape[r - 1]);
    let step = st[last];
    loop {
        let base: usize = idx.iter().zip(&st).map(|(i, s)| i * s).sum();
        y.extend((0..inner).map(|j| x[base + j * step]));
        // next index over the outer output axes
        let mut k = last;
        loop {
            if k == 0 {
                return y;
            }
            k -= 1;
            idx[k] += 1;
            if idx[k] < out_shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
}

/// The inverse permutation: `permute(permute(x, a), inverse(a)) == x`.
pub fn inverse(axes: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; axes.len()];
    for (i, &a) in axes.iter().enumerate() {
        inv[a] = i;
    }
    inv
}

/// Zero padding: `y` of shape `shape[i] + before[i] + after[i]` holding `x` at offset
/// `before`, zeros elsewhere. Each innermost row of `y` is written once (zeros around the
/// row of `x` it holds, or zeros), rows split over the workers when large.
pub fn pad(x: &[f32], shape: &[usize], pads: &[(usize, usize)]) -> Vec<f32> {
    let out: Vec<usize> = shape
        .iter()
        .zip(pads)
        .map(|(n, (b, a))| n + b + a)
        .collect();
    let (r, xs) = (shape.len(), strides(shape));
    if r == 0 {
        return x.to_vec();
    }
    let n = out[r - 1].max(1);
    super::buffer::build(out.iter().product(), n, |s, part| {
        for (j, row) in part.chunks_mut(n).enumerate() {
            // the row of `x` this row holds, if any: its indices less `before`, all in range
            let (mut rest, mut src) = (s / n + j, Some(0));
            for k in (0..r - 1).rev() {
                let i = rest % out[k];
                rest /= out[k];
                src = src.filter(|_| (pads[k].0..pads[k].0 + shape[k]).contains(&i));
                src = src.map(|o| o + (i - pads[k].0) * xs[k]);
            }
            match src {
                Some(o) => {
                    let (at, len) = (pads[r - 1].0, shape[r - 1]);
                    row[..at].fill(0.0);
                    row[at..at + len].copy_from_slice(&x[o..o + len]);
                    row[at + len..].fill(0.0);
                }
                None => row.fill(0.0),
            }
        }
    })
}

/// The adjoint of [`pad`]: the block of `dy` (padded shape) that `x` occupied.
pub fn unpad(dy: &[f32], shape: &[usize], pads: &[(usize, usize)]) -> Vec<f32> {
    // every element of `dx` is copied below, rows split over the workers when large
    let mut dx = super::recycle::scratch(shape.iter().product());
    let n = shape.last().copied().unwrap_or(1).max(1);
    super::buffer::for_chunks(&mut dx, n, |s, part| {
        for_rows(shape, pads, s / n..(s + part.len()) / n, |src, dst, n| {
            part[src - s..src - s + n].copy_from_slice(&dy[dst..dst + n])
        })
    });
    dx
}

/// Calls `f(offset in x, offset in padded, row length)` for innermost rows `rows` of `x`.
fn for_rows(
    shape: &[usize],
    pads: &[(usize, usize)],
    rows: std::ops::Range<usize>,
    mut f: impl FnMut(usize, usize, usize),
) {
    let r = shape.len();
    if r == 0 || shape.contains(&0) {
        if r == 0 {
            f(0, 0, 1);
        }
        return;
    }
    let out: Vec<usize> = shape
        .iter()
        .zip(pads)
        .map(|(n, (b, a))| n + b + a)
        .collect();
    let (xs, ys) = (strides(shape), strides(&out));
    for row in rows {
        let (mut rest, mut src, mut dst) = (row, 0, pads[r - 1].0);
        for k in (0..r - 1).rev() {
            let i = rest % shape[k];
            rest /= shape[k];
            src += i * xs[k];
            dst += (i + pads[k].0) * ys[k];
        }
        f(src, dst, shape[r - 1]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_and_pad_by_definition() {
        // x [2, 3, 4] = 0..24; y = permute(x, [2, 0, 1]) has shape [4, 2, 3]
        let x: Vec<f32> = (0..24).map(|i| i as f32).collect();
        let y = permute(&x, &[2, 3, 4], &[2, 0, 1]);
        for (j0, j1, j2) in [(0, 0, 0), (3, 1, 2), (1, 0, 2), (2, 1, 0)] {
            assert_eq!(y[(j0 * 2 + j1) * 3 + j2], x[(j1 * 3 + j2) * 4 + j0]);
        }
        assert_eq!(permute(&y, &[4, 2, 3], &inverse(&[2, 0, 1])), x);
        // pad [2, 2] by rows (1, 0), columns (0, 2)
        let p = pad(&[1.0, 2.0, 3.0, 4.0], &[2, 2], &[(1, 0), (0, 2)]);
        assert_eq!(p, vec![0., 0., 0., 0., 1., 2., 0., 0., 3., 4., 0., 0.]);
        assert_eq!(
            unpad(&p, &[2, 2], &[(1, 0), (0, 2)]),
            vec![1.0, 2.0, 3.0, 4.0]
        );
    }
}
