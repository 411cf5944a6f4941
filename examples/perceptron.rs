//! Seed 004's NumPy example in Rust: one sigmoid neuron learns a linearly separable rule by
//! full-batch gradient descent, first written out by hand on tensors and autograd, then the
//! same with the Keras-style API.
//!
//! `cargo run --release --example perceptron`

use nabla::prelude::*;

fn main() -> anyhow::Result<()> {
    // 200 points in [-1, 1]²; label 1 when x0 + 2·x1 > 0.25
    let mut rng = Rng::new(4);
    let n = 200;
    let x: Vec<f32> = (0..2 * n).map(|_| rng.uniform_range(-1.0, 1.0)).collect();
    let y: Vec<f32> = x
        .chunks(2)
        .map(|p| (p[0] + 2.0 * p[1] > 0.25) as u8 as f32)
        .collect();
    let (xt, yt) = (
        Tensor::from_vec(x.clone(), &[n, 2]),
        Tensor::from_vec(y.clone(), &[n, 1]),
    );

    // 1. By hand: w, b; forward; MSE; backward; w -= lr · dL/dw.
    let mut w = Tensor::param(vec![0.0, 0.0], &[2, 1]);
    let mut b = Tensor::param(vec![0.0], &[1]);
    let lr = 2.0;
    for epoch in 1..=500 {
        let p = xt.linear(&w, Some(&b)).sigmoid();
        let loss = p.sub(&yt).square().mean();
        let grads = loss.backward();
        if epoch == 1 || epoch % 100 == 0 {
            println!("by hand  epoch {epoch:3}  loss {:.4}", loss.item());
        }
        let (gw, gb) = (
            grads.get(&w).unwrap().to_vec(),
            grads.get(&b).unwrap().to_vec(),
        );
        drop((p, loss));
        w.update(|v| v.iter_mut().zip(&gw).for_each(|(v, g)| *v -= lr * g));
        b.update(|v| v.iter_mut().zip(&gb).for_each(|(v, g)| *v -= lr * g));
    }
    println!("by hand  w = {:?}, b = {:?}", w.data(), b.data());

    // 2. The same neuron with the Keras-style API: gradient descent = SGD on the full batch.
    let data = Dataset::new(x, &[2], y, &[1])?;
    let mut model = Sequential::new([2])
        .add(
            Dense::new(1)
                .activation(Activation::Sigmoid)
                .kernel_initializer(Initializer::Zeros),
        )
        .build(4)?;
    model.compile(Sgd::new(lr), Loss::MeanSquaredError, &[Metric::Accuracy])?;
    let history = model.fit(
        &data,
        Fit::new()
            .epochs(500)
            .batch_size(n)
            .shuffle(false)
            .verbose(0),
    )?;
    let last = history.last().unwrap();
    println!(
        "fit      loss {:.4}  accuracy {:.3}",
        last.get("loss").unwrap(),
        last.get("accuracy").unwrap()
    );
    let params = model.named_params();
    println!(
        "fit      w = {:?}, b = {:?}",
        params[0].1.value.data(),
        params[1].1.value.data()
    );
    let same = params[0].1.value.data() == w.data() && params[1].1.value.data() == b.data();
    println!(
        "the two ways give {} weights",
        if same { "identical" } else { "different" }
    );
    Ok(())
}
