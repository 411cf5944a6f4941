//! Bad input never panics: each kind returns an error whose message names the thing, the
//! expected and the received value.

use nabla::prelude::*;

fn err<T>(r: Result<T, impl std::fmt::Display>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn assert_has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} lacks {p:?}");
    }
}

const GOOD: &str = r#"
[model]
input_shape = [28, 28]
layers = [{ type = "flatten" }, { type = "dense", units = 10, activation = "softmax" }]
[train]
loss = "sparse_categorical_crossentropy"
"#;

#[test]
fn malformed_toml_reports_line_and_column() {
    let bad = GOOD.replace("units = 10", "units = = 10");
    let m = err(Spec::from_toml(&bad));
    assert_has(&m, &["line 4", "column"]);
}

#[test]
fn unknown_names_list_the_valid_ones() {
    let m = err(Spec::from_toml(&GOOD.replace("\"flatten\"", "\"flaten\"")));
    assert_has(&m, &["flaten", "dense", "dropout", "flatten", "activation"]);
    let m = err(Spec::from_toml(
        &GOOD.replace("[train]", "[train]\noptimizer = { type = \"adamm\" }"),
    ));
    assert_has(&m, &["adamm", "sgd", "adam"]);
    let m = err(Spec::from_toml(
        &GOOD.replace("\"sparse_categorical_crossentropy\"", "\"cross\""),
    ));
    assert_has(
        &m,
        &["cross", "mean_squared_error", "categorical_crossentropy"],
    );
    let m = err(Spec::from_toml(
        &GOOD.replace("\"softmax\"", "\"softplusx\""),
    ));
    assert_has(&m, &["softplusx", "relu", "sigmoid"]);
    let m = err(Spec::from_toml(
        &GOOD.replace("units = 10", "units = 10, unitz = 3"),
    ));
    assert_has(&m, &["unitz", "units"]);
}

#[test]
fn missing_required_fields_are_named() {
    let m = err(Spec::from_toml(&GOOD.replace("units = 10, ", "")));
    assert_has(&m, &["missing field", "units"]);
    let m = err(Spec::from_toml(
        &GOOD.replace("loss = \"sparse_categorical_crossentropy\"", ""),
    ));
    assert_has(&m, &["missing field", "loss"]);
}

#[test]
fn out_of_range_values_are_rejected() {
    let m = err(Spec::from_toml(
        &GOOD.replace("[train]", "[train]\nepochs = 0"),
    ));
    assert_has(&m, &["epochs", "positive", "0"]);
    let m = err(Spec::from_toml(&GOOD.replace(
        "[train]",
        "[train]\noptimizer = { type = \"adam\", beta_1 = 1.5 }",
    )));
    assert_has(&m, &["beta_1", "[0, 1)", "1.5"]);
    let m = err(Sequential::new([4]).add(Dropout::new(1.0)).build(0));
    assert_has(&m, &["rate", "dropout", "[0, 1)", "1"]);
    let m = err(Sequential::new([4]).add(Dense::new(0)).build(0));
    assert_has(&m, &["units", "positive", "0"]);
}

#[test]
fn a_layer_that_cannot_take_its_input_names_layer_expected_and_received() {
    let m = err(Sequential::new(Vec::<usize>::new())
        .add(Dense::new(3))
        .build(0));
    assert_has(&m, &["layer 'dense'", "expected", "received shape []"]);
    let m = err(Sequential::new([0, 3]).add(Dense::new(3)).build(0));
    assert_has(&m, &["input_shape", "positive", "[0, 3]"]);
}

#[test]
fn labels_out_of_range_and_mismatched_data_are_reported_before_training() {
    let mut model = Sequential::new([2])
        .add(Dense::new(3).activation(Activation::Softmax))
        .build(0)
        .unwrap();
    model
        .compile(Adam::default(), Loss::SparseCategoricalCrossentropy, &[])
        .unwrap();
    let data = Dataset::new(vec![0.0; 6], &[2], vec![0.0, 2.0, 3.0], &[]).unwrap();
    let m = err(model.fit(&data, Fit::new().verbose(0)));
    assert_has(&m, &["label 3", "sample 2", "[0, 2]", "3 outputs"]);
    let wrong_shape = Dataset::new(vec![0.0; 9], &[3], vec![0.0; 3], &[]).unwrap();
    let m = err(model.fit(&wrong_shape, Fit::new().verbose(0)));
    assert_has(&m, &["[2]", "[3]"]);
    let mut cat = Sequential::new([2])
        .add(Dense::new(3).activation(Activation::Softmax))
        .build(0)
        .unwrap();
    cat.compile(Adam::default(), Loss::CategoricalCrossentropy, &[])
        .unwrap();
    let m = err(cat.fit(
        &Dataset::new(vec![0.0; 6], &[2], vec![0.0; 3], &[]).unwrap(),
        Fit::new().verbose(0),
    ));
    assert_has(
        &m,
        &["categorical_crossentropy", "[3]", "received []", "one-hot"],
    );
    let mut uncompiled = Sequential::new([2]).add(Dense::new(3)).build(0).unwrap();
    assert_has(&err(uncompiled.fit(&data, Fit::new())), &["not compiled"]);
}

