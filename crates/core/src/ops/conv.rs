//! Convolution and pooling ops on NCHW tensors (kernels in `cpu/conv.rs`, `cpu/pool.rs`).

use super::{record, BnSaved, Op};
use crate::collective::Communicator;
use crate::cpu::batch_norm::{self, Sync};
use crate::cpu::conv::{self, Conv2dGeom};
use crate::cpu::pool::{self, Pool2dGeom};
use crate::tensor::Tensor;
use std::sync::Arc;

/// Settings of a 2-d convolution or pooling besides the shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window2d {
    /// Strides (vertical, horizontal).
    pub stride: (usize, usize),
    /// Padding (top, bottom, left, right).
    pub pad: (usize, usize, usize, usize),
    /// Dilation (vertical, horizontal); 1 for pooling.
    pub dilation: (usize, usize),
    /// Groups (convolution only).
    pub groups: usize,
}

fn nchw(t: &Tensor, op: &str) -> (usize, usize, usize, usize) {
    match *t.shape() {
        [n, c, h, w] => (n, c, h, w),
        ref s => panic!("{op}: needs [batch, channels, height, width], got {s:?}"),
    }
}

impl Tensor {
    /// 2-d cross-correlation of `self [N, C, H, W]` with `w [OC, C/groups, kh, kw]`, plus `b [OC]`.
    ///
    /// # Shapes
    /// - output: `[N, OC, OH, OW]`, `OH = (H + pads - dh·(kh-1) - 1) / sh + 1`
    pub fn conv2d(&self, w: &Tensor, b: Option<&Tensor>, win: Window2d) -> Tensor {
        self.conv2d_act(w, b, win, false)
    }

    /// [`Tensor::conv2d`] followed by `max(·, 0)`, fused: the ReLU is applied while the
    /// output is laid out, and its gradient mask while the output gradient is gathered (one
    /// pass over the largest maps less each way, and no buffer for the pre-activation).
    pub fn conv2d_relu(&self, w: &Tensor, b: Option<&Tensor>, win: Window2d) -> Tensor {
        self.conv2d_act(w, b, win, true)
    }

    /// [`Tensor::conv2d_relu`] followed by [`Tensor::max_pool2d`] without padding (windows
    /// `k`, strides `s`), fused: each conv output plane is pooled while it is laid out, so the
    /// full-size map is never stored, and the backward rebuilds its gradient from the pooled
    /// gradient and the winning cells. The same numbers as the three ops one after another.
    pub fn conv2d_relu_max_pool(
        &self,
        w: &Tensor,
        b: Option<&Tensor>,
        win: Window2d,
        k: (usize, usize),
        s: (usize, usize),
    ) -> Tensor {
        let g = self.conv_geom(w, win);
        let (oh, ow) = g.out_hw().expect("checked by conv_geom");
        let epi = conv::Epilogue::ReluMaxPool { k, s };
        let (ph, pw) = epi.out_hw(oh, ow).unwrap_or_else(|| {
            panic!("max_pool2d: window {k:?} does not fit the {oh}x{ow} convolution output")
        });
        let (y, arg) = conv::conv2d_epilogue(self.data(), w.data(), b.map(|b| b.data()), &g, epi);
        let mut inputs = vec![self, w];
        inputs.extend(b);
        record(y, vec![g.n, g.oc, ph, pw], &inputs, || {
            Op::Conv2dPool(self.clone(), w.clone(), b.cloned(), g, Arc::new(arg))
        })
    }

    /// The convolution geometry of `self` with `w`, checked.
    fn conv_geom(&self, w: &Tensor, win: Window2d) -> Conv2dGeom {
        let (n, c, h, wd) = nchw(self, "conv2d");
        let (oc, cg, kh, kw) = nchw(w, "conv2d weight");
        assert!(
            win.groups > 0 && c % win.groups == 0 && oc % win.groups == 0 && cg == c / win.groups,
            "conv2d: input {:?}, weight {:?} and groups {} do not fit",
            self.shape(),
            w.shape(),
            win.groups
        );
        let g = Conv2dGeom {
            n,
            c,
            h,
            w: wd,
            oc,
            kh,
            kw,
            stride: win.stride,
            pad: win.pad,
            dilation: win.dilation,
            groups: win.groups,
        };
        if g.out_hw().is_none() {
            panic!("conv2d: kernel {kh}x{kw} does not fit input {h}x{wd}");
        }
        g
    }

