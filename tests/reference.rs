//! nabla against PyTorch: the Dense layer, the losses, the optimisers, convolutions, pooling,
//! batch norm and upsampling reproduce reference values made by
//! `scripts/reference/make_fixtures.py` (fixtures committed in tests/fixtures; the sequence
//! layers are in `reference_sequence.rs`).

use nabla::core::testing::assert_close;
use nabla::nn::{Clipping, CompileConfig, Ctx, OptimizerConfig};
use nabla::prelude::*;
mod common;
use common::{fixture, floats, grads_of, set_weights, usizes};
use serde_json::Value;

#[test]
fn dense_forward_and_backward_match_pytorch() {
    let f = fixture("dense.json");
    let x = Tensor::from_vec(floats(&f["x"]), &usizes(&f["x_shape"])).requires_grad(true);
    let r = Tensor::from_vec(floats(&f["r"]), &[4, 3]);
    for (name, case) in f["cases"].as_object().unwrap() {
        let act: Activation = serde_json::from_value(case["activation"].clone()).unwrap();
        let mut model = Sequential::new([5])
            .add(Dense::new(3).activation(act))
            .build(0)
            .unwrap();
        set_weights(&mut model, &[floats(&f["kernel"]), floats(&f["bias"])]);
        let mut rng = Rng::new(0);
        let y = model.forward(&x, &mut Ctx::new(false, &mut rng));
        assert_close(
            y.data(),
            &floats(&case["y"]),
            1e-5,
            1e-5,
            &format!("{name} y"),
        );
        let grads = y.mul(&r).sum().backward();
        let params = model.named_params();
        assert_close(
            grads.get(&x).unwrap(),
            &floats(&case["dx"]),
            1e-5,
            1e-4,
            &format!("{name} dx"),
        );
        let dk = grads.get(&params[0].1.value).unwrap();
        assert_close(
            dk,
            &floats(&case["dkernel"]),
            1e-5,
            1e-4,
            &format!("{name} dkernel"),
        );
        let db = grads.get(&params[1].1.value).unwrap();
        assert_close(
            db,
            &floats(&case["dbias"]),
            1e-5,
            1e-4,
            &format!("{name} dbias"),
        );
    }
}

/// The loss and its gradient with respect to `input` (which gets `post` applied first).
fn loss_and_grad(
    spec: LossSpec,
    input: Tensor,
    target: &Tensor,
    post: impl Fn(&Tensor) -> Tensor,
) -> (f32, Vec<f32>) {
    let input = input.requires_grad(true);
    let loss = spec.compute(&post(&input), target);
    let grads = loss.backward();
    (loss.item(), grads.get(&input).unwrap().to_vec())
}

#[test]
fn losses_match_pytorch() {
    let f = fixture("losses.json");
    let logits = Tensor::from_vec(floats(&f["logits"]), &[6, 4]);
    let labels: Vec<f32> = usizes(&f["labels"]).iter().map(|&l| l as f32).collect();
    let labels = Tensor::from_vec(labels, &[6]);
    let soft = Tensor::from_vec(floats(&f["soft_targets"]), &[6, 4]);
    let probs = Tensor::from_vec(floats(&f["probs"]), &[6, 4]);
    let pred = Tensor::from_vec(floats(&f["pred"]), &[6, 3]);
    let target = Tensor::from_vec(floats(&f["target"]), &[6, 3]);
    let id = |t: &Tensor| t.clone();
    let check = |name: &str, (loss, grad): (f32, Vec<f32>)| {
        let case = &f["cases"][name];
        assert_close(
            &[loss],
            &[case["loss"].as_f64().unwrap() as f32],
            1e-5,
            1e-5,
            name,
        );
        assert_close(&grad, &floats(&case["grad"]), 1e-6, 1e-4, name);
    };
    let sparse = Loss::SparseCategoricalCrossentropy;
    let categorical = Loss::CategoricalCrossentropy;
    check(
        "sparse_from_logits",
        loss_and_grad(sparse.from_logits(), logits.clone(), &labels, id),
    );
    // probabilities from a softmax activation: computed from its logits, so identical
    check(
        "sparse_from_logits",
        loss_and_grad(sparse.into(), logits.clone(), &labels, |t| t.softmax()),
    );
    check(
        "categorical_from_logits",
        loss_and_grad(categorical.from_logits(), logits.clone(), &soft, id),
    );
    check(
        "categorical_from_logits",
        loss_and_grad(categorical.into(), logits, &soft, |t| t.softmax()),
    );
    check(
        "categorical_probs",
        loss_and_grad(categorical.into(), probs.clone(), &soft, id),
    );
    check(
        "sparse_probs",
        loss_and_grad(sparse.into(), probs, &labels, id),
    );
    check(
        "mse",
        loss_and_grad(Loss::MeanSquaredError.into(), pred, &target, id),
    );
}

