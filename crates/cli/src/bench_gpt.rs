//! `nabla bench W4`: the character-level GPT of shared/bench/WORKLOADS.md, timed as the
//! PyTorch reference script times it: 10 warm-up steps, then 200 timed steps, each on 32
//! random windows of 64 + 1 characters from the first 90% of the plays (AdamW, lr 3e-4,
//! weight decay 0.01 on every weight, as `torch.optim.AdamW(model.parameters())`); then the
//! mean cross-entropy over every position of the non-overlapping 64-character windows of the
//! last 10%.

use anyhow::Result;
use nabla::data::shakespeare_ids;
use nabla::nn::layers::{
    Embedding, LayerNorm, PositionKind, PositionalEmbedding, TransformerBlock,
};
use nabla::prelude::*;
use serde::Serialize;
use std::time::Instant;

const BATCH: usize = 32;
const CONTEXT: usize = 64;
const WARMUP: usize = 10;
const STEPS: usize = 200;

/// W4's model: vocab → 128, learned positions, 4 causal pre-norm blocks of 4 heads with a
/// 4x GELU MLP, a final layer norm and an untied dense head with bias.
fn model(vocab: usize) -> Result<Model> {
    let mut seq = Sequential::new([CONTEXT])
        .add(Embedding::new(vocab, 128))
        .add(PositionalEmbedding::new(PositionKind::Learned));
    for _ in 0..4 {
        seq = seq.add(TransformerBlock::new(4).causal(true));
    }
    let mut model = seq.add(LayerNorm::new()).add(Dense::new(vocab)).build(42)?;
    model.compile(
        AdamW::new(3e-4).weight_decay(0.01),
        Loss::SparseCategoricalCrossentropy.from_logits(),
        &[],
    )?;
    Ok(model)
}

/// `steps` overrides the 200 timed steps (a quick look; the record says `full_spec: false`).
pub fn run(steps: Option<usize>) -> Result<()> {
    let steps = steps.unwrap_or(STEPS);
    let (train, val, tok) = shakespeare_ids()?;
    let mut model = model(tok.vocab_size())?;
    let loss = Loss::SparseCategoricalCrossentropy.from_logits();
    let mut rng = Rng::new(1);
    let n_start = train.len() - CONTEXT;
    let mut step = |model: &mut Model| -> Result<f32> {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..BATCH {
            let s = rng.below(n_start);
            x.extend(train[s..s + CONTEXT].iter().map(|&i| i as f32));
            y.extend(train[s + 1..s + CONTEXT + 1].iter().map(|&i| i as f32));
        }
        let x = Tensor::from_vec(x, &[BATCH, CONTEXT]);
        let y = Tensor::from_vec(y, &[BATCH, CONTEXT]);
        let l = loss.compute(&model.forward_train(&x), &y);
        let (grads, value) = (l.backward(), l.item());
        drop(l); // free the graph so the weights update in place, as `fit` does
        model.apply_gradients(&grads)?;
        Ok(value)
    };
    let mut first = f32::NAN;
    for k in 0..WARMUP {
        let l = step(&mut model)?;
        if k == 0 {
            first = l;
        }
    }
    let t0 = Instant::now();
    let mut losses = Vec::with_capacity(steps);
    for _ in 0..steps {
        losses.push(step(&mut model)?);
    }
    let train_s = t0.elapsed().as_secs_f64();
    let last = &losses[losses.len().saturating_sub(10)..];
    let rec = Record {
        framework: "nabla",
        workload: "W4",
        train_tokens_per_s: (steps * BATCH * CONTEXT) as f64 / train_s,
        val_loss: val_loss(&model, &val)?,
        steps,
        warmup_steps: WARMUP,
        wall_s: train_s,
        batch: BATCH,
        context: CONTEXT,
        head: "untied",
        first_train_loss: first,
        last10_train_loss: last.iter().sum::<f32>() / last.len().max(1) as f32,
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

/// Mean next-character cross-entropy over the non-overlapping windows of `val`.
fn val_loss(model: &Model, val: &[usize]) -> Result<f64> {
    let n_win = (val.len() - 1) / CONTEXT;
    let loss = Loss::SparseCategoricalCrossentropy.from_logits();
    let (mut total, mut count) = (0.0f64, 0usize);
    for start in (0..n_win).step_by(256) {
        let n = (n_win - start).min(256);
        let span = start * CONTEXT..(start + n) * CONTEXT;
        let x: Vec<f32> = val[span.clone()].iter().map(|&i| i as f32).collect();
        let y: Vec<f32> = val[span.start + 1..span.end + 1]
            .iter()
            .map(|&i| i as f32)
            .collect();
        let logits = model.forward_eval(&Tensor::from_vec(x, &[n, CONTEXT]));
        let l = no_grad(|| loss.compute(&logits, &Tensor::from_vec(y, &[n, CONTEXT])));
        total += l.item() as f64 * (n * CONTEXT) as f64;
        count += n * CONTEXT;
    }
    Ok(total / count as f64)
}

/// W4's record: WORKLOADS.md's fields first, then the reference script's extras.
#[derive(Serialize)]
struct Record {
    framework: &'static str,
    workload: &'static str,
    train_tokens_per_s: f64,
    val_loss: f64,
    steps: usize,
    warmup_steps: usize,
    wall_s: f64,
    batch: usize,
    context: usize,
    head: &'static str,
    first_train_loss: f32,
    last10_train_loss: f32,
    params: usize,
    version: &'static str,
    threads: usize,
    /// The kernels' instruction set (`NABLA_CPU`): avx512, avx2 or generic.
    cpu_path: &'static str,
    full_spec: bool,
}
