//! `nabla bench W7`: the W1 MLP and the W3 LSTM trained as in W1 and W3, then quantised to
//! int8 (dynamic): inference samples/s, test accuracy and saved size of both, one JSON line
//! per model (WORKLOADS.md, W7). Also the W2 CNN, quantised statically (its convolutions'
//! input ranges calibrated on the first 10 batches of 100 training digits), in a third
//! line: issue 21 asks it of W2, though WORKLOADS.md's reference covers W1 and W3 only.

use anyhow::Result;
use nabla::core::backend::int8::Int8Path;
use nabla::prelude::*;
use serde::Serialize;

/// One W7 result; WORKLOADS.md's fields first.
#[derive(Serialize)]
struct Record {
    framework: &'static str,
    workload: &'static str,
    model: String,
    f32_infer_samples_per_s: f64,
    int8_infer_samples_per_s: f64,
    f32_test_acc: f64,
    int8_test_acc: f64,
    f32_bytes: usize,
    int8_bytes: usize,
    version: &'static str,
    threads: usize,
    /// The kernels' instruction set (`NABLA_CPU`): avx512, avx2 or generic.
    cpu_path: &'static str,
    int8_path: String,
    mode: &'static str,
    epochs: usize,
}

/// Calibration batches of the static mode: 10 of 100 samples.
const CALIBRATION: (usize, usize) = (10, 100);

pub fn run(epochs: Option<usize>) -> Result<()> {
    let (train, test) = nabla::datasets::mnist()?;
    for (name, model, batch, spec_epochs) in [
        ("W1", super::bench::w1_model()?, 32, 5),
        ("W3", super::bench::w3_model()?, 64, 1),
    ] {
        let e = epochs.unwrap_or(spec_epochs);
        measure(name, model, &train, &test, batch, e, QuantMode::Dynamic)?;
    }
    // categorical cross-entropy on one-hot targets, images as [1, 28, 28], as in W2
    let prep = |d: &Dataset| -> Result<Dataset> { Ok(d.with_x_shape(&[1, 28, 28])?.one_hot(10)?) };
    let (model, e) = (super::bench::w2_model()?, epochs.unwrap_or(3));
    measure(
        "W2",
        model,
        &prep(&train)?,
        &prep(&test)?,
        128,
        e,
        QuantMode::Static,
    )
}

fn measure(
    name: &str,
    mut model: Model,
    train: &Dataset,
    test: &Dataset,
    batch: usize,
    epochs: usize,
    mode: QuantMode,
) -> Result<()> {
    model.fit(
        train,
        Fit::new().epochs(epochs).batch_size(batch).verbose(0),
    )?;
    let acc = |m: &mut Model| -> Result<f64> {
        Ok(m.evaluate(test)?.get("accuracy").unwrap_or(f64::NAN))
    };
    let f32_test_acc = acc(&mut model)?;
    let f32_infer = super::bench::infer_throughput(&model, test)?;
    let f32_bytes = model.to_bytes()?.len();
    match mode {
        QuantMode::Static => {
            let (n, size) = CALIBRATION;
            super::quantize::calibrate(&mut model, train, n, size)?;
        }
        _ => {
            model.quantize(mode)?;
        }
    }
    let rec = Record {
        framework: "nabla",
        workload: "W7",
        model: name.to_string(),
        f32_infer_samples_per_s: f32_infer,
        int8_infer_samples_per_s: super::bench::infer_throughput(&model, test)?,
        f32_test_acc,
        int8_test_acc: acc(&mut model)?,
        f32_bytes,
        int8_bytes: model.to_bytes()?.len(),
        version: env!("CARGO_PKG_VERSION"),
        threads: nabla::core::backend::num_threads(),
        cpu_path: nabla::core::backend::Isa::get().name(),
        int8_path: format!("{:?}", Int8Path::best()),
        mode: match mode {
            QuantMode::Static => "static",
            _ => "dynamic",
        },
        epochs,
    };
    println!("{}", serde_json::to_string(&rec)?);
    Ok(())
}
