//! Magnitude pruning during training: the schedule's sparsity is reached, pruned weights and
//! their Adam moments stay zero through every step, and a resumed run continues exactly.

use nabla::nn::pruning::sparsity;
use nabla::nn::{PruneConfig, PruneScope, Pruning};
use nabla::prelude::*;

fn data() -> Dataset {
    nabla::datasets::mnist().unwrap().0.slice(0..640)
}

fn mlp(prune: &PruneConfig) -> Model {
    let mut m = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(32).activation(Activation::Relu))
        .add(Dense::new(10).activation(Activation::Softmax))
        .build(3)
        .unwrap();
    m.compile(
        Adam::default(),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )
    .unwrap();
    let hook = Pruning::new(prune.clone(), &m).unwrap();
    m.add_gradient_hook(hook).unwrap();
    m
}

fn weights(m: &Model) -> Vec<(String, Vec<f32>)> {
    m.named_params()
        .into_iter()
        .map(|(n, p)| (n, p.value.to_vec()))
        .collect()
}

/// The largest difference between the values of `a` and `b`.
fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    a.data()
        .iter()
        .zip(b.data())
        .fold(0f32, |e, (p, q)| e.max((p - q).abs()))
}

/// 20 steps an epoch (640 samples, batch 32): prune from 0 at step 5 to 0.75 at step 45,
/// every 10 steps.
fn schedule() -> PruneConfig {
    let mut p = PruneConfig::polynomial(0.0, 0.75, 5, 45);
    p.frequency = 10;
    p
}

#[test]
fn pruned_weights_and_their_moments_stay_zero_and_resume_is_exact() {
    let fit = || Fit::new().batch_size(32).verbose(0);
    let mut straight = mlp(&schedule());
    straight.fit(&data(), fit().epochs(4)).unwrap();
    let w = weights(&straight);
    for (name, v) in &w {
        let s = sparsity(v);
        if name.ends_with("kernel") {
            // floor(0.75 n) zeros, none more (a kept weight is never exactly 0)
            assert_eq!(
                s,
                (v.len() as f32 * 0.75).floor() / v.len() as f32,
                "{name}"
            );
        } else {
            assert_eq!(s, 0.0, "{name}: biases are not pruned");
        }
    }
    // Adam's m and v of every pruned weight are zero
    let state = straight.compiled().unwrap().optimizer.state();
    for (i, (name, v)) in w.iter().enumerate() {
        for slot in &state.slots {
            let buf = &slot[i];
            for (j, &x) in v.iter().enumerate() {
                assert!(x != 0.0 || buf[j] == 0.0, "{name}[{j}]: moment {}", buf[j]);
            }
        }
    }

    // two epochs, a checkpoint, a resume with the hook again, two more: the same weights
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck.safetensors");
    mlp(&schedule())
        .fit(&data(), fit().epochs(2).checkpoint(&ck))
        .unwrap();
    let (mut resumed, r) = nabla::train::resume(&ck).unwrap();
    let hook = Pruning::new(schedule(), &resumed).unwrap();
    resumed.add_gradient_hook(hook).unwrap();
    resumed.fit(&data(), fit().epochs(4).resume(r)).unwrap();
    assert_eq!(weights(&resumed), w);
}

#[test]
fn global_scope_reaches_the_sparsity_over_all_weights_and_layers_can_be_chosen() {
    let mut p = PruneConfig::constant(0.6, 0);
    p.scope = PruneScope::Global;
    let mut m = mlp(&p);
    m.fit(&data(), Fit::new().epochs(1).batch_size(64).verbose(0))
        .unwrap();
    let kernels: Vec<f32> = weights(&m)
        .into_iter()
        .filter(|(n, _)| n.ends_with("kernel"))
        .flat_map(|(_, v)| v)
        .collect();
    assert_eq!(
        sparsity(&kernels),
        (kernels.len() as f32 * 0.6).floor() / kernels.len() as f32
    );

    let mut only = PruneConfig::constant(0.5, 0);
    only.layers = vec!["dense_1".into()];
    let mut m = mlp(&only);
    m.fit(&data(), Fit::new().epochs(1).batch_size(64).verbose(0))
        .unwrap();
    for (name, v) in weights(&m) {
        let want = if name == "dense_1.kernel" { 0.5 } else { 0.0 };
        assert_eq!(sparsity(&v), want, "{name}");
    }
}

