//! `nabla train SPEC`: build, compile, fit (checkpointing every epoch), evaluate on the test
//! split, save. `--resume` continues from DIR/checkpoint.safetensors exactly. Under
//! `mpirun -np N` (a build with the `mpi` feature) the N processes train data-parallel and
//! rank 0 alone prints and writes.

use anyhow::{Context, Result};
use nabla::nn::saving::write_atomic;
use nabla::prelude::*;
use std::path::{Path, PathBuf};

/// Options of `nabla train`.
pub struct TrainArgs {
    pub spec: PathBuf,
    pub out: Option<PathBuf>,
    pub epochs: Option<usize>,
    pub seed: Option<u64>,
    pub quiet: bool,
    pub resume: bool,
}

pub fn run(a: TrainArgs) -> Result<()> {
    let world = nabla::dist::world()?;
    let lead = world.as_ref().is_none_or(|w| w.rank() == 0);
    let quiet = a.quiet || !lead;
    let mut spec = Spec::from_file(&a.spec)?;
    if let Some(e) = a.epochs {
        anyhow::ensure!(e > 0, "--epochs: expected a positive integer, received 0");
        spec.train.epochs = e;
    }
    if let Some(s) = a.seed {
        spec.train.seed = s;
    }
    let out = a.out.clone().unwrap_or_else(|| default_out(&a.spec));
    let checkpoint = out.join("checkpoint.safetensors");
    let (mut model, resumed) = if a.resume {
        anyhow::ensure!(
            checkpoint.exists(),
            "--resume: no checkpoint at {} (train without --resume first)",
            checkpoint.display()
        );
        let (mut model, r) = nabla::train::resume(&checkpoint)?;
        check_belongs(&model, &spec, &checkpoint)?;
        spec.add_hooks(&mut model)?;
        anyhow::ensure!(
            r.stopped || r.epoch <= spec.train.epochs,
            "--resume: the checkpoint has {} epochs done, the spec asks for {} (raise --epochs)",
            r.epoch,
            spec.train.epochs
        );
        (model, Some(r))
    } else {
        let mut model = spec.build_model(spec.train.seed)?;
        if let Some(w) = &spec.train.load_weights {
            let report = model.load_weights(w)?;
            if !quiet {
                print!("load_weights {}: {report}", w.display());
            }
        }
        (model, None)
    };
    let (train, test, classes) = spec.load_data_and_classes(&model)?;
    if let Some(c) = classes {
        model.set_class_names(c); // saved in the model file, printed by `nabla predict`
    }
    if let Some(r) = crate::csv_input::recipe(&spec)? {
        model.set_data_recipe(r); // `nabla predict MODEL new.csv` reads it the same way
    }
    if let Some(t) = &spec.data.text {
        // the vocabulary goes inside the model file, to turn token ids back into text
        let (_, _, tok) = t.ids()?;
        model.set_tokenizer(serde_json::to_string(&tok)?);
    }
    if lead {
        std::fs::create_dir_all(&out)
            .with_context(|| format!("cannot create output folder {}", out.display()))?;
        remove_stale_temps(&out);
    }
    if !quiet && resumed.is_none() {
        print!("{}", model.summary());
    }
    let mut fit = spec
        .fit_options()
        .verbose(if quiet { 0 } else { 1 })
        .checkpoint(&checkpoint);
    if let Some(w) = &world {
        fit = fit.distributed(w.clone());
    }
    for c in &spec.train.callbacks {
        fit = fit.callback_boxed(c.build(&out)?);
    }
    if let Some(r) = resumed {
        // a run killed after its last epoch (while writing its final files) is finished:
        // no epoch to train, the files written again
        let finished = r.stopped || r.epoch >= spec.train.epochs;
        if !quiet {
            match finished {
                true => println!(
                    "training finished after epoch {} ({}): writing the final files",
                    r.epoch,
                    checkpoint.display()
                ),
                false => println!(
                    "resuming after epoch {} from {}",
                    r.epoch,
                    checkpoint.display()
                ),
            }
        }
        if finished {
            fit.epochs = r.epoch;
        }
        fit = fit.resume(r);
    }
    let history = model.fit(&train, fit)?;
    if !lead {
        return Ok(()); // rank 0 holds the same weights and writes the results
    }
    if let Some(test) = &test {
        let scores = model.evaluate(test)?;
        println!("test: {}", scores.line());
    }
    let write = |name: &str, bytes: &[u8]| -> Result<()> {
        let p = out.join(name);
        write_atomic(&p, bytes).with_context(|| format!("cannot write {}", p.display()))
    };
    match &spec.prune {
        // structured: the zeroed units and filters removed; unstructured: the sparse form
        Some(p) if p.structure == nabla::nn::PruneStructure::Channels => {
            strip(model).save(out.join("model.safetensors"))?
        }
        Some(_) => model.save_sparse(out.join("model.safetensors"))?,
        None => model.save(out.join("model.safetensors"))?,
    }
    write("history.csv", history.to_csv().as_bytes())?;
    write("spec.toml", spec.to_toml().as_bytes())?;
    history.plot(out.join("curves.png"))?;
    println!("saved {}", out.join("model.safetensors").display());
    Ok(())
}

