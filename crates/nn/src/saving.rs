//! Save and load a model as one `.safetensors` file: every weight under its hierarchical name
//! (`dense.kernel`), and in the header's metadata the model config (and compile config) as
//! JSON, so `Model::load` rebuilds the model without the user's code. Files are written
//! atomically (temporary file, then rename): a crash never leaves a half-written model.

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::model::{CompileConfig, Model};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::Path;

/// Metadata key holding the [`ModelConfig`] JSON.
pub const MODEL_KEY: &str = "nabla.model";
/// Metadata key holding the [`CompileConfig`] JSON (absent for uncompiled models).
pub const COMPILE_KEY: &str = "nabla.compile";
/// Metadata key of a text model's tokenizer (JSON).
pub const TOKENIZER_KEY: &str = "nabla.tokenizer";
/// Metadata key of a classifier's class names (a JSON list).
pub const CLASS_NAMES_KEY: &str = "nabla.class_names";
/// Metadata key of the Hugging Face `config.json` a model was built from.
pub const HF_CONFIG_KEY: &str = "nabla.hf_config";
/// Metadata key of how the training data was read (JSON).
pub const DATA_RECIPE_KEY: &str = "nabla.data";
/// Metadata key holding the file-format version.
pub const FORMAT_KEY: &str = "nabla.format";
/// The file-format version this build writes and reads.
pub const FORMAT_VERSION: &str = "1";

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so the
/// file is either the old one or the complete new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id())); // see temp_pid
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        fault_injection(path, &mut f, bytes)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The largest safetensors header nabla reads (the format's own limit is 100 MB).
const MAX_HEADER: u64 = 100_000_000;

/// A safetensors file's bytes, read only after its 8-byte header size and its JSON header
/// have been checked against the file's real size: a large file that is not one is refused
/// after a few bytes, not read whole first.
fn read_checked(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |e: std::io::Error| Error::file(path, format!("cannot read: {e}"));
    let mut f = std::fs::File::open(path).map_err(io)?;
    let size = f.metadata().map_err(io)?.len();
    let mut head = [0u8; 8];
    if size < 8 {
        return Err(Error::file(
            path,
            format!("not a safetensors file: expected an 8-byte header size, the file holds {size} bytes"),
        ));
    }
    f.read_exact(&mut head).map_err(io)?;
    let n = u64::from_le_bytes(head);
    if n > size - 8 || n > MAX_HEADER {
        return Err(Error::file(
            path,
            format!(
                "not a safetensors file or truncated: its header announces {n} bytes, expected at most {} (the file holds {size} bytes)",
                (size - 8).min(MAX_HEADER)
            ),
        ));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header).map_err(io)?;
    if serde_json::from_slice::<serde_json::Value>(&header).map_or(true, |v| !v.is_object()) {
        return Err(Error::file(
            path,
            "not a safetensors file: its header is not a JSON object",
        ));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    bytes.extend_from_slice(&head);
    bytes.extend_from_slice(&header);
    f.read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}

/// The process id in the name of a temporary file of [`write_atomic`] (`.NAME.PID.tmp`),
/// or `None` for any other name: a killed process leaves such a file behind.
pub fn temp_pid(file_name: &str) -> Option<u32> {
    file_name
        .strip_prefix('.')?
        .strip_suffix(".tmp")?
        .rsplit('.')
        .next()?
        .parse()
        .ok()
}

/// A named f32 tensor for a file: `(name, shape, values)`.
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// safetensors bytes of float32 `tensors` with `meta` in the header (model files, and
/// Hugging Face folders written by nabla-hub's export).
pub fn encode(tensors: &[NamedTensor], meta: HashMap<String, String>) -> Result<Vec<u8>> {
    encode_mixed(tensors, &[], meta)
}

/// [`encode`] with int8 tensors too (quantised layers' kernels): `(name, shape, values)`.
pub fn encode_mixed(
    tensors: &[NamedTensor],
    int8: &[(String, Vec<usize>, &[i8])],
    meta: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let f32s = tensors.iter().map(|(n, s, v)| raw_f32(n, s, v));
    let i8s = int8.iter().map(|(n, s, v)| {
        let b = v.iter().map(|&x| x as u8).collect();
        (n.clone(), Dtype::I8, s.clone(), b)
    });
    encode_raw(f32s.chain(i8s).collect(), meta)
}

/// A tensor as the file stores it: name, type, shape, little-endian bytes.
pub(crate) type RawTensor = (String, Dtype, Vec<usize>, Vec<u8>);

/// An f32 tensor's [`RawTensor`].
pub(crate) fn raw_f32(name: &str, shape: &[usize], v: &[f32]) -> RawTensor {
    let b = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    (name.to_string(), Dtype::F32, shape.to_vec(), b)
}

/// safetensors bytes of `all` with `meta` in the header.
pub(crate) fn encode_raw(all: Vec<RawTensor>, meta: HashMap<String, String>) -> Result<Vec<u8>> {
    let views = all
        .iter()
        .map(|(n, d, s, b)| {
            TensorView::new(*d, s.to_vec(), b)
                .map(|v| (n.to_string(), v))
                .map_err(|e| {
                    Error::config(format!("tensor '{n}'"), format!("a valid {d:?} tensor"), e)
                })
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::tensor::serialize(views, Some(meta))
        .map_err(|e| Error::config("model", "serialisable weights", e))
}

/// Test hook for crash safety: when `NABLA_TEST_ABORT_WRITING` names this file, write half
/// of it to the temporary file and abort the process, as a crash in mid-write would.
fn fault_injection(path: &Path, f: &mut std::fs::File, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if std::env::var("NABLA_TEST_ABORT_WRITING").is_ok_and(|v| !v.is_empty() && v == name) {
        f.write_all(&bytes[..bytes.len() / 2])?;
        f.sync_all()?;
        std::process::abort();
    }
    Ok(())
}

impl Model {
    /// The model as safetensors bytes (weights + config metadata).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.to_bytes_with(Vec::new(), HashMap::new())
    }

    /// [`Model::to_bytes`] plus extra tensors and metadata (training checkpoints).
    pub fn to_bytes_with(
        &self,
        extra: Vec<NamedTensor>,
        extra_meta: HashMap<String, String>,
    ) -> Result<Vec<u8>> {
        self.encode_with(extra, extra_meta, false)
    }

    /// The file's bytes; with `sparse`, weights that are mostly zeros in the sparse form
    /// (`sparse_file.rs`).
    pub(crate) fn encode_with(
        &self,
        extra: Vec<NamedTensor>,
        extra_meta: HashMap<String, String>,
        sparse: bool,
    ) -> Result<Vec<u8>> {
        let mut raw = Vec::new();
        let mut sparse_names = Vec::new();
        for (name, p) in self.named_params() {
            let v = p.value.data();
            match sparse
                .then(|| crate::sparse_file::encode(&name, v))
                .flatten()
            {
                Some(pair) => {
                    raw.extend(pair);
                    sparse_names.push(name);
                }
                None => raw.push(raw_f32(&name, p.value.shape(), v)),
            }
        }
        raw.extend(extra.iter().map(|(n, s, v)| raw_f32(n, s, v)));
        let mut meta = extra_meta;
        if !sparse_names.is_empty() {
            meta.insert(
                crate::sparse_file::SPARSE_KEY.to_string(),
                json(&sparse_names),
            );
        }
        meta.insert(FORMAT_KEY.to_string(), FORMAT_VERSION.to_string());
        meta.insert(MODEL_KEY.to_string(), json(&self.config()));
        if let Some(c) = self.compile_config() {
            meta.insert(COMPILE_KEY.to_string(), json(&c));
        }
        if let Some(t) = self.tokenizer() {
            meta.insert(TOKENIZER_KEY.to_string(), t.to_string());
        }
        if let Some(c) = self.class_names() {
            meta.insert(CLASS_NAMES_KEY.to_string(), json(&c.to_vec()));
        }
        if let Some(c) = self.hf_config() {
            meta.insert(HF_CONFIG_KEY.to_string(), c.to_string());
        }
        if let Some(d) = self.data_recipe() {
            meta.insert(DATA_RECIPE_KEY.to_string(), d.to_string());
        }
        for (n, p) in self.named_int8_params() {
            let b = p.values.iter().map(|&x| x as u8).collect();
            raw.push((n, Dtype::I8, p.shape.clone(), b));
        }
        encode_raw(raw, meta)
    }

    /// Saves the model to `path` (atomically).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        write_atomic(path, &bytes).map_err(|e| Error::file(path, format!("cannot write: {e}")))
    }

    /// Loads a model saved by [`Model::save`]: rebuilds it from the stored config, fills the
    /// weights, and compiles it again if it was compiled.
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        Ok(Model::load_with(path)?.0)
    }

    /// [`Model::load`] that also returns the file's metadata and the tensors that are not
    /// weights (training checkpoints).
    pub fn load_with(
        path: impl AsRef<Path>,
    ) -> Result<(Model, HashMap<String, String>, Vec<NamedTensor>)> {
        let path = path.as_ref();
        let bytes = read_checked(path)?;
        Model::from_bytes_with(&bytes).map_err(|e| match e {
            Error::File { msg, .. } => Error::file(path, msg),
            other => Error::file(path, other.to_string()),
        })
    }

    /// [`Model::load`] from bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        Ok(Model::from_bytes_with(bytes)?.0)
    }

    /// [`Model::load_with`] from bytes.
    pub fn from_bytes_with(
        bytes: &[u8],
    ) -> Result<(Model, HashMap<String, String>, Vec<NamedTensor>)> {
        let bad = |msg: String| Error::file("<bytes>", msg);
        let (_, meta) = SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("not a safetensors file or truncated ({e})")))?;
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("not a safetensors file or truncated ({e})")))?;
        let meta = meta.metadata().clone().unwrap_or_default();
        let model_json = meta.get(MODEL_KEY).ok_or_else(|| {
            bad(format!(
                "has no '{MODEL_KEY}' metadata: expected a model saved by nabla"
            ))
        })?;
        if let Some(v) = meta.get(FORMAT_KEY) {
            if v != FORMAT_VERSION {
                return Err(bad(format!(
                    "format version {v}, this nabla reads version {FORMAT_VERSION}"
                )));
            }
        }
        let cfg: ModelConfig = serde_json::from_str(model_json)
            .map_err(|e| bad(format!("model config cannot be read: {e}")))?;
        let largest = st
            .tensors()
            .iter()
            .map(|(n, v)| {
                // a sparse weight's mask holds 8 of its values a byte
                let per = if n.ends_with(".nonzero_mask") { 8 } else { 1 };
                v.shape().iter().product::<usize>().saturating_mul(per)
            })
            .max()
            .unwrap_or(0);
        let mut model = crate::budget::with_weight_limit(largest, || cfg.build(0))?;
        let mut used = Vec::new();
        let sparse: Vec<String> = match meta.get(crate::sparse_file::SPARSE_KEY) {
            Some(j) => serde_json::from_str(j).map_err(|e| {
                bad(format!(
                    "sparse weights: expected a JSON list of names: {e}"
                ))
            })?,
            None => Vec::new(),
        };
        for (name, param) in model.params_mut_named() {
            if sparse.contains(&name) {
                let values =
                    crate::sparse_file::decode(&st, &name, param.value.shape()).map_err(bad)?;
                param.value.update(|w| w.copy_from_slice(&values));
                used.extend(crate::sparse_file::names(&name));
                continue;
            }
            let view = st
                .tensor(&name)
                .map_err(|_| bad(format!("weight '{name}' is missing")))?;
            if view.dtype() != Dtype::F32 || view.shape() != param.value.shape() {
                return Err(bad(format!(
                    "weight '{name}': expected f32 {:?}, received {:?} {:?}",
                    param.value.shape(),
                    view.dtype(),
                    view.shape()
                )));
            }
            let values = floats(view.data());
            param.value.update(|w| w.copy_from_slice(&values));
            used.push(name);
        }
        for (name, param) in model.int8_params_mut_named() {
            let view = st
                .tensor(&name)
                .map_err(|_| bad(format!("weight '{name}' is missing")))?;
            if view.dtype() != Dtype::I8 || view.shape() != param.shape {
                return Err(bad(format!(
                    "weight '{name}': expected i8 {:?}, received {:?} {:?}",
                    param.shape,
                    view.dtype(),
                    view.shape()
                )));
            }
            // the kernels' exact sums rely on |q| <= 127 (int8_matmul.rs)
            if view.data().iter().any(|&b| b as i8 == i8::MIN) {
                return Err(bad(format!(
                    "weight '{name}': expected int8 values in [-127, 127], received -128"
                )));
            }
            param.values = view.data().iter().map(|&b| b as i8).collect();
            used.push(name);
        }
        if let Some(c) = meta.get(COMPILE_KEY) {
            let cc: CompileConfig = serde_json::from_str(c)
                .map_err(|e| bad(format!("compile config cannot be read: {e}")))?;
            model.compile_from_config(&cc)?;
        }
        if let Some(t) = meta.get(TOKENIZER_KEY) {
            model.set_tokenizer(t.clone());
        }
        if let Some(c) = meta.get(CLASS_NAMES_KEY) {
            let names: Vec<String> = serde_json::from_str(c)
                .map_err(|e| bad(format!("class names: expected a JSON list of strings: {e}")))?;
            model.set_class_names(names);
        }
        if let Some(c) = meta.get(HF_CONFIG_KEY) {
            model.set_hf_config(c.clone());
        }
        if let Some(d) = meta.get(DATA_RECIPE_KEY) {
            model.set_data_recipe(d.clone());
        }
        let extra = st
            .tensors()
            .into_iter()
            .filter(|(n, v)| !used.contains(n) && v.dtype() == Dtype::F32)
            .map(|(n, v)| (n, v.shape().to_vec(), floats(v.data())))
            .collect();
        Ok((model, meta, extra))
    }

    /// The int8 weights (quantised layers) under their file names (`dense.kernel`).
    pub fn named_int8_params(&self) -> Vec<(String, &crate::layer::Int8Param)> {
        self.layers()
            .iter()
            .flat_map(|l| {
                l.int8_params()
                    .into_iter()
                    .map(move |p| (format!("{}.{}", l.name(), p.name), p))
            })
            .collect()
    }

    fn int8_params_mut_named(&mut self) -> Vec<(String, &mut crate::layer::Int8Param)> {
        self.layers_mut()
            .iter_mut()
            .flat_map(|l| {
                let lname = l.name().to_string();
                l.int8_params_mut()
                    .into_iter()
                    .map(move |p| (format!("{lname}.{}", p.name), p))
            })
            .collect()
    }

    /// Every weight, mutable, under its file name, in `named_params` order.
    pub(crate) fn params_mut_named(&mut self) -> Vec<(String, &mut crate::layer::Param)> {
        self.layers_mut()
            .iter_mut()
            .flat_map(|l| {
                let lname = l.name().to_string();
                l.params_mut()
                    .into_iter()
                    .map(move |p| (format!("{lname}.{}", p.name), p))
            })
            .collect()
    }
}

/// Little-endian f32 bytes to values.
fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A value's JSON (configs and names: plain data, so this cannot fail).
fn json(v: &dyn erased::Json) -> String {
    v.to_json()
}

mod erased {
    /// Serialises configs to JSON (they contain only plain data, so this cannot fail).
    pub trait Json {
        fn to_json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> String {
            serde_json::to_string(self).expect("configs are plain data")
        }
    }
}
