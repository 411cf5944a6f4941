//! 2-d upsampling of NCHW tensors (kernel in `cpu/upsample.rs`).

use super::{record, Op};
use crate::cpu::upsample::{self, Interpolation, UpsampleGeom};
use crate::tensor::Tensor;

impl Tensor {
    /// Upsamples `self [N, C, H, W]` by integer `factor`s (nearest or bilinear).
    ///
    /// # Shapes
    /// - output: `[N, C, fh·H, fw·W]`
    pub fn upsample2d(&self, factor: (usize, usize), mode: Interpolation) -> Tensor {
        let [n, c, h, w] = *self.shape() else {
            panic!(
                "upsample2d: needs [batch, channels, height, width], got {:?}",
                self.shape()
            )
        };
        assert!(
            factor.0 > 0 && factor.1 > 0,
            "upsample2d: factors must be positive, got {factor:?}"
        );
        let g = UpsampleGeom {
            planes: n * c,
            h,
            w,
            factor,
            mode,
        };
        let y = upsample::upsample2d(self.data(), &g);
        record(y, vec![n, c, h * factor.0, w * factor.1], &[self], || {
            Op::Upsample2d(self.clone(), g)
        })
    }
}
