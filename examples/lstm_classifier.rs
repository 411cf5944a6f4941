//! Seed 003's LSTM classifier in Rust (workload W3): each MNIST digit is read as a sequence
//! of 28 rows (time steps) of 28 pixels.
//!
//! PyTorch: nn.LSTM(28, 256, num_layers=2, batch_first=True) → last step → nn.Linear(256, 10),
//! Adam 1e-3, cross-entropy, batch 64, 1 epoch. Then the same data through a smaller
//! bidirectional GRU.
//!
//! `cargo run --release --example lstm_classifier`

use nabla::prelude::*;

fn main() -> anyhow::Result<()> {
    let (train, test) = nabla::datasets::mnist()?; // digits are [28, 28]: 28 steps of 28 features
    let mut model = Sequential::new([28, 28])
        .add(Lstm::new(256).num_layers(2))
        .add(Dense::new(10).activation(Activation::Softmax))
        .build(42)?;
    model.compile(
        Adam::new(1e-3),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    print!("{}", model.summary());
    model.fit(&train, Fit::new().epochs(1).batch_size(64))?;
    println!("LSTM test: {}", model.evaluate(&test)?.line());

    // A smaller bidirectional GRU: the rows read both ways, features joined.
    let mut gru = Sequential::new([28, 28])
        .add(Gru::new(64).bidirectional(true))
        .add(Dense::new(10).activation(Activation::Softmax))
        .build(42)?;
    gru.compile(
        Adam::new(3e-3),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    gru.fit(&train, Fit::new().epochs(1).batch_size(64))?;
    println!("bidirectional GRU test: {}", gru.evaluate(&test)?.line());

    Ok(())
}
