//! The weights of a Hugging Face folder: `model.safetensors`, or the shards listed by
//! `model.safetensors.index.json`; float32, float16 and bfloat16 tensors, all read as float32.

use crate::error::{read, Error, Result};
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One stored tensor, as float32.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub data: Vec<f32>,
}

/// Tensors the folder may hold that carry no weights (buffers transformers writes).
const BUFFERS: &[&str] = &["embeddings.position_ids", "embeddings.token_type_ids"];

/// Every weight of the folder by its name (a `bert.` prefix removed); buffers skipped.
pub fn read_weights(dir: &Path) -> Result<BTreeMap<String, Stored>> {
    let single = dir.join("model.safetensors");
    let index = dir.join("model.safetensors.index.json");
    let files: Vec<PathBuf> = if single.exists() {
        vec![single]
    } else if index.exists() {
        shards(&index)?
    } else {
        return Err(Error::Format(format!(
            "{}: expected model.safetensors or model.safetensors.index.json, found neither (pickled pytorch_model.bin is never read)",
            dir.display()
        )));
    };
    let mut out = BTreeMap::new();
    for f in files {
        let bytes = read(&f)?;
        let st = SafeTensors::deserialize(&bytes)
            .map_err(|e| Error::Format(format!("{}: not a safetensors file: {e}", f.display())))?;
        for (name, view) in st.tensors() {
            let name = name.strip_prefix("bert.").unwrap_or(&name).to_string();
            if BUFFERS.contains(&name.as_str()) {
                continue;
            }
            let data = to_f32(view.dtype(), view.data()).ok_or_else(|| {
                Error::Format(format!(
                    "{}: tensor {name}: expected dtype F32, F16 or BF16, received {:?}",
                    f.display(),
                    view.dtype()
                ))
            })?;
            out.insert(
                name,
                Stored {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
    }
    Ok(out)
}

/// The shard files named in an index's `weight_map`, each once, in order.
fn shards(index: &Path) -> Result<Vec<PathBuf>> {
    let bad = |e: String| Error::Format(format!("{}: {e}", index.display()));
    let v: serde_json::Value =
        serde_json::from_slice(&read(index)?).map_err(|e| bad(e.to_string()))?;
    let map = v
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| bad("expected a weight_map object".into()))?;
    let mut files: Vec<String> = Vec::new();
    for (tensor, file) in map {
        let file = file
            .as_str()
            .filter(|f| !f.contains('/') && !f.contains('\\') && f.ends_with(".safetensors"))
            .ok_or_else(|| {
                bad(format!(
                    "weight_map.{tensor}: expected a .safetensors file name in this folder, received {file}"
                ))
            })?;
        if !files.iter().any(|f| f == file) {
            files.push(file.to_string());
        }
    }
    let dir = index.parent().unwrap_or(Path::new("."));
    Ok(files.into_iter().map(|f| dir.join(f)).collect())
}

/// Little-endian float32, float16 or bfloat16 bytes as float32; `None` for other dtypes.
fn to_f32(dtype: Dtype, b: &[u8]) -> Option<Vec<f32>> {
    let pairs = || b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    Some(match dtype {
        Dtype::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => pairs().map(|h| half::f16::from_bits(h).to_f32()).collect(),
        Dtype::BF16 => pairs().map(|h| half::bf16::from_bits(h).to_f32()).collect(),
        _ => return None,
    })
}
