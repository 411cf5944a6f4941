//! The sparse form of a pruned weight in a model file ([`Model::save_sparse`]): instead of
//! `name` (F32, every value), `name.nonzero_mask` (U8, one bit per value, least significant
//! bit first: set where the value is not zero) and `name.nonzero_values` (F32, the non-zero
//! values in order). The header's `nabla.sparse` lists the weights stored so. At 80% zeros a
//! weight takes 0.2·4 + 1/8 = 0.93 bytes a value instead of 4.

use crate::error::Result;
use crate::model::Model;
use crate::saving::{raw_f32, write_atomic, RawTensor};
use safetensors::tensor::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;

/// Metadata key listing the weights stored in the sparse form (a JSON list of names).
pub const SPARSE_KEY: &str = "nabla.sparse";

/// A weight is stored sparse from this fraction of zeros on (below it the mask costs more
/// than the zeros it saves).
const MIN_SPARSITY: f64 = 0.5;

/// The names of the two tensors of weight `name`.
pub(crate) fn names(name: &str) -> [String; 2] {
    [
        format!("{name}.nonzero_mask"),
        format!("{name}.nonzero_values"),
    ]
}

/// The sparse form of weight `name` with values `v`, or `None` if too few are zero.
pub(crate) fn encode(name: &str, v: &[f32]) -> Option<[RawTensor; 2]> {
    let zeros = v.iter().filter(|&&x| x == 0.0).count();
    if v.is_empty() || (zeros as f64) < MIN_SPARSITY * v.len() as f64 {
        return None;
    }
    let mut mask = vec![0u8; v.len().div_ceil(8)];
    let mut values = Vec::with_capacity(v.len() - zeros);
    for (i, &x) in v.iter().enumerate() {
        if x != 0.0 {
            mask[i / 8] |= 1 << (i % 8);
            values.push(x);
        }
    }
    let [m, n] = names(name);
    Some([
        (m, Dtype::U8, vec![mask.len()], mask),
        raw_f32(&n, &[values.len()], &values),
    ])
}

/// Weight `name` of `shape` from its sparse form in `st`, or a message naming what is wrong.
pub(crate) fn decode(
    st: &SafeTensors,
    name: &str,
    shape: &[usize],
) -> std::result::Result<Vec<f32>, String> {
    let n: usize = shape.iter().product();
    let [m, v] = names(name);
    let get = |t: &str| {
        st.tensor(t)
            .map_err(|_| format!("sparse weight '{name}': '{t}' is missing"))
    };
    let (mask, values) = (get(&m)?, get(&v)?);
    if mask.dtype() != Dtype::U8 || mask.shape() != [n.div_ceil(8)] {
        return Err(format!(
            "sparse weight '{name}': expected mask U8 [{}], received {:?} {:?}",
            n.div_ceil(8),
            mask.dtype(),
            mask.shape()
        ));
    }
    let bits = mask.data();
    let set = (0..n).filter(|&i| bits[i / 8] >> (i % 8) & 1 == 1).count();
    if values.dtype() != Dtype::F32 || values.shape() != [set] {
        return Err(format!(
            "sparse weight '{name}': its mask sets {set} values, expected F32 [{set}], received {:?} {:?}",
            values.dtype(),
            values.shape()
        ));
    }
    let mut vals = values
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    Ok((0..n)
        .map(|i| {
            if bits[i / 8] >> (i % 8) & 1 == 1 {
                vals.next().unwrap_or(0.0)
            } else {
                0.0
            }
        })
        .collect())
}

impl Model {
    /// [`Model::to_bytes`] with every weight of at least 50% zeros (a pruned one) in the
    /// sparse form; [`Model::load`] reads it like any model file.
    pub fn to_bytes_sparse(&self) -> Result<Vec<u8>> {
        self.encode_with(Vec::new(), HashMap::new(), true)
    }

    /// Saves the model (atomically) with its pruned weights in the sparse form.
    pub fn save_sparse(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_bytes_sparse()?;
        write_atomic(path, &bytes)
            .map_err(|e| crate::error::Error::file(path, format!("cannot write: {e}")))
    }
}
