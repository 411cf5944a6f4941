//! Dynamic int8 quantisation of a model: the quantised model predicts close to the float one,
//! saves as I8 kernels, loads back bit-identically, and refuses what it cannot quantise.

use nabla_core::{Rng, Tensor};
use nabla_nn::saving::{encode_mixed, NamedTensor, MODEL_KEY};
use nabla_nn::{Activation, Dense, Flatten, LayerConfig, Model, QuantMode, Sequential};
use std::collections::HashMap;

fn model() -> Model {
    Sequential::new([3, 31])
        .add(Flatten::new())
        .add(Dense::new(67).activation(Activation::Relu))
        .add(Dense::new(11))
        .build(7)
        .unwrap()
}

fn input(rows: usize) -> Tensor {
    let mut rng = Rng::new(3);
    Tensor::from_vec(
        (0..rows * 93).map(|_| rng.normal()).collect(),
        &[rows, 3, 31],
    )
}

/// The largest difference between the values of `a` and `b`.
fn max_err(a: &Tensor, b: &Tensor) -> f32 {
    a.data()
        .iter()
        .zip(b.data())
        .fold(0f32, |e, (p, q)| e.max((p - q).abs()))
}

/// Whether `a` and `b` hold the same floats, bit for bit.
fn same_bits(a: &Tensor, b: &Tensor) -> bool {
    a.data()
        .iter()
        .zip(b.data())
        .all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn a_quantised_model_predicts_close_to_the_float_one_and_round_trips() {
    let mut m = model();
    let x = input(45);
    let want = m.forward_eval(&x);
    let f32_bytes = m.to_bytes().unwrap().len();
    assert_eq!(
        m.quantize(QuantMode::Dynamic).unwrap(),
        ["dense", "dense_1"]
    );
    let got = m.forward_eval(&x);
    assert_eq!(got.shape(), want.shape());
    let scale = max_err(&want, &Tensor::zeros(want.shape()));
    let err = max_err(&got, &want);
    assert!(
        err < 0.02 * scale,
        "largest error {err}, outputs up to {scale}"
    );
    assert!(m.summary().contains("quantized_dense"), "{}", m.summary());

    let bytes = m.to_bytes().unwrap();
    assert!(
        bytes.len() * 3 < f32_bytes,
        "int8 file {} bytes, float {f32_bytes}",
        bytes.len()
    );
    let back = Model::from_bytes(&bytes).unwrap();
    assert_eq!(back.config(), m.config());
    let again = back.forward_eval(&x);
    assert!(same_bits(&got, &again));
}

/// A quantised model's file made by hand: its float weights plus `extra`, and each int8
/// weight as `edit` gives it back (`None`: left out).
fn file_of(
    m: &Model,
    extra: Vec<NamedTensor>,
    edit: impl Fn(&str, &[i8]) -> Option<Vec<i8>>,
) -> Vec<u8> {
    let tensors: Vec<NamedTensor> = m
        .named_params()
        .iter()
        .map(|(n, p)| (n.clone(), p.value.shape().to_vec(), p.value.to_vec()))
        .chain(extra)
        .collect();
    let owned: Vec<(String, Vec<usize>, Vec<i8>)> = m
        .named_int8_params()
        .iter()
        .filter_map(|(n, p)| edit(n, &p.values).map(|v| (n.clone(), p.shape.clone(), v)))
        .collect();
    let int8: Vec<_> = owned
        .iter()
        .map(|(n, s, v)| (n.clone(), s.clone(), v.as_slice()))
        .collect();
    let meta = HashMap::from([(
        MODEL_KEY.to_string(),
        serde_json::to_string(&m.config()).unwrap(),
    )]);
    encode_mixed(&tensors, &int8, meta).unwrap()
}

#[test]
fn a_kernel_stored_as_float_where_int8_is_expected_is_refused_by_name() {
    let mut m = model();
    m.quantize(QuantMode::Dynamic).unwrap();
    let float_kernel = ("dense.kernel".to_string(), vec![93, 67], vec![0.0; 93 * 67]);
    let bytes = file_of(&m, vec![float_kernel], |n, v| {
        (n != "dense.kernel").then(|| v.to_vec())
    });
    let err = Model::from_bytes(&bytes).err().unwrap().to_string();
    assert!(
        err.contains("'dense.kernel': expected i8 [93, 67], received F32"),
        "{err}"
    );
}

#[test]
fn a_kernel_with_nan_is_not_quantised() {
    let mut m = model();
    m.params_mut()[0].value.update(|w| w[5] = f32::NAN);
    let err = m.quantize(QuantMode::Dynamic).unwrap_err().to_string();
    assert!(err.contains("weight 'dense.kernel'"), "{err}");
    assert!(err.contains("NaN or infinite"), "{err}");
}

#[test]
fn quantised_lstm_gru_and_rnn_stacks_follow_the_float_ones_and_round_trip() {
    use nabla_nn::layers::{Gru, Lstm, SimpleRnn};
    type Make = fn() -> Box<dyn nabla_nn::Layer>;
    let stacks: [(&str, Make); 4] = [
        ("lstm", || Box::new(Lstm::new(9))),
        ("gru", || Box::new(Gru::new(9))),
        ("simple_rnn", || Box::new(SimpleRnn::new(9))),
        ("simple_rnn", || {
            Box::new(SimpleRnn::new(9).activation(Activation::Relu))
        }),
    ];
    for (kind, make) in stacks {
        for (bidirectional, sequences) in [(false, false), (true, true)] {
            let mut cfg = make().config();
            if let LayerConfig::Lstm(c) | LayerConfig::Gru(c) | LayerConfig::SimpleRnn(c) = &mut cfg
            {
                (c.num_layers, c.bidirectional, c.return_sequences) = (2, bidirectional, sequences);
            }
            let mut m = Sequential::new([6, 5])
                .add_boxed(cfg.into_layer())
                .add(Dense::new(3))
                .build(5)
                .unwrap();
            let mut rng = Rng::new(8);
            let x = Tensor::from_vec((0..33 * 30).map(|_| rng.normal()).collect(), &[33, 6, 5]);
            let want = m.forward_eval(&x);
            assert_eq!(m.quantize(QuantMode::Dynamic).unwrap(), [kind, "dense"]);
            let got = m.forward_eval(&x);
            assert_eq!(got.shape(), want.shape());
            let scale = max_err(&want, &Tensor::zeros(want.shape())).max(1.0);
            let err = max_err(&got, &want);
            assert!(
                err < 0.03 * scale,
                "{kind}: largest error {err}, outputs up to {scale}"
            );
            let names: Vec<String> = m.named_int8_params().into_iter().map(|(n, _)| n).collect();
            let hh = format!("{kind}.weight_hh_l1");
            assert!(names.contains(&hh), "{names:?}");
            assert!(
                m.summary().contains(&format!("(quantized_{kind}, int8)")),
                "{}",
                m.summary()
            );
            let back = Model::from_bytes(&m.to_bytes().unwrap()).unwrap();
            assert_eq!(back.config(), m.config());
            let again = back.forward_eval(&x);
            assert!(same_bits(&got, &again), "{kind}");
        }
    }
}

#[test]
fn an_int8_weight_of_minus_128_is_refused() {
    let mut m = model();
    m.quantize(QuantMode::Dynamic).unwrap();
    let bytes = file_of(&m, Vec::new(), |n, v| {
        let mut v = v.to_vec();
        if n == "dense.kernel" {
            v[7] = i8::MIN;
        }
        Some(v)
    });
    let err = Model::from_bytes(&bytes).err().unwrap().to_string();
    assert!(
        err.contains("'dense.kernel'") && err.contains("-128"),
        "{err}"
    );
}

/// Quantisation-aware training: the dense layer computes with its input and kernel rounded
/// as the int8 layer will, its gradients straight through (those of the rounded values:
/// `dL/dx = dL/dy · Wqᵀ`, `dL/dW = xqᵀ · dL/dy`), and the int8 layer made from it
/// computes the same function.
#[test]
fn quantisation_aware_dense_has_straight_through_gradients_and_converts_faithfully() {
    use nabla_nn::quantize::{fake_quant_input, fake_quant_kernel};
    let mut m = Sequential::new([13])
        .add(Dense::new(7).quantization_aware(true))
        .build(2)
        .unwrap();
    let mut rng = Rng::new(5);
    let x =
        Tensor::from_vec((0..5 * 13).map(|_| rng.normal()).collect(), &[5, 13]).requires_grad(true);
    let g: Vec<f32> = (0..5 * 7).map(|i| (i % 5) as f32 - 2.0).collect();
    let gt = Tensor::from_vec(g.clone(), &[5, 7]);
    let y = m.forward(&x, &mut nabla_nn::Ctx::new(false, &mut Rng::new(0)));
    let grads = y.mul(&gt).sum().backward();
    let kernel = m.named_params()[0].1.value.clone();
    // the rounded values, and the straight-through gradients by hand
    let (xq, wq) = (
        fake_quant_input(&x.detach()),
        fake_quant_kernel(&kernel.detach()),
    );
    let want_dx = gt.matmul(&wq.transpose());
    let want_dw = xq.transpose().matmul(&gt);
    let close = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .all(|(p, q)| (p - q).abs() <= 1e-5 * (1.0 + q.abs()))
    };
    assert!(close(grads.get(&x).unwrap(), want_dx.data()), "dL/dx");
    assert!(close(grads.get(&kernel).unwrap(), want_dw.data()), "dL/dW");
    // the forward is the rounded product, not the float one
    let plain = x.detach().matmul(&kernel.detach());
    assert!(
        !close(y.data(), plain.data()),
        "fake quantisation changes the values"
    );
    // and the int8 layer computes it (up to float rounding)
    let want = m.forward_eval(&x.detach());
    m.quantize(QuantMode::Dynamic).unwrap();
    let got = m.forward_eval(&x.detach());
    assert!(
        close(got.data(), want.data()),
        "{:?} vs {:?}",
        got.data(),
        want.data()
    );
}