#[test]
fn a_pruned_model_saves_sparse_and_loads_back_the_same() {
    let mut m = mlp(&PruneConfig::constant(0.8, 0));
    m.fit(&data(), Fit::new().epochs(1).batch_size(64).verbose(0))
        .unwrap();
    let (dense, sparse) = (m.to_bytes().unwrap(), m.to_bytes_sparse().unwrap());
    assert!(
        sparse.len() * 3 < dense.len(),
        "sparse {} bytes, dense {}",
        sparse.len(),
        dense.len()
    );
    let back = Model::from_bytes(&sparse).unwrap();
    assert_eq!(weights(&back), weights(&m));
    assert_eq!(back.compile_config(), m.compile_config());
    // a mask that does not match its values is refused, naming the weight
    let st = safetensors::SafeTensors::deserialize(&sparse).unwrap();
    let mask = st
        .tensor("dense.kernel.nonzero_mask")
        .unwrap()
        .data()
        .as_ptr();
    let at = mask as usize - sparse.as_ptr() as usize;
    let mut bad = sparse.clone();
    bad[at] ^= 1;
    let e = Model::from_bytes(&bad).err().unwrap().to_string();
    assert!(e.contains("sparse weight 'dense.kernel'"), "{e}");
}

#[test]
fn channel_pruning_zeroes_whole_filters_and_strip_removes_them() {
    let mut m = Sequential::new([1, 28, 28])
        .add(Conv2d::new(8, 3).activation(Activation::Relu))
        .add(Pool2d::max(2))
        .add(Conv2d::new(8, 3).activation(Activation::Relu))
        .add(Flatten::new())
        .add(Dense::new(16).activation(Activation::Relu))
        .add(Dropout::new(0.1))
        .add(Dense::new(10).activation(Activation::Softmax))
        .build(2)
        .unwrap();
    m.compile(
        Adam::default(),
        Loss::CategoricalCrossentropy,
        &[Metric::Accuracy],
    )
    .unwrap();
    let mut cfg = PruneConfig::constant(0.5, 0);
    cfg.structure = nabla::nn::PruneStructure::Channels;
    let hook = Pruning::new(cfg, &m).unwrap();
    m.add_gradient_hook(hook).unwrap();
    let d = data()
        .with_x_shape(&[1, 28, 28])
        .unwrap()
        .one_hot(10)
        .unwrap();
    m.fit(&d, Fit::new().epochs(1).batch_size(64).verbose(0))
        .unwrap();
    let w: std::collections::HashMap<String, Vec<f32>> = weights(&m).into_iter().collect();
    // half of each layer's filters (units) are zero with their bias; the output layer whole
    let zero_units = |k: &[f32], units: usize, per_unit_stride: bool| -> usize {
        (0..units)
            .filter(|&u| match per_unit_stride {
                true => k.iter().skip(u).step_by(units).all(|&v| v == 0.0),
                false => k
                    .chunks(k.len() / units)
                    .nth(u)
                    .unwrap()
                    .iter()
                    .all(|&v| v == 0.0),
            })
            .count()
    };
    assert_eq!(zero_units(&w["conv2d.kernel"], 8, false), 4);
    assert_eq!(zero_units(&w["conv2d_1.kernel"], 8, false), 4);
    assert_eq!(zero_units(&w["dense.kernel"], 16, true), 8);
    assert_eq!(zero_units(&w["dense_1.kernel"], 10, true), 0);
    assert_eq!(w["conv2d.bias"].iter().filter(|&&b| b == 0.0).count(), 4);

    let (small, removed) = m.strip_pruned().unwrap();
    let sizes: Vec<(String, usize, usize)> = removed
        .into_iter()
        .map(|r| (r.layer, r.before, r.after))
        .collect();
    assert_eq!(
        sizes,
        [
            ("conv2d".into(), 8, 4),
            ("conv2d_1".into(), 8, 4),
            ("dense".into(), 16, 8)
        ]
    );
    let x = d.slice(0..50).batch(&(0..50).collect::<Vec<_>>()).0;
    let err = max_diff(&m.predict(&x).unwrap(), &small.predict(&x).unwrap());
    assert!(err < 1e-5, "the stripped model predicts differently: {err}");
    let params = |m: &Model| {
        m.named_params()
            .iter()
            .map(|(_, p)| p.value.numel())
            .sum::<usize>()
    };
    assert!(
        params(&small) * 2 < params(&m),
        "{} vs {}",
        params(&small),
        params(&m)
    );
}