#[test]
fn nan_or_infinite_loss_stops_with_epoch_and_step() {
    let mut model = Sequential::new([2]).add(Dense::new(1)).build(0).unwrap();
    model
        .compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])
        .unwrap();
    let mut x = vec![0.5; 64];
    x[41] = f32::NAN; // sample 20, the 3rd batch of 8 without shuffling
    let data = Dataset::new(x, &[2], vec![1.0; 32], &[1]).unwrap();
    let m = err(model.fit(&data, Fit::new().batch_size(8).shuffle(false).verbose(0)));
    assert_has(&m, &["NaN", "epoch 1", "step 3"]);
    let mut model = Sequential::new([2]).add(Dense::new(1)).build(0).unwrap();
    model
        .compile(Sgd::new(1e30), Loss::MeanSquaredError, &[])
        .unwrap();
    let data = Dataset::new(vec![3.0; 64], &[2], vec![1.0; 32], &[1]).unwrap();
    let m = err(model.fit(&data, Fit::new().epochs(5).batch_size(8).verbose(0)));
    assert_has(&m, &["loss is", "epoch 1", "step"]);
}

#[test]
fn predict_input_of_the_wrong_size() {
    let model = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(10))
        .build(0)
        .unwrap();
    let m = err(model.predict(&Tensor::zeros(&[2, 20, 20])));
    assert_has(&m, &["predict input", "[n, 28, 28]", "[2, 20, 20]"]);
}

#[test]
fn model_files_missing_truncated_foreign_or_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.safetensors");
    assert_has(
        &err(Model::load(&missing)),
        &["nope.safetensors", "cannot read"],
    );

    let mut model = Sequential::new([3]).add(Dense::new(2)).build(0).unwrap();
    model
        .compile(Adam::default(), Loss::MeanSquaredError, &[])
        .unwrap();
    let good = model.to_bytes().unwrap();
    let truncated = dir.path().join("t.safetensors");
    std::fs::write(&truncated, &good[..good.len() - 5]).unwrap();
    assert_has(
        &err(Model::load(&truncated)),
        &["t.safetensors", "truncated"],
    );

    let foreign = dir.path().join("f.safetensors");
    std::fs::write(&foreign, b"PK\x03\x04 this is a zip, not a model").unwrap();
    assert_has(
        &err(Model::load(&foreign)),
        &["f.safetensors", "not a safetensors file"],
    );

    // a real safetensors file with a config nabla cannot read
    let needle = br#"\"dense\""#;
    let at = good
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the config names the layer type");
    let mut odd = good.clone();
    odd[at + 6] = b'r'; // "dense" -> "densr", same length, header still valid
    let bad_cfg = dir.path().join("c.safetensors");
    std::fs::write(&bad_cfg, &odd).unwrap();
    assert_has(
        &err(Model::load(&bad_cfg)),
        &["c.safetensors", "model config cannot be read", "densr"],
    );
}

