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
        quantization_aware: false,
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
fn convolution_pooling_and_reshape() {
    use nabla_nn::layers::{
        Conv2dConfig, GlobalPoolConfig, Padding, Pair, Pool2dConfig, ReshapeConfig,
    };
    let conv = |filters, k: Pair, strides: Pair, padding: Padding, groups| {
        LayerConfig::Conv2d(Conv2dConfig {
            filters,
            kernel_size: k,
            strides,
            padding,
            dilation_rate: Pair(1, 1),
            groups,
            activation: Activation::Tanh,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: None,
            bias_regularizer: None,
            name: None,
            trainable: true,
        })
    };
    check_layer(
        conv(4, Pair(3, 3), Pair(1, 1), Padding::Valid, 1),
        &[2, 6, 5],
        &[4, 4, 3],
        4 * 2 * 9 + 4,
    );
    check_layer(
        conv(4, Pair(3, 2), Pair(2, 2), Padding::Same, 2),
        &[2, 7, 5],
        &[4, 4, 3],
        4 * 3 * 2 + 4,
    );
    check_layer(
        conv(
            3,
            Pair(1, 1),
            Pair(1, 1),
            Padding::Explicit([1, 0, 2, 0]),
            1,
        ),
        &[1, 3, 3],
        &[3, 4, 5],
        3 + 3,
    );
    let pool = |k: Pair, padding| Pool2dConfig {
        pool_size: k,
        strides: None,
        padding,
        name: None,
        trainable: true,
    };
    check_layer(
        LayerConfig::MaxPool2d(pool(Pair(2, 2), Padding::Valid)),
        &[3, 5, 7],
        &[3, 2, 3],
        0,
    );
    check_layer(
        LayerConfig::AvgPool2d(pool(Pair(3, 3), Padding::Same)),
        &[2, 5, 7],
        &[2, 2, 3],
        0,
    );
    let g = GlobalPoolConfig {
        name: None,
        trainable: true,
    };
    check_layer(LayerConfig::GlobalAvgPool2d(g.clone()), &[3, 4, 5], &[3], 0);
    check_layer(LayerConfig::GlobalMaxPool2d(g), &[3, 4, 5], &[3], 0);
    let r = ReshapeConfig {
        target_shape: vec![-1, 4],
        name: None,
        trainable: true,
    };
    check_layer(LayerConfig::Reshape(r), &[2, 6], &[3, 4], 0);
}

#[test]
fn convolution_shape_errors_name_the_layer() {
    use nabla_nn::{Conv2d, Pool2d, Sequential};
    let e = Sequential::new([28, 28])
        .add(Conv2d::new(8, 3))
        .build(0)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("conv2d") && e.contains("[channels, height, width]") && e.contains("[28, 28]"),
        "{e}"
    );
    let e = Sequential::new([1, 2, 2])
        .add(Conv2d::new(8, 3))
        .build(0)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("at least as large as the kernel"), "{e}");
    let e = Sequential::new([3, 1, 5])
        .add(Pool2d::max(2))
        .build(0)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("max_pool2d") && e.contains("[3, 1, 5]"), "{e}");
}

#[test]
fn batch_norm() {
    use nabla_nn::layers::BatchNormConfig;
    let cfg = BatchNormConfig {
        momentum: 0.9,
        epsilon: 1e-5,
        center: true,
        scale: true,
        name: None,
        trainable: true,
    };
    check_layer(
        LayerConfig::BatchNorm(cfg.clone()),
        &[3, 2, 2],
        &[3, 2, 2],
        12,
    );
    check_layer(
        LayerConfig::BatchNorm(BatchNormConfig {
            center: false,
            ..cfg
        }),
        &[4],
        &[4],
        12,
    );
}

