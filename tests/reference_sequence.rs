//! nabla against PyTorch for the sequence layers: layer/RMS norm, embedding, multi-head
//! attention, LSTM/GRU/RNN (fixtures from `scripts/reference/make_fixtures.py`).

use nabla::core::testing::assert_close;
use nabla::nn::Ctx;
use nabla::prelude::*;

mod common;
use common::{fixture, floats, grads_of, set_weights, usizes};

#[test]
fn layer_norm_rms_norm_and_embedding_match_pytorch() {
    let f = fixture("norm_embedding.json");
    let x = Tensor::from_vec(floats(&f["x"]), &[2, 3, 6]);
    let gamma = Tensor::from_vec(floats(&f["gamma"]), &[6]);
    let beta = Tensor::from_vec(floats(&f["beta"]), &[6]);
    let ln = &f["layer_norm"];
    let (y, d) = grads_of(&[x.clone(), gamma.clone(), beta], &floats(&ln["r"]), |t| {
        t[0].layer_norm(&t[1], &t[2], 1e-5)
    });
    assert_close(y.data(), &floats(&ln["y"]), 1e-5, 1e-4, "layer_norm y");
    assert_close(&d[0], &floats(&ln["dx"]), 1e-5, 1e-3, "layer_norm dx");
    assert_close(
        &d[1],
        &floats(&ln["dgamma"]),
        1e-5,
        1e-4,
        "layer_norm dgamma",
    );
    assert_close(&d[2], &floats(&ln["dbeta"]), 1e-5, 1e-4, "layer_norm dbeta");
    let rms = &f["rms_norm"];
    let (y, d) = grads_of(&[x, gamma], &floats(&rms["r"]), |t| {
        t[0].rms_norm(&t[1], 1e-5)
    });
    assert_close(y.data(), &floats(&rms["y"]), 1e-5, 1e-4, "rms_norm y");
    assert_close(&d[0], &floats(&rms["dx"]), 1e-5, 1e-3, "rms_norm dx");
    assert_close(
        &d[1],
        &floats(&rms["dgamma"]),
        1e-5,
        1e-4,
        "rms_norm dgamma",
    );
    // Embedding(7, 4, padding_idx=0) through the layer
    let e = &f["embedding"];
    let mut model = Sequential::new([3])
        .add(nabla::nn::layers::Embedding::new(7, 4).padding_idx(0))
        .build(0)
        .unwrap();
    set_weights(&mut model, &[floats(&e["table"])]);
    let idx: Vec<f32> = usizes(&e["idx"]).iter().map(|&i| i as f32).collect();
    let y = model.forward(
        &Tensor::from_vec(idx, &[2, 3]),
        &mut Ctx::new(true, &mut Rng::new(0)),
    );
    assert_close(y.data(), &floats(&e["y"]), 0.0, 0.0, "embedding y");
    let r = Tensor::from_vec(floats(&e["r"]), y.shape());
    let g = y.mul(&r).sum().backward();
    let table = &model.named_params()[0].1.value;
    assert_close(
        g.get(table).unwrap(),
        &floats(&e["dtable"]),
        1e-6,
        1e-5,
        "embedding dtable",
    );
}

#[test]
fn multi_head_attention_matches_pytorch_with_and_without_causal_mask() {
    let f = fixture("attention.json");
    let names = ["wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo"];
    let weights: Vec<Vec<f32>> = names.iter().map(|n| floats(&f[*n])).collect();
    for (case, causal) in [("full", false), ("causal", true)] {
        let c = &f[case];
        let mut model = Sequential::new([4, 6])
            .add(nabla::nn::layers::MultiHeadAttention::new(2, 3).causal(causal))
            .build(0)
            .unwrap();
        set_weights(&mut model, &weights);
        let x = Tensor::from_vec(floats(&f["x"]), &[2, 4, 6]).requires_grad(true);
        let y = model.forward(&x, &mut Ctx::new(true, &mut Rng::new(0)));
        assert_close(y.data(), &floats(&c["y"]), 1e-5, 1e-4, &format!("{case} y"));
        let g = y
            .mul(&Tensor::from_vec(floats(&c["r"]), y.shape()))
            .sum()
            .backward();
        let p = model.named_params();
        let grad = |i: usize| g.get(&p[i].1.value).unwrap().to_vec();
        assert_close(
            g.get(&x).unwrap(),
            &floats(&c["dx"]),
            1e-5,
            1e-3,
            &format!("{case} dx"),
        );
        assert_close(
            &grad(0),
            &floats(&c["dwq"]),
            1e-5,
            1e-3,
            &format!("{case} dwq"),
        );
        assert_close(
            &grad(3),
            &floats(&c["dwo"]),
            1e-5,
            1e-3,
            &format!("{case} dwo"),
        );
        assert_close(
            &grad(6),
            &floats(&c["dbv"]),
            1e-5,
            1e-3,
            &format!("{case} dbv"),
        );
    }
}

