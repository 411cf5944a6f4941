//! Data-parallel training (PyTorch's DDP, Horovod): every process holds the same model, takes
//! its slice of every global batch, and before each optimiser step averages its gradients with
//! the others' through a [`Communicator`] (MPI's world in `nabla-dist`, or any transport), so
//! the weights stay identical on every process.
//!
//! With process `r` holding `n_r` samples of a batch and the gradient `g_r` of its mean loss,
//! the step uses `g = Σ_r n_r g_r / Σ_r n_r`: the gradient of the whole batch's mean loss, as
//! one process with the whole batch would compute it (up to rounding).

use nabla_core::{Gradients, Rng};
use nabla_nn::{GradientHook, Model, Param};
use std::sync::Arc;

pub use nabla_core::Communicator;

/// PyTorch DDP's default bucket size, 25 MiB.
pub const BUCKET_BYTES: usize = 25 << 20;

/// The gradient hook that averages gradients across processes (`Fit::distributed` adds it;
/// add it yourself, with `Model::add_gradient_hook`, for a custom training loop). Gradients
/// go in buckets of at most `bucket_bytes`, the last layers' first (the order backward makes
/// them), each one all-reduce, as DDP does.
pub struct AllReduce {
    comm: Arc<dyn Communicator>,
    bucket_bytes: usize,
    buf: Vec<f32>,
}

impl AllReduce {
    /// The hook over `comm`, with DDP's 25 MiB buckets.
    pub fn new(comm: Arc<dyn Communicator>) -> AllReduce {
        AllReduce {
            comm,
            bucket_bytes: BUCKET_BYTES,
            buf: Vec::new(),
        }
    }

    /// Sets the bucket size in bytes (at least one weight's gradient goes in each bucket).
    pub fn bucket_bytes(mut self, bytes: usize) -> AllReduce {
        self.bucket_bytes = bytes;
        self
    }

    /// Replaces the trainable weights' gradients by `Σ_r n_r g_r / Σ_r n_r`, where `n_r` is
    /// `samples` on process `r` (`None`: every process weighs the same).
    pub fn reduce(
        &mut self,
        grads: &mut Gradients,
        params: &[(String, &Param)],
        samples: Option<usize>,
    ) {
        let weight = samples.map_or(1.0, |n| n as f32);
        let ids: Vec<(u64, usize)> = params
            .iter()
            .rev()
            .filter(|(_, p)| p.trainable)
            .map(|(_, p)| (p.value.id(), p.value.numel()))
            .collect();
        let per_bucket = (self.bucket_bytes / 4).max(1);
        let mut total = None; // Σ n_r, reduced with the first bucket
        let mut start = 0;
        while start < ids.len() {
            let mut end = start + 1;
            let mut len = ids[start].1;
            while end < ids.len() && len + ids[end].1 <= per_bucket {
                len += ids[end].1;
                end += 1;
            }
            self.buf.clear();
            if total.is_none() {
                self.buf.push(weight);
            }
            for &(id, n) in &ids[start..end] {
                self.buf
                    .extend(grads.entry(id, n).iter().map(|g| g * weight));
            }
            self.comm.all_reduce_f32(&mut self.buf);
            let mut at = 0;
            if total.is_none() {
                total = Some(self.buf[0]);
                at = 1;
            }
            let inv = 1.0 / total.unwrap_or(1.0).max(f32::MIN_POSITIVE);
            for &(id, n) in &ids[start..end] {
                let g = grads.entry(id, n);
                for (d, s) in g.iter_mut().zip(&self.buf[at..at + n]) {
                    *d = s * inv;
                }
                at += n;
            }
            start = end;
        }
    }
}

impl GradientHook for AllReduce {
    fn name(&self) -> &str {
        "all_reduce"
    }

    fn apply(&mut self, grads: &mut Gradients, params: &[(String, &Param)]) {
        self.reduce(grads, params, None)
    }

    fn apply_step(
        &mut self,
        grads: &mut Gradients,
        params: &[(String, &Param)],
        samples: Option<usize>,
    ) {
        self.reduce(grads, params, samples)
    }

    fn collective(&self) -> bool {
        true
    }
}

/// Gives every process rank `root`'s weights, trainable or not, and its random stream (at
/// the start of training, so that a model built or loaded differently everywhere starts the
/// same and shuffles alike).
pub fn broadcast_model(model: &mut Model, comm: &dyn Communicator, root: usize) {
    broadcast_where(model, comm, root, |_| true);
    // a sum where only the root gives non-zeros is a broadcast; 32-bit halves are exact
    let mut v = [0.0; 8];
    if comm.rank() == root {
        for (i, s) in model.rng.state().iter().enumerate() {
            (v[2 * i], v[2 * i + 1]) = ((s >> 32) as f64, (s & 0xffff_ffff) as f64);
        }
    }
    comm.all_reduce_f64(&mut v);
    let s = std::array::from_fn(|i| ((v[2 * i] as u64) << 32) | v[2 * i + 1] as u64);
    model.rng = Rng::from_state(s);
}

/// Gives every process rank 0's non-trainable weights (batch norm's running statistics,
/// kept per process during an epoch), as DDP's `broadcast_buffers`.
pub(crate) fn broadcast_buffers(model: &mut Model, comm: &dyn Communicator) {
    broadcast_where(model, comm, 0, |p| !p.trainable)
}

fn broadcast_where(
    model: &mut Model,
    comm: &dyn Communicator,
    root: usize,
    pick: impl Fn(&Param) -> bool,
) {
    let mut params: Vec<&mut Param> = model.params_mut().into_iter().filter(|p| pick(p)).collect();
    let mut buf: Vec<f32> = params
        .iter()
        .flat_map(|p| p.value.data().to_vec())
        .collect();
    if buf.is_empty() {
        return;
    }
    comm.broadcast_f32(&mut buf, root);
    let mut at = 0;
    for p in params.iter_mut() {
        let n = p.value.numel();
        p.value.update(|d| d.copy_from_slice(&buf[at..at + n]));
        at += n;
    }
}

/// The random stream of process `rank` for one epoch (dropout, augmentation): drawn from a
/// copy of the shared stream, so it differs per process, is the same on every run with the
/// same process count, and leaves the shared stream (the shuffle) untouched.
pub(crate) fn rank_rng(shared: &Rng, rank: usize) -> Rng {
    let mut r = shared.clone();
    let base = r.next_u64();
    // splitmix64's increment keeps the seeds of neighbouring ranks far apart
    Rng::new(base ^ (rank as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}
