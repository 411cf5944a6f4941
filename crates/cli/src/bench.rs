//! `nabla bench W1|W2|W3|W4` (W4 in `bench_gpt.rs`): the benchmark workloads of shared/bench/WORKLOADS.md, one JSON line each.
//!
//! Timing matches the PyTorch reference script: the training clock covers the epochs only
//! (shuffling and batch gathering inside it); inference is timed afterwards in batches of
//! 1000 over the test split, after one warm-up pass, for at least 1 s and 3 passes.

use anyhow::{bail, Result};
use nabla::prelude::*;
use serde::Serialize;
use std::time::Instant;

pub fn run(workload: &str, epochs: Option<usize>) -> Result<()> {
    let w = workload.to_ascii_uppercase();
    if w == "W4" {
        return super::bench_gpt::run(epochs);
    }
    let (train, test) = nabla::datasets::mnist()?;
    let (model, train, test, batch, spec_epochs) = match w.as_str() {
        "W1" => (w1_model()?, train, test, 32, 5),
        "W2" => {
            // categorical cross-entropy on one-hot targets, images as [1, 28, 28]
            let prep =
                |d: Dataset| -> Result<Dataset> { Ok(d.with_x_shape(&[1, 28, 28])?.one_hot(10)?) };
            (w2_model()?, prep(train)?, prep(test)?, 128, 3)
        }
        // image rows as 28 time steps of 28 features
        "W3" => (w3_model()?, train, test, 64, 1),
        other => bail!("unknown workload '{other}': expected one of W1, W2, W3, W4, W5, W6"),
    };
    measure(
        &w,
        model,
        &train,
        &test,
        batch,
        epochs.unwrap_or(spec_epochs),
        spec_epochs,
    )
}

/// W1: Flatten → Dense(128, relu) → Dropout(0.2) → Dense(10, softmax); Adam, sparse CE.
pub(crate) fn w1_model() -> Result<Model> {
    let mut model = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(128).activation(Activation::Relu))
        .add(Dropout::new(0.2))
        .add(Dense::new(10).activation(Activation::Softmax))
        .build(42)?;
    model.compile(
        Adam::new(1e-3),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    Ok(model)
}

/// W2: the seed CNN; Adam, categorical CE.
pub(crate) fn w2_model() -> Result<Model> {
    let relu = Activation::Relu;
    let mut model = Sequential::new([1, 28, 28])
        .add(Conv2d::new(32, 3).activation(relu))
        .add(Pool2d::max(2))
        .add(Conv2d::new(64, 3).activation(relu))
        .add(Pool2d::max(2))
        .add(Conv2d::new(64, 3).activation(relu))
        .add(Flatten::new())
        .add(Dense::new(64).activation(relu))
        .add(Dense::new(10).activation(Activation::Softmax))
        .build(42)?;
    model.compile(
        Adam::new(1e-3),
        Loss::CategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    Ok(model)
}

/// W3: LSTM(256, 2 layers) over the 28 rows → last step → Dense(10); Adam, sparse CE.
pub(crate) fn w3_model() -> Result<Model> {
    let mut model = Sequential::new([28, 28])
        .add(Lstm::new(256).num_layers(2))
        .add(Dense::new(10).activation(Activation::Softmax))
        .build(42)?;
    model.compile(
        Adam::new(1e-3),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    Ok(model)
}

fn measure(
    w: &str,
    mut model: Model,
    train: &Dataset,
    test: &Dataset,
    batch: usize,
    epochs: usize,
    spec_epochs: usize,
) -> Result<()> {
    let t0 = Instant::now();
    let history = model.fit(
        train,
        Fit::new().epochs(epochs).batch_size(batch).verbose(0),
    )?;
    let train_s = t0.elapsed().as_secs_f64();
    let test_acc = model.evaluate(test)?.get("accuracy").unwrap_or(f64::NAN);
    let infer = infer_throughput(&model, test)?;
    let steps = epochs * train.len().div_ceil(batch);
    let params: usize = model
        .named_params()
        .iter()
        .map(|(_, p)| p.value.numel())
        .sum();
    let rec = Record {
        framework: "nabla",
        workload: ["W1", "W2", "W3"]
            .into_iter()
            .find(|&k| k == w)
            .unwrap_or("?"),
        train_samples_per_s: (epochs * train.len()) as f64 / train_s,
        infer_samples_per_s: infer,
        test_acc,
        epochs,
        wall_s: train_s,
        version: env!("CARGO_PKG_VERSION"),
        threads: nabla::core::backend::num_threads(),
        cpu_path: nabla::core::backend::Isa::get().name(),
        batch,
        steps,
        train_loss_per_epoch: history
            .get("loss")
            .iter()
            .map(|l| (l * 1e5).round() / 1e5)
            .collect(),
        params,
        full_spec: epochs == spec_epochs,
    };
    println!("{}", serde_json::to_string(&rec)?);
    Ok(())
}

/// One benchmark result; fields print in this order (WORKLOADS.md's first, then extras the
/// PyTorch reference script also reports).
#[derive(Serialize)]
struct Record {
    framework: &'static str,
    workload: &'static str,
    train_samples_per_s: f64,
    infer_samples_per_s: f64,
    test_acc: f64,
    epochs: usize,
    wall_s: f64,
    version: &'static str,
    threads: usize,
    /// The kernels' instruction set (`NABLA_CPU`): avx512, avx2 or generic.
    cpu_path: &'static str,
    batch: usize,
    steps: usize,
    train_loss_per_epoch: Vec<f64>,
    params: usize,
    full_spec: bool,
}

/// Samples/s of eval-mode forward passes in batches of 1000 over `data`.
pub(crate) fn infer_throughput(model: &Model, data: &Dataset) -> Result<f64> {
    let batches: Vec<Tensor> = (0..data.len())
        .step_by(1000)
        .map(|s| {
            let idx: Vec<usize> = (s..(s + 1000).min(data.len())).collect();
            data.batch(&idx).0
        })
        .collect();
    let pass = || -> Result<()> {
        for b in &batches {
            model.predict(b)?;
        }
        Ok(())
    };
    pass()?; // warm-up
    let (mut reps, t0) = (0usize, Instant::now());
    loop {
        pass()?;
        reps += 1;
        let dt = t0.elapsed().as_secs_f64();
        if reps >= 3 && dt >= 1.0 {
            return Ok((reps * data.len()) as f64 / dt);
        }
    }
}
