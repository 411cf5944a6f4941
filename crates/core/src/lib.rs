//! nabla-core: an f32 [`Tensor`] with reverse-mode autograd, CPU kernels on slices, and the
//! one seeded [`Rng`] that makes a run reproducible.
//!
//! Layout (DESIGN.md decision 2): `cpu/` holds plain kernels on `&[f32]` and knows nothing of
//! tensors; `ops/` runs a kernel and records the op on the tape; `autograd.rs` holds the
//! gradient rule of every primitive, one match arm each.

pub mod autograd;
pub mod collective;
#[doc(hidden)] // reached through `ops` and `backend`; public for core's own kernel tests
pub mod cpu;
mod ops;
pub mod rng;
mod tensor;
pub mod testing;

pub use autograd::{is_grad_enabled, no_grad, Gradients};
pub use collective::Communicator;

/// What layers, data and training use of the CPU backend besides ops on tensors: window
/// geometry, the thread pool, the buffer cache, a row argmax. Other crates reach the backend
/// only through this and tensor ops (tests/layering.rs checks), the one seam a GPU backend
/// needs.
pub mod backend {
    pub use crate::cpu::conv::Conv2dGeom;
    pub use crate::cpu::conv_epilogue::Epilogue;
    pub use crate::cpu::pool::Pool2dGeom;
    pub use crate::cpu::recycle::{kept_bytes, release, scratch};
    pub use crate::cpu::reduce::argmax_rows;
    pub use crate::cpu::simd::Isa;
    pub use crate::cpu::threads::{num_threads, share};
    /// The int8 kernels of quantised layers.
    pub mod int8 {
        pub use crate::cpu::conv_int8::ConvInt8;
        pub use crate::cpu::int8_matmul::{
            fake_quant_rows, linear, qparams, Int8Path, PackedInt8, MAX_INPUTS,
        };
        pub use crate::cpu::recurrent::RnnGeom;
        pub use crate::cpu::recurrent_int8::{forward as recurrent, RnnInt8};
    }
}
pub use cpu::recurrent::Cell as RnnCell;
pub use cpu::unary::erfc;
pub use cpu::upsample::Interpolation;
pub use ops::{RnnParams, UnaryOp, Window2d};
pub use rng::Rng;
pub use tensor::Tensor;
