//! Adam with bias correction, exactly as `torch.optim.Adam` (Kingma & Ba, "Adam: A Method for
//! Stochastic Optimization", 2015):
//!
//! ```text
//! m = β1 · m + (1 - β1) · g
//! v = β2 · v + (1 - β2) · g²
//! w = w - (lr / (1 - β1^t)) · m / (sqrt(v) / sqrt(1 - β2^t) + ε)
//! ```
//! Defaults are PyTorch's: lr 1e-3, β1 0.9, β2 0.999, ε 1e-8 (Keras uses ε 1e-7).

use super::{slot, Optimizer, OptimizerConfig};
use nabla_core::cpu::simd::for_ranges;
use serde::{Deserialize, Serialize};

/// Parameters at least this large are updated by all worker threads. Off: measured on W1
/// (100k weights), waking a second thread every step costs more than it saves.
const PARALLEL_MIN: usize = usize::MAX;

#[derive(Clone, Copy)]
struct AdamHyper {
    b1: f32,
    b2: f32,
    eps: f32,
    inv_bc2_sqrt: f32,
    step_size: f32,
}

struct SendPtrs(*mut f32, *mut f32, *mut f32);
// SAFETY: used only to hand disjoint sub-ranges of the buffers to worker threads.
unsafe impl Sync for SendPtrs {}

nabla_core::multiversion! {
    /// The update of one parameter slice: the formula of the module docs, element by element.
    fn adam_kernel(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: AdamHyper) {
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
    #[serde(skip)]
    t: u64,
    #[serde(skip)]
    m: Vec<Vec<f32>>,
    #[serde(skip)]
    v: Vec<Vec<f32>>,
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
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
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
}

impl Optimizer for Adam {
    fn begin_step(&mut self) {
        self.t += 1;
    }

    fn update(&mut self, index: usize, w: &mut [f32], g: &[f32]) {
        let (b1, b2, eps) = (self.beta_1, self.beta_2, self.epsilon);
        let t = self.t.max(1) as i32;
        let bc1 = 1.0 - b1.powi(t);
        let bc2_sqrt = (1.0 - b2.powi(t)).sqrt();
        let step_size = self.learning_rate / bc1;
        slot(&mut self.m, index, w.len());
        slot(&mut self.v, index, w.len());
        let h = AdamHyper {
            b1,
            b2,
            eps,
            inv_bc2_sqrt: 1.0 / bc2_sqrt,
            step_size,
        };
        let (m, v) = (&mut self.m[index], &mut self.v[index]);
        let parts = SendPtrs(w.as_mut_ptr(), m.as_mut_ptr(), v.as_mut_ptr());
        for_ranges(w.len(), PARALLEL_MIN, |r| {
            let parts = &parts;
            // SAFETY: `for_ranges` hands out disjoint ranges of 0..len, so the slices made
            // here never overlap between threads and stay inside the three buffers.
            let (w, m, v) = unsafe {
                let n = r.len();
                (
                    std::slice::from_raw_parts_mut(parts.0.add(r.start), n),
                    std::slice::from_raw_parts_mut(parts.1.add(r.start), n),
                    std::slice::from_raw_parts_mut(parts.2.add(r.start), n),
                )
            };
            adam_kernel(w, &g[r], m, v, h);
        });
    }

    fn learning_rate(&self) -> f32 {
        self.learning_rate
    }

    fn set_learning_rate(&mut self, lr: f32) {
        self.learning_rate = lr;
    }

    fn config(&self) -> OptimizerConfig {
        OptimizerConfig::Adam(
            Adam::new(self.learning_rate)
                .betas(self.beta_1, self.beta_2)
                .epsilon(self.epsilon),
        )
    }
}
