//! CPU kernels: plain functions on `&[f32]` slices plus shapes, each backward next to its
//! forward. Nothing here knows about `Tensor` or the tape; this is the only place for
//! `unsafe`, SIMD and threads.

pub mod attention;
pub mod batch_norm;
pub mod binary;
pub mod buffer;
pub mod conv;
pub mod conv_epilogue;
pub mod conv_int8;
pub mod gates;
pub mod gelu;
pub mod index;
pub mod int8_matmul;
pub(crate) mod lanes;
pub mod layer_norm;
pub mod layout;
pub mod lstm_back;
pub mod lstm_step;
pub mod matmul;
pub mod pool;
pub mod recurrent;
pub mod recurrent_backward;
pub mod recurrent_int8;
pub mod recycle;
pub mod reduce;
pub mod rnn_cell;
pub mod simd;
pub mod softmax;
pub mod threads;
pub mod unary;
pub mod upsample;
