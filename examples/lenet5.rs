//! LeNet-5 (LeCun et al., 1998) on the embedded MNIST digits, with light augmentation from
//! Rust. The 28×28 digits are padded to the paper's 32×32 input by a `ZeroPadding2d`:
//!
//! ```text
//! [1, 28, 28] → ZeroPadding2d(2) → Conv2d(6, 5, tanh) → AvgPool2d(2) → Conv2d(16, 5, tanh)
//!   → AvgPool2d(2) → Flatten → Dense(120, tanh) → Dense(84, tanh) → Dense(10, softmax)
//! ```
//! (61,706 parameters). The same model as a spec: `specs/lenet5.toml`.
//!
//! `cargo run --release --example lenet5`

use nabla::data::augment::{FillMode, RandomAffine};
use nabla::data::Pipeline;
use nabla::nn::layers::ZeroPadding2d;
use nabla::prelude::*;

fn main() -> anyhow::Result<()> {
    let (train, test) = nabla::datasets::mnist()?;
    let prep = |d: Dataset| -> anyhow::Result<Dataset> { Ok(d.with_x_shape(&[1, 28, 28])?) };
    let (train, test) = (prep(train)?, prep(test)?);
    let tanh = Activation::Tanh;
    let mut model = Sequential::new([1, 28, 28])
        .add(ZeroPadding2d::new([2, 2, 2, 2]))
        .add(Conv2d::new(6, 5).activation(tanh))
        .add(Pool2d::avg(2))
        .add(Conv2d::new(16, 5).activation(tanh))
        .add(Pool2d::avg(2))
        .add(Flatten::new())
        .add(Dense::new(120).activation(tanh))
        .add(Dense::new(84).activation(tanh))
        .add(Dense::new(10).activation(Activation::Softmax))
        .build(7)?;
    model.compile(
        Adam::default(),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    print!("{}", model.summary());
    // small random rotations, shifts and zooms of every training batch
    let augment = Pipeline::new().then(RandomAffine {
        rotation: 10.0,
        height_shift: 0.08,
        width_shift: 0.08,
        shear: 0.0,
        zoom: (0.95, 1.05),
        horizontal_flip: false,
        vertical_flip: false,
        fill: FillMode::Constant,
        cval: 0.0,
    });
    let fit = Fit::new().epochs(8).batch_size(64).augment(augment);
    model.fit(&train, fit)?;
    println!("test: {}", model.evaluate(&test)?.line());
    Ok(())
}