#[test]
fn strip_follows_dense_units_through_flatten_and_keeps_what_reaches_the_output() {
    let mut m = Sequential::new([4, 8])
        .add(Dense::new(6).activation(Activation::Relu))
        .add(Flatten::new())
        .add(Dense::new(3))
        .add(ActivationLayer::new(Activation::LogSoftmax))
        .build(4)
        .unwrap();
    m.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])
        .unwrap();
    let mut cfg = PruneConfig::constant(0.5, 0);
    cfg.structure = nabla::nn::PruneStructure::Channels;
    let hook = Pruning::new(cfg, &m).unwrap();
    m.add_gradient_hook(hook).unwrap();
    let mut rng = Rng::new(1);
    let x: Vec<f32> = (0..16 * 32).map(|_| rng.normal()).collect();
    let d = Dataset::new(x.clone(), &[4, 8], vec![0.0; 16 * 3], &[3]).unwrap();
    m.fit(&d, Fit::new().epochs(1).batch_size(8).verbose(0))
        .unwrap();
    let (small, removed) = m.strip_pruned().unwrap();
    // dense loses 3 of its 6 units; dense_1 feeds the output (through the activation layer)
    let sizes: Vec<(String, usize, usize)> = removed
        .into_iter()
        .map(|r| (r.layer, r.before, r.after))
        .collect();
    assert_eq!(sizes, [("dense".to_string(), 6, 3)]);
    assert_eq!(small.output_shape(), [3]);
    let x = Tensor::from_vec(x, &[16, 4, 8]);
    let err = max_diff(&m.predict(&x).unwrap(), &small.predict(&x).unwrap());
    assert!(err < 1e-5, "{err}");
}

/// Structured pruning of recurrent stacks: whole hidden units (their gate rows in every
/// matrix and bias) become zero, stay zero through training, and `strip_pruned` removes
/// them, the next stacked layer's and the dense layer's inputs with them; the smaller model
/// computes what the pruned one did.
#[test]
fn channel_pruning_removes_whole_units_of_lstm_and_gru_stacks() {
    use nabla::nn::layers::{Gru, Lstm};
    for (kind, bidirectional) in [("lstm", true), ("gru", false)] {
        let rnn: Box<dyn nabla::nn::Layer> = match kind {
            "lstm" => Box::new(Lstm::new(12).num_layers(2).bidirectional(bidirectional)),
            _ => Box::new(Gru::new(12).num_layers(2)),
        };
        let mut m = Sequential::new([28, 28])
            .add_boxed(rnn)
            .add(Dense::new(10).activation(Activation::Softmax))
            .build(3)
            .unwrap();
        m.compile(Adam::new(1e-3), Loss::SparseCategoricalCrossentropy, &[])
            .unwrap();
        let mut cfg = PruneConfig::constant(0.5, 0);
        cfg.structure = nabla::nn::PruneStructure::Channels;
        m.add_gradient_hook(Pruning::new(cfg, &m).unwrap()).unwrap();
        let d = data().slice(0..256);
        m.fit(&d, Fit::new().epochs(2).batch_size(32).verbose(0))
            .unwrap();
        let w: std::collections::HashMap<String, Vec<f32>> = weights(&m).into_iter().collect();
        // 6 of 12 units per layer and direction: all their gate rows zero
        let gates = if kind == "lstm" { 4 } else { 3 };
        let zero_units = |key: &str| -> usize {
            let v = &w[key];
            let cols = v.len() / (gates * 12);
            (0..12)
                .filter(|&j| {
                    (0..gates).all(|g| v[(g * 12 + j) * cols..][..cols].iter().all(|&x| x == 0.0))
                })
                .count()
        };
        for l in ["l0", "l1"] {
            assert_eq!(
                zero_units(&format!("{kind}.weight_ih_{l}")),
                6,
                "{kind} {l}"
            );
        }
        let (small, removed) = m.strip_pruned().unwrap();
        assert_eq!(removed.len(), 1, "{removed:?}");
        assert_eq!((removed[0].before, removed[0].after), (12, 6));
        let x = d.batch(&(0..40).collect::<Vec<_>>()).0;
        let (a, b) = (m.forward_eval(&x), small.forward_eval(&x));
        assert!(max_diff(&a, &b) < 1e-5, "{kind}: {}", max_diff(&a, &b));
        let dirs = if bidirectional { 2 } else { 1 };
        let ws: std::collections::HashMap<String, Vec<f32>> = weights(&small).into_iter().collect();
        assert_eq!(ws[&format!("{kind}.weight_hh_l1")].len(), gates * 6 * 6);
        assert_eq!(
            ws[&format!("{kind}.weight_ih_l1")].len(),
            gates * 6 * dirs * 6
        );
        assert_eq!(ws["dense.kernel"].len(), dirs * 6 * 10);
    }
}