#[test]
fn token_ids_outside_the_vocabulary_are_errors_not_panics() {
    use nabla::nn::layers::Embedding;
    let mut model = Sequential::new([3])
        .add(Embedding::new(5, 4))
        .add(Flatten::new())
        .add(Dense::new(2).activation(Activation::Softmax))
        .build(0)
        .unwrap();
    model
        .compile(Adam::default(), Loss::SparseCategoricalCrossentropy, &[])
        .unwrap();
    let data = Dataset::new(
        vec![0.0, 1.0, 4.0, 2.0, 7.0, 1.0],
        &[3],
        vec![0.0, 1.0],
        &[],
    )
    .unwrap();
    let m = err(model.fit(&data, Fit::new().verbose(0)));
    assert_has(&m, &["embedding", "[0, 5)", "7"]);
    let m = err(model.evaluate(&data));
    assert_has(&m, &["embedding", "7"]);
    let m = err(model.predict(&Tensor::from_vec(vec![0.0, 1.5, 2.0], &[1, 3])));
    assert_has(&m, &["predict input", "whole numbers", "1.5"]);

    // an embedding behind a reshape is checked too (it panicked inside the pass)
    let x = Input::new("ids", [6]);
    let ids = Reshape::new(&[2, 3]).call(&x);
    let y = Embedding::new(5, 4).call(&ids);
    let y = Dense::new(2).call(&Flatten::new().call(&y));
    let model = Functional::new([&x], [&y]).build(0).unwrap();
    let ids = Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0, 9.0, 1.0], &[1, 6]);
    assert_has(&err(model.predict(&ids)), &["embedding", "[0, 5)", "9"]);
    // and one fed by a dense layer's floats is refused when the model is built
    let x = Input::new("x", [3]);
    let h = Dense::new(3).named("floats").call(&x);
    let y = Embedding::new(5, 4).call(&h);
    let e = err(Functional::new([&x], [&y]).build(0));
    assert_has(&e, &["reads token ids", "layer 'floats' (dense)"]);
    // so is a model used as a layer whose input reaches an embedding inside (it panicked)
    let inner = || {
        Sequential::new([3])
            .add(Embedding::new(5, 4))
            .add(Flatten::new())
            .build(1)
            .unwrap()
    };
    let e = err(Sequential::new([3])
        .add(Dense::new(3).named("floats"))
        .add(SubModel::new(inner()))
        .build(0));
    assert_has(&e, &["reads token ids", "layer 'floats' (dense)"]);
    // fed the model's own input, its ids are checked before the pass
    let model = Sequential::new([3])
        .add(SubModel::new(inner()))
        .add(Dense::new(2))
        .build(0)
        .unwrap();
    let ids = Tensor::from_vec(vec![0.0, 8.0, 2.0], &[1, 3]);
    assert_has(&err(model.predict(&ids)), &["embedding", "[0, 5)", "8"]);
}

/// A model file is read by what its 8-byte header announces, bounded by the file's real size:
/// a 64 GB (sparse) file that is not safetensors fails after a few bytes, where it used to be
/// read whole first (64 GB asked of the allocator); headers past the file or not JSON are
/// named as such.
#[test]
fn model_files_are_checked_by_their_header_before_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.safetensors");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(1 << 36).unwrap();
    drop(f);
    // zeros: an 8-byte header size of 0, then no JSON
    assert_has(
        &err(Model::load(&big)),
        &["big.safetensors", "not a JSON object"],
    );
    let mut announce = (1u64 << 40).to_le_bytes().to_vec();
    announce.extend_from_slice(b"{}");
    let p = dir.path().join("past.safetensors");
    std::fs::write(&p, &announce).unwrap();
    assert_has(
        &err(Model::load(&p)),
        &["announces 1099511627776 bytes", "holds 10 bytes"],
    );
    let p = dir.path().join("short.safetensors");
    std::fs::write(&p, b"abc").unwrap();
    assert_has(
        &err(Model::load(&p)),
        &["8-byte header size", "holds 3 bytes"],
    );
}

/// A model file whose config asks for a weight larger than any tensor it stores (units 128
/// changed to 1,000,000: a 3 GB kernel) is refused before that weight is allocated; it used
/// to be built first and then found not to match.
#[test]
fn a_model_file_config_larger_than_its_tensors_is_refused_before_building() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.safetensors");
    let mut m = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(128))
        .add(Dense::new(10))
        .build(1)
        .unwrap();
    m.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])
        .unwrap();
    m.save(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(bytes[8..8 + n].to_vec()).unwrap();
    let edited = header.replacen(r#"\"units\":128"#, r#"\"units\":1000000"#, 1);
    assert_ne!(edited, header, "the config holds the units");
    let mut out = (edited.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(edited.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(&bad, out).unwrap();
    assert_has(
        &err(Model::load(&bad)),
        &[
            "bad.safetensors",
            "layer 'dense'",
            "largest tensor the model file stores",
            "784000000 values",
        ],
    );
    Model::load(&good).unwrap();
}

#[test]
fn a_quantised_model_is_not_trained() {
    let mut model = Spec::from_toml(GOOD).unwrap().build_model(1).unwrap();
    model.quantize(QuantMode::Dynamic).unwrap();
    let (train, _) = nabla::datasets::mnist().unwrap();
    let m = err(model.fit(&train, Fit::new().epochs(1).verbose(0)));
    assert_has(&m, &["fit", "float model", "int8 weights ('dense.kernel')"]);
}
