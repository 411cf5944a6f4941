//! A character-level GPT on the embedded Shakespeare plays, built and trained from Rust, then
//! asked to continue "ROMEO:".
//!
//! Decoder-only transformer: token embedding → learned positions → causal pre-norm blocks
//! (4 heads, 4x GELU MLP) → layer norm → a dense head over the vocabulary at every position;
//! next-character cross-entropy; AdamW without weight decay on biases, norms and embeddings.
//! The spec `specs/shakespeare_gpt.toml` trains the larger W4 model the same way.
//!
//! `cargo run --release --example char_gpt [EPOCHS]` (default 1: about 1.5 minutes on 2 cores)

use nabla::data::{shakespeare_ids, windows};
use nabla::nn::layers::Embedding;
use nabla::nn::layers::{LayerNorm, PositionKind, PositionalEmbedding, TransformerBlock};
use nabla::prelude::*;

fn main() -> anyhow::Result<()> {
    let epochs: usize = std::env::args().nth(1).map_or(Ok(1), |a| a.parse())?;
    let context = 64;
    // first 90% of the plays for training, the last 10% for validation
    let (train_ids, val_ids, tok) = shakespeare_ids()?;
    let train = windows(&train_ids, context, context)?;
    let val = windows(&val_ids, context, context)?;
    let vocab = tok.vocab_size();
    let d = 96;
    let mut model = Sequential::new([context])
        .add(Embedding::new(vocab, d))
        .add(PositionalEmbedding::new(PositionKind::Learned))
        .add(TransformerBlock::new(4).causal(true))
        .add(TransformerBlock::new(4).causal(true))
        .add(TransformerBlock::new(4).causal(true))
        .add(LayerNorm::new())
        .add(Dense::new(vocab))
        .build(1)?;
    let adamw = AdamW::new(1e-3).exclude_from_weight_decay(&[
        "bias",
        "gamma",
        "beta",
        "embeddings",
        "positions",
    ]);
    model.compile(
        adamw,
        Loss::SparseCategoricalCrossentropy.from_logits(),
        &[Metric::Perplexity],
    )?;
    print!("{}", model.summary());
    model.fit(
        &train,
        Fit::new()
            .epochs(epochs)
            .batch_size(32)
            .validation_data(&val)
            .tokens_per_sample(context),
    )?;

    // the vocabulary travels with the model (and inside its file after `model.save`)
    model.set_tokenizer(serde_json::to_string(&tok)?);
    let sampling = Sampling {
        temperature: 0.8,
        top_k: 20,
        ..Sampling::default()
    };
    print!("ROMEO:");
    model.generate("ROMEO:", 300, sampling, |c| print!("{c}"))?;
    println!();
    Ok(())
}
