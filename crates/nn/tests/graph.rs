//! Model graphs: the functional API, merges, shared layers, models inside models, their
//! gradients (finite differences), configs, save/load, and the build errors.

use nabla_core::testing::grad_check;
use nabla_core::{Rng, Tensor};
use nabla_nn::functional::{Call, Functional, Input, Shared};
use nabla_nn::layers::{Concatenate, Dot, TimeDistributed};
use nabla_nn::{
    Activation, Add, Average, BatchNorm, Ctx, Dense, Layer, Maximum, Minimum, Model, ModelConfig,
    Multiply, Sequential, SubModel, Subtract,
};

fn rand(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let n = shape.iter().product();
    Tensor::from_vec((0..n).map(|_| rng.normal()).collect(), shape)
}

fn weighted_sum(t: &Tensor) -> Tensor {
    let w: Vec<f32> = (0..t.numel())
        .map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0)
        .collect();
    t.mul(&Tensor::from_vec(w, t.shape())).sum()
}

/// One random batch per model input.
fn random_inputs(model: &Model, batch: usize, seed: u64) -> Vec<Tensor> {
    let shapes = model.inputs().iter().map(|i| i.shape.clone());
    shapes
        .enumerate()
        .map(|(k, s)| {
            let shape: Vec<usize> = std::iter::once(batch).chain(s).collect();
            rand(&shape, seed + k as u64)
        })
        .collect()
}

/// Checks the gradients of every input of `model` against finite differences.
fn check_input_grads(name: &str, model: &Model, batch: usize) {
    let xs = random_inputs(model, batch, 10);
    grad_check(name, &xs, |xs| {
        let mut rng = Rng::new(0);
        let ys = model.forward_multi(xs, &mut Ctx::new(false, &mut rng));
        ys.iter()
            .map(weighted_sum)
            .reduce(|a, b| a.add(&b))
            .unwrap()
    });
}

/// Checks the gradient of every weight of `model` at a few elements against finite
/// differences of the loss (a shared layer's gradient sums over its calls).
fn check_weight_grads(name: &str, model: &mut Model, batch: usize) {
    let xs = random_inputs(model, batch, 20);
    let loss = |m: &Model| {
        let mut rng = Rng::new(0);
        let ys = m.forward_multi(&xs, &mut Ctx::new(false, &mut rng));
        ys.iter()
            .map(weighted_sum)
            .reduce(|a, b| a.add(&b))
            .unwrap()
    };
    let grads = loss(model).backward();
    let names: Vec<String> = model.named_params().into_iter().map(|(n, _)| n).collect();
    for (pi, pname) in names.iter().enumerate() {
        let analytic = grads
            .get(&model.params_mut()[pi].value)
            .map(|g| g.to_vec())
            .unwrap_or_else(|| panic!("{name}: no gradient for {pname}"));
        for i in [0, analytic.len() / 2, analytic.len() - 1] {
            let eps = 1e-3;
            let mut at = |d: f32| {
                model.params_mut()[pi].value.update(|w| w[i] += d);
                let v = loss(model).item() as f64;
                model.params_mut()[pi].value.update(|w| w[i] -= d);
                v
            };
            let numeric = (at(eps) - at(-eps)) / (2.0 * eps as f64);
            let a = analytic[i] as f64;
            assert!(
                (a - numeric).abs() <= 2e-2 * (1.0 + numeric.abs()),
                "{name}: d/d {pname}[{i}] analytic {a} numeric {numeric}"
            );
        }
    }
}

#[test]
fn residual_block_with_every_merge_has_correct_gradients() {
    let x = Input::new("x", [6]);
    let h = Dense::new(6).activation(Activation::Tanh).call(&x);
    let sum = Add::new().call([&x, &h]);
    let diff = Subtract::new().call([&sum, &h]);
    let prod = Multiply::new().call([&diff, &h]);
    let avg = Average::new().call([&prod, &x, &h]);
    let max = Maximum::new().call([&avg, &h]);
    let min = Minimum::new().call([&max, &x]);
    let cat = Concatenate::new(-1).call([&min, &sum]);
    let y = Dense::new(3).call(&cat);
    let mut model = Functional::new([&x], [&y]).build(1).unwrap();
    assert_eq!(model.output_shape(), &[3]);
    check_input_grads("merges", &model, 3);
    check_weight_grads("merges", &mut model, 3);
}

