//! `nabla bench W6`, run under `mpirun -np 2` (WORKLOADS.md): W2's CNN, data and optimiser,
//! trained data-parallel for 3 epochs with a global batch of 128; rank 0 prints the JSON line.
//! Started without a launcher it is the one-process baseline of the scaling efficiency.

use anyhow::Result;
use nabla::prelude::*;
use serde::Serialize;
use std::time::Instant;

/// W6's global batch and epochs.
const GLOBAL_BATCH: usize = 128;
const EPOCHS: usize = 3;

pub fn run(epochs: Option<usize>) -> Result<()> {
    let world = nabla::dist::world()?;
    let (ranks, rank) = world.as_ref().map_or((1, 0), |w| (w.size(), w.rank()));
    let (train, test) = nabla::datasets::mnist()?;
    let prep = |d: Dataset| -> Result<Dataset> { Ok(d.with_x_shape(&[1, 28, 28])?.one_hot(10)?) };
    let (train, test) = (prep(train)?, prep(test)?);
    let mut model = super::bench::w2_model()?;
    let epochs = epochs.unwrap_or(EPOCHS);
    let mut fit = Fit::new()
        .epochs(epochs)
        .batch_size(GLOBAL_BATCH)
        .verbose(0);
    // every process starts the clock together and stops it when the last one is done
    let barrier = || {
        if let Some(w) = &world {
            w.all_reduce_f64(&mut [0.0]);
        }
    };
    if let Some(w) = &world {
        fit = fit.distributed(w.clone());
    }
    barrier();
    let t0 = Instant::now();
    let history = model.fit(&train, fit)?;
    barrier();
    let wall_s = t0.elapsed().as_secs_f64();
    if rank != 0 {
        return Ok(());
    }
    let rec = Record {
        framework: "nabla",
        workload: "W6",
        ranks,
        threads_per_rank: nabla::core::backend::num_threads(),
        cpu_path: nabla::core::backend::Isa::get().name(),
        train_samples_per_s: (epochs * train.len()) as f64 / wall_s,
        test_acc: model.evaluate(&test)?.get("accuracy").unwrap_or(f64::NAN),
        epochs,
        global_batch: GLOBAL_BATCH,
        wall_s,
        version: env!("CARGO_PKG_VERSION"),
        train_loss_per_epoch: history.get("loss"),
        full_spec: epochs == EPOCHS,
    };
    println!("{}", serde_json::to_string(&rec)?);
    Ok(())
}

/// W6's JSON line: WORKLOADS.md's fields first, then those ddp_bench.py also reports.
#[derive(Serialize)]
struct Record {
    framework: &'static str,
    workload: &'static str,
    ranks: usize,
    threads_per_rank: usize,
    /// The kernels' instruction set (`NABLA_CPU`): avx512, avx2 or generic.
    cpu_path: &'static str,
    train_samples_per_s: f64,
    test_acc: f64,
    epochs: usize,
    global_batch: usize,
    wall_s: f64,
    version: &'static str,
    train_loss_per_epoch: Vec<f64>,
    full_spec: bool,
}
