//! `[model] pretrained`: the Hugging Face encoder under a spec's layers, its weights as the
//! folder has them, its first blocks frozen on request, text tokenised by its tokenizer.

use nabla::prelude::*;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hub/tiny_bert");

fn spec(extra: &str) -> Spec {
    Spec::from_toml(&spec_text(extra)).unwrap()
}

fn spec_text(extra: &str) -> String {
    format!(
        r#"
[model]
pretrained = {{ path = "{DIR}", max_length = 12{extra} }}
layers = [
  {{ type = "first_token", name = "cls" }},
  {{ type = "dense", units = 3, activation = "softmax", name = "head" }},
]

[train]
optimizer = {{ type = "adam", learning_rate = 1e-2 }}
loss = "sparse_categorical_crossentropy"
epochs = 1
batch_size = 4
"#
    )
}

#[test]
fn the_encoder_keeps_its_weights_and_freezes_its_first_blocks() {
    let s = spec(", freeze_blocks = 1");
    let mut model = s.build_model(3).unwrap();
    let hub = nabla::hub::load(DIR, 12).unwrap();
    let ours: std::collections::BTreeMap<String, (bool, Vec<f32>)> = model
        .named_params()
        .into_iter()
        .map(|(n, p)| (n, (p.trainable, p.value.to_vec())))
        .collect();
    for (name, p) in hub.model.named_params() {
        let (trainable, values) = &ours[&format!("encoder.{name}")];
        assert_eq!(values, &p.value.to_vec(), "{name}");
        let frozen = !name.starts_with("layer_1");
        assert_eq!(*trainable, !frozen, "{name}");
    }
    assert!(ours["head.kernel"].0);
    // one epoch on token ids: frozen weights stay, the others move
    let texts: Vec<String> = (0..8)
        .map(|i| format!("sentence number {i} here"))
        .collect();
    let tok = nabla::hub::Tokenizer::from_json(model.tokenizer().unwrap().as_bytes()).unwrap();
    let pairs: Vec<(&str, Option<&str>)> = texts.iter().map(|t| (t.as_str(), None)).collect();
    let e = tok.encode_batch(&pairs, 12).unwrap().padded_to(12);
    let f = |v: &[u32]| v.iter().map(|&i| i as f32).collect::<Vec<f32>>();
    let data = Dataset::from_arrays(
        vec![
            nabla::data::Array::new("input_ids", f(&e.input_ids), &[12]),
            nabla::data::Array::new("token_type_ids", f(&e.token_type_ids), &[12]),
            nabla::data::Array::new("attention_mask", f(&e.attention_mask), &[12]),
        ],
        vec![nabla::data::Array::new(
            "y",
            (0..8).map(|i| (i % 3) as f32).collect(),
            &[],
        )],
    )
    .unwrap();
    model.fit(&data, s.fit_options().verbose(0)).unwrap();
    for (name, p) in model.named_params() {
        let (trainable, before) = &ours[&name];
        assert_eq!(
            p.value.to_vec() == *before,
            !trainable,
            "{name} (trainable {trainable})"
        );
    }
}

#[test]
fn pretrained_errors_name_the_problem() {
    let text = spec_text("");
    let e = Spec::from_toml(&text.replace(DIR, "/no/such/folder"))
        .unwrap()
        .build_model(0)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("/no/such/folder") && e.contains("config.json"),
        "{e}"
    );
    let with_shape = text.replacen("[model]", "[model]\ninput_shape = [4]", 1);
    let e = Spec::from_toml(&with_shape)
        .unwrap_or_else(|e| panic!("{with_shape}: {e}"))
        .build_model(0)
        .err()
        .unwrap_or_else(|| panic!("{with_shape}"))
        .to_string();
    assert!(e.contains("input_shape") && e.contains("pretrained"), "{e}");
}
