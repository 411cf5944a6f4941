//! Text generation with a next-token model (input `[context]` token ids, output
//! `[context, vocabulary]` logits): each new token is sampled from the last position's
//! distribution and appended, and the model sees at most its `context` latest tokens.
//!
//! Sampling, in this order (as Hugging Face's `generate`): logits / `temperature` (0: always
//! the most likely token), keep the `top_k` largest, keep the smallest set of most likely
//! tokens whose probabilities reach `top_p`, then draw from the renormalised softmax with
//! the seeded generator.
//!
//! Models whose layers all decode incrementally (embeddings, causal attention and
//! transformer blocks, position-wise layers; see `decode.rs`) keep a key/value cache, so each
//! new token costs one position's work. When the cache reaches the model's context, the newest
//! half of the window is encoded again and decoding goes on from there (each token still
//! costs about one step). Other models rerun their whole window for every token.

use crate::error::{Error, Result};
use crate::model::Model;
use nabla_core::{Rng, Tensor};

/// How the next token is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// Divides the logits (default 1; 0 picks the most likely token).
    pub temperature: f32,
    /// Keep only the `k` most likely tokens (0: all).
    pub top_k: usize,
    /// Keep the most likely tokens until their probabilities reach `p` (1: all).
    pub top_p: f32,
    /// Seed of the draws.
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        }
    }
}

/// `max_tokens` new token ids after `prompt`, each passed to `on_token` as it is made.
pub fn generate(
    model: &Model,
    prompt: &[usize],
    max_tokens: usize,
    s: Sampling,
    mut on_token: impl FnMut(usize),
) -> Result<Vec<usize>> {
    let context = match *model.input_shape() {
        [t] => t,
        ref other => {
            return Err(Error::config(
                "generate: the model's input_shape",
                "[context] (token ids)",
                format!("{other:?}"),
            ))
        }
    };
    let temperature_ok = s.temperature >= 0.0 && s.temperature.is_finite();
    if prompt.is_empty() || !temperature_ok || s.top_p.is_nan() || s.top_p <= 0.0 || s.top_p > 1.0 {
        return Err(Error::config(
            "generate: prompt, temperature and top_p",
            "a non-empty prompt, temperature >= 0 and top_p in (0, 1]",
            format!("{} tokens, {}, {}", prompt.len(), s.temperature, s.top_p),
        ));
    }
    let mut rng = Rng::new(s.seed);
    let mut ids = prompt.to_vec();
    let mut out = Vec::with_capacity(max_tokens);
    let as_input = |ids: &[usize]| {
        let x: Vec<f32> = ids.iter().map(|&i| i as f32).collect();
        Tensor::from_vec(x, &[1, ids.len()])
    };
    // the cache holds ids[base..]; None once a layer cannot decode incrementally
    let mut base = ids.len().saturating_sub(context);
    let mut states = Vec::new();
    let mut logits = model.decode(&as_input(&ids[base..]), 0, &mut states);
    if logits.is_none() {
        states.clear();
    }
    for _ in 0..max_tokens {
        let y = match logits.take() {
            Some(y) => y,
            None => model.forward_eval(&as_input(&ids[ids.len().saturating_sub(context)..])),
        };
        let v = *y.shape().last().unwrap_or(&1);
        let next = sample(&y.data()[y.numel() - v..], s, &mut rng);
        ids.push(next);
        out.push(next);
        on_token(next);
        if states.is_empty() {
            continue; // no cache: the next round reruns the window
        }
        let held = ids.len() - 1 - base;
        logits = if held < context {
            model.decode(&as_input(&ids[ids.len() - 1..]), held, &mut states)
        } else {
            // window full: encode its newest half again and go on from there
            base = ids.len() - context.div_ceil(2);
            states.clear();
            model.decode(&as_input(&ids[base..]), 0, &mut states)
        };
        if logits.is_none() {
            states.clear();
        }
    }
    Ok(out)
}

/// One token from `logits` under `s`.
pub fn sample(logits: &[f32], s: Sampling, rng: &mut Rng) -> usize {
    let argmax = || {
        (0..logits.len())
            .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
            .unwrap_or(0)
    };
    if s.temperature == 0.0 {
        return argmax();
    }
    // candidates by decreasing logit
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    if s.top_k > 0 {
        order.truncate(s.top_k);
    }
    let m = logits[order[0]] as f64;
    let mut p: Vec<f64> = order
        .iter()
        .map(|&i| ((logits[i] as f64 - m) / s.temperature as f64).exp())
        .collect();
    let total: f64 = p.iter().sum();
    p.iter_mut().for_each(|v| *v /= total);
    // nucleus: the smallest prefix whose mass reaches top_p
    let mut mass = 0.0;
    let keep = p
        .iter()
        .position(|&v| {
            mass += v;
            mass >= s.top_p as f64
        })
        .map_or(p.len(), |i| i + 1);
    let total: f64 = p[..keep].iter().sum();
    let mut u = rng.uniform() as f64 * total;
    for (i, &v) in p[..keep].iter().enumerate() {
        u -= v;
        if u < 0.0 {
            return order[i];
        }
    }
    order[keep - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_top_k_and_top_p() {
        let logits = [1.0, 3.0, 2.0, -1.0];
        let mut rng = Rng::new(1);
        let greedy = Sampling {
            temperature: 0.0,
            ..Sampling::default()
        };
        assert_eq!(sample(&logits, greedy, &mut rng), 1);
        // top_k = 2: only tokens 1 and 2 ever come out
        let k2 = Sampling {
            top_k: 2,
            ..Sampling::default()
        };
        let drawn: std::collections::BTreeSet<usize> =
            (0..200).map(|_| sample(&logits, k2, &mut rng)).collect();
        assert_eq!(drawn, [1, 2].into());
        // top_p small: only the most likely token
        let p = Sampling {
            top_p: 0.1,
            ..Sampling::default()
        };
        assert!((0..50).all(|_| sample(&logits, p, &mut rng) == 1));
        // plain sampling reaches every token
        let all: std::collections::BTreeSet<usize> = (0..2000)
            .map(|_| sample(&logits, Sampling::default(), &mut rng))
            .collect();
        assert_eq!(all.len(), 4);
    }
}
