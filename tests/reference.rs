//! nabla against PyTorch: the Dense layer, the losses and the optimisers reproduce reference
//! values made by `scripts/reference/make_fixtures.py` (fixtures committed in tests/fixtures).

use nabla::core::testing::assert_close;
use nabla::nn::{Clipping, CompileConfig, Ctx, OptimizerConfig};
use nabla::prelude::*;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

/// Sets a built model's weights, in `named_params` order.
fn set_weights(model: &mut Model, values: &[Vec<f32>]) {
    for (p, v) in model.params_mut().into_iter().zip(values) {
        p.value.update(|w| w.copy_from_slice(v));
    }
}

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
            metrics: vec![],
            clipping,
            lr_schedule: None,
        };
        model.compile_config(&compile).unwrap();
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

/// `(value, d(Σ y·r)/d inputs)` of `f` at `inputs`.
fn grads_of(
    inputs: &[Tensor],
    r: &[f32],
    f: impl Fn(&[Tensor]) -> Tensor,
) -> (Tensor, Vec<Vec<f32>>) {
    let xs: Vec<Tensor> = inputs
        .iter()
        .map(|t| t.clone().requires_grad(true))
        .collect();
    let y = f(&xs);
    let g = y
        .mul(&Tensor::from_vec(r.to_vec(), y.shape()))
        .sum()
        .backward();
    let d = xs.iter().map(|x| g.get(x).unwrap().to_vec()).collect();
    (y, d)
}