#[test]
fn shared_layer_and_dot_on_two_inputs() {
    let a = Input::new("a", [5]);
    let b = Input::new("b", [5]);
    let enc = Shared::new(Dense::new(4).activation(Activation::Tanh));
    let (ea, eb) = (enc.call(&a), enc.call(&b));
    let sim = Dot::new(1).call([&ea, &eb]);
    let cos = Dot::new(1).normalize(true).call([&ea, &eb]);
    let out = Concatenate::new(1).call([&sim, &cos]);
    let mut model = Functional::new([&a, &b], [&out]).build(3).unwrap();
    // one layer, two calls: one set of weights
    assert_eq!(model.layers().len(), 4);
    assert_eq!(model.named_params().len(), 2);
    assert_eq!(model.output_shape(), &[2]);
    check_input_grads("shared + dot", &model, 2);
    check_weight_grads("shared + dot", &mut model, 2);
}

#[test]
fn dot_over_sequences_is_a_batched_product() {
    let q = Input::new("q", [3, 4]);
    let k = Input::new("k", [5, 4]);
    let scores = Dot::from_config(nabla_nn::layers::DotConfig {
        axes: nabla_nn::layers::Axes::Two([2, 2]),
        normalize: false,
        name: None,
        trainable: true,
    })
    .call([&q, &k]);
    let model = Functional::new([&q, &k], [&scores]).build(0).unwrap();
    assert_eq!(model.output_shape(), &[3, 5]);
    let (xq, xk) = (rand(&[2, 3, 4], 1), rand(&[2, 5, 4], 2));
    let y = model.forward_eval_multi(&[xq.clone(), xk.clone()]);
    let expect = xq.matmul(&xk.transpose());
    assert_eq!(y[0].to_vec(), expect.to_vec());
    check_input_grads("dot [2, 2]", &model, 2);
}

#[test]
fn two_outputs_and_a_model_inside_a_model() {
    let body = Sequential::new([4])
        .add(Dense::new(6).activation(Activation::Relu))
        .add(Dense::new(3))
        .build(7)
        .unwrap();
    let body_out = body.forward_eval(&rand(&[2, 4], 5));
    let x = Input::new("x", [4]);
    let features = SubModel::new(body).named("body").call(&x);
    let main = Dense::new(2).named("main").call(&features);
    let aux = Dense::new(1).named("aux").call(&features);
    let mut model = Functional::new([&x], [&main, &aux]).build(1).unwrap();
    let names: Vec<String> = model.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(&names[..2], ["body.dense.kernel", "body.dense.bias"]);
    assert_eq!(model.outputs(), vec![("main", &[2][..]), ("aux", &[1][..])]);
    // the pretrained body keeps its weights
    let probe = {
        let x = rand(&[2, 4], 5);
        let g = model.graph();
        let mut rng = Rng::new(0);
        let sub = &g.layers[0];
        sub.forward(&x, &mut Ctx::new(false, &mut rng))
    };
    assert_eq!(probe.to_vec(), body_out.to_vec());
    check_input_grads("two outputs + model layer", &model, 2);
    check_weight_grads("two outputs + model layer", &mut model, 2);
    // save, load: same config and outputs
    let bytes = model.to_bytes().unwrap();
    let back = Model::from_bytes(&bytes).unwrap();
    assert_eq!(back.config(), model.config());
    let x = rand(&[3, 4], 9);
    let (y0, y1) = (
        model.forward_eval_multi(std::slice::from_ref(&x)),
        back.forward_eval_multi(&[x]),
    );
    assert_eq!(y0[0].to_vec(), y1[0].to_vec());
    assert_eq!(y0[1].to_vec(), y1[1].to_vec());
}

#[test]
fn spec_json_with_inputs_outputs_and_shared_rebuilds_the_same_model() {
    let json = r#"{
      "inputs": [{ "name": "a", "shape": [4] }, { "name": "b", "shape": [4] }],
      "layers": [
        { "type": "dense", "name": "enc", "units": 3, "inputs": ["a"] },
        { "type": "shared", "layer": "enc", "name": "enc_b", "inputs": ["b"] },
        { "type": "add", "inputs": ["enc", "enc_b"] },
        { "type": "dense", "units": 2, "activation": "softmax", "name": "head" },
        { "type": "dense", "units": 1, "inputs": ["add"], "name": "aux" }
      ],
      "outputs": ["head", "aux"]
    }"#;
    let cfg: ModelConfig = serde_json::from_str(json).unwrap();
    let model = cfg.build(5).unwrap();
    assert_eq!(model.outputs().len(), 2);
    assert_eq!(model.named_params().len(), 6);
    // the config the model gives back builds the same model, weights included
    let again = model.config().build(5).unwrap();
    assert_eq!(again.config(), model.config());
    let xs = [rand(&[2, 4], 1), rand(&[2, 4], 2)];
    assert_eq!(
        model.forward_eval_multi(&xs)[1].to_vec(),
        again.forward_eval_multi(&xs)[1].to_vec()
    );
    let back: ModelConfig =
        serde_json::from_str(&serde_json::to_string(&model.config()).unwrap()).unwrap();
    assert_eq!(back, model.config());
}

