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

/// Whether a stored tensor is a buffer that carries no weights: BERT's position and token
/// type ids, old GPT-2 checkpoints' causal masks.
fn is_buffer(name: &str) -> bool {
    matches!(
        name,
        "embeddings.position_ids" | "embeddings.token_type_ids"
    ) || name.ends_with(".attn.bias") && name.starts_with("h.")
        || name.ends_with(".attn.masked_bias")
}

/// Every weight of the folder by its name (a `bert.` or `transformer.` prefix removed);
/// buffers skipped.
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
            let name = ["bert.", "transformer."]
                .iter()
                .find_map(|p| name.strip_prefix(p))
                .unwrap_or(&name)
                .to_string();
            if is_buffer(&name) {
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

/// How a stored tensor becomes a nabla weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// As stored.
    Same,
    /// A `[rows, cols]` matrix transposed (PyTorch's `Linear` is `[out, in]`).
    Transposed,
    /// Column block `part` of `of` equal blocks (the last axis), e.g. a fused q/k/v.
    Columns {
        /// Which block.
        part: usize,
        /// How many.
        of: usize,
    },
}

/// One nabla weight and the stored tensor it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// nabla's full weight name (`layer.weight`).
    pub ours: String,
    /// The stored tensor's name.
    pub theirs: String,
    /// How it is taken.
    pub take: Take,
}

/// `t` taken as `take` says: its shape and values.
fn taken(t: &Stored, take: Take) -> Option<(Vec<usize>, Vec<f32>)> {
    match (take, t.shape.as_slice()) {
        (Take::Same, _) => Some((t.shape.clone(), t.data.clone())),
        (Take::Transposed, &[r, c]) => {
            let mut out = vec![0.0; r * c];
            for i in 0..r {
                for j in 0..c {
                    out[j * r + i] = t.data[i * c + j];
                }
            }
            Some((vec![c, r], out))
        }
        (Take::Columns { part, of }, shape) if !shape.is_empty() => {
            let cols = *shape.last()?;
            if of == 0 || part >= of || cols % of != 0 {
                return None;
            }
            let w = cols / of;
            let rows = t.data.len() / cols.max(1);
            let data = (0..rows)
                .flat_map(|r| t.data[r * cols + part * w..r * cols + (part + 1) * w].to_vec())
                .collect();
            let mut s = shape.to_vec();
            *s.last_mut()? = w;
            Some((s, data))
        }
        _ => None,
    }
}

/// Puts the stored tensors into `model`'s weights as `places` say. A missing tensor, one of
/// another shape, or a stored tensor no place takes (unless `unused_ok` says it may be left)
/// is an error naming it.
pub fn place(
    model: &mut nabla_nn::Model,
    stored: &BTreeMap<String, Stored>,
    places: &[Place],
    unused_ok: impl Fn(&str) -> bool,
) -> Result<()> {
    let names: Vec<String> = model.named_params().into_iter().map(|(n, _)| n).collect();
    let mut params: BTreeMap<String, &mut nabla_nn::Param> =
        names.into_iter().zip(model.params_mut()).collect();
    let mut used = std::collections::BTreeSet::new();
    for p in places {
        let t = stored.get(&p.theirs).ok_or_else(|| {
            Error::Format(format!(
                "weights: tensor {} expected (for {}), not in the folder",
                p.theirs, p.ours
            ))
        })?;
        let param = params
            .get_mut(&p.ours)
            .ok_or_else(|| Error::Format(format!("weights: the model has no weight {}", p.ours)))?;
        let want = param.value.shape().to_vec();
        match taken(t, p.take) {
            Some((shape, values)) if shape == want => {
                param.value.update(|v| v.copy_from_slice(&values));
            }
            got => {
                return Err(Error::Format(format!(
                    "weights: tensor {} (for {}, taken {:?}): expected a shape giving {want:?}, received {:?}{}",
                    p.theirs,
                    p.ours,
                    p.take,
                    t.shape,
                    got.map(|g| format!(" (gives {:?})", g.0)).unwrap_or_default()
                )))
            }
        }
        used.insert(p.theirs.as_str());
    }
    let extra: Vec<&String> = stored
        .keys()
        .filter(|k| !used.contains(k.as_str()) && !unused_ok(k))
        .collect();
    if let Some(first) = extra.first() {
        return Err(Error::Format(format!(
            "weights: tensor {first} is not part of the model nabla builds ({} such tensors)",
            extra.len()
        )));
    }
    Ok(())
}

/// Refuses a config that asks for more weights than the file holds, before the model is
/// built (a 1 KB config.json must not make nabla allocate terabytes).
pub fn check_size(config: &crate::HfConfig, stored: &BTreeMap<String, Stored>) -> Result<()> {
    let held: u128 = stored.values().map(|t| t.data.len() as u128).sum();
    let want = config.weight_count();
    if want > held {
        return Err(Error::Format(format!(
            "config.json: its sizes ask for {want} weights, expected at most the {held} model.safetensors holds"
        )));
    }
    Ok(())
}
