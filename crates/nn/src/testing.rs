//! `check_layer`: the one-call layer test harness (Keras's `run_layer_test`). It builds the
//! layer from its config, checks output shape and parameter count, runs a forward pass,
//! checks the input gradient against finite differences, round-trips the config through JSON
//! and the weights through save/load, and asserts the reloaded model predicts bit-identically.

use crate::config::LayerConfig;
use crate::layer::Ctx;
use crate::model::{Model, Sequential};
use nabla_core::testing::grad_check;
use nabla_core::{Rng, Tensor};

/// Panics with a message naming the layer and the check that failed.
pub fn check_layer(
    cfg: LayerConfig,
    input_shape: &[usize],
    expected_output: &[usize],
    expected_params: usize,
) -> Model {
    let what = format!("{} layer", cfg.type_name());
    let json = serde_json::to_string(&cfg).unwrap();
    let back: LayerConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, cfg, "{what}: config JSON round trip");
    let model = Sequential::new(input_shape.to_vec())
        .add_boxed(cfg.into_layer())
        .build(1)
        .unwrap_or_else(|e| panic!("{what}: build failed: {e}"));
    assert_eq!(
        model.output_shape(),
        expected_output,
        "{what}: output shape"
    );
    let n: usize = model
        .named_params()
        .iter()
        .map(|(_, p)| p.value.numel())
        .sum();
    assert_eq!(n, expected_params, "{what}: parameter count");

    let mut rng = Rng::new(9);
    let batch: Vec<usize> = std::iter::once(2)
        .chain(input_shape.iter().copied())
        .collect();
    let x = Tensor::from_vec(
        (0..batch.iter().product()).map(|_| rng.normal()).collect(),
        &batch,
    );
    let y = model.forward_eval(&x);
    let out: Vec<usize> = std::iter::once(2)
        .chain(expected_output.iter().copied())
        .collect();
    assert_eq!(y.shape(), out.as_slice(), "{what}: forward output shape");

    let w: Vec<f32> = (0..y.numel())
        .map(|i| ((i % 7) as f32 - 3.0) / 3.0)
        .collect();
    let w = Tensor::from_vec(w, y.shape());
    grad_check(&what, std::slice::from_ref(&x), |xs| {
        let mut r = Rng::new(0);
        model
            .forward(&xs[0], &mut Ctx::new(false, &mut r))
            .mul(&w)
            .sum()
    });

    let loaded = Model::from_bytes(&model.to_bytes().unwrap()).unwrap();
    assert_eq!(loaded.config(), model.config(), "{what}: saved config");
    let y2 = loaded.forward_eval(&x);
    assert!(
        y.data()
            .iter()
            .zip(y2.data())
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "{what}: reloaded model predicts differently"
    );
    model
}