#[test]
fn optimizer_trajectories_match_torch_optim() {
    let f = fixture("optimizers.json");
    let x = Tensor::from_vec(floats(&f["x"]), &[8, 3]);
    let y = Tensor::from_vec(floats(&f["y"]), &[8, 2]);
    for (name, case) in f["cases"].as_object().unwrap() {
        let cfg: OptimizerConfig = serde_json::from_value(case["config"].clone()).unwrap();
        let mut model = Sequential::new([3]).add(Dense::new(2)).build(0).unwrap();
        set_weights(&mut model, &[floats(&f["kernel"]), floats(&f["bias"])]);
        let clipping: Clipping = serde_json::from_value(case["clipping"].clone()).unwrap();
        let loss = Loss::MeanSquaredError.into();
        let compile = CompileConfig {
            optimizer: cfg,
            loss,
            metrics: vec![].into(),
            loss_weights: 1.0.into(),
            clipping,
            lr_schedule: None,
        };
        model.compile_from_config(&compile).unwrap();
        for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let loss = Loss::MeanSquaredError
                .into_spec()
                .compute(&model.forward_train(&x), &y);
            let what = format!("{name} step {}", i + 1);
            assert_close(
                &[loss.item()],
                &[step["loss"].as_f64().unwrap() as f32],
                1e-6,
                1e-5,
                &what,
            );
            let grads = loss.backward();
            drop(loss);
            model.apply_gradients(&grads).unwrap();
            let params = model.named_params();
            assert_close(
                params[0].1.value.data(),
                &floats(&step["kernel"]),
                1e-6,
                1e-5,
                &what,
            );
            assert_close(
                params[1].1.value.data(),
                &floats(&step["bias"]),
                1e-6,
                1e-5,
                &what,
            );
        }
    }
}

#[test]
fn adam_defaults_are_pytorchs() {
    let a = Adam::default();
    assert_eq!(
        (a.learning_rate, a.beta_1, a.beta_2, a.epsilon),
        (1e-3, 0.9, 0.999, 1e-8)
    );
}

