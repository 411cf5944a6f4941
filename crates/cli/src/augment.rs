//! `nabla augment SPEC --out grid.png`: what the spec's `[data] augment` settings do, as a
//! PNG grid: the first `samples` training images in the top row, then `rows` rows of the
//! same images augmented (each row a fresh draw). Multi-channel images show their mean.

use anyhow::{Context, Result};
use nabla::data::image_file::write_gray_png;
use nabla::data::Pipeline;
use nabla::prelude::*;
use std::path::Path;

/// Gap between tiles, in pixels.
const GAP: usize = 2;

pub fn run(
    spec_path: &Path,
    out: &Path,
    samples: usize,
    rows: usize,
    seed: Option<u64>,
) -> Result<()> {
    anyhow::ensure!(
        samples > 0,
        "--samples: expected a positive integer, received 0"
    );
    let spec = Spec::from_file(spec_path)?;
    let cfg = spec.data.augment.clone().with_context(|| {
        format!(
            "{}: expected a [data] augment table (e.g. augment = {{ rotation_range = 15 }}), found none",
            spec_path.display()
        )
    })?;
    let pipeline = cfg.pipeline()?;
    let model = spec.build_model(spec.train.seed)?;
    let (train, _) = spec.load_data(&model)?;
    let n = samples.min(train.len());
    let idx: Vec<usize> = (0..n).collect();
    let (x, _) = train.batch(&idx);
    let [c, h, w] = Pipeline::image_shape(&x.shape()[1..])?;
    let mut rng = Rng::new(seed.unwrap_or(spec.train.seed));
    let mut grid_rows = vec![x.clone()];
    for _ in 0..rows {
        grid_rows.push(pipeline.apply_batch(&x, &mut rng)?);
    }
    // tiles: the channel mean of each image, rescaled to [0, 1] by the originals' range
    let (lo, hi) = x
        .data()
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let (gh, gw) = (grid_rows.len() * (h + GAP) - GAP, n * (w + GAP) - GAP);
    let mut pixels = vec![0.5f32; gh * gw];
    for (r, batch) in grid_rows.iter().enumerate() {
        for (i, img) in batch.data().chunks(c * h * w).enumerate() {
            for y in 0..h {
                for xx in 0..w {
                    let v: f32 =
                        (0..c).map(|ch| img[(ch * h + y) * w + xx]).sum::<f32>() / c as f32;
                    pixels[(r * (h + GAP) + y) * gw + i * (w + GAP) + xx] = (v - lo) / span;
                }
            }
        }
    }
    write_gray_png(out, &pixels, gh, gw)?;
    println!(
        "wrote {} ({} originals in the top row, {rows} augmented rows: {})",
        out.display(),
        n,
        pipeline.names().join(", ")
    );
    Ok(())
}
