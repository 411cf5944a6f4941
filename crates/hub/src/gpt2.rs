//! GPT-2 (`GPT2LMHeadModel`) as a nabla functional model, and its Hugging Face weights put in
//! place.
//!
//! ```text
//! input: input_ids [time]
//! x = wte[input_ids] + wpe[0..time]
//! x = block_i(x)  for i in 0..n_layer      (pre-norm, causal: x + attn(LN(x)), x + mlp(LN(x)),
//!                                           mlp = W2·gelu_tanh(W1·x))
//! logits = LN_f(x) · wteᵀ                  (the head tied to the token embeddings)
//! ```
//!
//! GPT-2's `Conv1D` weights are stored `[in, out]`, nabla's layout, so none is transposed;
//! `c_attn` holds the query, key and value projections side by side (columns `0..E`,
//! `E..2E`, `2E..3E`). The head is a copy of `wteᵀ` (tied in the file; untied once loaded, so
//! fine-tuning updates them apart). The causal-mask buffers of old checkpoints
//! (`h.N.attn.bias`, `h.N.attn.masked_bias`) carry no weights and are skipped.

use crate::bert::layer;
use crate::error::Result;
use crate::hf_config::Gpt2Config;
use crate::weights::{Place, Take};
use nabla_nn::functional::{Functional, Input, Sym};
use nabla_nn::Model;
use serde_json::json;

/// The language model for up to `time` tokens (at most `n_positions`), weights fresh.
pub fn build(c: &Gpt2Config, time: usize, seed: u64) -> Result<Model> {
    let time = time.min(c.n_positions);
    let ids = Input::int("input_ids", [time]);
    let mut x: Sym = layer(json!({"type": "embedding", "input_dim": c.vocab_size,
        "output_dim": c.n_embd, "name": "wte"}))?
    .call(&ids);
    x = layer(json!({"type": "positional_embedding", "max_length": c.n_positions, "name": "wpe"}))?
        .call(&x);
    x = layer(json!({"type": "dropout", "rate": c.embd_pdrop, "name": "drop"}))?.call(&x);
    for i in 0..c.n_layer {
        x = layer(json!({
            "type": "transformer_block",
            "num_heads": c.n_head,
            "mlp_ratio": c.inner() / c.n_embd,
            "activation": "gelu_tanh",
            "causal": true,
            "dropout": c.resid_pdrop,
            "norm_first": true,
            "epsilon": c.layer_norm_epsilon,
            "name": format!("h_{i}"),
        }))?
        .call(&x);
    }
    x = layer(json!({"type": "layer_norm", "epsilon": c.layer_norm_epsilon, "name": "ln_f"}))?
        .call(&x);
    x = layer(
        json!({"type": "dense", "units": c.vocab_size, "use_bias": false, "name": "lm_head"}),
    )?
    .call(&x);
    Ok(Functional::new([&ids], [&x]).build(seed)?)
}

/// Where each nabla weight comes from; `untied_head`: the file has its own `lm_head.weight`.
pub fn places(c: &Gpt2Config, untied_head: bool) -> Vec<Place> {
    let p = |ours: String, theirs: String, take: Take| Place { ours, theirs, take };
    let mut v = vec![
        p("wte.embeddings".into(), "wte.weight".into(), Take::Same),
        p("wpe.positions".into(), "wpe.weight".into(), Take::Same),
        p("ln_f.gamma".into(), "ln_f.weight".into(), Take::Same),
        p("ln_f.beta".into(), "ln_f.bias".into(), Take::Same),
        p(
            "lm_head.kernel".into(),
            if untied_head {
                "lm_head.weight"
            } else {
                "wte.weight"
            }
            .into(),
            Take::Transposed,
        ),
    ];
    for i in 0..c.n_layer {
        let (ours, hf) = (format!("h_{i}."), format!("h.{i}."));
        for (k, part) in ["query", "key", "value"].iter().enumerate() {
            let cols = Take::Columns { part: k, of: 3 };
            v.push(p(
                format!("{ours}attn/{part}/kernel"),
                format!("{hf}attn.c_attn.weight"),
                cols,
            ));
            v.push(p(
                format!("{ours}attn/{part}/bias"),
                format!("{hf}attn.c_attn.bias"),
                cols,
            ));
        }
        for (o, t) in [
            ("attn/output", "attn.c_proj"),
            ("mlp1", "mlp.c_fc"),
            ("mlp2", "mlp.c_proj"),
        ] {
            v.push(p(
                format!("{ours}{o}/kernel"),
                format!("{hf}{t}.weight"),
                Take::Same,
            ));
            v.push(p(
                format!("{ours}{o}/bias"),
                format!("{hf}{t}.bias"),
                Take::Same,
            ));
        }
        for (o, t) in [("ln1", "ln_1"), ("ln2", "ln_2")] {
            v.push(p(
                format!("{ours}{o}/gamma"),
                format!("{hf}{t}.weight"),
                Take::Same,
            ));
            v.push(p(
                format!("{ours}{o}/beta"),
                format!("{hf}{t}.bias"),
                Take::Same,
            ));
        }
    }
    v
}
