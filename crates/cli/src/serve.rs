//! `nabla serve MODEL..`: saved models behind TensorFlow Serving's REST predict API
//! (nabla-serve), until SIGTERM or Ctrl-C.

use anyhow::{Context, Result};
use nabla::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub fn run(
    models: &[String],
    (host, port): (&str, u16),
    max_body: usize,
    (max_batch, batch_wait_ms): (usize, f64),
) -> Result<()> {
    anyhow::ensure!(
        batch_wait_ms.is_finite() && (0.0..=10_000.0).contains(&batch_wait_ms),
        "--batch-wait-ms: expected 0 to 10000 milliseconds, received {batch_wait_ms}"
    );
    let mut loaded = BTreeMap::new();
    for arg in models {
        let (name, path) = match arg.split_once('=') {
            Some((n, p)) => (n.to_string(), Path::new(p)),
            None => (default_name(Path::new(arg)), Path::new(arg.as_str())),
        };
        anyhow::ensure!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)),
            "model name '{name}': expected letters, digits, '_', '-' or '.' (NAME=PATH names it)"
        );
        let model = Model::load(path).with_context(|| format!("model '{name}'"))?;
        anyhow::ensure!(
            loaded.insert(name.clone(), model).is_none(),
            "two models named '{name}': name them with NAME=PATH"
        );
    }
    let names: Vec<String> = loaded.keys().cloned().collect();
    let options = nabla_serve::Options {
        max_body,
        max_batch,
        batch_wait: std::time::Duration::from_secs_f64(batch_wait_ms / 1e3),
        ..Default::default()
    };
    nabla_serve::run_blocking(&format!("{host}:{port}"), Arc::new(loaded), options, |addr| {
        for n in &names {
            println!("serving '{n}': POST http://{addr}/v1/models/{n}:predict");
        }
        println!("health: http://{addr}/health, metrics: http://{addr}/metrics (SIGTERM or Ctrl-C stops after the requests in flight)");
        if max_batch > 0 {
            println!("dynamic batching: up to {max_batch} instances a run, waiting up to {batch_wait_ms} ms");
        }
    })
    .with_context(|| format!("cannot serve on {host}:{port}"))?;
    println!("stopped");
    Ok(())
}

/// A model's default name: its file's stem, or its folder's name for `model.safetensors`.
fn default_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match (stem.as_str(), path.parent().and_then(Path::file_name)) {
        ("model", Some(dir)) => dir.to_string_lossy().into_owned(),
        _ => stem,
    }
}