/// Structured pruning of attention heads, in a transformer block and in an attention layer:
/// half the heads become zero (their query, key and value columns and output rows), and
/// `strip_pruned` removes them without changing what the model computes.
#[test]
fn channel_pruning_removes_whole_attention_heads() {
    use nabla::nn::layers::{MultiHeadAttention, TransformerBlock};
    let mut m = Sequential::new([7, 16])
        .add(TransformerBlock::new(4))
        .add(MultiHeadAttention::new(4, 4))
        .add(Flatten::new())
        .add(Dense::new(3))
        .build(4)
        .unwrap();
    m.compile(Adam::new(1e-3), Loss::MeanSquaredError, &[])
        .unwrap();
    let mut cfg = PruneConfig::constant(0.5, 0);
    cfg.structure = nabla::nn::PruneStructure::Channels;
    m.add_gradient_hook(Pruning::new(cfg, &m).unwrap()).unwrap();
    let mut rng = Rng::new(2);
    let x: Vec<f32> = (0..32 * 7 * 16).map(|_| rng.normal()).collect();
    let y: Vec<f32> = (0..32 * 3).map(|_| rng.normal()).collect();
    let d = Dataset::new(x, &[7, 16], y, &[3]).unwrap();
    m.fit(&d, Fit::new().epochs(2).batch_size(8).verbose(0))
        .unwrap();
    let w: std::collections::HashMap<String, Vec<f32>> = weights(&m).into_iter().collect();
    for prefix in ["transformer_block.attn/", "multi_head_attention."] {
        let v = &w[&format!("{prefix}value/kernel")];
        let dead = (0..4)
            .filter(|h| {
                v.chunks(16)
                    .all(|row| row[h * 4..(h + 1) * 4].iter().all(|&x| x == 0.0))
            })
            .count();
        assert_eq!(dead, 2, "{prefix}");
    }
    let (small, removed) = m.strip_pruned().unwrap();
    let got: Vec<(String, usize, usize)> = removed
        .iter()
        .map(|r| (r.layer.clone(), r.before, r.after))
        .collect();
    assert_eq!(
        got,
        [
            ("transformer_block".to_string(), 4, 2),
            ("multi_head_attention".to_string(), 4, 2)
        ]
    );
    let xb = d.batch(&(0..16).collect::<Vec<_>>()).0;
    let diff = max_diff(&m.forward_eval(&xb), &small.forward_eval(&xb));
    assert!(diff < 1e-5, "{diff}");
    let ws: std::collections::HashMap<String, Vec<f32>> = weights(&small).into_iter().collect();
    assert_eq!(ws["transformer_block.attn/query/kernel"].len(), 16 * 8);
    assert_eq!(ws["multi_head_attention.output/kernel"].len(), 8 * 16);
    // the stripped block names its head size: its default (features / heads) would change
    let saved = Model::from_bytes(&small.to_bytes().unwrap()).unwrap();
    assert!(max_diff(&small.forward_eval(&xb), &saved.forward_eval(&xb)) == 0.0);
}
