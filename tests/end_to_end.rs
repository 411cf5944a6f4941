//! End to end through the public API: the seeds' MLP learns the embedded digits, runs are
//! reproducible, and save → load → predict is bit-identical.

use nabla::prelude::*;

fn mlp(seed: u64) -> Model {
    let mut model = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(128).activation(Activation::Relu))
        .add(Dropout::new(0.2))
        .add(Dense::new(10).activation(Activation::Softmax))
        .build(seed)
        .unwrap();
    model
        .compile(
            Adam::default(),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .unwrap();
    model
}

#[test]
fn mnist_mlp_reaches_94_percent_and_is_reproducible() {
    let (train, test) = nabla::datasets::mnist().unwrap();
    let mut a = mlp(7);
    let ha = a
        .fit(&train, Fit::new().epochs(5).batch_size(32).verbose(0))
        .unwrap();
    let mut b = mlp(7);
    let hb = b
        .fit(&train, Fit::new().epochs(5).batch_size(32).verbose(0))
        .unwrap();
    assert_eq!(ha, hb, "same seed, same history");
    let losses = ha.get("loss");
    assert!(
        losses.windows(2).all(|w| w[1] < w[0]),
        "training loss falls every epoch: {losses:?}"
    );
    let acc = a.evaluate(&test).unwrap().get("accuracy").unwrap();
    assert!(acc >= 0.94, "test accuracy {acc}");
    let (x, _) = test.batch(&(0..50).collect::<Vec<_>>());
    assert_eq!(a.predict(&x).unwrap().data(), b.predict(&x).unwrap().data());
    let mut c = mlp(8);
    let hc = c.fit(&train, Fit::new().epochs(1).verbose(0)).unwrap();
    assert_ne!(hc.get("loss")[0], losses[0], "another seed, another run");
}

#[test]
fn save_load_predict_is_bit_identical_and_keeps_the_compile_config() {
    let (train, test) = nabla::datasets::mnist().unwrap();
    let mut model = mlp(1);
    model
        .fit(&train.slice(0..2000), Fit::new().epochs(1).verbose(0))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    let (x, _) = test.batch(&(0..1500).collect::<Vec<_>>());
    let (p1, p2) = (model.predict(&x).unwrap(), loaded.predict(&x).unwrap());
    assert_eq!(p1.shape(), &[1500, 10]);
    assert!(p1
        .data()
        .iter()
        .zip(p2.data())
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(loaded.config(), model.config());
    assert_eq!(loaded.compile_config(), model.compile_config());
    assert_eq!(
        loaded.evaluate(&test).unwrap(),
        model.evaluate(&test).unwrap()
    );
    // no temporary file is left beside the model
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("m.safetensors")]);
}

#[test]
fn validation_split_and_data_show_up_in_history() {
    let (train, test) = nabla::datasets::mnist().unwrap();
    let small = train.slice(0..1000);
    let mut model = mlp(3);
    let h = model
        .fit(
            &small,
            Fit::new().epochs(2).validation_split(0.2).verbose(0),
        )
        .unwrap();
    assert_eq!(h.epochs.len(), 2);
    for name in ["loss", "accuracy", "val_loss", "val_accuracy"] {
        assert_eq!(h.get(name).len(), 2, "{name}");
    }
    let h = model
        .fit(&small, Fit::new().validation_data(&test).verbose(0))
        .unwrap();
    assert!(h.get("val_accuracy")[0] > 0.5);
    assert!(h
        .to_csv()
        .starts_with("epoch,loss,accuracy,val_loss,val_accuracy,learning_rate\n"));
}

#[test]
fn frozen_layers_do_not_change_and_show_as_non_trainable() {
    let (train, _) = nabla::datasets::mnist().unwrap();
    let mut model = mlp(4);
    model.layer_mut("dense").unwrap().set_trainable(false);
    let before: Vec<Vec<f32>> = model
        .named_params()
        .iter()
        .map(|(_, p)| p.value.to_vec())
        .collect();
    model
        .fit(&train.slice(0..500), Fit::new().epochs(1).verbose(0))
        .unwrap();
    let after: Vec<Vec<f32>> = model
        .named_params()
        .iter()
        .map(|(_, p)| p.value.to_vec())
        .collect();
    assert_eq!(before[0], after[0], "frozen kernel unchanged");
    assert_eq!(before[1], after[1], "frozen bias unchanged");
    assert_ne!(before[2], after[2], "trainable kernel changed");
    let s = model.summary();
    assert!(s.contains("Trainable params: 1290"), "{s}");
    assert!(s.contains("Non-trainable params: 100480"), "{s}");
}

#[test]
fn load_weights_copies_by_name_and_reports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let src = Sequential::new([4])
        .add(Dense::new(3).with_name("base"))
        .add(Dense::new(2).with_name("head"))
        .build(1)
        .unwrap();
    src.save(dir.path().join("src.safetensors")).unwrap();
    let mut dst = Sequential::new([4])
        .add(Dense::new(3).with_name("base"))
        .add(Dense::new(5).with_name("head"))
        .add(Dense::new(1).with_name("extra"))
        .build(2)
        .unwrap();
    let head_before = dst.named_params()[2].1.value.to_vec();
    let r = dst
        .load_weights(dir.path().join("src.safetensors"))
        .unwrap();
    assert_eq!(r.loaded, vec!["base.kernel", "base.bias"]);
    assert_eq!(r.skipped[0].0, "head.kernel");
    assert!(
        r.skipped[0].1.contains("[3, 2] in the file, [3, 5] here"),
        "{r}"
    );
    assert_eq!(
        r.skipped[2],
        ("extra.kernel".to_string(), "not in the file".to_string())
    );
    assert!(r.unused.is_empty());
    assert_eq!(
        dst.named_params()[0].1.value.to_vec(),
        src.named_params()[0].1.value.to_vec()
    );
    assert_eq!(dst.named_params()[2].1.value.to_vec(), head_before);
}

