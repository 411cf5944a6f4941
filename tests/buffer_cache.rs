//! The buffer cache (`nabla_core::backend`) holds what one training step needs, and no
//! more: a kernel that allocates a large buffer itself, which goes back to the cache when
//! its tensor drops, would make the cache grow by one buffer every step (W4 grew by 400 MB).
//! Alone in its file: it reads a process-wide total that other tests would change.

use nabla::data::{shakespeare_ids, windows};
use nabla::nn::layers::{Embedding, PositionKind, PositionalEmbedding, TransformerBlock};
use nabla::prelude::*;
use nabla_core::backend::kept_bytes;

/// `kept_bytes()` after one epoch of `model` on `data`, and after three more.
fn kept_after_one_and_four(mut model: Model, data: &Dataset, batch: usize) -> (usize, usize) {
    let loss = Loss::SparseCategoricalCrossentropy.from_logits();
    model.compile(Adam::default(), loss, &[]).unwrap();
    let fit = || Fit::new().epochs(1).batch_size(batch).verbose(0);
    model.fit(data, fit()).unwrap();
    let after_one = kept_bytes();
    for _ in 0..3 {
        model.fit(data, fit()).unwrap();
    }
    (after_one, kept_bytes())
}

#[test]
fn training_loops_keep_the_same_buffers_from_epoch_to_epoch() {
    // a CNN: batches of 128 images are 100,352 values, large enough to be cached
    let (train, _) = nabla::datasets::mnist().unwrap();
    let train = train.slice(0..128 * 3).with_x_shape(&[1, 28, 28]).unwrap();
    let cnn = Sequential::new([1, 28, 28])
        .add(Conv2d::new(2, 3).activation(Activation::Relu))
        .add(Pool2d::max(2))
        .add(Flatten::new())
        .add(Dense::new(10))
        .build(1)
        .unwrap();
    let (one, four) = kept_after_one_and_four(cnn, &train, 128);
    assert!(one > 0, "large batches go through the cache");
    assert_eq!(four, one, "the CNN's cache grew from epoch to epoch");
    // a small GPT: activations [32, 64, 32] (65,536 values), embedding, positions,
    // residual adds, log-softmax over the vocabulary
    let (ids, _, tok) = shakespeare_ids().unwrap();
    let text = windows(&ids[..32 * 64 * 3 + 1], 64, 64).unwrap();
    let gpt = Sequential::new([64])
        .add(Embedding::new(tok.vocab_size(), 32))
        .add(PositionalEmbedding::new(PositionKind::Learned))
        .add(TransformerBlock::new(2).causal(true))
        .add(Dense::new(tok.vocab_size()))
        .build(1)
        .unwrap();
    let (one, four) = kept_after_one_and_four(gpt, &text, 32);
    assert_eq!(four, one, "the GPT's cache grew from epoch to epoch");
}
