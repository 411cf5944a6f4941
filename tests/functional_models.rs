//! Models with two inputs and two outputs train from Rust and from a spec (CSV columns mapped
//! to inputs and targets by name), log per-output losses and metrics as Keras does, and save
//! and load with their per-output compile settings.

use nabla::data::Array;
use nabla::nn::PerOutput;
use nabla::prelude::*;

/// `a`, `b` in R⁴; `main` = whether a·w > b·w (class 0/1), `aux` = Σa − Σb.
fn pairs(n: usize, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let w = [1.0, -2.0, 0.5, 1.5];
    let (mut a, mut b, mut main, mut aux) = (vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let ra: Vec<f32> = (0..4).map(|_| rng.normal()).collect();
        let rb: Vec<f32> = (0..4).map(|_| rng.normal()).collect();
        let dot = |v: &[f32]| v.iter().zip(&w).map(|(x, w)| x * w).sum::<f32>();
        main.push((dot(&ra) > dot(&rb)) as u8 as f32);
        aux.push(ra.iter().sum::<f32>() - rb.iter().sum::<f32>());
        a.extend(ra);
        b.extend(rb);
    }
    (a, b, main, aux)
}

fn dataset(n: usize, seed: u64) -> Dataset {
    let (a, b, main, aux) = pairs(n, seed);
    Dataset::from_arrays(
        vec![Array::new("a", a, &[4]), Array::new("b", b, &[4])],
        vec![Array::new("main", main, &[]), Array::new("aux", aux, &[1])],
    )
    .unwrap()
}

fn two_tower() -> Model {
    let a = Input::new("a", [4]);
    let b = Input::new("b", [4]);
    let enc = Shared::new(Dense::new(16).activation(Activation::Relu));
    let joined = Concatenate::new(-1).call([&enc.call(&a), &enc.call(&b)]);
    let main = Dense::new(2)
        .activation(Activation::Softmax)
        .named("main")
        .call(&joined);
    let aux = Dense::new(1).named("aux").call(&joined);
    Functional::new([&a, &b], [&main, &aux]).build(7).unwrap()
}

#[test]
fn a_two_input_two_output_model_trains_from_rust() {
    let mut model = two_tower();
    let losses = PerOutput::Each(vec![
        ("main".into(), Loss::SparseCategoricalCrossentropy.into()),
        ("aux".into(), Loss::MeanSquaredError.into()),
    ]);
    let metrics = PerOutput::Each(vec![
        ("main".into(), vec![Metric::Accuracy]),
        ("aux".into(), vec![Metric::MeanAbsoluteError]),
    ]);
    let weights = PerOutput::Each(vec![("main".into(), 1.0), ("aux".into(), 0.5)]);
    model
        .compile_outputs(Box::new(Adam::new(1e-2)), (losses, metrics, weights))
        .unwrap();
    let (train, test) = (dataset(512, 1), dataset(256, 2));
    let h = model
        .fit(&train, Fit::new().epochs(8).batch_size(32).verbose(0))
        .unwrap();
    let first = &h.epochs[0];
    let last = h.epochs.last().unwrap();
    for key in ["loss", "main_loss", "aux_loss", "main_accuracy", "aux_mae"] {
        assert!(last.get(key).is_some(), "logs lack {key}: {last:?}");
    }
    // the total is the weighted sum of the outputs' losses
    let total = last.get("main_loss").unwrap() + 0.5 * last.get("aux_loss").unwrap();
    assert!((last.get("loss").unwrap() - total).abs() < 1e-4 * total.max(1.0));
    assert!(last.get("aux_loss").unwrap() < 0.2 * first.get("aux_loss").unwrap());
    let scores = model.evaluate(&test).unwrap();
    assert!(scores.get("main_accuracy").unwrap() > 0.9, "{scores:?}");
    // predict gives every output; a saved model comes back with its per-output compile
    let (xs, _) = test.batch_all(&[0, 1, 2]);
    let ys = model.predict_multi(&xs).unwrap();
    assert_eq!((ys[0].shape(), ys[1].shape()), (&[3, 2][..], &[3, 1][..]));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.safetensors");
    model.save(&path).unwrap();
    let back = Model::load(&path).unwrap();
    assert_eq!(back.predict_multi(&xs).unwrap()[1].to_vec(), ys[1].to_vec());
    assert_eq!(back.evaluate(&test).unwrap(), scores);
    // data that lacks an input of the model is refused by name
    let one = Dataset::from_arrays(
        vec![Array::new("a", vec![0.0; 8], &[4])],
        vec![Array::new("main", vec![0.0; 2], &[])],
    )
    .unwrap();
    let e = back.evaluate(&one).unwrap_err().to_string();
    assert!(e.contains("input 'b'") && e.contains("[a]"), "{e}");
}

#[test]
fn a_two_input_two_output_spec_trains_on_csv_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, main, aux) = pairs(600, 3);
    let mut csv = String::from("a0,a1,a2,a3,b0,b1,b2,b3,same,diff\n");
    for i in 0..600 {
        let row: Vec<String> = a[i * 4..i * 4 + 4]
            .iter()
            .chain(&b[i * 4..i * 4 + 4])
            .chain([&main[i], &aux[i]])
            .map(|v| v.to_string())
            .collect();
        csv += &(row.join(",") + "\n");
    }
    std::fs::write(dir.path().join("pairs.csv"), csv).unwrap();
    let spec = format!(
        r#"
[data]
csv = {{ path = "{}", inputs = {{ a = ["a0", "a1", "a2", "a3"], b = ["b0", "b1", "b2", "b3"] }}, targets = {{ main = ["same"], aux = ["diff"] }}, test_split = 0.2 }}

[model]
inputs = [{{ name = "a", shape = [4] }}, {{ name = "b", shape = [4] }}]
layers = [
  {{ type = "dense", units = 16, activation = "relu", name = "enc", inputs = ["a"] }},
  {{ type = "shared", layer = "enc", name = "enc_b", inputs = ["b"] }},
  {{ type = "concatenate", inputs = ["enc", "enc_b"] }},
  {{ type = "dense", units = 2, activation = "softmax", name = "main" }},
  {{ type = "dense", units = 1, name = "aux", inputs = ["concatenate"] }},
]
outputs = ["main", "aux"]

[train]
optimizer = {{ type = "adam", learning_rate = 1e-2 }}
loss = {{ main = "sparse_categorical_crossentropy", aux = "mse" }}
loss_weights = {{ main = 1.0, aux = 0.5 }}
metrics = {{ main = ["accuracy"] }}
epochs = 8
"#,
        dir.path().join("pairs.csv").display()
    );
    let spec = Spec::from_toml(&spec).unwrap();
    let mut model = spec.build_model(42).unwrap();
    let (train, test) = spec.load_data(&model).unwrap();
    let h = model.fit(&train, spec.fit_options().verbose(0)).unwrap();
    let last = h.epochs.last().unwrap();
    assert!(last.get("aux_loss").is_some() && last.get("main_accuracy").is_some());
    assert!(
        last.get("aux_accuracy").is_none(),
        "metrics were for main only"
    );
    let scores = model.evaluate(&test.unwrap()).unwrap();
    assert!(scores.get("main_accuracy").unwrap() > 0.85, "{scores:?}");
    // the spec round-trips through TOML
    assert_eq!(Spec::from_toml(&spec.to_toml()).unwrap(), spec);
}