#[test]
fn batch_norm_trains_saves_its_statistics_and_predicts_identically_after_load() {
    let (train, test) = nabla::datasets::mnist().unwrap();
    let mut model = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(64))
        .add(BatchNorm::new())
        .add(Dense::new(10).activation(Activation::Softmax))
        .build(5)
        .unwrap();
    model
        .compile(
            Adam::default(),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .unwrap();
    model
        .fit(&train.slice(0..4000), Fit::new().epochs(2).verbose(0))
        .unwrap();
    let acc = model.evaluate(&test).unwrap().get("accuracy").unwrap();
    assert!(acc > 0.88, "{acc}");
    let stats = &model.named_params()[4];
    assert_eq!(stats.0, "batch_norm.moving_mean");
    assert!(
        stats.1.value.data().iter().any(|&v| v != 0.0),
        "running mean updated"
    );
    let loaded = Model::from_bytes(&model.to_bytes().unwrap()).unwrap();
    let (x, _) = test.batch(&(0..100).collect::<Vec<_>>());
    assert_eq!(
        model.predict(&x).unwrap().data(),
        loaded.predict(&x).unwrap().data()
    );
}

#[test]
fn full_batch_gradient_descent_and_mse_fit_a_line() {
    // seed 004's perceptron: y = 2x - 1 learnt by plain gradient descent on the full batch
    let xs: Vec<f32> = (0..20).map(|i| i as f32 / 10.0 - 1.0).collect();
    let ys: Vec<f32> = xs.iter().map(|x| 2.0 * x - 1.0).collect();
    let data = Dataset::new(xs, &[1], ys, &[1]).unwrap();
    let mut model = Sequential::new([1]).add(Dense::new(1)).build(0).unwrap();
    model
        .compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])
        .unwrap();
    let h = model
        .fit(
            &data,
            Fit::new()
                .epochs(300)
                .batch_size(20)
                .shuffle(false)
                .verbose(0),
        )
        .unwrap();
    assert!(h.get("loss").last().unwrap() < &1e-6);
    let w = model.named_params()[0].1.value.item();
    assert!((w - 2.0).abs() < 1e-3, "{w}");
}

#[test]
fn a_tiny_causal_transformer_learns_shakespeare_characters() {
    use nabla::nn::layers::{
        Embedding, LayerNorm, PositionKind, PositionalEmbedding, TransformerBlock,
    };
    let (train_ids, val_ids, tok) = nabla::data::shakespeare_ids().unwrap();
    let v = tok.vocab_size();
    let train = nabla::data::windows(&train_ids[..40_000], 32, 32).unwrap();
    let val = nabla::data::windows(&val_ids[..8_000], 32, 32).unwrap();
    let mut model = Sequential::new([32])
        .add(Embedding::new(v, 32))
        .add(PositionalEmbedding::new(PositionKind::Learned))
        .add(TransformerBlock::new(4).causal(true))
        .add(LayerNorm::new())
        .add(Dense::new(v))
        .build(3)
        .unwrap();
    let loss = Loss::SparseCategoricalCrossentropy.from_logits();
    model.compile(Adam::new(3e-3), loss, &[]).unwrap();
    let before = model.evaluate(&val).unwrap().get("loss").unwrap();
    assert!(
        (before - (v as f64).ln()).abs() < 0.3,
        "untrained loss {before}"
    );
    model
        .fit(&train, Fit::new().epochs(2).batch_size(16).verbose(0))
        .unwrap();
    let after = model.evaluate(&val).unwrap().get("loss").unwrap();
    // every position predicts the next character: ln(76) = 4.33 at chance
    assert!(after < 3.0, "validation loss {before} -> {after}");
}

#[test]
fn gradient_accumulation_equals_the_large_batch() {
    // 70 samples: batches 32, 32, 6 against micro-batches of 8 accumulated 4 at a time
    // (8·4, 8·4, then the epoch's last 6 alone): the same three SGD steps
    let (train, _) = nabla::datasets::mnist().unwrap();
    let idx: Vec<usize> = (0..70).collect();
    let (x, y) = train.batch(&idx);
    let data = Dataset::new(x.data().to_vec(), &[28, 28], y.data().to_vec(), &[]).unwrap();
    let run = |batch: usize, accumulate: usize| {
        let mut m = Sequential::new([28, 28])
            .add(Flatten::new())
            .add(Dense::new(10).activation(Activation::Softmax))
            .build(4)
            .unwrap();
        m.compile(Sgd::new(0.5), Loss::SparseCategoricalCrossentropy, &[])
            .unwrap();
        let fit = Fit::new()
            .epochs(2)
            .batch_size(batch)
            .shuffle(false)
            .accumulate(accumulate)
            .verbose(0);
        m.fit(&data, fit).unwrap();
        m.named_params()[0].1.value.data().to_vec()
    };
    let (big, accumulated, small) = (run(32, 1), run(8, 4), run(8, 1));
    nabla::core::testing::assert_close(&accumulated, &big, 1e-6, 1e-4, "accumulated vs big batch");
    assert!(
        big.iter().zip(&small).any(|(a, b)| (a - b).abs() > 1e-3),
        "small batches differ"
    );
}