    fn conv2d_act(&self, w: &Tensor, b: Option<&Tensor>, win: Window2d, relu: bool) -> Tensor {
        let g = self.conv_geom(w, win);
        let (oh, ow) = g.out_hw().expect("checked by conv_geom");
        let y = conv::conv2d(self.data(), w.data(), b.map(|b| b.data()), &g, relu);
        let mut inputs = vec![self, w];
        inputs.extend(b);
        record(y, vec![g.n, g.oc, oh, ow], &inputs, || {
            Op::Conv2d(self.clone(), w.clone(), b.cloned(), g, relu)
        })
    }

    /// 2-d max pooling of `self [N, C, H, W]` over `k` windows (ties: the first cell wins).
    pub fn max_pool2d(&self, k: (usize, usize), win: Window2d) -> Tensor {
        let (g, shape) = self.pool_geom("max_pool2d", k, win);
        let (y, arg) = pool::max_pool2d(self.data(), &g);
        record(y, shape, &[self], || {
            Op::MaxPool2d(self.clone(), Arc::new(arg), g)
        })
    }

    /// The pooling geometry of `self [N, C, H, W]` and the output shape.
    fn pool_geom(&self, op: &str, k: (usize, usize), win: Window2d) -> (Pool2dGeom, Vec<usize>) {
        let (n, c, h, w) = nchw(self, op);
        let g = Pool2dGeom {
            planes: n * c,
            h,
            w,
            k,
            stride: win.stride,
            pad: win.pad,
        };
        let (oh, ow) = g
            .out_hw()
            .unwrap_or_else(|| panic!("{op}: window {k:?} does not fit input {h}x{w}"));
        (g, vec![n, c, oh, ow])
    }

    /// Batch normalisation in training mode over channel axis 1 of `self [N, C, ..]`:
    /// `y = γ (x - μ) / sqrt(σ² + ε) + β` with the batch's per-channel mean and biased
    /// variance. Returns `y` and the batch's `(mean, biased variance)` per channel.
    pub fn batch_norm(
        &self,
        gamma: &Tensor,
        beta: &Tensor,
        eps: f32,
    ) -> (Tensor, Vec<f32>, Vec<f32>) {
        let (y, mean, var, _) = self.batch_norm_sync(gamma, beta, eps, None);
        (y, mean, var)
    }

    /// [`Tensor::batch_norm`] whose statistics cover the batches of every process of `comm`
    /// (synchronised batch norm in data-parallel training; PyTorch's `SyncBatchNorm`), in the
    /// pass and in its backward. Also returns the number of values per channel they cover.
    pub fn batch_norm_sync(
        &self,
        gamma: &Tensor,
        beta: &Tensor,
        eps: f32,
        comm: Option<Arc<dyn Communicator>>,
    ) -> (Tensor, Vec<f32>, Vec<f32>, f64) {
        assert!(
            self.rank() >= 2,
            "batch_norm: needs [batch, channels, ..], got {:?}",
            self.shape()
        );
        let (n, c) = (self.shape()[0], self.shape()[1]);
        let s = self.numel() / (n * c).max(1);
        assert!(
            gamma.shape() == [c] && beta.shape() == [c],
            "batch_norm: γ {:?} and β {:?} for {c} channels",
            gamma.shape(),
            beta.shape()
        );
        let reduce = |v: &mut [f64]| comm.as_ref().map_or((), |c| c.all_reduce_f64(v));
        let sync: Sync = comm.as_ref().map(|_| &reduce as &dyn Fn(&mut [f64]));
        let (x, g, b) = (self.data(), gamma.data(), beta.data());
        let (y, mean, inv_std, m) = batch_norm::forward(x, n, c, s, g, b, eps, sync);
        let var: Vec<f32> = inv_std.iter().map(|&i| 1.0 / (i * i) - eps).collect();
        let saved = Arc::new(BnSaved {
            mean: mean.clone(),
            inv_std,
            sync: comm.map(|c| (c, m)),
        });
        let t = record(y, self.shape().to_vec(), &[self, gamma, beta], || {
            Op::BatchNorm(self.clone(), gamma.clone(), beta.clone(), saved)
        });
        (t, mean, var, m)
    }

    /// 2-d average pooling of `self [N, C, H, W]` (padding not counted).
    pub fn avg_pool2d(&self, k: (usize, usize), win: Window2d) -> Tensor {
        let (g, shape) = self.pool_geom("avg_pool2d", k, win);
        let y = pool::avg_pool2d(self.data(), &g);
        record(y, shape, &[self], || Op::AvgPool2d(self.clone(), g))
    }
}