#[test]
fn spatial_dropout_drops_whole_channels() {
    use nabla_core::{Rng, Tensor};
    use nabla_nn::layers::{SpatialDropout2d, SpatialDropoutConfig};
    use nabla_nn::{Ctx, Sequential};
    check_layer(
        LayerConfig::SpatialDropout2d(SpatialDropoutConfig {
            rate: 0.5,
            name: None,
            trainable: true,
        }),
        &[4, 3, 3],
        &[4, 3, 3],
        0,
    );
    let model = Sequential::new([64, 3, 3])
        .add(SpatialDropout2d::new(0.5))
        .build(0)
        .unwrap();
    let x = Tensor::full(&[2, 64, 3, 3], 1.0);
    let y = model.forward(&x, &mut Ctx::new(true, &mut Rng::new(1)));
    let mut dropped = 0;
    for map in y.data().chunks(9) {
        assert!(
            map.iter().all(|&v| v == map[0]),
            "a whole map is kept or dropped"
        );
        assert!(map[0] == 0.0 || map[0] == 2.0);
        dropped += (map[0] == 0.0) as usize;
    }
    assert!(
        (40..=88).contains(&dropped),
        "{dropped} of 128 maps dropped"
    );
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

fn from_json(s: &str) -> LayerConfig {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn one_dimensional_convolution_and_pooling() {
    // 3 channels, length 10: kernel 3, stride 2, dilation 2 -> (10 - 4 - 1) / 2 + 1 = 3
    check_layer(
        from_json(
            r#"{"type": "conv1d", "filters": 4, "kernel_size": 3, "strides": 2, "dilation_rate": 2}"#,
        ),
        &[3, 10],
        &[4, 3],
        4 * 3 * 3 + 4,
    );
    // causal keeps the length; groups split the channels
    check_layer(
        from_json(
            r#"{"type": "conv1d", "filters": 4, "kernel_size": 3, "padding": "causal", "groups": 2, "activation": "tanh"}"#,
        ),
        &[2, 7],
        &[4, 7],
        4 * 3 + 4,
    );
    check_layer(
        from_json(
            r#"{"type": "conv1d", "filters": 2, "kernel_size": 4, "padding": "same", "use_bias": false}"#,
        ),
        &[1, 9],
        &[2, 9],
        8,
    );
    check_layer(from_json(r#"{"type": "max_pool1d"}"#), &[3, 9], &[3, 4], 0);
    check_layer(
        from_json(r#"{"type": "avg_pool1d", "pool_size": 3, "strides": 2, "padding": [1, 1]}"#),
        &[2, 8],
        &[2, 4],
        0,
    );
}

#[test]
fn causal_conv1d_output_sees_only_the_past() {
    use nabla_core::Tensor;
    let m = nabla_nn::Sequential::new([1, 6])
        .add(nabla_nn::layers::Conv1d::new(1, 3).padding(nabla_nn::layers::Padding1d::Causal))
        .build(3)
        .unwrap();
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[1, 1, 6]);
    let mut x2 = x.data().to_vec();
    x2[5] = 100.0; // change the last step only
    let (a, b) = (
        m.forward_eval(&x),
        m.forward_eval(&Tensor::from_vec(x2, &[1, 1, 6])),
    );
    assert_eq!(&a.data()[..5], &b.data()[..5]);
    assert_ne!(a.data()[5], b.data()[5]);
}

#[test]
fn padding_upsampling_and_permute() {
    check_layer(
        from_json(r#"{"type": "zero_padding2d", "padding": [[1, 0], [2, 3]]}"#),
        &[2, 3, 4],
        &[2, 4, 9],
        0,
    );
    check_layer(
        from_json(r#"{"type": "zero_padding2d"}"#),
        &[1, 2, 2],
        &[1, 4, 4],
        0,
    );
    check_layer(
        from_json(r#"{"type": "up_sampling2d", "size": [2, 3]}"#),
        &[2, 3, 4],
        &[2, 6, 12],
        0,
    );
    check_layer(
        from_json(r#"{"type": "up_sampling2d", "interpolation": "bilinear"}"#),
        &[1, 3, 3],
        &[1, 6, 6],
        0,
    );
    check_layer(
        from_json(r#"{"type": "permute", "dims": [3, 1, 2]}"#),
        &[2, 3, 4],
        &[4, 2, 3],
        0,
    );
    // errors name the layer, the expected and the received value
    let e = nabla_nn::Sequential::new([2, 3])
        .add_boxed(from_json(r#"{"type": "permute", "dims": [1, 3]}"#).into_layer())
        .build(0)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("permute") && e.contains("1..=2") && e.contains("[1, 3]"),
        "{e}"
    );
    let e =
        serde_json::from_str::<LayerConfig>(r#"{"type": "zero_padding2d", "padding": [1, 2, 3]}"#)
            .unwrap_err()
            .to_string();
    assert!(
        e.contains("[top, bottom, left, right]") && e.contains("[1,2,3]"),
        "{e}"
    );
}

#[test]
fn layer_norm_and_rms_norm() {
    check_layer(from_json(r#"{"type": "layer_norm"}"#), &[3, 5], &[3, 5], 10);
    check_layer(
        from_json(r#"{"type": "layer_norm", "center": false, "epsilon": 1e-3}"#),
        &[4],
        &[4],
        4,
    );
    check_layer(
        from_json(r#"{"type": "rms_norm", "center": false}"#),
        &[2, 6],
        &[2, 6],
        6,
    );
    let e = nabla_nn::Sequential::new([4])
        .add_boxed(from_json(r#"{"type": "rms_norm"}"#).into_layer())
        .build(0)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("center") && e.contains("rms_norm"), "{e}");
}

#[test]
fn embedding_looks_up_rows_and_checks_indices() {
    use nabla_core::Tensor;
    use nabla_nn::layers::Embedding;
    let cfg =
        from_json(r#"{"type": "embedding", "input_dim": 10, "output_dim": 3, "padding_idx": 0}"#);
    let m = nabla_nn::Sequential::new([4])
        .add_boxed(cfg.into_layer())
        .build(5)
        .unwrap();
    assert_eq!(m.output_shape(), [4, 3]);
    let table = m.named_params()[0].1.value.data().to_vec();
    assert_eq!(&table[..3], &[0.0; 3], "the padding row starts at zero");
    // the other rows from PyTorch's N(0, 1): none zero, some far beyond Keras's ±0.05
    assert!(table[3..].iter().all(|v| *v != 0.0 && v.abs() < 6.0));
    assert!(table[3..].iter().filter(|v| v.abs() > 0.5).count() > 5);
    let y = m.forward_eval(&Tensor::from_vec(vec![9.0, 0.0, 1.0, 9.0], &[1, 4]));
    assert_eq!(&y.data()[..3], &table[27..30]);
    assert_eq!(&y.data()[9..12], &table[27..30]);
    let e = Embedding::new(10, 3)
        .check_indices(&[1.0, 10.0])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("embedding") && e.contains("[0, 10)") && e.contains("10"),
        "{e}"
    );
    assert!(Embedding::new(10, 3).check_indices(&[2.5]).is_err());
}

#[test]
fn multi_head_attention_and_its_causal_mask() {
    use nabla_core::Tensor;
    let params = 3 * (6 * 6) + 6 * 6 + 3 * 6 + 6;
    for causal in [false, true] {
        let cfg = format!(
            r#"{{"type": "multi_head_attention", "num_heads": 2, "key_dim": 3, "causal": {causal}}}"#
        );
        check_layer(from_json(&cfg), &[4, 6], &[4, 6], params);
    }
    // causal: changing the last step changes only the last output
    let m = nabla_nn::Sequential::new([5, 4])
        .add(nabla_nn::layers::MultiHeadAttention::new(2, 2).causal(true))
        .build(1)
        .unwrap();
    let x: Vec<f32> = (0..20).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect();
    let mut x2 = x.clone();
    x2[16..].iter_mut().for_each(|v| *v += 1.0);
    let (a, b) = (
        m.forward_eval(&Tensor::from_vec(x, &[1, 5, 4])),
        m.forward_eval(&Tensor::from_vec(x2, &[1, 5, 4])),
    );
    assert_eq!(&a.data()[..16], &b.data()[..16]);
    assert_ne!(&a.data()[16..], &b.data()[16..]);
}

#[test]
fn positional_embeddings_and_transformer_blocks() {
    check_layer(
        from_json(r#"{"type": "positional_embedding"}"#),
        &[5, 4],
        &[5, 4],
        20,
    );
    check_layer(
        from_json(r#"{"type": "positional_embedding", "kind": "sinusoidal", "max_length": 8}"#),
        &[5, 4],
        &[5, 4],
        0,
    );
    // ln1 8 + attention 4·16 + 16 + ln2 8 + mlp 4·16 + 16 + 16·4 + 4
    for (norm_first, causal) in [(true, true), (false, false)] {
        let cfg = format!(
            r#"{{"type": "transformer_block", "num_heads": 2, "norm_first": {norm_first}, "causal": {causal}}}"#
        );
        let m = check_layer(from_json(&cfg), &[3, 4], &[3, 4], 244);
        let names: Vec<String> = m.named_params().into_iter().map(|(n, _)| n).collect();
        assert!(
            names.contains(&"transformer_block.attn/query/kernel".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"transformer_block.ln2/gamma".to_string()),
            "{names:?}"
        );
    }
    let e = nabla_nn::Sequential::new([3, 4])
        .add_boxed(from_json(r#"{"type": "positional_embedding", "max_length": 2}"#).into_layer())
        .build(0)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("max_length") && e.contains("3"), "{e}");
}

#[test]
fn sequence_reductions_over_time() {
    use nabla_core::Tensor;
    for name in ["global_avg_pool1d", "global_max_pool1d", "last_step"] {
        check_layer(
            from_json(&format!(r#"{{"type": "{name}"}}"#)),
            &[4, 3],
            &[3],
            0,
        );
    }
    // x [1, 3 steps, 2 features]
    let x = Tensor::from_vec(vec![1.0, 6.0, 5.0, 2.0, 3.0, 4.0], &[1, 3, 2]);
    let run = |name: &str| {
        nabla_nn::Sequential::new([3, 2])
            .add_boxed(from_json(&format!(r#"{{"type": "{name}"}}"#)).into_layer())
            .build(0)
            .unwrap()
            .forward_eval(&x)
            .data()
            .to_vec()
    };
    assert_eq!(run("global_avg_pool1d"), [3.0, 4.0]);
    assert_eq!(run("global_max_pool1d"), [5.0, 6.0]);
    assert_eq!(run("last_step"), [3.0, 4.0]);
}

#[test]
fn time_distributed_applies_one_layer_to_every_step() {
    use nabla_core::Tensor;
    // a Dense over [3 steps, 4 features] -> [3, 2]: same weights on each step
    let td = r#"{"type": "time_distributed", "layer": {"type": "dense", "units": 2}}"#;
    check_layer(from_json(td), &[3, 4], &[3, 2], 4 * 2 + 2);
    // a Conv2d over [2 steps, 1, 5, 5] images -> [2, 3, 3, 3]
    let conv = r#"{"type": "time_distributed", "layer": {"type": "conv2d", "filters": 3, "kernel_size": 3}}"#;
    let m = check_layer(from_json(conv), &[2, 1, 5, 5], &[2, 3, 3, 3], 3 * 9 + 3);
    // step 1 alone through the inner layer equals step 1 of the wrapped output
    let x: Vec<f32> = (0..50).map(|i| ((i * 13 % 7) as f32 - 3.0) / 3.0).collect();
    let y = m.forward_eval(&Tensor::from_vec(x.clone(), &[1, 2, 1, 5, 5]));
    let inner = nabla_nn::Sequential::new([1, 5, 5])
        .add_boxed(from_json(r#"{"type": "conv2d", "filters": 3, "kernel_size": 3}"#).into_layer())
        .build(0)
        .unwrap();
    let mut inner = inner;
    let w: Vec<Vec<f32>> = m
        .named_params()
        .iter()
        .map(|(_, p)| p.value.data().to_vec())
        .collect();
    for (p, v) in inner.params_mut().into_iter().zip(&w) {
        p.value.update(|d| d.copy_from_slice(v));
    }
    let step1 = inner.forward_eval(&Tensor::from_vec(x[25..].to_vec(), &[1, 1, 5, 5]));
    assert_eq!(&y.data()[27..], step1.data());
}

#[test]
fn recurrent_layers_shapes_configs_and_save_load() {
    // LSTM: 4 gate blocks; w_ih [4h, in], w_hh [4h, h], two biases [4h]
    let lstm = |h: usize, i: usize| 4 * h * (i + h) + 8 * h;
    check_layer(
        from_json(r#"{"type": "lstm", "units": 3}"#),
        &[5, 2],
        &[3],
        lstm(3, 2),
    );
    check_layer(
        from_json(r#"{"type": "lstm", "units": 3, "num_layers": 2, "return_sequences": true}"#),
        &[4, 2],
        &[4, 3],
        lstm(3, 2) + lstm(3, 3),
    );
    // bidirectional: both directions' features, the second layer reads 2h
    check_layer(
        from_json(
            r#"{"type": "gru", "units": 2, "num_layers": 2, "bidirectional": true, "dropout": 0.5}"#,
        ),
        &[3, 4],
        &[4],
        2 * (3 * 2 * (4 + 2) + 12) + 2 * (3 * 2 * (4 + 2) + 12),
    );
    check_layer(
        from_json(
            r#"{"type": "simple_rnn", "units": 3, "use_bias": false, "return_sequences": true, "bidirectional": true}"#,
        ),
        &[4, 2],
        &[4, 6],
        2 * (3 * 2 + 3 * 3),
    );
    // ReLU cells (finite differences near the kink are checked in nabla-core and against
    // PyTorch): shape, config and save/load here
    let m = nabla_nn::Sequential::new(vec![4, 2])
        .add_boxed(
            from_json(r#"{"type": "simple_rnn", "units": 3, "activation": "relu"}"#).into_layer(),
        )
        .build(0)
        .unwrap();
    assert_eq!(m.output_shape(), [3]);
    assert!(serde_json::to_string(&m.config())
        .unwrap()
        .contains(r#""activation":"relu""#));
    check_layer(
        from_json(
            r#"{"type": "lstm", "units": 2, "kernel_initializer": "glorot_uniform", "recurrent_initializer": "orthogonal"}"#,
        ),
        &[3, 2],
        &[2],
        lstm(2, 2),
    );
}

#[test]
fn recurrent_layers_reject_bad_settings_naming_them() {
    let build = |cfg: &str, input: &[usize]| {
        nabla_nn::Sequential::new(input.to_vec())
            .add_boxed(from_json(cfg).into_layer())
            .build(0)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let e = build(r#"{"type": "lstm", "units": 4}"#, &[28]);
    assert!(
        e.contains("lstm") && e.contains("[time, features]") && e.contains("[28]"),
        "{e}"
    );
    let e = build(
        r#"{"type": "lstm", "units": 4, "activation": "relu"}"#,
        &[3, 2],
    );
    assert!(e.contains("activation") && e.contains("tanh"), "{e}");
    let e = build(r#"{"type": "gru", "units": 4, "dropout": 1.0}"#, &[3, 2]);
    assert!(e.contains("dropout") && e.contains("[0, 1)"), "{e}");
    let e = build(r#"{"type": "simple_rnn", "units": 0}"#, &[3, 2]);
    assert!(e.contains("units") && e.contains("positive"), "{e}");
    assert!(
        serde_json::from_str::<LayerConfig>(r#"{"type": "lstm", "units": 2, "hidden": 3}"#)
            .is_err()
    );
}

#[test]
fn recurrent_dropout_acts_between_layers_only_while_training() {
    use nabla_core::{Rng, Tensor};
    use nabla_nn::Ctx;
    let cfg = r#"{"type": "lstm", "units": 4, "num_layers": 2, "dropout": 0.5}"#;
    let model = nabla_nn::Sequential::new(vec![3, 2])
        .add_boxed(from_json(cfg).into_layer())
        .build(0)
        .unwrap();
    let x = Tensor::from_vec(
        (0..12).map(|i| (i as f32 - 6.0) / 4.0).collect(),
        &[2, 3, 2],
    );
    let eval = model.forward_eval(&x);
    assert_eq!(
        eval.data(),
        model.forward_eval(&x).data(),
        "eval is deterministic"
    );
    let mut rng = Rng::new(3);
    let train = model.forward(&x, &mut Ctx::new(true, &mut rng));
    assert_ne!(
        train.data(),
        eval.data(),
        "dropout changes the training pass"
    );
}

#[test]
fn a_gru_learns_to_remember_the_first_step() {
    use nabla_core::{Rng, Tensor};
    use nabla_nn::{Adam, Loss};
    // the label is the sign of the first of 6 noisy steps: needs memory across the sequence
    let mut rng = Rng::new(5);
    let n = 256;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let first = if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
        xs.push(first);
        xs.extend((0..5).map(|_| rng.normal() * 0.5));
        ys.push(if first > 0.0 { 1.0 } else { 0.0 });
    }
    let x = Tensor::from_vec(xs, &[n, 6, 1]);
    let y = Tensor::from_vec(ys.clone(), &[n]);
    let mut model = nabla_nn::Sequential::new(vec![6, 1])
        .add_boxed(from_json(r#"{"type": "gru", "units": 8}"#).into_layer())
        .add_boxed(dense_cfg(2, Activation::Softmax, true).into_layer())
        .build(1)
        .unwrap();
    model
        .compile(Adam::new(0.02), Loss::SparseCategoricalCrossentropy, &[])
        .unwrap();
    let loss = Loss::SparseCategoricalCrossentropy.into_spec();
    for _ in 0..60 {
        let grads = loss.compute(&model.forward_train(&x), &y).backward();
        model.apply_gradients(&grads).unwrap();
    }
    let p = model.forward_eval(&x);
    let correct = p
        .data()
        .chunks(2)
        .zip(&ys)
        .filter(|(p, &t)| (p[1] > p[0]) == (t > 0.5))
        .count();
    assert!(correct as f64 / n as f64 > 0.95, "accuracy {correct}/{n}");
}

#[test]
fn padding_tokens_are_masked_out_of_attention() {
    use nabla_core::{Rng, Tensor};
    use nabla_nn::Ctx;
    // tokens 0 are padding: changing what the padded positions hold must not change the
    // outputs at the real positions (bidirectional attention, fused and with dropout)
    for dropout in [0.0, 0.3] {
        let layers = format!(
            r#"[{{"type": "embedding", "input_dim": 6, "output_dim": 4, "padding_idx": 0, "mask_padding": true}},
               {{"type": "transformer_block", "num_heads": 2, "dropout": {dropout}}}]"#
        );
        let layers: Vec<LayerConfig> = serde_json::from_str(&layers).unwrap();
        let mut seq = nabla_nn::Sequential::new(vec![5]);
        for l in layers {
            seq = seq.add_boxed(l.into_layer());
        }
        let mut m = seq.build(2).unwrap();
        // make the padding row non-zero so padded positions carry something
        m.params_mut()[0]
            .value
            .update(|t| t[..4].copy_from_slice(&[1.0, -2.0, 0.5, 3.0]));
        let run = |m: &nabla_nn::Model| {
            let mut rng = Rng::new(7);
            let x = Tensor::from_vec(vec![3.0, 0.0, 5.0, 0.0, 2.0], &[1, 5]);
            m.forward(&x, &mut Ctx::new(dropout > 0.0, &mut rng))
                .to_vec()
        };
        let a = run(&m);
        m.params_mut()[0]
            .value
            .update(|t| t[..4].copy_from_slice(&[-4.0, 1.0, 2.0, -1.0]));
        let b = run(&m);
        for pos in [0, 2, 4] {
            for f in 0..4 {
                let (x, y) = (a[pos * 4 + f], b[pos * 4 + f]);
                assert!(
                    (x - y).abs() < 1e-5,
                    "dropout {dropout}: position {pos} changed: {x} vs {y}"
                );
            }
        }
        assert_ne!(a[4..8], b[4..8], "the padded position itself does change");
    }
    let e = nabla_nn::Sequential::new(vec![3])
        .add_boxed(
            from_json(
                r#"{"type": "embedding", "input_dim": 4, "output_dim": 2, "mask_padding": true}"#,
            )
            .into_layer(),
        )
        .build(0)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mask_padding") && e.contains("padding_idx"),
        "{e}"
    );
}

#[test]
fn attention_and_transformer_start_as_pytorch_does() {
    use nabla_nn::layers::{MultiHeadAttention, TransformerBlock};
    // the largest |w| of a big uniform draw is close to its bound
    let bound = |w: &[f32], l: f32| {
        let m = w.iter().fold(0f32, |a, v| a.max(v.abs()));
        assert!(m <= l && m > 0.97 * l, "max |w| {m}, bound {l}");
    };
    let m = nabla_nn::Sequential::new([8, 128])
        .add(MultiHeadAttention::new(4, 32))
        .build(3)
        .unwrap();
    let p = m.named_params();
    // nn.MultiheadAttention: xavier over the stacked [128, 384] in-projection
    for w in &p[..3] {
        bound(w.1.value.data(), (6.0f32 / (128.0 + 384.0)).sqrt());
    }
    bound(p[3].1.value.data(), 1.0 / 128f32.sqrt());
    let m = nabla_nn::Sequential::new([8, 128])
        .add(TransformerBlock::new(4))
        .build(3)
        .unwrap();
    let mut seen = 0;
    for (name, w) in m.named_params() {
        if name.ends_with("mlp1/kernel") {
            bound(w.value.data(), 1.0 / 128f32.sqrt());
            seen += 1;
        } else if name.ends_with("mlp2/kernel") {
            bound(w.value.data(), 1.0 / 512f32.sqrt());
            seen += 1;
        }
    }
    assert_eq!(seen, 2);
}

/// Each Rust constructor gives the spec's config with only the required fields written: the
/// defaults are written once (the config's serde attributes) and both read them.
#[test]
fn constructors_give_the_specs_defaults() {
    use nabla_nn::layers::*;
    use nabla_nn::Layer;
    let cases: Vec<(Box<dyn Layer>, &str)> = vec![
        (Box::new(Dense::new(3)), r#""dense", "units": 3"#),
        (
            Box::new(ActivationLayer::new(Activation::Relu)),
            r#""activation", "activation": "relu""#,
        ),
        (
            Box::new(MultiHeadAttention::new(2, 4)),
            r#""multi_head_attention", "num_heads": 2, "key_dim": 4"#,
        ),
        (Box::new(BatchNorm::new()), r#""batch_norm""#),
        (
            Box::new(Conv1d::new(4, 3)),
            r#""conv1d", "filters": 4, "kernel_size": 3"#,
        ),
        (
            Box::new(Conv2d::new(4, 3)),
            r#""conv2d", "filters": 4, "kernel_size": 3"#,
        ),
        (Box::new(Dropout::new(0.3)), r#""dropout", "rate": 0.3"#),
        (
            Box::new(Embedding::new(10, 4)),
            r#""embedding", "input_dim": 10, "output_dim": 4"#,
        ),
        (Box::new(Flatten::new()), r#""flatten""#),
        (Box::new(GlobalPool2d::avg()), r#""global_avg_pool2d""#),
        (Box::new(LayerNorm::new()), r#""layer_norm""#),
        (
            Box::new(Normalization::new(Method::Standard)),
            r#""normalization""#,
        ),
        (
            Box::new(Permute::new(&[2, 1])),
            r#""permute", "dims": [2, 1]"#,
        ),
        (Box::new(Pool1d::max(2)), r#""max_pool1d", "pool_size": 2"#),
        (
            Box::new(MaxPool2d::new(2)),
            r#""max_pool2d", "pool_size": 2"#,
        ),
        (
            Box::new(PositionalEmbedding::new(PositionKind::Learned)),
            r#""positional_embedding""#,
        ),
        (
            Box::new(Reshape::new(&[4, -1])),
            r#""reshape", "target_shape": [4, -1]"#,
        ),
        (
            Box::new(SequencePool::new(SequenceReduce::Mean)),
            r#""global_avg_pool1d""#,
        ),
        (
            Box::new(SpatialDropout2d::new(0.25)),
            r#""spatial_dropout2d", "rate": 0.25"#,
        ),
        (
            Box::new(TransformerBlock::new(2)),
            r#""transformer_block", "num_heads": 2"#,
        ),
        (
            Box::new(UpSampling2d::new(2, UpsampleMode::Nearest)),
            r#""up_sampling2d", "size": 2"#,
        ),
        (
            Box::new(ZeroPadding2d::new([1, 1, 2, 2])),
            r#""zero_padding2d", "padding": [1, 1, 2, 2]"#,
        ),
        (Box::new(Concatenate::new(-1)), r#""concatenate""#),
        (Box::new(Dot::new(1)), r#""dot", "axes": 1"#),
        (Box::new(Lstm::new(5)), r#""lstm", "units": 5"#),
        (Box::new(Gru::new(5)), r#""gru", "units": 5"#),
        (Box::new(SimpleRnn::new(5)), r#""simple_rnn", "units": 5"#),
    ];
    for (layer, spec) in cases {
        let want = from_json(&format!(r#"{{"type": {spec}}}"#));
        assert_eq!(layer.config(), want, "{spec}");
    }
}