#[test]
fn the_layers_of_a_model_inside_a_model_are_quantised_and_round_trip() {
    use nabla_nn::SubModel;
    let inner = Sequential::new([8])
        .add(Dense::new(6).activation(Activation::Relu))
        .add(Dense::new(4))
        .build(3)
        .unwrap();
    let mut m = Sequential::new([8])
        .add(SubModel::new(inner))
        .add(Dense::new(3))
        .build(4)
        .unwrap();
    let mut rng = Rng::new(2);
    let x = Tensor::from_vec((0..20 * 8).map(|_| rng.normal()).collect(), &[20, 8]);
    let want = m.forward_eval(&x);
    let names = m.quantize(QuantMode::Dynamic).unwrap();
    assert_eq!(names, ["model.dense", "model.dense_1", "dense"]);
    let got = m.forward_eval(&x);
    let scale = max_err(&want, &Tensor::zeros(want.shape()));
    let err = max_err(&got, &want);
    assert!(
        err < 0.03 * scale,
        "largest error {err}, outputs up to {scale}"
    );
    let int8: Vec<String> = m.named_int8_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        int8,
        ["model.dense.kernel", "model.dense_1.kernel", "dense.kernel"]
    );
    let back = Model::from_bytes(&m.to_bytes().unwrap()).unwrap();
    assert!(same_bits(&got, &back.forward_eval(&x)));
}

