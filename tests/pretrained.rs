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

/// `[data] text_folder`: one sub-folder per class of `.txt` files, tokenised by the encoder's
/// tokenizer; the class names are the folders', and a test folder must have the same ones.
#[test]
fn a_text_folder_fine_tunes_a_pretrained_encoder() {
    let dir = tempfile::tempdir().unwrap();
    let words = [("neg", "awful"), ("pos", "great")];
    for (split, n) in [("train", 40), ("test", 10)] {
        for (class, word) in words {
            let d = dir.path().join(split).join(class);
            std::fs::create_dir_all(&d).unwrap();
            for i in 0..n {
                let text = format!("the film number {i} was {word} today");
                std::fs::write(d.join(format!("{i}.txt")), text).unwrap();
            }
        }
    }
    let text = format!(
        r#"
[data]
text_folder = "{}"
test_text_folder = "{}"

[model]
pretrained = {{ path = "{DIR}", max_length = 12 }}
layers = [
  {{ type = "global_avg_pool1d", inputs = ["encoder", "attention_mask"] }},
  {{ type = "dense", units = 2, activation = "softmax" }},
]

[train]
optimizer = {{ type = "adam", learning_rate = 3e-3 }}
loss = "sparse_categorical_crossentropy"
metrics = ["accuracy"]
epochs = 6
batch_size = 8
"#,
        dir.path().join("train").display(),
        dir.path().join("test").display()
    );
    let spec = Spec::from_toml(&text).unwrap();
    let mut model = spec.build_model(1).unwrap();
    let (train, test, classes) = spec.load_data_and_classes(&model).unwrap();
    assert_eq!(classes.unwrap(), ["neg", "pos"]);
    assert_eq!((train.len(), test.as_ref().unwrap().len()), (80, 20));
    model.fit(&train, spec.fit_options().verbose(0)).unwrap();
    let acc = model
        .evaluate(&test.unwrap())
        .unwrap()
        .get("accuracy")
        .unwrap();
    assert!(acc >= 0.9, "test accuracy {acc}");
    // a test folder with other classes
    std::fs::rename(
        dir.path().join("test/pos"),
        dir.path().join("test/positive"),
    )
    .unwrap();
    let e = spec.load_data(&model).err().unwrap().to_string();
    assert!(
        e.contains("test_text_folder") && e.contains("positive"),
        "{e}"
    );
}

/// Frozen blocks stay frozen, and only they, when the model is saved and loaded (a resumed run
/// trains what the first one trained).
#[test]
fn frozen_blocks_survive_save_and_load() {
    let model = spec(", freeze_blocks = 1").build_model(3).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model.save(&path).unwrap();
    let back = Model::load(&path).unwrap();
    let flags = |m: &Model| -> Vec<(String, bool)> {
        m.named_params()
            .into_iter()
            .map(|(n, p)| (n, p.trainable))
            .collect()
    };
    assert_eq!(flags(&back), flags(&model));
    assert!(flags(&back)
        .iter()
        .any(|(n, t)| n.starts_with("encoder.layer_1") && *t));
}
