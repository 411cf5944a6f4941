//! Static int8 quantisation of convolutions: calibration records the range of what reaches
//! each convolution, the quantised model predicts close to the float one (padding, strides,
//! groups and a fused pooling included), saves as I8 kernels and loads back bit-identically,
//! and bad calibration input is refused before the model changes.

use nabla_core::{Rng, Tensor};
use nabla_nn::{Activation, Conv2d, Dense, Flatten, LayerConfig, Model, Pool2d, QuantMode};
use nabla_nn::{Sequential, SubModel};

/// conv(relu) → max pool (fused with the conv) → conv (same padding, stride 2, 2 groups)
/// → flatten → dense.
fn cnn() -> Sequential {
    let grouped: LayerConfig = serde_json::from_value(serde_json::json!({
        "type": "conv2d", "filters": 6, "kernel_size": 3, "strides": 2,
        "padding": "same", "groups": 2, "activation": "tanh"
    }))
    .unwrap();
    Sequential::new([2, 12, 11])
        .add(Conv2d::new(8, 3).activation(Activation::Relu))
        .add(Pool2d::max(2))
        .add_boxed(grouped.into_layer())
        .add(Flatten::new())
        .add(Dense::new(5))
}

fn images(n: usize, seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    Tensor::from_vec(
        (0..n * 2 * 12 * 11).map(|_| rng.normal()).collect(),
        &[n, 2, 12, 11],
    )
}

fn max_abs(a: &Tensor, b: &Tensor) -> f32 {
    a.data()
        .iter()
        .zip(b.data())
        .fold(0f32, |e, (p, q)| e.max((p - q).abs()))
}

fn calibration() -> Vec<Tensor> {
    (0..3).map(|i| images(16, 10 + i)).collect()
}

#[test]
fn a_statically_quantised_cnn_follows_the_float_one_and_round_trips() {
    let mut m = cnn().build(5).unwrap();
    let x = images(40, 1);
    let want = m.forward_eval(&x);
    let f32_bytes = m.to_bytes().unwrap().len();
    let names = m.quantize_static(&calibration()).unwrap();
    assert_eq!(names, ["conv2d", "conv2d_1", "dense"]);
    let got = m.forward_eval(&x);
    let scale = max_abs(&want, &Tensor::zeros(want.shape()));
    let err = max_abs(&got, &want);
    assert!(
        err < 0.03 * scale,
        "largest error {err}, outputs up to {scale}"
    );
    assert!(err > 0.0, "the int8 path ran (its rounding shows)");
    let summary = m.summary();
    assert!(summary.contains("(quantized_conv2d, int8)"), "{summary}");

    let bytes = m.to_bytes().unwrap();
    // (a small model: the config is much of the file)
    assert!(
        bytes.len() * 3 < f32_bytes * 2,
        "{} vs {f32_bytes}",
        bytes.len()
    );
    let back = Model::from_bytes(&bytes).unwrap();
    assert_eq!(back.config(), m.config());
    let again = back.forward_eval(&x);
    assert!(again
        .data()
        .iter()
        .zip(got.data())
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    let int8: Vec<String> = back
        .named_int8_params()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(int8, ["conv2d.kernel", "conv2d_1.kernel", "dense.kernel"]);
}

#[test]
fn calibration_keeps_the_range_of_what_reached_each_convolution() {
    let mut m = cnn().build(5).unwrap();
    let batches = calibration();
    // what reaches the second convolution: the first one's pooled output, in float
    let (mut lo2, mut hi2) = (0f32, 0f32);
    for b in &batches {
        let mut ctx_rng = Rng::new(0);
        let mut ctx = nabla_nn::Ctx::new(false, &mut ctx_rng);
        let h = m.layers()[0].forward(b, &mut ctx);
        let h = m.layers()[1].forward(&h, &mut ctx);
        for &v in h.data() {
            (lo2, hi2) = (lo2.min(v), hi2.max(v));
        }
    }
    let (lo1, hi1) = batches
        .iter()
        .flat_map(|b| b.data().iter())
        .fold((0f32, 0f32), |(l, h), &v| (l.min(v), h.max(v)));
    m.quantize_static(&batches).unwrap();
    let range = |name: &str| -> Vec<f32> {
        let params = m.named_params();
        let p = params.iter().find(|(n, _)| n == name).expect(name);
        p.1.value.data().to_vec()
    };
    assert_eq!(range("conv2d.input_range"), [lo1, hi1]);
    assert_eq!(range("conv2d_1.input_range"), [lo2, hi2]);
    assert_eq!(lo2, 0.0, "after ReLU and pooling nothing is negative");
}

#[test]
fn bad_calibration_input_is_refused_before_the_model_changes() {
    let mut m = cnn().build(5).unwrap();
    let before = m.config();
    let err = m.quantize(QuantMode::Static).unwrap_err().to_string();
    assert!(err.contains("quantize_static"), "{err}");
    let err = m.quantize_static(&[]).unwrap_err().to_string();
    assert!(
        err.contains("calibration batches") && err.contains("at least one"),
        "{err}"
    );
    let wrong = Tensor::zeros(&[4, 2, 11, 12]);
    let err = m.quantize_static(&[wrong]).unwrap_err().to_string();
    assert!(
        err.contains("calibration batch 0") && err.contains("[4, 2, 11, 12]"),
        "{err}"
    );
    assert_eq!(m.config(), before);
    assert!(m.named_int8_params().is_empty());
}

#[test]
fn convolutions_inside_a_model_used_as_a_layer_are_calibrated_too() {
    let inner = cnn().build(3).unwrap();
    let mut m = Sequential::new([2, 12, 11])
        .add(SubModel::new(inner))
        .add(Dense::new(2))
        .build(4)
        .unwrap();
    let x = images(20, 2);
    let want = m.forward_eval(&x);
    let names = m.quantize_static(&calibration()).unwrap();
    assert_eq!(
        names,
        ["model.conv2d", "model.conv2d_1", "model.dense", "dense"]
    );
    let got = m.forward_eval(&x);
    let scale = max_abs(&want, &Tensor::zeros(want.shape()));
    let err = max_abs(&got, &want);
    assert!(
        err < 0.05 * scale,
        "largest error {err}, outputs up to {scale}"
    );
    let back = Model::from_bytes(&m.to_bytes().unwrap()).unwrap();
    let again = back.forward_eval(&x);
    assert!(again
        .data()
        .iter()
        .zip(got.data())
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}