#[test]
fn conv2d_and_pooling_match_pytorch() {
    let f = fixture("conv.json");
    let x = Tensor::from_vec(floats(&f["x"]), &usizes(&f["x_shape"])).requires_grad(true);
    let pair = |v: &Value| {
        let u = usizes(v);
        (u[0], u[1])
    };
    let quad = |v: &Value| {
        let u = usizes(v);
        (u[0], u[1], u[2], u[3])
    };
    for (name, c) in f["cases"].as_object().unwrap() {
        let r = Tensor::from_vec(floats(&c["r"]), &usizes(&c["y_shape"]));
        let (y, extra) = if name.starts_with("conv") {
            let w = Tensor::from_vec(floats(&c["w"]), &usizes(&c["w_shape"])).requires_grad(true);
            let b = Tensor::from_vec(floats(&c["b"]), &[6]).requires_grad(true);
            let win = nabla::core::Window2d {
                stride: pair(&c["stride"]),
                pad: quad(&c["pad"]),
                dilation: pair(&c["dilation"]),
                groups: c["groups"].as_u64().unwrap() as usize,
            };
            (x.conv2d(&w, Some(&b), win), Some((w, b)))
        } else {
            let win = nabla::core::Window2d {
                stride: pair(&c["stride"]),
                pad: quad(&c["pad"]),
                dilation: (1, 1),
                groups: 1,
            };
            let k = pair(&c["k"]);
            let y = if c["kind"] == "max" {
                x.max_pool2d(k, win)
            } else {
                x.avg_pool2d(k, win)
            };
            (y, None)
        };
        assert_eq!(y.shape(), usizes(&c["y_shape"]).as_slice(), "{name} shape");
        assert_close(y.data(), &floats(&c["y"]), 1e-5, 1e-4, &format!("{name} y"));
        let g = y.mul(&r).sum().backward();
        assert_close(
            g.get(&x).unwrap(),
            &floats(&c["dx"]),
            1e-5,
            1e-4,
            &format!("{name} dx"),
        );
        if let Some((w, b)) = extra {
            assert_close(
                g.get(&w).unwrap(),
                &floats(&c["dw"]),
                1e-4,
                1e-4,
                &format!("{name} dw"),
            );
            assert_close(
                g.get(&b).unwrap(),
                &floats(&c["db"]),
                1e-4,
                1e-4,
                &format!("{name} db"),
            );
        }
    }
}

#[test]
fn batch_norm_matches_pytorch_in_training_and_eval() {
    let f = fixture("batch_norm.json");
    let shape = [2, 3, 4, 5];
    let mut model = Sequential::new([3, 4, 5])
        .add(BatchNorm::new())
        .build(0)
        .unwrap();
    set_weights(&mut model, &[floats(&f["gamma"]), floats(&f["beta"])]);
    model
        .compile(Sgd::new(0.0), Loss::MeanSquaredError, &[])
        .unwrap();
    let x = Tensor::from_vec(floats(&f["x"]), &shape).requires_grad(true);
    let (y, _) = model.forward_train_regularized(&x);
    assert_close(y.data(), &floats(&f["y"]), 1e-5, 1e-4, "train y");
    let r = Tensor::from_vec(floats(&f["r"]), &shape);
    let g = y.mul(&r).sum().backward();
    let p = model.named_params();
    assert_close(g.get(&x).unwrap(), &floats(&f["dx"]), 1e-5, 1e-3, "dx");
    assert_close(
        g.get(&p[0].1.value).unwrap(),
        &floats(&f["dgamma"]),
        1e-4,
        1e-4,
        "dgamma",
    );
    assert_close(
        g.get(&p[1].1.value).unwrap(),
        &floats(&f["dbeta"]),
        1e-4,
        1e-4,
        "dbeta",
    );
    assert_close(
        p[2].1.value.data(),
        &floats(&f["running_mean"]),
        1e-6,
        1e-5,
        "running mean",
    );
    assert_close(
        p[3].1.value.data(),
        &floats(&f["running_var"]),
        1e-6,
        1e-5,
        "running var",
    );
    let x2 = Tensor::from_vec(floats(&f["x2"]), &shape);
    assert_close(
        model.forward_eval(&x2).data(),
        &floats(&f["y_eval"]),
        1e-5,
        1e-4,
        "eval y",
    );
}

