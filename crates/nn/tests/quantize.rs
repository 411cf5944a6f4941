//! Dynamic int8 quantisation of a model: the quantised model predicts close to the float one,
//! saves as I8 kernels, loads back bit-identically, and refuses what it cannot quantise.

use nabla_core::{Rng, Tensor};
use nabla_nn::saving::{encode_mixed, NamedTensor, MODEL_KEY};
use nabla_nn::{Activation, Dense, Flatten, Model, QuantMode, Sequential};
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
    let scale = want.data().iter().fold(0f32, |a, v| a.max(v.abs()));
    let err = got
        .data()
        .iter()
        .zip(want.data())
        .fold(0f32, |a, (g, w)| a.max((g - w).abs()));
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
    assert!(got
        .data()
        .iter()
        .zip(again.data())
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}

#[test]
fn a_kernel_stored_as_float_where_int8_is_expected_is_refused_by_name() {
    let mut m = model();
    m.quantize(QuantMode::Dynamic).unwrap();
    let tensors: Vec<NamedTensor> = m
        .named_params()
        .iter()
        .map(|(n, p)| (n.clone(), p.value.shape().to_vec(), p.value.to_vec()))
        .chain([("dense.kernel".to_string(), vec![93, 67], vec![0.0; 93 * 67])])
        .collect();
    let kept = m.named_int8_params();
    let int8: Vec<_> = kept
        .iter()
        .filter(|(n, _)| n != "dense.kernel")
        .map(|(n, p)| (n.clone(), p.shape.clone(), p.values.as_slice()))
        .collect();
    let meta = HashMap::from([(
        MODEL_KEY.to_string(),
        serde_json::to_string(&m.config()).unwrap(),
    )]);
    let bytes = encode_mixed(&tensors, &int8, meta).unwrap();
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
fn a_quantised_lstm_stack_follows_the_float_one_and_round_trips() {
    use nabla_nn::Lstm;
    for (bidirectional, sequences) in [(false, false), (true, true)] {
        let mut m = Sequential::new([6, 5])
            .add(
                Lstm::new(9)
                    .num_layers(2)
                    .bidirectional(bidirectional)
                    .return_sequences(sequences),
            )
            .add(Dense::new(3))
            .build(5)
            .unwrap();
        let mut rng = Rng::new(8);
        let x = Tensor::from_vec((0..33 * 30).map(|_| rng.normal()).collect(), &[33, 6, 5]);
        let want = m.forward_eval(&x);
        assert_eq!(m.quantize(QuantMode::Dynamic).unwrap(), ["lstm", "dense"]);
        let got = m.forward_eval(&x);
        assert_eq!(got.shape(), want.shape());
        let err = got
            .data()
            .iter()
            .zip(want.data())
            .fold(0f32, |a, (g, w)| a.max((g - w).abs()));
        assert!(err < 0.03, "largest error {err}");
        let names: Vec<String> = m.named_int8_params().into_iter().map(|(n, _)| n).collect();
        assert!(
            names.contains(&"lstm.weight_hh_l1".to_string()),
            "{names:?}"
        );
        let back = Model::from_bytes(&m.to_bytes().unwrap()).unwrap();
        let again = back.forward_eval(&x);
        assert!(got
            .data()
            .iter()
            .zip(again.data())
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}

#[test]
fn an_int8_weight_of_minus_128_is_refused() {
    let mut m = model();
    m.quantize(QuantMode::Dynamic).unwrap();
    let tensors: Vec<NamedTensor> = m
        .named_params()
        .iter()
        .map(|(n, p)| (n.clone(), p.value.shape().to_vec(), p.value.to_vec()))
        .collect();
    let kept = m.named_int8_params();
    let mut bad = kept[0].1.values.clone();
    bad[7] = i8::MIN;
    let int8: Vec<_> = kept
        .iter()
        .enumerate()
        .map(|(i, (n, p))| {
            let v = if i == 0 {
                bad.as_slice()
            } else {
                p.values.as_slice()
            };
            (n.clone(), p.shape.clone(), v)
        })
        .collect();
    let meta = HashMap::from([(
        MODEL_KEY.to_string(),
        serde_json::to_string(&m.config()).unwrap(),
    )]);
    let err = Model::from_bytes(&encode_mixed(&tensors, &int8, meta).unwrap())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("'dense.kernel'") && err.contains("-128"),
        "{err}"
    );
}