/// `model` without its pruned units and filters, each layer's change printed; if they cannot
/// be removed, `model` as it is (its pruned units zero), with the reason, so the trained
/// weights are never lost.
pub fn strip(model: Model) -> Model {
    match model.strip_pruned() {
        Ok((small, removed)) => {
            for r in removed {
                println!("{}: {} -> {} units", r.layer, r.before, r.after);
            }
            small
        }
        Err(e) => {
            println!("the pruned units stay, as zeros: {e}");
            model
        }
    }
}

fn default_out(spec: &Path) -> PathBuf {
    let stem = spec
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    PathBuf::from("runs").join(stem)
}

/// Removes the temporary files of atomic writes that a killed run left in `dir`
/// (`.NAME.PID.tmp` of a process that no longer runs).
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let pid = nabla::nn::saving::temp_pid(&e.file_name().to_string_lossy());
        if pid.is_some_and(|p| p != std::process::id() && !alive(p)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Whether process `pid` runs (signal 0 checks without sending anything).
#[cfg(unix)]
fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 sends nothing; it only reports whether the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Elsewhere nabla cannot tell, and keeps the file.
#[cfg(not(unix))]
fn alive(_: u32) -> bool {
    true
}

/// Whether the checkpoint was written by a run of this spec: the same architecture (for a
/// spec that builds its model from layers) and the same loss; the error names the first
/// field that differs.
fn check_belongs(model: &Model, spec: &Spec, checkpoint: &Path) -> Result<()> {
    let differs = |what: &str, saved: serde_json::Value, asked: serde_json::Value| {
        let (path, s, a) = first_difference(&saved, &asked, what.to_string())?;
        Some(anyhow::anyhow!(
            "--resume: the checkpoint {} was written for another spec: {path} is {s} there, the spec says {a}",
            checkpoint.display()
        ))
    };
    if spec.model.pretrained.is_none() {
        let built = spec.model.build(spec.train.seed)?.config();
        if let Some(e) = differs(
            "model",
            serde_json::to_value(model.config())?,
            serde_json::to_value(built)?,
        ) {
            return Err(e);
        }
    }
    let saved = model.compile_config().map(|c| c.loss);
    let loss = serde_json::to_value(&spec.compile_config().loss)?;
    match differs("train.loss", serde_json::to_value(saved)?, loss) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The first place where `a` and `b` differ, as `(path, a's value, b's value)`.
fn first_difference(
    a: &serde_json::Value,
    b: &serde_json::Value,
    path: String,
) -> Option<(String, serde_json::Value, serde_json::Value)> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let (u, v) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                first_difference(u, v, format!("{path}.{k}"))
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| first_difference(u, v, format!("{path}[{i}]"))),
        _ => (a != b).then(|| (path, a.clone(), b.clone())),
    }
}