#[test]
fn conv1d_and_upsampling_match_pytorch() {
    let f = fixture("conv1d_upsample.json");
    let cfg: nabla::nn::LayerConfig = serde_json::from_str(
        r#"{"type": "conv1d", "filters": 4, "kernel_size": 3, "strides": 2, "padding": [1, 1], "dilation_rate": 2}"#,
    )
    .unwrap();
    let mut model = Sequential::new([3, 9])
        .add_boxed(cfg.into_layer())
        .build(0)
        .unwrap();
    set_weights(&mut model, &[floats(&f["w"]), floats(&f["b"])]);
    let x = Tensor::from_vec(floats(&f["x"]), &[2, 3, 9]).requires_grad(true);
    let y = model.forward(&x, &mut Ctx::new(true, &mut Rng::new(0)));
    assert_close(y.data(), &floats(&f["y"]), 1e-5, 1e-4, "conv1d y");
    let g = y
        .mul(&Tensor::from_vec(floats(&f["r"]), y.shape()))
        .sum()
        .backward();
    let p = model.named_params();
    assert_close(
        g.get(&x).unwrap(),
        &floats(&f["dx"]),
        1e-5,
        1e-4,
        "conv1d dx",
    );
    assert_close(
        g.get(&p[0].1.value).unwrap(),
        &floats(&f["dw"]),
        1e-4,
        1e-4,
        "conv1d dw",
    );
    assert_close(
        g.get(&p[1].1.value).unwrap(),
        &floats(&f["db"]),
        1e-4,
        1e-4,
        "conv1d db",
    );
    let u = Tensor::from_vec(floats(&f["u"]), &[1, 2, 3, 4]);
    for (name, mode) in [
        ("nearest", nabla::core::Interpolation::Nearest),
        ("bilinear", nabla::core::Interpolation::Bilinear),
    ] {
        let m = &f[name];
        let (y, d) = grads_of(std::slice::from_ref(&u), &floats(&m["r"]), |t| {
            t[0].upsample2d((2, 2), mode)
        });
        assert_close(y.data(), &floats(&m["y"]), 1e-6, 1e-5, name);
        assert_close(&d[0], &floats(&m["dx"]), 1e-5, 1e-4, name);
    }
}

/// A residual block as a model graph: `relu(x + bn2(conv2(relu(bn1(conv1(x))))))`, in
/// training mode, against PyTorch: output, input and weight gradients, running statistics.
#[test]
fn residual_block_graph_matches_pytorch() {
    let f = fixture("residual.json");
    let cfg: ModelConfig = serde_json::from_str(
        r#"{ "input_shape": [4, 5, 5], "layers": [
        { "type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "use_bias": false, "name": "conv1" },
        { "type": "batch_norm", "name": "bn1" },
        { "type": "activation", "activation": "relu" },
        { "type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "use_bias": false, "name": "conv2" },
        { "type": "batch_norm", "name": "bn2" },
        { "type": "add", "inputs": ["input", "bn2"] },
        { "type": "activation", "activation": "relu" } ] }"#,
    )
    .unwrap();
    let mut model = cfg.build(0).unwrap();
    let trained = [
        "conv1.kernel",
        "bn1.gamma",
        "bn1.beta",
        "conv2.kernel",
        "bn2.gamma",
        "bn2.beta",
    ];
    let names: Vec<String> = model.named_params().into_iter().map(|(n, _)| n).collect();
    let weights = f["weights"].as_array().unwrap();
    for (p, name) in model.params_mut().into_iter().zip(&names) {
        if let Some(i) = trained.iter().position(|t| t == name) {
            p.value.update(|w| w.copy_from_slice(&floats(&weights[i])));
        }
    }
    let x = Tensor::from_vec(floats(&f["x"]), &[2, 4, 5, 5]).requires_grad(true);
    let (y, _) = model.forward_train_regularized(&x);
    assert_close(y.data(), &floats(&f["y"]), 1e-5, 1e-4, "residual y");
    let g = y
        .mul(&Tensor::from_vec(floats(&f["r"]), y.shape()))
        .sum()
        .backward();
    assert_close(g.get(&x).unwrap(), &floats(&f["dx"]), 1e-4, 1e-3, "dx");
    let params = model.named_params();
    let by_name = |n: &str| &params.iter().find(|(m, _)| m == n).unwrap().1.value;
    for (i, name) in trained.iter().enumerate() {
        let want = floats(&f["grads"][i]);
        assert_close(g.get(by_name(name)).unwrap(), &want, 1e-4, 1e-3, name);
    }
    let stats = [
        "bn1.moving_mean",
        "bn1.moving_variance",
        "bn2.moving_mean",
        "bn2.moving_variance",
    ];
    for (i, name) in stats.iter().enumerate() {
        let want = floats(&f["running"][i]);
        assert_close(by_name(name).data(), &want, 1e-5, 1e-4, name);
    }
}
