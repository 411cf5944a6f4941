//! Seed 002's convolutional network in Rust, on the embedded MNIST digits.
//!
//! Keras: Conv2D(32, 3, relu) → MaxPool2D → Conv2D(64, 3, relu) → MaxPool2D →
//! Conv2D(64, 3, relu) → Flatten → Dense(64, relu) → Dense(10, softmax), Adam,
//! categorical cross-entropy, batch 128, 3 epochs. Images are channels-first: [1, 28, 28].
//!
//! `cargo run --release --example mnist_cnn`

use nabla::prelude::*;

fn main() -> anyhow::Result<()> {
    let (train, test) = nabla::datasets::mnist()?;
    // [28, 28] digits seen as one-channel images, labels one-hot for categorical CE
    let prep =
        |d: Dataset| -> anyhow::Result<Dataset> { Ok(d.with_x_shape(&[1, 28, 28])?.one_hot(10)?) };
    let (train, test) = (prep(train)?, prep(test)?);
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
        Adam::default(),
        Loss::CategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    print!("{}", model.summary());
    model.fit(&train, Fit::new().epochs(3).batch_size(128))?;
    println!("test: {}", model.evaluate(&test)?.line());
    Ok(())
}
