//! Two inputs, two outputs, one shared encoder: are two digits the same? A Siamese network on
//! pairs of embedded digits. The encoder is a model of its own, used as one layer on both
//! images (its weights shared); the main output is whether the digits match, and an auxiliary
//! output classifies the left digit (Keras's multi-output `loss={...}, loss_weights={...}`).
//!
//! `cargo run --release --example siamese`

use nabla::data::Array;
use nabla::nn::PerOutput;
use nabla::prelude::*;

/// Pairs of digits (half of them the same class): inputs `left`, `right`; targets `same`
/// (0/1) and `left_digit` (its class).
fn pairs(d: &Dataset, n: usize, rng: &mut Rng) -> anyhow::Result<Dataset> {
    let (mut l, mut r, mut same, mut digit) = (vec![], vec![], vec![], vec![]);
    let class = |i: usize| d.target(i)[0];
    for k in 0..n {
        let i = rng.below(d.len());
        let mut j = rng.below(d.len());
        while (class(i) == class(j)) != (k % 2 == 0) {
            j = rng.below(d.len()); // even pairs match, odd ones do not
        }
        l.extend_from_slice(d.sample(i));
        r.extend_from_slice(d.sample(j));
        same.push((class(i) == class(j)) as u8 as f32);
        digit.push(class(i));
    }
    let inputs = vec![
        Array::new("left", l, &[784]),
        Array::new("right", r, &[784]),
    ];
    let targets = vec![
        Array::new("same", same, &[1]),
        Array::new("left_digit", digit, &[]),
    ];
    Ok(Dataset::from_arrays(inputs, targets)?)
}

fn main() -> anyhow::Result<()> {
    let (train, test) = nabla::datasets::mnist()?;
    let (train, test) = (train.with_x_shape(&[784])?, test.with_x_shape(&[784])?);
    let mut rng = Rng::new(1);
    let (train, test) = (
        pairs(&train, 16_000, &mut rng)?,
        pairs(&test, 2_000, &mut rng)?,
    );

    let encoder = Sequential::new([784])
        .add(Dense::new(128).activation(Activation::Relu))
        .add(Dense::new(32).activation(Activation::Relu))
        .build(7)?;
    let encoder = Shared::new(SubModel::new(encoder).named("encoder"));
    let (left, right) = (Input::new("left", [784]), Input::new("right", [784]));
    let (el, er) = (encoder.call(&left), encoder.call(&right));
    let gap = Subtract::new().call([&el, &er]);
    let gap = Multiply::new().call([&gap, &gap]); // squared differences, symmetric
    let same = Dense::new(1)
        .activation(Activation::Sigmoid)
        .named("same")
        .call(&gap);
    let digit = Dense::new(10)
        .activation(Activation::Softmax)
        .named("left_digit")
        .call(&el);
    let mut model = Functional::new([&left, &right], [&same, &digit]).build(42)?;

    let loss = PerOutput::Each(vec![
        ("same".into(), Loss::BinaryCrossentropy.into()),
        (
            "left_digit".into(),
            Loss::SparseCategoricalCrossentropy.into(),
        ),
    ]);
    let weights = PerOutput::Each(vec![("same".into(), 1.0), ("left_digit".into(), 0.3)]);
    let metrics = PerOutput::All(vec![Metric::Accuracy]);
    model.compile_outputs(Box::new(Adam::new(1e-3)), (loss, metrics, weights))?;
    print!("{}", model.summary());
    model.fit(&train, Fit::new().epochs(5).batch_size(64))?;
    println!("test: {}", model.evaluate(&test)?.line());
    Ok(())
}
