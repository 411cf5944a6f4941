//! `plot_model`: the model graph as a PNG (Keras's `plot_model`): a box per input and per
//! layer call with its name, type and output shape, an arrow from each thing a layer takes.
//! Rows by depth (the longest path from an input), so a residual block shows its skip.

use crate::curves::write_png;
use crate::error::{Error, Result};
use nabla_nn::graph::Source;
use nabla_nn::Model;
use plotters::prelude::*;
use std::path::Path;

const BOX_W: i32 = 300;
const BOX_H: i32 = 46;
const GAP_X: i32 = 40;
const GAP_Y: i32 = 34;

/// `(None, 32, 28, 28)`
fn dims(shape: &[usize]) -> String {
    let d: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("(None, {})", d.join(", "))
}

/// Draws `model`'s graph into a PNG at `path` (written atomically).
pub fn plot_model(model: &Model, path: &Path) -> Result<()> {
    let g = model.graph();
    // boxes: the inputs, then every node; depth = 1 + deepest of what it takes
    let k = g.inputs.len();
    let at = |s: Source| match s {
        Source::Input(i) => i,
        Source::Node(j) => k + j,
    };
    let mut depth = vec![0usize; k + g.nodes.len()];
    let mut changed = true;
    while changed {
        // nodes are few; relaxing until nothing changes handles any order they were given in
        changed = false;
        for (j, n) in g.nodes.iter().enumerate() {
            let d = 1 + n.inputs.iter().map(|&s| depth[at(s)]).max().unwrap_or(0);
            if depth[k + j] != d && d <= depth.len() {
                depth[k + j] = d;
                changed = true;
            }
        }
    }
    let rows = depth.iter().max().copied().unwrap_or(0) + 1;
    let mut column = vec![0i32; depth.len()];
    let mut per_row = vec![0i32; rows];
    for (b, &d) in depth.iter().enumerate() {
        column[b] = per_row[d];
        per_row[d] += 1;
    }
    let widest = per_row.iter().copied().max().unwrap_or(1);
    let width = widest * (BOX_W + GAP_X) + GAP_X + 60; // room on the right for long edges
    let height = rows as i32 * (BOX_H + GAP_Y) + GAP_Y;
    if width > 20_000 || height > 20_000 {
        return Err(Error::Input(format!(
            "plot_model: a picture of {width}x{height} pixels is too large (at most 20000 a side)"
        )));
    }
    // each row centred
    let corner = |b: usize| {
        let row_w = per_row[depth[b]] * (BOX_W + GAP_X) - GAP_X;
        let x0 = (width - 60 - row_w) / 2 + column[b] * (BOX_W + GAP_X);
        (x0, GAP_Y + depth[b] as i32 * (BOX_H + GAP_Y))
    };
    let labels: Vec<(String, String)> = g
        .inputs
        .iter()
        .map(|i| (format!("{} (input)", i.name), dims(&i.shape)))
        .chain(g.nodes.iter().map(|n| {
            let l = &g.layers[n.layer];
            let kind = if n.name == l.name() {
                l.config().type_name().to_string()
            } else {
                format!("shared {}", l.name())
            };
            (format!("{} ({kind})", n.name), dims(&n.shape))
        }))
        .collect();
    write_png(path, (width as u32, height as u32), "plot_model", |root| {
        let err = |e: &dyn std::fmt::Display| Error::Input(format!("plot_model: cannot draw: {e}"));
        let ink = RGBColor(60, 60, 60);
        for (j, n) in g.nodes.iter().enumerate() {
            let (tx, ty) = corner(k + j);
            for &s in &n.inputs {
                let (sx, sy) = corner(at(s));
                let tail = (sx + BOX_W / 2, sy + BOX_H);
                let skips = depth[k + j] > depth[at(s)] + 1;
                // an edge over more than one row goes round the right of the rows it passes
                let path = if skips {
                    let head = (tx + 3 * BOX_W / 4, ty);
                    let right = (0..depth.len())
                        .filter(|&b| depth[b] >= depth[at(s)] && depth[b] <= depth[k + j])
                        .map(|b| corner(b).0 + BOX_W)
                        .max()
                        .unwrap_or(tx + BOX_W)
                        + 14;
                    let (below, above) = (tail.1 + GAP_Y / 2, ty - GAP_Y / 2);
                    vec![
                        tail,
                        (tail.0, below),
                        (right, below),
                        (right, above),
                        (head.0, above),
                        head,
                    ]
                } else {
                    vec![tail, (tx + BOX_W / 2, ty)]
                };
                let head = *path.last().expect("a path has an end");
                root.draw(&PathElement::new(path, ink.stroke_width(2)))
                    .map_err(|e| err(&e))?;
                let barbs = [(head.0 - 6, head.1 - 9), head, (head.0 + 6, head.1 - 9)];
                root.draw(&PathElement::new(barbs.to_vec(), ink.stroke_width(2)))
                    .map_err(|e| err(&e))?;
            }
        }
        for (b, (title, shape)) in labels.iter().enumerate() {
            let (x, y) = corner(b);
            let fill = if b < k {
                RGBColor(255, 243, 214)
            } else {
                RGBColor(226, 238, 252)
            };
            root.draw(&Rectangle::new(
                [(x, y), (x + BOX_W, y + BOX_H)],
                fill.filled(),
            ))
            .map_err(|e| err(&e))?;
            root.draw(&Rectangle::new(
                [(x, y), (x + BOX_W, y + BOX_H)],
                ink.stroke_width(1),
            ))
            .map_err(|e| err(&e))?;
            let font = ("sans-serif", 15).into_font().color(&BLACK);
            root.draw_text(title, &font, (x + 8, y + 6))
                .map_err(|e| err(&e))?;
            let small = ("sans-serif", 13).into_font().color(&ink);
            root.draw_text(shape, &small, (x + 8, y + 26))
                .map_err(|e| err(&e))?;
        }
        Ok(())
    })
}