#[test]
fn lstm_gru_and_rnn_match_pytorch_with_states_layers_and_directions() {
    use nabla::nn::layers::{Gru, Lstm, SimpleRnn};
    use nabla::nn::Activation;
    let f = fixture("recurrent.json");
    check_recurrent(&f, "lstm", Lstm::new(4).num_layers(2).bidirectional(true));
    check_recurrent(&f, "gru", Gru::new(4).num_layers(2));
    let relu = SimpleRnn::new(4).activation(Activation::Relu);
    check_recurrent(&f, "rnn_relu", relu.bidirectional(true));
}

/// One recurrent layer against its PyTorch case: outputs, final states and every gradient.
fn check_recurrent<K: nabla::nn::layers::CellKind>(
    f: &serde_json::Value,
    name: &str,
    layer: nabla::nn::layers::Recurrent<K>,
) {
    use nabla::nn::layers::RnnState;
    use nabla::nn::Layer;
    let c = &f[name];
    let mut layer = layer.return_sequences(true);
    layer.build(&[5, 3], &mut Rng::new(0)).unwrap();
    let torch_names: Vec<&str> = c["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let ours: Vec<String> = layer.params().iter().map(|p| p.name.clone()).collect();
    assert_eq!(ours, torch_names, "{name}: weight names and order");
    let weights = c["weights"].as_array().unwrap();
    for (p, w) in layer.params_mut().into_iter().zip(weights) {
        p.value.update(|v| v.copy_from_slice(&floats(w)));
    }
    let lstm = name == "lstm";
    let x = Tensor::from_vec(floats(&c["x"]), &[2, 5, 3]).requires_grad(true);
    let h0 = floats(&c["h0"]);
    let c0 = lstm.then(|| floats(&c["c0"]));
    let n_states = h0.len() / 8;
    let slice = |v: &[f32], k: usize| Tensor::from_vec(v[k * 8..(k + 1) * 8].to_vec(), &[2, 4]);
    let init: Vec<RnnState> = (0..n_states)
        .map(|k| RnnState {
            h: slice(&h0, k).requires_grad(true),
            c: c0.as_ref().map(|c0| slice(c0, k).requires_grad(true)),
        })
        .collect();
    let mut rng = Rng::new(0);
    let (y, finals) = layer.forward_with_state(&x, Some(&init), &mut Ctx::new(true, &mut rng));
    assert_close(y.data(), &floats(&c["y"]), 1e-5, 1e-4, &format!("{name} y"));
    let hn: Vec<&Tensor> = finals.iter().map(|s| &s.h).collect();
    let hn = Tensor::concat(&hn, 0);
    assert_close(
        hn.data(),
        &floats(&c["hn"]),
        1e-5,
        1e-4,
        &format!("{name} h_n"),
    );
    let mut loss = y
        .mul(&Tensor::from_vec(floats(&c["r"]), y.shape()))
        .sum()
        .add(
            &hn.mul(&Tensor::from_vec(floats(&c["rh"]), hn.shape()))
                .sum(),
        );
    if lstm {
        let cs: Vec<&Tensor> = finals.iter().map(|s| s.c.as_ref().unwrap()).collect();
        let cn = Tensor::concat(&cs, 0);
        assert_close(cn.data(), &floats(&c["cn"]), 1e-5, 1e-4, "lstm c_n");
        loss = loss.add(
            &cn.mul(&Tensor::from_vec(floats(&c["rc"]), cn.shape()))
                .sum(),
        );
    }
    let g = loss.backward();
    assert_close(
        g.get(&x).unwrap(),
        &floats(&c["dx"]),
        1e-5,
        1e-3,
        &format!("{name} dx"),
    );
    let dh0: Vec<f32> = init
        .iter()
        .flat_map(|s| g.get(&s.h).unwrap().to_vec())
        .collect();
    assert_close(&dh0, &floats(&c["dh0"]), 1e-5, 1e-3, &format!("{name} dh0"));
    if lstm {
        let dc0: Vec<f32> = init
            .iter()
            .flat_map(|s| g.get(s.c.as_ref().unwrap()).unwrap().to_vec())
            .collect();
        assert_close(&dc0, &floats(&c["dc0"]), 1e-5, 1e-3, "lstm dc0");
    }
    for (p, want) in layer.params().iter().zip(c["grads"].as_array().unwrap()) {
        let what = format!("{name} d{}", p.name);
        assert_close(g.get(&p.value).unwrap(), &floats(want), 1e-5, 1e-3, &what);
    }
}
