//! A tiny random GPT-2 (bfloat16 weights, a byte-level BPE tokenizer trained like GPT-2's)
//! against transformers: token ids, logits to 1e-4, greedy generation token for token.
//! Fixtures by `scripts/reference/make_hub_fixtures.py`.

use nabla_core::Tensor;
use nabla_nn::generate::{generate, Sampling};
use serde_json::Value;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hub")
}

fn reference() -> Value {
    let text = std::fs::read_to_string(fixtures().join("tiny_gpt2_reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn numbers(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(numbers).collect(),
        v => vec![v.as_f64().unwrap()],
    }
}

#[test]
fn the_tokenizer_gives_the_python_librarys_ids_and_text_back() {
    let r = reference();
    let p = nabla_hub::load(fixtures().join("tiny_gpt2"), 64).unwrap();
    let sentences = r["sentences"].as_array().unwrap();
    for (k, s) in sentences.iter().enumerate() {
        let s = s.as_str().unwrap();
        let ids = p.tokenizer.encode(s).unwrap();
        let want: Vec<u32> = numbers(&r["input_ids"][k])
            .iter()
            .map(|&v| v as u32)
            .collect();
        assert_eq!(ids, want, "{s:?}");
        let tokens: Vec<String> = r["tokens"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        assert_eq!(p.tokenizer.tokens(s).unwrap(), tokens, "{s:?}");
    }
}

#[test]
fn logits_and_greedy_generation_equal_transformers() {
    let r = reference();
    let p = nabla_hub::load(fixtures().join("tiny_gpt2"), 64).unwrap();
    let shape: Vec<usize> = numbers(&r["logits_shape"])
        .iter()
        .map(|&v| v as usize)
        .collect();
    let ids: Vec<f32> = numbers(&r["batch_input_ids"])
        .iter()
        .map(|&v| v as f32)
        .collect();
    let y = p.model.forward_eval(&Tensor::from_vec(ids, &shape[..2]));
    assert_eq!(y.shape(), shape);
    let want = numbers(&r["logits"]);
    let d = y
        .data()
        .iter()
        .zip(&want)
        .map(|(a, b)| (*a as f64 - b).abs())
        .fold(0.0, f64::max);
    eprintln!("GPT-2 logits: max abs difference {d:e}");
    assert!(d < 1e-4, "logits differ by {d}");
    let g = &r["generate"];
    let prompt: Vec<usize> = numbers(&g["prompt_ids"])
        .iter()
        .map(|&v| v as usize)
        .collect();
    assert_eq!(
        p.tokenizer.encode(g["prompt"].as_str().unwrap()).unwrap(),
        prompt.iter().map(|&i| i as u32).collect::<Vec<_>>()
    );
    let greedy = Sampling {
        temperature: 0.0,
        ..Sampling::default()
    };
    let new = generate(&p.model, &prompt, 20, greedy, |_| {}).unwrap();
    let want: Vec<usize> = numbers(&g["new_ids"]).iter().map(|&v| v as usize).collect();
    assert_eq!(new, want);
    let ids: Vec<u32> = new.iter().map(|&i| i as u32).collect();
    assert_eq!(
        p.tokenizer.decode(&ids).unwrap(),
        g["new_text"].as_str().unwrap()
    );
}

#[test]
fn unsupported_or_broken_folders_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixtures().join("tiny_gpt2");
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let config = std::fs::read_to_string(src.join("config.json")).unwrap();
    let with = |from: &str, to: &str| {
        std::fs::write(dir.path().join("config.json"), config.replace(from, to)).unwrap();
        nabla_hub::load(dir.path(), 64).err().map(|e| e.to_string())
    };
    let e = with("\"gpt2\"", "\"llama\"").unwrap();
    assert!(e.contains("model_type") && e.contains("llama"), "{e}");
    let e = with("\"n_embd\": 32", "\"n_embd\": 16").unwrap();
    assert!(e.contains("wte.weight") && e.contains("[400, 32]"), "{e}");
    let e = with("\"n_layer\": 2", "\"n_layer\": 1").unwrap();
    assert!(
        e.contains("h.1.") && e.contains("not part of the model"),
        "{e}"
    );
    let e = with("\"n_layer\": 2", "\"n_layer\": 3").unwrap();
    assert!(
        e.contains("ask for") && e.contains("model.safetensors holds"),
        "{e}"
    );
    let e = with("\"vocab_size\": 400", "\"vocab_size\": 1000000000000").unwrap();
    assert!(e.contains("vocab_size"), "{e}");
    // sizes within the caps that still ask for far more than the file holds: refused before
    // anything is built
    let e = with("\"vocab_size\": 400", "\"vocab_size\": 16000000").unwrap();
    assert!(
        e.contains("ask for") && e.contains("model.safetensors holds"),
        "{e}"
    );
    std::fs::write(dir.path().join("config.json"), &config).unwrap();
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let e = nabla_hub::load(dir.path(), 64).err().unwrap().to_string();
    assert!(e.contains("model.safetensors"), "{e}");
}
