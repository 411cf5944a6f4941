//! `nabla tune SPEC`: the hyper-parameter search of the spec's `[tune]` table, a line per
//! trial as it ends; `DIR/trials.csv`, `best.toml`, `best_model.safetensors`, `tune.png`.

use anyhow::{Context, Result};
use nabla::tune::spec_search::describe;
use nabla::tune::{Outcome, SpecSearch};
use std::path::{Path, PathBuf};

pub fn run(spec: &Path, out: Option<PathBuf>, resume: bool) -> Result<()> {
    let text = std::fs::read_to_string(spec)
        .with_context(|| format!("spec {}: cannot read", spec.display()))?;
    let mut search =
        SpecSearch::from_toml(&text).with_context(|| format!("spec {}", spec.display()))?;
    let out = out.unwrap_or_else(|| {
        let stem = spec
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        PathBuf::from("runs").join(format!("{stem}_tune"))
    });
    let planned = search.tuner.planned();
    let objective = search.config.objective.clone();
    println!(
        "tune: {} search of {} trials over {} ({}), {} {}",
        search.config.algorithm,
        planned,
        search
            .tuner
            .space
            .params
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        out.display(),
        match search.tuner.direction {
            nabla::tune::Direction::Minimize => "minimising",
            nabla::tune::Direction::Maximize => "maximising",
        },
        objective
    );
    let best = search.run(&out, resume, |t, best| {
        let result = match &t.outcome {
            Outcome::Done(v) => format!("{objective} {v:.4}"),
            Outcome::Failed(why) => format!("failed: {why}"),
        };
        let best = best.map_or("-".into(), |b| {
            format!(
                "{:.4} (trial {})",
                b.objective().unwrap_or(f64::NAN),
                b.number + 1
            )
        });
        println!(
            "trial {}/{planned}  {}  {result}  {} epochs  {:.1} s  best {best}",
            t.number + 1,
            describe(&t.params),
            t.epochs,
            t.seconds
        );
    })?;
    match best {
        Some(b) => println!(
            "best: trial {} {objective} {:.4} ({}); {} trains it again, {} is its model",
            b.number + 1,
            b.objective().unwrap_or(f64::NAN),
            describe(&b.params),
            out.join("best.toml").display(),
            out.join("best_model.safetensors").display()
        ),
        None => println!(
            "no trial succeeded: {} lists why",
            out.join("trials.csv").display()
        ),
    }
    Ok(())
}
