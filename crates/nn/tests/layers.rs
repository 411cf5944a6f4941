//! Every layer through the one-call harness `check_layer`.

use nabla_nn::layers::{ActivationConfig, DenseConfig, DropoutConfig, FlattenConfig};
use nabla_nn::testing::check_layer;
use nabla_nn::{Activation, Initializer, LayerConfig};

fn dense_cfg(units: usize, activation: Activation, use_bias: bool) -> LayerConfig {
    LayerConfig::Dense(DenseConfig {
        units,
        activation,
        use_bias,
        kernel_initializer: Initializer::GlorotUniform,
        bias_initializer: Initializer::Zeros,
        kernel_regularizer: None,
        bias_regularizer: None,
        activity_regularizer: None,
        name: None,
        trainable: true,
    })
}

#[test]
fn dense() {
    check_layer(
        dense_cfg(4, Activation::Linear, true),
        &[3],
        &[4],
        3 * 4 + 4,
    );
    check_layer(dense_cfg(2, Activation::Tanh, false), &[3], &[2], 6);
    // on the last axis of a rank-2 sample, as Keras
    check_layer(
        dense_cfg(5, Activation::Relu, true),
        &[2, 3],
        &[2, 5],
        3 * 5 + 5,
    );
}

#[test]
fn activation() {
    for a in [
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
        Activation::LogSoftmax,
        Activation::Gelu,
        Activation::Linear,
    ] {
        let cfg = LayerConfig::Activation(ActivationConfig {
            activation: a,
            name: None,
            trainable: true,
        });
        check_layer(cfg, &[2, 3], &[2, 3], 0);
    }
}

#[test]
fn normalization() {
    use nabla_nn::layers::{Method, NormalizationConfig};
    for method in [Method::Standard, Method::Minmax] {
        let cfg = NormalizationConfig {
            method,
            adapted: false,
            name: None,
            trainable: true,
        };
        let mut m = check_layer(LayerConfig::Normalization(cfg), &[3], &[3], 6);
        assert!(m.needs_adapt());
        let x = nabla_core::Tensor::from_vec(
            vec![1.0, 10.0, 5.0, 3.0, 30.0, 5.0, 5.0, 20.0, 5.0],
            &[3, 3],
        );
        m.adapt(&x);
        assert!(!m.needs_adapt());
        let y = m.forward_eval(&x);
        let col = |j: usize| [y.data()[j], y.data()[3 + j], y.data()[6 + j]];
        match method {
            Method::Standard => {
                let c = col(0);
                assert!(
                    (c[0] + c[1] + c[2]).abs() < 1e-5
                        && (c[0] * c[0] + c[1] * c[1] + c[2] * c[2] - 3.0).abs() < 1e-4
                );
            }
            Method::Minmax => assert_eq!(col(1), [0.0, 1.0, 0.5]),
        }
        assert_eq!(
            col(2),
            [0.0, 0.0, 0.0],
            "a constant feature is centred, not divided by 0"
        );
        assert!(m.summary().contains("Non-trainable params: 6"));
    }
}

#[test]
fn dropout_and_flatten() {
    let d = LayerConfig::Dropout(DropoutConfig {
        rate: 0.5,
        name: None,
        trainable: true,
    });
    check_layer(d, &[6], &[6], 0);
    let f = LayerConfig::Flatten(FlattenConfig::default());
    check_layer(f, &[2, 3, 2], &[12], 0);
}

#[test]
fn dropout_zeroes_about_rate_and_keeps_the_mean_in_training() {
    use nabla_core::{Rng, Tensor};
    use nabla_nn::{Ctx, Dropout, Sequential};
    let model = Sequential::new([10_000])
        .add(Dropout::new(0.2))
        .build(0)
        .unwrap();
    let x = Tensor::full(&[1, 10_000], 1.0);
    let mut rng = Rng::new(5);
    let y = model.forward(&x, &mut Ctx::new(true, &mut rng));
    let zeros = y.data().iter().filter(|&&v| v == 0.0).count() as f32 / 10_000.0;
    assert!((zeros - 0.2).abs() < 0.02, "dropped fraction {zeros}");
    let mean = y.data().iter().sum::<f32>() / 10_000.0;
    assert!((mean - 1.0).abs() < 0.03, "mean {mean}");
    assert!(y
        .data()
        .iter()
        .all(|&v| v == 0.0 || (v - 1.25).abs() < 1e-6));
    assert_eq!(
        model.forward_eval(&x).data(),
        x.data(),
        "identity in eval mode"
    );
}
