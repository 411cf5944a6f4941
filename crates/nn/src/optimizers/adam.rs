//! Adam with bias correction and optional AMSGrad, exactly as `torch.optim.Adam` (Kingma & Ba,
//! "Adam: A Method for Stochastic Optimization", 2015; Reddi et al., "On the Convergence of
//! Adam and Beyond", 2018):
//!
//! ```text
//! g = g + weight_decay · w                 (coupled decay; see AdamW for decoupled)
//! m = β1 · m + (1 - β1) · g
//! v = β2 · v + (1 - β2) · g²
//! v̂ = max(v̂, v) with amsgrad, else v
//! w = w - (lr / (1 - β1^t)) · m / (sqrt(v̂) / sqrt(1 - β2^t) + ε)
//! ```
//! Defaults are PyTorch's: lr 1e-3, β1 0.9, β2 0.999, ε 1e-8 (Keras uses ε 1e-7).

use super::{decayed, OptState, Optimizer};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The per-step constants of the update.
#[derive(Clone, Copy)]
pub(crate) struct AdamStep {
    pub b1: f32,
    pub b2: f32,
    pub eps: f32,
    pub inv_bc2_sqrt: f32,
    pub step_size: f32,
}

impl AdamStep {
    pub(crate) fn new(lr: f32, b1: f32, b2: f32, eps: f32, t: u64) -> AdamStep {
        let t = t.max(1) as i32;
        let bc2_sqrt = (1.0 - b2.powi(t)).sqrt();
        AdamStep {
            b1,
            b2,
            eps,
            inv_bc2_sqrt: 1.0 / bc2_sqrt,
            step_size: lr / (1.0 - b1.powi(t)),
        }
    }
}

nabla_core::multiversion! {
    /// One parameter slice, element by element (compiled for wide vectors: the hot loop of
    /// training small models).
    pub(crate) fn adam_kernel(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: AdamStep) {
        let n = w.len();
        let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
        for i in 0..n {
            m[i] = h.b1 * m[i] + (1.0 - h.b1) * g[i];
            v[i] = h.b2 * v[i] + (1.0 - h.b2) * g[i] * g[i];
            // sqrt(v)·(1/sqrt(1-β2^t)) rather than PyTorch's division: one division fewer per
            // element (the hot spot of the update), a difference of at most 1 ulp.
            let denom = v[i].sqrt() * h.inv_bc2_sqrt + h.eps;
            w[i] -= h.step_size * m[i] / denom;
        }
    }
}

/// The AMSGrad variant: the denominator uses the running maximum `vmax` of `v`.
pub(crate) fn amsgrad_kernel(
    w: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    vmax: &mut [f32],
    h: AdamStep,
) {
    for i in 0..w.len() {
        m[i] = h.b1 * m[i] + (1.0 - h.b1) * g[i];
        v[i] = h.b2 * v[i] + (1.0 - h.b2) * g[i] * g[i];
        vmax[i] = vmax[i].max(v[i]);
        let denom = vmax[i].sqrt() * h.inv_bc2_sqrt + h.eps;
        w[i] -= h.step_size * m[i] / denom;
    }
}

/// Adam.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Adam {
    /// Step size.
    pub learning_rate: f32,
    /// Decay of the first-moment estimate.
    pub beta_1: f32,
    /// Decay of the second-moment estimate.
    pub beta_2: f32,
    /// Added to the denominator for stability.
    pub epsilon: f32,
    /// Use the maximum of past second moments (AMSGrad).
    pub amsgrad: bool,
    /// Coupled weight decay (an L2 term added to the gradient).
    pub weight_decay: f32,
    #[serde(skip)]
    state: OptState,
}

impl Default for Adam {
    fn default() -> Self {
        Adam::new(1e-3)
    }
}

impl Adam {
    /// Adam with step size `learning_rate` and PyTorch's other defaults.
    pub fn new(learning_rate: f32) -> Adam {
        Adam {
            learning_rate,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            amsgrad: false,
            weight_decay: 0.0,
            state: OptState::default(),
        }
    }

    /// Sets β1 and β2.
    pub fn betas(mut self, beta_1: f32, beta_2: f32) -> Adam {
        self.beta_1 = beta_1;
        self.beta_2 = beta_2;
        self
    }

    /// Sets ε.
    pub fn epsilon(mut self, eps: f32) -> Adam {
        self.epsilon = eps;
        self
    }

    /// Turns AMSGrad on.
    pub fn amsgrad(mut self, on: bool) -> Adam {
        self.amsgrad = on;
        self
    }
}

/// The update shared by Adam and AdamW (after any decay has been applied).
pub(crate) fn adam_update(
    state: &mut OptState,
    index: usize,
    w: &mut [f32],
    g: &[f32],
    amsgrad: bool,
    h: AdamStep,
) {
    let n = w.len();
    if amsgrad {
        let (m, v, vmax) = state.three(index, n);
        amsgrad_kernel(w, g, m, v, vmax, h);
    } else {
        let (m, v) = state.two(0, 1, index, n);
        // a large tensor on every worker (element by element: the same result either way)
        match nabla_core::backend::share(n, 1 << 16, 16) {
            Some(c) => w
                .par_chunks_mut(c)
                .zip(g.par_chunks(c))
                .zip(m.par_chunks_mut(c).zip(v.par_chunks_mut(c)))
                .for_each(|((w, g), (m, v))| adam_kernel(w, g, m, v, h)),
            None => adam_kernel(w, g, m, v, h),
        }
    }
}

impl Optimizer for Adam {
    fn update(&mut self, index: usize, w: &mut [f32], g: &[f32]) {
        let h = AdamStep::new(
            self.learning_rate,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.state.t,
        );
        let mut buf = Vec::new();
        let g = decayed(g, w, self.weight_decay, &mut buf);
        adam_update(&mut self.state, index, w, g, self.amsgrad, h);
    }

    super::shared_accessors!(Adam);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_tensor_split_over_workers_updates_as_one_slice() {
        // above the split threshold, and not a multiple of the chunk length
        let n = (1 << 16) + 1001;
        let g: Vec<f32> = (0..n).map(|i| ((i % 97) as f32 - 48.0) * 0.01).collect();
        let w0: Vec<f32> = (0..n).map(|i| ((i % 13) as f32 - 6.0) * 0.1).collect();
        let mut state = OptState::default();
        let mut w = w0.clone();
        let (mut want, mut m, mut v) = (w0.clone(), vec![0.0; n], vec![0.0; n]);
        for t in 1..=3 {
            let h = AdamStep::new(1e-2, 0.9, 0.999, 1e-8, t);
            adam_update(&mut state, 0, &mut w, &g, false, h);
            adam_kernel(&mut want, &g, &mut m, &mut v, h);
        }
        assert_eq!(w, want);
        // every element moved, the last chunk's too (the gradient is never zero there)
        let moved = |i: usize| w[i] != w0[i] || g[i] == 0.0;
        assert!((0..n).all(moved));
    }
}
