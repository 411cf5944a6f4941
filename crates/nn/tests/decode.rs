//! Incremental decoding with the key/value cache equals rerunning the window.

use nabla_core::testing::assert_close;
use nabla_core::Tensor;
use nabla_nn::generate::{generate, Sampling};
use nabla_nn::{LayerConfig, Model, Sequential};

fn gpt(norm_first: bool, causal: bool) -> Model {
    let layers = format!(
        r#"[
        {{"type": "embedding", "input_dim": 11, "output_dim": 8}},
        {{"type": "positional_embedding"}},
        {{"type": "transformer_block", "num_heads": 2, "causal": {causal}, "norm_first": {norm_first}}},
        {{"type": "transformer_block", "num_heads": 2, "causal": {causal}, "norm_first": {norm_first}}},
        {{"type": "layer_norm"}},
        {{"type": "dense", "units": 11}}
    ]"#
    );
    let layers: Vec<LayerConfig> = serde_json::from_str(&layers).unwrap();
    let mut seq = Sequential::new(vec![6]);
    for l in layers {
        seq = seq.add_boxed(l.into_layer());
    }
    seq.build(3).unwrap()
}

fn ids(v: &[usize]) -> Tensor {
    Tensor::from_vec(v.iter().map(|&i| i as f32).collect(), &[1, v.len()])
}

#[test]
fn cached_steps_equal_the_full_forward_pre_and_post_norm() {
    let seq = [3, 1, 4, 1, 5, 9];
    for norm_first in [true, false] {
        let m = gpt(norm_first, true);
        let full = m.forward_eval(&ids(&seq));
        // prompt of 2, then one position at a time
        let mut states = Vec::new();
        let first = m.decode(&ids(&seq[..2]), 0, &mut states).unwrap();
        assert_close(
            first.data(),
            &full.data()[..2 * 11],
            1e-5,
            1e-4,
            "prompt logits",
        );
        for pos in 2..6 {
            let y = m
                .decode(&ids(&seq[pos..pos + 1]), pos, &mut states)
                .unwrap();
            let want = &full.data()[pos * 11..(pos + 1) * 11];
            assert_close(y.data(), want, 1e-5, 1e-4, &format!("position {pos}"));
        }
        assert_eq!(
            states[2].parts[0].len(),
            6,
            "each block's attention caches every position"
        );
        // past the positions the model was built for
        assert!(m.decode(&ids(&[1]), 6, &mut states).is_none());
    }
}

#[test]
fn generation_with_the_cache_matches_rerunning_the_window() {
    let m = gpt(true, true);
    let greedy = Sampling {
        temperature: 0.0,
        ..Sampling::default()
    };
    let got = generate(&m, &[2, 7], 4, greedy, |_| {}).unwrap();
    // the same greedy choices by running the whole window each time
    let mut seq = vec![2, 7];
    for _ in 0..4 {
        let y = m.forward_eval(&ids(&seq));
        let last = &y.data()[y.numel() - 11..];
        let best = (0..11)
            .max_by(|&a, &b| last[a].total_cmp(&last[b]))
            .unwrap();
        seq.push(best);
    }
    assert_eq!(got, seq[2..]);
    // beyond the 6-position context the cache is refilled and decoding goes on
    let long = generate(&m, &[2, 7], 20, Sampling::default(), |_| {}).unwrap();
    assert!(long.len() == 20 && long.iter().all(|&t| t < 11));
}

#[test]
fn bidirectional_attention_falls_back_to_the_window() {
    let m = gpt(true, false);
    assert!(m.decode(&ids(&[1, 2]), 0, &mut Vec::new()).is_none());
    let greedy = Sampling {
        temperature: 0.0,
        ..Sampling::default()
    };
    let got = generate(&m, &[1, 2, 3], 2, greedy, |_| {}).unwrap();
    let y = m.forward_eval(&ids(&[1, 2, 3]));
    let last = &y.data()[y.numel() - 11..];
    let best = (0..11)
        .max_by(|&a, &b| last[a].total_cmp(&last[b]))
        .unwrap();
    assert_eq!(got[0], best);
}