#[test]
fn layer_norm_rms_norm_and_embedding_match_pytorch() {
    let f = fixture("norm_embedding.json");
    let x = Tensor::from_vec(floats(&f["x"]), &[2, 3, 6]);
    let gamma = Tensor::from_vec(floats(&f["gamma"]), &[6]);
    let beta = Tensor::from_vec(floats(&f["beta"]), &[6]);
    let ln = &f["layer_norm"];
    let (y, d) = grads_of(&[x.clone(), gamma.clone(), beta], &floats(&ln["r"]), |t| {
        t[0].layer_norm(&t[1], &t[2], 1e-5)
    });
    assert_close(y.data(), &floats(&ln["y"]), 1e-5, 1e-4, "layer_norm y");
    assert_close(&d[0], &floats(&ln["dx"]), 1e-5, 1e-3, "layer_norm dx");
    assert_close(
        &d[1],
        &floats(&ln["dgamma"]),
        1e-5,
        1e-4,
        "layer_norm dgamma",
    );
    assert_close(&d[2], &floats(&ln["dbeta"]), 1e-5, 1e-4, "layer_norm dbeta");
    let rms = &f["rms_norm"];
    let (y, d) = grads_of(&[x, gamma], &floats(&rms["r"]), |t| {
        t[0].rms_norm(&t[1], 1e-5)
    });
    assert_close(y.data(), &floats(&rms["y"]), 1e-5, 1e-4, "rms_norm y");
    assert_close(&d[0], &floats(&rms["dx"]), 1e-5, 1e-3, "rms_norm dx");
    assert_close(
        &d[1],
        &floats(&rms["dgamma"]),
        1e-5,
        1e-4,
        "rms_norm dgamma",
    );
    // Embedding(7, 4, padding_idx=0) through the layer
    let e = &f["embedding"];
    let mut model = Sequential::new([3])
        .add(nabla::nn::layers::Embedding::new(7, 4).padding_idx(0))
        .build(0)
        .unwrap();
    set_weights(&mut model, &[floats(&e["table"])]);
    let idx: Vec<f32> = usizes(&e["idx"]).iter().map(|&i| i as f32).collect();
    let y = model.forward(
        &Tensor::from_vec(idx, &[2, 3]),
        &mut Ctx::new(true, &mut Rng::new(0)),
    );
    assert_close(y.data(), &floats(&e["y"]), 0.0, 0.0, "embedding y");
    let r = Tensor::from_vec(floats(&e["r"]), y.shape());
    let g = y.mul(&r).sum().backward();
    let table = &model.named_params()[0].1.value;
    assert_close(
        g.get(table).unwrap(),
        &floats(&e["dtable"]),
        1e-6,
        1e-5,
        "embedding dtable",
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

#[test]
fn multi_head_attention_matches_pytorch_with_and_without_causal_mask() {
    let f = fixture("attention.json");
    let names = ["wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo"];
    let weights: Vec<Vec<f32>> = names.iter().map(|n| floats(&f[*n])).collect();
    for (case, causal) in [("full", false), ("causal", true)] {
        let c = &f[case];
        let mut model = Sequential::new([4, 6])
            .add(nabla::nn::layers::MultiHeadAttention::new(2, 3).causal(causal))
            .build(0)
            .unwrap();
        set_weights(&mut model, &weights);
        let x = Tensor::from_vec(floats(&f["x"]), &[2, 4, 6]).requires_grad(true);
        let y = model.forward(&x, &mut Ctx::new(true, &mut Rng::new(0)));
        assert_close(y.data(), &floats(&c["y"]), 1e-5, 1e-4, &format!("{case} y"));
        let g = y
            .mul(&Tensor::from_vec(floats(&c["r"]), y.shape()))
            .sum()
            .backward();
        let p = model.named_params();
        let grad = |i: usize| g.get(&p[i].1.value).unwrap().to_vec();
        assert_close(
            g.get(&x).unwrap(),
            &floats(&c["dx"]),
            1e-5,
            1e-3,
            &format!("{case} dx"),
        );
        assert_close(
            &grad(0),
            &floats(&c["dwq"]),
            1e-5,
            1e-3,
            &format!("{case} dwq"),
        );
        assert_close(
            &grad(3),
            &floats(&c["dwo"]),
            1e-5,
            1e-3,
            &format!("{case} dwo"),
        );
        assert_close(
            &grad(6),
            &floats(&c["dbv"]),
            1e-5,
            1e-3,
            &format!("{case} dbv"),
        );
    }
}

#[test]
fn lstm_gru_and_rnn_match_pytorch_with_states_layers_and_directions() {
    use nabla::nn::layers::{Gru, Lstm, Recurrent, RnnState, SimpleRnn};
    use nabla::nn::{Activation, Layer};
    let f = fixture("recurrent.json");
    let cases: [(&str, Recurrent); 3] = [
        ("lstm", Lstm::new(4).num_layers(2).bidirectional(true)),
        ("gru", Gru::new(4).num_layers(2)),
        (
            "rnn_relu",
            SimpleRnn::new(4)
                .activation(Activation::Relu)
                .bidirectional(true),
        ),
    ];
    for (name, layer) in cases {
        let c = &f[name];
        let mut layer = layer.return_sequences(true);
        layer.build(&[5, 3], &mut Rng::new(0)).unwrap();
        let torch_names: Vec<&str> = c["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let ours: Vec<String> = layer.params().iter().map(|p| p.name.clone()).collect();
        assert_eq!(ours, torch_names, "{name}: weight names and order");
        let weights = c["weights"].as_array().unwrap();
        for (p, w) in layer.params_mut().into_iter().zip(weights) {
            p.value.update(|v| v.copy_from_slice(&floats(w)));
        }
        let lstm = name == "lstm";
        let x = Tensor::from_vec(floats(&c["x"]), &[2, 5, 3]).requires_grad(true);
        let h0 = floats(&c["h0"]);
        let c0 = lstm.then(|| floats(&c["c0"]));
        let n_states = h0.len() / 8;
        let slice = |v: &[f32], k: usize| Tensor::from_vec(v[k * 8..(k + 1) * 8].to_vec(), &[2, 4]);
        let init: Vec<RnnState> = (0..n_states)
            .map(|k| RnnState {
                h: slice(&h0, k).requires_grad(true),
                c: c0.as_ref().map(|c0| slice(c0, k).requires_grad(true)),
            })
            .collect();
        let mut rng = Rng::new(0);
        let (y, finals) = layer.forward_with_state(&x, Some(&init), &mut Ctx::new(true, &mut rng));
        assert_close(y.data(), &floats(&c["y"]), 1e-5, 1e-4, &format!("{name} y"));
        let hn: Vec<&Tensor> = finals.iter().map(|s| &s.h).collect();
        let hn = Tensor::concat(&hn, 0);
        assert_close(
            hn.data(),
            &floats(&c["hn"]),
            1e-5,
            1e-4,
            &format!("{name} h_n"),
        );
        let mut loss = y
            .mul(&Tensor::from_vec(floats(&c["r"]), y.shape()))
            .sum()
            .add(
                &hn.mul(&Tensor::from_vec(floats(&c["rh"]), hn.shape()))
                    .sum(),
            );
        if lstm {
            let cs: Vec<&Tensor> = finals.iter().map(|s| s.c.as_ref().unwrap()).collect();
            let cn = Tensor::concat(&cs, 0);
            assert_close(cn.data(), &floats(&c["cn"]), 1e-5, 1e-4, "lstm c_n");
            loss = loss.add(
                &cn.mul(&Tensor::from_vec(floats(&c["rc"]), cn.shape()))
                    .sum(),
            );
        }
        let g = loss.backward();
        assert_close(
            g.get(&x).unwrap(),
            &floats(&c["dx"]),
            1e-5,
            1e-3,
            &format!("{name} dx"),
        );
        let dh0: Vec<f32> = init
            .iter()
            .flat_map(|s| g.get(&s.h).unwrap().to_vec())
            .collect();
        assert_close(&dh0, &floats(&c["dh0"]), 1e-5, 1e-3, &format!("{name} dh0"));
        if lstm {
            let dc0: Vec<f32> = init
                .iter()
                .flat_map(|s| g.get(s.c.as_ref().unwrap()).unwrap().to_vec())
                .collect();
            assert_close(&dc0, &floats(&c["dc0"]), 1e-5, 1e-3, "lstm dc0");
        }
        for (p, want) in layer.params().iter().zip(c["grads"].as_array().unwrap()) {
            let what = format!("{name} d{}", p.name);
            assert_close(g.get(&p.value).unwrap(), &floats(want), 1e-5, 1e-3, &what);
        }
    }
}
