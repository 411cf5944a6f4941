//! nabla-core: an f32 [`Tensor`] with reverse-mode autograd, CPU kernels on slices, and the
//! one seeded [`Rng`] that makes a run reproducible.
//!
//! Layout (DESIGN.md decision 2): `cpu/` holds plain kernels on `&[f32]` and knows nothing of
//! tensors; `ops/` runs a kernel and records the op on the tape; `autograd.rs` holds the
//! gradient rule of every primitive, one match arm each.

pub mod autograd;
pub mod cpu;
mod ops;
pub mod rng;
mod tensor;
pub mod testing;

pub use autograd::{is_grad_enabled, no_grad, Gradients};
pub use cpu::recurrent::Cell as RnnCell;
pub use cpu::upsample::Interpolation;
pub use ops::{RnnParams, UnaryOp, Window2d};
pub use rng::Rng;
pub use tensor::Tensor;
