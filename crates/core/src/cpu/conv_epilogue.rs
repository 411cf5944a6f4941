//! What a convolution does with each output plane before storing it ([`Epilogue`]): the
//! bias and an optional ReLU, or ReLU then max pooling without padding, so that a
//! `conv2d(relu) -> max_pool2d` pair never stores the full-size map. Kernels on one plane.
//!
//! ```text
//! Bias:         y = conv + b            (then max(y, 0) with relu)
//! ReluMaxPool:  y = maxpool(max(conv + b, 0)), winner = first maximum in row-major order
//! ```

/// What the convolution does with its output before storing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Epilogue {
    /// `y + b`, then `max(·, 0)` when `relu`.
    Bias {
        /// Apply ReLU.
        relu: bool,
    },
    /// `max(y + b, 0)`, then max pooling without padding (windows `k`, strides `s`): only the
    /// pooled maps and each window's winning cell are stored (the first maximum wins, as in
    /// `max_pool2d`), never the full-size map.
    ReluMaxPool {
        /// Window (height, width).
        k: (usize, usize),
        /// Strides (vertical, horizontal).
        s: (usize, usize),
    },
}

impl Epilogue {
    /// Height and width of a stored output plane, for conv output planes of `oh × ow`.
    pub fn out_hw(&self, oh: usize, ow: usize) -> Option<(usize, usize)> {
        match *self {
            Epilogue::Bias { .. } => Some((oh, ow)),
            Epilogue::ReluMaxPool { k, s } => (oh >= k.0 && ow >= k.1 && s.0 > 0 && s.1 > 0)
                .then(|| ((oh - k.0) / s.0 + 1, (ow - k.1) / s.1 + 1)),
        }
    }
}

/// `max(src + bias, 0)` of one `oh × ow` plane, max-pooled into `out` with the winning cells
/// in `arg` (the first maximum in row-major order wins).
pub(crate) fn relu_max_pool(
    src: &[f32],
    bias: f32,
    ow: usize,
    (k, s): ((usize, usize), (usize, usize)),
    out: &mut [f32],
    arg: &mut [u32],
) {
    let pw = (ow - k.1) / s.1 + 1;
    if k == (2, 2) && s == (2, 2) {
        for (py, (o, a)) in out.chunks_mut(pw).zip(arg.chunks_mut(pw)).enumerate() {
            let r0 = 2 * py * ow;
            pool_2x2(&src[r0..r0 + 2 * ow], bias, ow, r0 as u32, o, a);
        }
        return;
    }
    for (c, (o, a)) in out.iter_mut().zip(arg.iter_mut()).enumerate() {
        let (py, px) = (c / pw, c % pw);
        let (mut best, mut at) = (f32::NEG_INFINITY, 0);
        for y in py * s.0..py * s.0 + k.0 {
            for x in px * s.1..px * s.1 + k.1 {
                let v = (src[y * ow + x] + bias).max(0.0);
                if v > best {
                    best = v;
                    at = y * ow + x;
                }
            }
        }
        *o = best;
        *a = at as u32;
    }
}

crate::multiversion! {
    /// `dst = src + bias`, then `max(·, 0)` when `relu`.
    pub(crate) fn add_bias(dst: &mut [f32], src: &[f32], bias: f32, relu: bool) {
        let n = dst.len();
        let src = &src[..n];
        if relu {
            for j in 0..n {
                dst[j] = (src[j] + bias).max(0.0);
            }
        } else {
            for j in 0..n {
                dst[j] = src[j] + bias;
            }
        }
    }
}

crate::multiversion! {
    /// 2x2 windows of stride 2 over two rows `rows = [row0, row1]` of width `ow`, after
    /// `max(· + bias, 0)`; `first` is row0's first cell in the plane.
    fn pool_2x2(rows: &[f32], bias: f32, ow: usize, first: u32, out: &mut [f32], arg: &mut [u32]) {
        let (r0, r1) = rows.split_at(ow);
        let n = out.len();
        let (r0, r1, arg) = (&r0[..2 * n], &r1[..2 * n], &mut arg[..n]);
        // a tournament without branches: the earlier cell wins ties at every stage, so the
        // first maximum in row-major order wins, as in max_pool2d
        for px in 0..n {
            let x = 2 * px;
            let a = (r0[x] + bias).max(0.0);
            let b = (r0[x + 1] + bias).max(0.0);
            let c = (r1[x] + bias).max(0.0);
            let d = (r1[x + 1] + bias).max(0.0);
            let (top, top_at) = if b > a { (b, 1) } else { (a, 0) };
            let (low, low_at) = if d > c { (d, ow as u32 + 1) } else { (c, ow as u32) };
            let (best, at) = if low > top { (low, low_at) } else { (top, top_at) };
            out[px] = best;
            arg[px] = first + x as u32 + at;
        }
    }
}