#[test]
fn transformer_blocks_and_attention_quantise_their_projections_and_round_trip() {
    use nabla_nn::layers::{MultiHeadAttention, TransformerBlock};
    let mut m = Sequential::new([7, 16])
        .add(TransformerBlock::new(4))
        .add(MultiHeadAttention::new(2, 8).causal(true))
        .add(Dense::new(3))
        .build(5)
        .unwrap();
    let mut rng = Rng::new(4);
    let x = Tensor::from_vec((0..6 * 7 * 16).map(|_| rng.normal()).collect(), &[6, 7, 16]);
    let want = m.forward_eval(&x);
    let names = m.quantize(QuantMode::Dynamic).unwrap();
    let block = [
        "attn/query",
        "attn/key",
        "attn/value",
        "attn/output",
        "mlp1",
        "mlp2",
    ];
    let attn = ["query", "key", "value", "output"];
    let expected: Vec<String> = block
        .iter()
        .map(|n| format!("transformer_block.{n}"))
        .chain(attn.iter().map(|n| format!("multi_head_attention.{n}")))
        .chain(["dense".to_string()])
        .collect();
    assert_eq!(names, expected);
    let got = m.forward_eval(&x);
    let scale = max_err(&want, &Tensor::zeros(want.shape()));
    let err = max_err(&got, &want);
    assert!(
        err > 0.0 && err < 0.03 * scale,
        "largest error {err}, outputs up to {scale}"
    );
    let int8: Vec<String> = m.named_int8_params().into_iter().map(|(n, _)| n).collect();
    assert!(
        int8.contains(&"transformer_block.attn/value/kernel".to_string()),
        "{int8:?}"
    );
    assert!(
        int8.contains(&"transformer_block.mlp1/kernel".to_string()),
        "{int8:?}"
    );
    assert!(
        int8.contains(&"multi_head_attention.output/kernel".to_string()),
        "{int8:?}"
    );
    // the layer norms stay float32; no float projection kernel is left
    let floats: Vec<String> = m.named_params().into_iter().map(|(n, _)| n).collect();
    assert!(
        floats.contains(&"transformer_block.ln1/gamma".to_string()),
        "{floats:?}"
    );
    assert!(!floats.iter().any(|n| n.ends_with("/kernel")), "{floats:?}");
    let back = Model::from_bytes(&m.to_bytes().unwrap()).unwrap();
    assert_eq!(back.config(), m.config());
    assert!(same_bits(&got, &back.forward_eval(&x)));
    assert!(
        m.quantize(QuantMode::Dynamic).unwrap().is_empty(),
        "nothing left to quantise"
    );
}