#[test]
fn a_chain_with_explicit_inputs_is_the_sequential_model() {
    let seq = Sequential::new([5])
        .add(Dense::new(4).activation(Activation::Relu))
        .add(Dense::new(2))
        .build(11)
        .unwrap();
    let json = r#"{ "input_shape": [5], "layers": [
        { "type": "dense", "units": 4, "activation": "relu", "inputs": ["input"] },
        { "type": "dense", "units": 2, "inputs": ["dense"] } ] }"#;
    let cfg: ModelConfig = serde_json::from_str(json).unwrap();
    let graph = cfg.build(11).unwrap();
    assert!(graph.graph().is_chain());
    // the saved config of a chain is the plain layer list every earlier file has
    assert_eq!(graph.config(), seq.config());
    assert!(!serde_json::to_string(&seq.config())
        .unwrap()
        .contains("inputs"));
    let x = rand(&[3, 5], 4);
    assert_eq!(
        graph.forward_eval(&x).to_vec(),
        seq.forward_eval(&x).to_vec()
    );
}

fn build_err(json: &str) -> String {
    let cfg: ModelConfig = serde_json::from_str(json).unwrap();
    match cfg.build(0) {
        Ok(_) => panic!("expected a build error for {json}"),
        Err(e) => e.to_string(),
    }
}

fn assert_has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} lacks {p:?}");
    }
}

#[test]
fn graph_errors_name_the_layers_and_shapes() {
    let m = build_err(
        r#"{ "input_shape": [4], "layers": [
        { "type": "dense", "units": 3, "name": "a", "inputs": ["b"] },
        { "type": "dense", "units": 3, "name": "b", "inputs": ["a"] } ] }"#,
    );
    assert_has(&m, &["cycle", "a -> b -> a"]);
    let m = build_err(
        r#"{ "input_shape": [4], "layers": [
        { "type": "dense", "units": 3, "name": "a" },
        { "type": "add", "inputs": ["a", "nope"] } ] }"#,
    );
    assert_has(&m, &["'add' takes 'nope'", "known: input, a, add"]);
    let m = build_err(
        r#"{ "input_shape": [4], "layers": [
        { "type": "dense", "units": 3, "name": "conv_2" },
        { "type": "dense", "units": 5, "name": "block_1", "inputs": ["input"] },
        { "type": "add", "inputs": ["conv_2", "block_1"] } ] }"#,
    );
    assert_has(
        &m,
        &["layer 'add'", "conv_2 [3]", "block_1 [5]", "one shape"],
    );
    let m = build_err(
        r#"{ "inputs": [{ "name": "a", "shape": [4] }, { "name": "b", "shape": [4] }],
        "layers": [{ "type": "dense", "units": 3, "inputs": ["a"] }] }"#,
    );
    assert_has(&m, &["input 'b' does not lead to any output"]);
    let m = build_err(
        r#"{ "input_shape": [4], "layers": [
        { "type": "dense", "units": 3, "name": "lost" },
        { "type": "dense", "units": 2, "inputs": ["input"] } ] }"#,
    );
    assert_has(&m, &["layer 'lost' does not lead to any output"]);
    let m = build_err(
        r#"{ "inputs": [{ "name": "a", "shape": [4] }, { "name": "b", "shape": [5] }],
        "layers": [
        { "type": "dense", "units": 3, "name": "enc", "inputs": ["a"] },
        { "type": "shared", "layer": "enc", "inputs": ["b"] },
        { "type": "add", "inputs": ["enc", "shared"] } ] }"#,
    );
    assert_has(&m, &["layer 'enc'", "b [5]", "built for [[4]]"]);
    let m = build_err(
        r#"{ "input_shape": [4], "layers": [
        { "type": "dense", "units": 3, "name": "a" },
        { "type": "dense", "units": 3, "name": "a" } ] }"#,
    );
    assert_has(&m, &["name used once", "a"]);
    // a dangling Input in the Rust API
    let x = Input::new("x", [3]);
    let stray = Input::new("stray", [3]);
    let y = Add::new().call([&x, &stray]);
    let e = Functional::new([&x], [&y])
        .build(0)
        .err()
        .unwrap()
        .to_string();
    assert_has(&e, &["input 'stray'", "not among the model's inputs"]);
}

