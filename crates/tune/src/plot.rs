//! `tune.png`: the objective of each trial with the best-so-far line, then the objective
//! against each parameter (a choice by its position in the list), one panel each.

use crate::error::{Error, Result};
use crate::space::{Dist, Space};
use crate::tuner::{Direction, Trial};
use plotters::prelude::*;
use std::path::Path;
use toml::Value;

/// A parameter's value on a panel's x axis.
fn x_of(d: &Dist, v: &Value) -> f64 {
    match (d, v) {
        (Dist::Choice(vals), v) => vals.iter().position(|c| c == v).unwrap_or(0) as f64,
        (Dist::LogUniform(..), Value::Float(f)) => f.log10(),
        (_, Value::Float(f)) => *f,
        (_, Value::Integer(i)) => *i as f64,
        _ => 0.0,
    }
}

/// Draws the search so far into a PNG at `path` (atomically).
pub fn plot_search(
    space: &Space,
    direction: Direction,
    trials: &[Trial],
    objective: &str,
    path: &Path,
) -> Result<()> {
    let ok: Vec<(&Trial, f64)> = trials
        .iter()
        .filter_map(|t| t.objective().map(|v| (t, v)))
        .collect();
    if ok.is_empty() {
        return Ok(()); // nothing to draw yet
    }
    let panels = 1 + space.params.len();
    let cols = 2usize.min(panels);
    let rows = panels.div_ceil(cols);
    let (lo, hi) = ok.iter().fold((f64::MAX, f64::MIN), |(a, b), (_, v)| {
        (a.min(*v), b.max(*v))
    });
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1e-3) * 0.1
    };
    let y = (lo - pad)..(hi + pad);
    let size = (520 * cols as u32, 340 * rows as u32);
    nabla_train::curves::write_png(path, size, "tune.png", |root| {
        let err = |e: &dyn std::fmt::Display| {
            nabla_train::Error::Input(format!("tune.png: cannot draw: {e}"))
        };
        let areas = root.split_evenly((rows, cols));
        // the trials in order, and the best so far
        let n = trials.len().max(2) as f64;
        let mut chart = ChartBuilder::on(&areas[0])
            .caption(format!("{objective} per trial"), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .build_cartesian_2d(0.5..n + 0.5, y.clone())
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("trial")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(|e| err(&e))?;
        let blue = Palette99::pick(0).to_rgba();
        chart
            .draw_series(
                ok.iter()
                    .map(|(t, v)| Circle::new(((t.number + 1) as f64, *v), 4, blue.filled())),
            )
            .map_err(|e| err(&e))?;
        let mut best = f64::NAN;
        let line: Vec<(f64, f64)> = ok
            .iter()
            .map(|(t, v)| {
                if best.is_nan() || direction.better(*v, best) {
                    best = *v;
                }
                ((t.number + 1) as f64, best)
            })
            .collect();
        let red = Palette99::pick(1).to_rgba();
        chart
            .draw_series(LineSeries::new(line, red.stroke_width(2)))
            .map_err(|e| err(&e))?;
        // the objective against each parameter
        for ((name, d), area) in space.params.iter().zip(&areas[1..]) {
            let xs: Vec<f64> = ok
                .iter()
                .map(|(t, _)| {
                    x_of(
                        d,
                        &t.params
                            .iter()
                            .find(|(n, _)| n == name)
                            .map(|(_, v)| v.clone())
                            .unwrap_or(Value::Integer(0)),
                    )
                })
                .collect();
            let (a, b) = match d {
                Dist::Uniform(a, b) => (*a, *b),
                Dist::LogUniform(a, b) => (a.log10(), b.log10()),
                Dist::Int { lo, hi, .. } => (*lo as f64, *hi as f64),
                Dist::Choice(v) => (0.0, v.len().saturating_sub(1) as f64),
            };
            let xpad = ((b - a) * 0.05)
                .max(0.5 * f64::from(matches!(d, Dist::Choice(_) | Dist::Int { .. })));
            let mut chart = ChartBuilder::on(area)
                .caption(
                    match d {
                        Dist::LogUniform(..) => format!("{name} (log10)"),
                        _ => name.clone(),
                    },
                    ("sans-serif", 18),
                )
                .margin(12)
                .x_label_area_size(32)
                .y_label_area_size(56)
                .build_cartesian_2d((a - xpad)..(b + xpad), y.clone())
                .map_err(|e| err(&e))?;
            // a choice's axis shows its values at their positions
            let label = |x: &f64| match d {
                Dist::Choice(v) if (x - x.round()).abs() < 1e-9 && x.round() >= 0.0 => v
                    .get(x.round() as usize)
                    .map(crate::trials_csv::show)
                    .unwrap_or_default(),
                Dist::Choice(_) => String::new(),
                _ => format!("{x:.3}"),
            };
            chart
                .configure_mesh()
                .x_label_formatter(&label)
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|e| err(&e))?;
            chart
                .draw_series(
                    xs.iter()
                        .zip(&ok)
                        .map(|(x, (_, v))| Circle::new((*x, *v), 4, blue.filled())),
                )
                .map_err(|e| err(&e))?;
        }
        Ok(())
    })
    .map_err(Error::Train)
}
