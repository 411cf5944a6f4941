//! `nabla bench W5 --model DIR`: fine-tuning all-MiniLM-L6-v2 to tell which of the nine
//! Shakespeare plays a passage is from, timed as `shared/bench/bert_bench.py` times it: the
//! passages and their split are the reference's (NumPy's permutation), each tokenised to 128
//! tokens (`[CLS] .. [SEP]`, cut, padded); encoder → mean over the attention mask → a fresh
//! Dense(9); AdamW (lr 5e-5, weight decay 0.01), cross-entropy on logits, 16 passages a step;
//! 5 warm-up steps, then 40 timed ones; the test accuracy after those 45 steps; then
//! mean-pooled, L2-normalised embeddings of up to 512 test passages in batches of 64, timed.

use anyhow::Result;
use nabla::prelude::*;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

const SEQ: usize = 128;
const BATCH: usize = 16;
const INFER_BATCH: usize = 64;
const WARMUP: usize = 5;
const STEPS: usize = 40;

/// W5's classifier as a spec: the pretrained encoder, masked mean pooling, a linear head.
fn spec(dir: &Path) -> Result<Spec> {
    let text = format!(
        r#"
[data]
dataset = "shakespeare_plays"

[model]
pretrained = {{ path = "{}", max_length = {SEQ} }}
layers = [
  {{ type = "global_avg_pool1d", inputs = ["encoder", "attention_mask"], name = "mean_pool" }},
  {{ type = "dense", units = 9, name = "head" }},
]

[train]
optimizer = {{ type = "adamw", learning_rate = 5e-5, weight_decay = 0.01 }}
loss = {{ type = "sparse_categorical_crossentropy", from_logits = true }}
metrics = ["accuracy"]
batch_size = {BATCH}
"#,
        dir.display()
    );
    Ok(Spec::from_toml(&text)?)
}

/// `steps` overrides the 40 timed steps (the record then says `full_spec: false`).
pub fn run(dir: &Path, steps: Option<usize>) -> Result<()> {
    let steps = steps.unwrap_or(STEPS);
    let spec = spec(dir)?;
    let mut model = spec.build_model(0)?;
    let (train, test) = spec.load_data(&model)?;
    let test = test.expect("the plays have a test split");
    let loss = Loss::SparseCategoricalCrossentropy.from_logits();
    let mut rng = Rng::new(0);
    let mut order: Vec<usize> = (0..train.len()).collect();
    rng.shuffle(&mut order);
    let step = |model: &mut Model, i: usize| -> Result<f32> {
        let at = (i * BATCH) % order.len();
        let idx = &order[at..(at + BATCH).min(order.len())];
        let (xs, ys) = train.batch_all(idx);
        let (out, _) = model.forward_train_multi(&xs);
        let l = loss.compute(&out[0], &ys[0]);
        let (grads, value) = (l.backward(), l.item());
        drop((l, out)); // free the graph so the weights update in place, as `fit` does
        model.apply_gradients(&grads)?;
        Ok(value)
    };
    for i in 0..WARMUP {
        step(&mut model, i)?;
    }
    let t0 = Instant::now();
    let mut losses = Vec::with_capacity(steps);
    for i in WARMUP..WARMUP + steps {
        losses.push(step(&mut model, i)?);
    }
    let train_s = t0.elapsed().as_secs_f64();
    let test_acc = model.evaluate(&test)?.get("accuracy").unwrap_or(f64::NAN);
    let infer = infer_throughput(dir, &test, false)?;
    let int8_infer = infer_throughput(dir, &test, true)?;
    let last = &losses[losses.len().saturating_sub(10)..];
    let rec = Record {
        framework: "nabla",
        workload: "W5",
        train_tokens_per_s: (BATCH * SEQ * steps) as f64 / train_s,
        train_samples_per_s: (BATCH * steps) as f64 / train_s,
        infer_samples_per_s: infer,
        test_acc,
        int8_infer_samples_per_s: int8_infer,
        steps,
        warmup_steps: WARMUP,
        batch: BATCH,
        seq: SEQ,
        train_samples: train.len(),
        test_samples: test.len(),
        classes: 9,
        first_train_loss: losses.first().copied().unwrap_or(f32::NAN),
        last10_train_loss: last.iter().sum::<f32>() / last.len().max(1) as f32,
        wall_s: train_s,
        params: model
            .named_params()
            .iter()
            .map(|(_, p)| p.value.numel())
            .sum(),
        version: env!("CARGO_PKG_VERSION"),
        threads: nabla::core::backend::num_threads(),
        cpu_path: nabla::core::backend::Isa::get().name(),
        full_spec: steps == STEPS,
    };
    println!("{}", serde_json::to_string(&rec)?);
    Ok(())
}

/// Mean-pooled, L2-normalised embeddings (the folder's encoder, pooling over the mask, the
/// unit normalisation) of up to 512 test passages in batches of 64: samples per second;
/// with `int8`, the encoder's projections and MLPs quantised first (dynamic).
fn infer_throughput(dir: &Path, test: &Dataset, int8: bool) -> Result<f64> {
    let mut enc = nabla::hub::SentenceEncoder::load(dir)?;
    enc.max_seq_length = SEQ;
    if int8 {
        enc.model.quantize(QuantMode::Dynamic)?;
    }
    let model = embedding_model(&enc)?;
    let n = test.len().min(512);
    let t0 = Instant::now();
    for s in (0..n).step_by(INFER_BATCH) {
        let idx: Vec<usize> = (s..(s + INFER_BATCH).min(n)).collect();
        let (xs, _) = test.batch_all(&idx);
        let _ = model.forward_eval_multi(&xs);
    }
    Ok(n as f64 / t0.elapsed().as_secs_f64())
}

/// The sentence encoder with normalised mean pooling, whatever the folder's modules say.
fn embedding_model(enc: &nabla::hub::SentenceEncoder) -> Result<&Model> {
    anyhow::ensure!(
        enc.pooling == nabla::hub::Pooling::Mean && enc.normalize,
        "W5 inference: expected a folder with mean pooling and Normalize (all-MiniLM-L6-v2)"
    );
    Ok(&enc.model)
}

/// W5's record: WORKLOADS.md's fields first, then the reference script's extras.
#[derive(Serialize)]
struct Record {
    framework: &'static str,
    workload: &'static str,
    train_tokens_per_s: f64,
    train_samples_per_s: f64,
    infer_samples_per_s: f64,
    test_acc: f64,
    /// Not in WORKLOADS.md: the inference with int8 projections and MLPs.
    int8_infer_samples_per_s: f64,
    steps: usize,
    warmup_steps: usize,
    batch: usize,
    seq: usize,
    train_samples: usize,
    test_samples: usize,
    classes: usize,
    first_train_loss: f32,
    last10_train_loss: f32,
    wall_s: f64,
    params: usize,
    version: &'static str,
    threads: usize,
    /// The kernels' instruction set (`NABLA_CPU`): avx512, avx2 or generic.
    cpu_path: &'static str,
    full_spec: bool,
}