#[test]
fn time_distributed_batch_norm_updates_its_own_running_statistics() {
    let mut model = Sequential::new([3, 2])
        .add(TimeDistributed::new(BatchNorm::new()))
        .build(0)
        .unwrap();
    let before: Vec<Vec<f32>> = model
        .named_params()
        .iter()
        .map(|(_, p)| p.value.to_vec())
        .collect();
    let x = rand(&[4, 3, 2], 3).add_scalar(2.0);
    model.forward_train(&x);
    let after: Vec<(String, Vec<f32>)> = model
        .named_params()
        .iter()
        .map(|(n, p)| (n.clone(), p.value.to_vec()))
        .collect();
    let moved: Vec<&str> = after
        .iter()
        .zip(&before)
        .filter(|((_, a), b)| a != *b)
        .map(|((n, _), _)| n.as_str())
        .collect();
    assert_eq!(
        moved,
        [
            "time_distributed.moving_mean",
            "time_distributed.moving_variance"
        ]
    );
}

/// A padding mask as a second input: attention, transformer blocks and pooling read only the
/// tokens, so a padded batch gives what the unpadded sequences give; gradients check out.
#[test]
fn a_padding_mask_input_hides_padding_from_attention_and_pooling() {
    use nabla_nn::layers::{MultiHeadAttention, SequencePool, SequenceReduce, TransformerBlock};
    use nabla_nn::layers::{TransformerConfig, UnitNormalization};
    let build = |t: usize, masked: bool, with_max: bool| {
        let x = Input::new("x", [t, 8]);
        let mask = Input::int("mask", [t]);
        let with = |s: &nabla_nn::functional::Sym| {
            if masked {
                vec![s.clone(), mask.clone()]
            } else {
                vec![s.clone()]
            }
        };
        let post: TransformerConfig = serde_json::from_value(serde_json::json!({
            "num_heads": 2, "norm_first": false, "epsilon": 1e-12, "name": "block"
        }))
        .unwrap();
        let h = TransformerBlock::from_config(post)
            .call(with(&x).iter().collect::<Vec<_>>().as_slice());
        let a = MultiHeadAttention::new(2, 4)
            .named("attn")
            .call(with(&h).iter().collect::<Vec<_>>().as_slice());
        let mean = SequencePool::new(SequenceReduce::Mean)
            .named("mean")
            .call(with(&a).iter().collect::<Vec<_>>().as_slice());
        let max = SequencePool::new(SequenceReduce::Max)
            .named("max")
            .call(with(&a).iter().collect::<Vec<_>>().as_slice());
        let cat = match with_max {
            true => Concatenate::new(-1).call([&mean, &max]),
            false => mean,
        };
        let y = UnitNormalization::new().call(&cat);
        let inputs = if masked { vec![&x, &mask] } else { vec![&x] };
        Functional::new(inputs.as_slice(), [&y]).build(7).unwrap()
    };
    let padded = build(6, true, true);
    let short = build(4, false, true);
    // 2 samples: 4 tokens then 2 padding positions (arbitrary values there)
    let x = rand(&[2, 6, 8], 3);
    let mask = Tensor::from_vec([[1.0, 1.0, 1.0, 1.0, 0.0, 0.0]; 2].concat(), &[2, 6]);
    let mut rng = Rng::new(0);
    let y = padded.forward_multi(&[x.clone(), mask.clone()], &mut Ctx::new(false, &mut rng));
    let head = x.narrow(1, 0, 4);
    let want = short.forward_multi(&[head], &mut Ctx::new(false, &mut rng));
    for (a, b) in y[0].to_vec().iter().zip(want[0].to_vec()) {
        assert!((a - b).abs() < 1e-5, "padded + mask {a} vs unpadded {b}");
    }
    let norms: Vec<f32> = y[0]
        .to_vec()
        .chunks(16)
        .map(|r| r.iter().map(|v| v * v).sum::<f32>())
        .collect();
    assert!(
        norms.iter().all(|n| (n - 1.0).abs() < 1e-5),
        "unit vectors: {norms:?}"
    );
    // (without the max pooling, whose kinks finite differences can straddle)
    let smooth = build(6, true, false);
    grad_check("masked attention and pooling", &[x], |xs| {
        let mut rng = Rng::new(0);
        let ys = smooth.forward_multi(
            &[xs[0].clone(), mask.clone()],
            &mut Ctx::new(false, &mut rng),
        );
        weighted_sum(&ys[0])
    });
}
