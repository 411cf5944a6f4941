//! Seed 000's Keras program in Rust: an MLP on the embedded MNIST digits.
//!
//! Keras: Flatten → Dense(128, relu) → Dropout(0.2) → Dense(10, softmax), Adam,
//! sparse categorical cross-entropy, 5 epochs, then evaluate and save.
//!
//! `cargo run --release --example mnist_mlp`

use nabla::prelude::*;

fn main() -> anyhow::Result<()> {
    let (train, test) = nabla::datasets::mnist()?;
    let mut model = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(128).activation(Activation::Relu))
        .add(Dropout::new(0.2))
        .add(Dense::new(10).activation(Activation::Softmax))
        .build(42)?;
    model.compile(
        Adam::default(),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    print!("{}", model.summary());
    model.fit(&train, Fit::new().epochs(5).batch_size(32))?;
    let scores = model.evaluate(&test)?;
    println!("test: {}", scores.line());
    model.save("mnist_mlp.safetensors")?;
    let same = Model::load("mnist_mlp.safetensors")?;
    let (x, _) = test.batch(&[0, 1, 2]);
    let (a, b) = (model.predict(&x)?, same.predict(&x)?);
    assert_eq!(
        a.data(),
        b.data(),
        "a loaded model predicts bit-identically"
    );
    println!("saved to mnist_mlp.safetensors; reloaded model predicts identically");
    Ok(())
}
