//! `trials.csv`: one row per finished trial, written again after each, read back by
//! `--resume`.
//!
//! ```text
//! trial,config,status,objective,epochs,seconds,<parameter>...,reason
//! 1,1,done,0.9712,2,4.105,0.00123,128,
//! 2,2,failed,,0,0.012,0.5,0,"layer 'dense_1': units: expected a positive integer, received 0"
//! ```
//! Parameter values are written as TOML values (`0.00123`, `128`, `"relu"`) and objectives
//! with Rust's shortest round-trip form, so a resumed search reads back exactly the numbers
//! it wrote.

use crate::error::{Error, Result};
use crate::space::Space;
use crate::tuner::{Outcome, Trial};
use std::path::Path;
use toml::Value;

const FIXED: [&str; 6] = [
    "trial",
    "config",
    "status",
    "objective",
    "epochs",
    "seconds",
];

/// The file's text for `trials`.
pub fn to_csv(space: &Space, trials: &[Trial]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = FIXED.to_vec();
    header.extend(space.params.iter().map(|(n, _)| n.as_str()));
    header.push("reason");
    w.write_record(&header).expect("writing to memory");
    for t in trials {
        let (status, objective, reason) = match &t.outcome {
            Outcome::Done(v) => ("done", v.to_string(), String::new()),
            Outcome::Failed(why) => ("failed", String::new(), why.clone()),
        };
        let mut row = vec![
            (t.number + 1).to_string(),
            (t.config + 1).to_string(),
            status.to_string(),
            objective,
            t.epochs.to_string(),
            format!("{:.3}", t.seconds),
        ];
        row.extend(t.params.iter().map(|(_, v)| v.to_string()));
        row.push(reason);
        w.write_record(&row).expect("writing to memory");
    }
    String::from_utf8(w.into_inner().expect("flushing to memory")).expect("CSV of UTF-8 text")
}

/// The trials in `path`, checked against `space` (the same parameters in the same order).
pub fn read(path: &Path, space: &Space) -> Result<Vec<Trial>> {
    let bad = |line: usize, what: String| {
        Error::Config(format!("{}, line {line}: {what}", path.display()))
    };
    let mut r = csv::Reader::from_path(path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    let header: Vec<String> = r
        .headers()
        .map_err(|e| bad(1, e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut expected: Vec<String> = FIXED.iter().map(|s| s.to_string()).collect();
    expected.extend(space.params.iter().map(|(n, _)| n.clone()));
    expected.push("reason".into());
    if header != expected {
        return Err(bad(
            1,
            format!(
                "expected the columns {} (the search of this spec), received {}",
                expected.join(","),
                header.join(",")
            ),
        ));
    }
    let mut trials = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| bad(line, e.to_string()))?;
        let field = |k: usize| rec.get(k).unwrap_or("");
        let num = |k: usize, what: &str| -> Result<f64> {
            field(k).parse::<f64>().map_err(|_| {
                bad(
                    line,
                    format!("{what}: expected a number, received \"{}\"", field(k)),
                )
            })
        };
        let number = num(0, "trial")? as usize;
        if number != trials.len() + 1 {
            return Err(bad(
                line,
                format!("trial: expected {}, received {number}", trials.len() + 1),
            ));
        }
        let config = num(1, "config")? as usize;
        if config == 0 || config > number {
            return Err(bad(
                line,
                format!("config: expected 1 to {number}, received {config}"),
            ));
        }
        let outcome = match field(2) {
            "done" => Outcome::Done(num(3, "objective")?),
            "failed" => Outcome::Failed(field(6 + space.params.len()).to_string()),
            s => {
                return Err(bad(
                    line,
                    format!("status: expected done or failed, received \"{s}\""),
                ))
            }
        };
        let mut params = Vec::new();
        for (j, (name, _)) in space.params.iter().enumerate() {
            let text = field(6 + j);
            let v: toml::Table = toml::from_str(&format!("v = {text}")).map_err(|_| {
                bad(
                    line,
                    format!("{name}: expected a TOML value, received \"{text}\""),
                )
            })?;
            params.push((name.clone(), v["v"].clone()));
        }
        trials.push(Trial {
            number: number - 1,
            config: config - 1,
            params,
            outcome,
            epochs: num(4, "epochs")? as usize,
            seconds: num(5, "seconds")?,
        });
    }
    Ok(trials)
}

/// Shown in the trial lines: `0.001235`, `128`, `relu` (4 significant digits).
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Float(f) if *f != 0.0 && (f.abs() < 1e-3 || f.abs() >= 1e5) => format!("{f:.3e}"),
        Value::Float(f) => {
            let digits = (3 - f.abs().log10().floor() as i32).max(0) as usize;
            let s = format!("{f:.digits$}");
            match s.contains('.') {
                true => s.trim_end_matches('0').trim_end_matches('.').to_string(),
                false => s,
            }
        }
        other => other.to_string(),
    }
}
