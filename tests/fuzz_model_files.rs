//! A mutation fuzzer over the model-file reader (issue 25): valid files of every kind (float,
//! int8 dense, LSTM, GRU and transformer, a statically quantised CNN, pruned in the sparse
//! form) with bits flipped, bytes overwritten, digits of the JSON header changed, and cuts;
//! `Model::from_bytes` must return a model or an error, never panic, and a model it returns
//! must predict on a zero batch without panicking. CI runs 2,000 cases; `NABLA_FUZZ_CASES=100000 cargo test --release
//! --test fuzz_model_files` runs a long campaign (a case that panics is written to
//! `target/fuzz_case.safetensors`).

use nabla::nn::{PruneConfig, Pruning};
mod common;

use common::Gen;
use nabla::prelude::*;

fn seeds() -> Vec<Vec<u8>> {
    let mlp = || {
        let mut m = Sequential::new([4, 6])
            .add(Flatten::new())
            .add(Dense::new(9).activation(Activation::Relu))
            .add(Dense::new(3).activation(Activation::Softmax))
            .build(1)
            .unwrap();
        m.compile(
            Adam::default(),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .unwrap();
        m
    };
    let float = mlp();
    let mut int8 = mlp();
    int8.quantize(QuantMode::Dynamic).unwrap();
    let mut pruned = mlp();
    let hook = Pruning::new(PruneConfig::constant(0.75, 0), &pruned).unwrap();
    pruned.add_gradient_hook(hook).unwrap();
    let x: Vec<f32> = (0..8 * 24).map(|i| (i % 7) as f32 / 7.0).collect();
    let d = Dataset::new(x, &[4, 6], (0..8).map(|i| (i % 3) as f32).collect(), &[]).unwrap();
    pruned
        .fit(&d, Fit::new().epochs(1).batch_size(8).verbose(0))
        .unwrap();
    let mut lstm = Sequential::new([3, 4])
        .add(Lstm::new(5))
        .add(Dense::new(2))
        .build(2)
        .unwrap();
    lstm.quantize(QuantMode::Dynamic).unwrap();
    let mut gru = Sequential::new([3, 4])
        .add(
            nabla::nn::layers::Gru::new(5)
                .bidirectional(true)
                .return_sequences(true),
        )
        .add(nabla::nn::layers::TransformerBlock::new(2))
        .add(Dense::new(2))
        .build(2)
        .unwrap();
    gru.quantize(QuantMode::Dynamic).unwrap();
    let mut cnn = Sequential::new([2, 7, 6])
        .add(Conv2d::new(4, 3).activation(Activation::Relu))
        .add(Pool2d::max(2))
        .add(Flatten::new())
        .add(Dense::new(2))
        .build(3)
        .unwrap();
    let calibration =
        Tensor::from_vec((0..2 * 84).map(|i| (i % 5) as f32).collect(), &[2, 2, 7, 6]);
    cnn.quantize_static(&[calibration]).unwrap();
    vec![
        float.to_bytes().unwrap(),
        int8.to_bytes().unwrap(),
        pruned.to_bytes_sparse().unwrap(),
        lstm.to_bytes().unwrap(),
        gru.to_bytes().unwrap(),
        cnn.to_bytes().unwrap(),
    ]
}

#[test]
fn the_model_file_reader_never_panics_on_mutated_files() {
    let cases: usize = std::env::var("NABLA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let seeds = seeds();
    for s in &seeds {
        Model::from_bytes(s).expect("every seed is a valid file");
    }
    common::write_seeds("model_file", &seeds);
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut refused) = (0usize, 0usize);
    for case in 0..cases {
        let seed = &seeds[case % seeds.len()];
        // half the mutations inside the JSON header
        let header_end = 8 + u64::from_le_bytes(seed[..8].try_into().unwrap()) as usize;
        let bytes = common::mutate(&mut g, seed, 8..header_end);
        let read_and_run = || {
            Model::from_bytes(&bytes).map(|m| {
                let shape: Vec<usize> = [1].iter().chain(m.input_shape()).copied().collect();
                if m.inputs().len() == 1 && shape.iter().product::<usize>() < 1 << 16 {
                    let _ = m.predict(&Tensor::zeros(&shape));
                }
            })
        };
        match std::panic::catch_unwind(read_and_run) {
            Ok(Ok(())) => ok += 1,
            Ok(Err(_)) => refused += 1,
            Err(_) => {
                let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/fuzz_case.safetensors");
                let _ = std::fs::write(path, &bytes);
                panic!("case {case} panicked (written to {path})");
            }
        }
    }
    eprintln!("{cases} cases: {ok} read, {refused} refused");
    assert!(
        refused > cases / 4,
        "the mutations reach the checks: {refused} refused"
    );
}
