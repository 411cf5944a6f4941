//! `nabla embed MODEL_DIR`: sentence vectors of texts with a Hugging Face sentence-transformers
//! folder (all-MiniLM-L6-v2 and the like), with the library's semantics: its tokenizer, its
//! `max_seq_length`, its pooling and normalisation.

use anyhow::{bail, Context, Result};
use nabla::hub::SentenceEncoder;
use std::path::{Path, PathBuf};

/// What to embed and where the vectors go.
pub struct EmbedArgs {
    /// The model folder.
    pub model: PathBuf,
    /// Texts given on the command line.
    pub texts: Vec<String>,
    /// A file with one text per line.
    pub file: Option<PathBuf>,
    /// `.csv` or `.npy`; none: CSV rows on standard output.
    pub out: Option<PathBuf>,
    /// Texts per forward pass.
    pub batch: usize,
}

pub fn run(a: EmbedArgs) -> Result<()> {
    let mut texts = a.texts;
    if let Some(f) = &a.file {
        let body = std::fs::read_to_string(f)
            .with_context(|| format!("{}: cannot read as UTF-8 text", f.display()))?;
        texts.extend(
            body.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string),
        );
    }
    if texts.is_empty() {
        bail!("embed: expected texts (--text \"...\" or a file with one text per line), received none");
    }
    check_folder(&a.model)?;
    let enc = SentenceEncoder::load(&a.model)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = enc.embed(&refs, a.batch)?;
    match &a.out {
        None => print!("{}", csv(&vectors)),
        Some(p) => {
            let bytes = match p.extension().and_then(|e| e.to_str()) {
                Some("csv") => csv(&vectors).into_bytes(),
                Some("npy") => npy(&vectors),
                _ => bail!("--out {}: expected a .csv or .npy file name", p.display()),
            };
            nabla::nn::saving::write_atomic(p, &bytes)
                .with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!(
                "{} vectors of {} to {}",
                vectors.len(),
                vectors[0].len(),
                p.display()
            );
        }
    }
    Ok(())
}

/// One row per text, values in full precision.
fn csv(vectors: &[Vec<f32>]) -> String {
    let mut s = String::new();
    for v in vectors {
        let row: Vec<String> = v.iter().map(f32::to_string).collect();
        s += &row.join(",");
        s.push('\n');
    }
    s
}

/// NumPy's `.npy` format 1.0: a float32 `[texts, dim]` array (`np.load` reads it).
fn npy(vectors: &[Vec<f32>]) -> Vec<u8> {
    let (n, d) = (vectors.len(), vectors.first().map_or(0, Vec::len));
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, {d}), }}");
    // magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((header.len() as u16).to_le_bytes());
    b.extend(header.as_bytes());
    for v in vectors {
        b.extend(v.iter().flat_map(|x| x.to_le_bytes()));
    }
    b
}

/// Whether `dir` looks like a model folder (for a clearer error than a missing file).
fn check_folder(dir: &Path) -> Result<()> {
    if !dir.join("config.json").exists() {
        bail!(
            "{}: expected a Hugging Face model folder (config.json, model.safetensors, tokenizer.json)",
            dir.display()
        );
    }
    Ok(())
}
