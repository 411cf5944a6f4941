//! Training curves as a PNG: one panel per quantity of the history (the loss, each metric,
//! the learning rate), training and validation drawn together, epochs on the x axis. Drawn
//! with `plotters` and an embedded font, so no system font or library is needed.

use crate::error::{Error, Result};
use crate::history::History;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // the embedded bytes are a valid TrueType font; failure here would be a build error
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// One line of a panel: its name and a value per epoch.
type Series = (String, Vec<f64>);

/// The panels: `(title, series)`, training first, then `val_`.
fn panels(history: &History) -> Vec<(String, Vec<Series>)> {
    let mut names: Vec<String> = Vec::new();
    for logs in &history.epochs {
        for (n, _) in &logs.0 {
            let base = n.strip_prefix("val_").unwrap_or(n).to_string();
            if !names.contains(&base) {
                names.push(base);
            }
        }
    }
    names
        .into_iter()
        .map(|base| {
            let mut series = vec![(base.clone(), history.get(&base))];
            let val = history.get(&format!("val_{base}"));
            if !val.is_empty() {
                series.push((format!("val_{base}"), val));
            }
            series.retain(|(_, v)| !v.is_empty());
            (base, series)
        })
        .collect()
}

/// Draws `history` into a PNG at `path` (written atomically).
pub fn plot_history(history: &History, path: &Path) -> Result<()> {
    let panels = panels(history);
    if panels.is_empty() {
        return Err(Error::Input("curves: the history is empty".into()));
    }
    let cols = 2usize.min(panels.len());
    let rows = panels.len().div_ceil(cols);
    let (w, h) = (520 * cols as u32, 340 * rows as u32);
    write_png(path, (w, h), "curves", |root| {
        let draw_err =
            |e: &dyn std::fmt::Display| Error::Input(format!("curves: cannot draw: {e}"));
        let areas = root.split_evenly((rows, cols));
        for ((title, series), area) in panels.iter().zip(areas) {
            let n = series
                .iter()
                .map(|(_, v)| v.len())
                .max()
                .unwrap_or(1)
                .max(2);
            let finite = series
                .iter()
                .flat_map(|(_, v)| v.iter().copied())
                .filter(|v| v.is_finite());
            let (lo, hi) = finite.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
            let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
            // a flat line (a constant learning rate) gets a range of ±10% around it
            let pad = if hi > lo {
                (hi - lo) * 0.05
            } else {
                (lo.abs() * 0.1).max(1e-6)
            };
            let small = (hi - lo).max(lo.abs()).max(hi.abs()) < 0.01;
            let mut chart = ChartBuilder::on(&area)
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(32)
                .y_label_area_size(56)
                .build_cartesian_2d(1f64..n as f64, (lo - pad)..(hi + pad))
                .map_err(|e| draw_err(&e))?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .x_labels(n.min(10))
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| {
                    if small {
                        format!("{y:.2e}")
                    } else {
                        format!("{y:.3}")
                    }
                })
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|e| draw_err(&e))?;
            for (i, (name, values)) in series.iter().enumerate() {
                let color = Palette99::pick(i).to_rgba();
                let points = values.iter().enumerate().map(|(e, &v)| ((e + 1) as f64, v));
                chart
                    .draw_series(LineSeries::new(points, color.stroke_width(2)))
                    .map_err(|e| draw_err(&e))?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(|e| draw_err(&e))?;
        }
        Ok(())
    })
}

/// Draws a `size` picture with `draw` (on a white background) into a PNG at `path`: to a
/// temporary file beside it, then renamed, so there is never half a picture. `what` names the
/// picture in errors.
pub fn write_png(
    path: &Path,
    size: (u32, u32),
    what: &str,
    draw: impl FnOnce(&DrawingArea<BitMapBackend, plotters::coord::Shift>) -> Result<()>,
) -> Result<()> {
    register_font();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp.png", std::process::id()));
    let drawn = (|| {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        let draw_err =
            |e: &dyn std::fmt::Display| Error::Input(format!("{what}: cannot draw: {e}"));
        root.fill(&WHITE).map_err(|e| draw_err(&e))?;
        draw(&root)?;
        root.present().map_err(|e| draw_err(&e))
    })();
    if let Err(e) = drawn {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::Input(format!("{what}: cannot write {}: {e}", path.display()))
    })
}
