//! A custom layer defined in an example (examples/custom_layer.rs) builds from a spec, trains,
//! saves, loads and predicts identically; its type is refused where it is not registered.

#[path = "../examples/custom_layer.rs"]
mod example;

use nabla::prelude::*;

#[test]
fn a_custom_layer_trains_saves_loads_and_predicts_identically() {
    let dir = tempfile::tempdir().unwrap();
    let (model, back, test) = example::run(dir.path()).unwrap();
    let alpha = &model.named_params()[2];
    assert_eq!(alpha.0, "scaled_tanh.alpha");
    // trained: α moved from its start
    assert!(alpha.1.value.data().iter().any(|&a| (a - 0.5).abs() > 1e-3));
    assert!(model.evaluate(&test).unwrap().get("accuracy").unwrap() > 0.85);
    let x = test.batch(&(0..50).collect::<Vec<_>>()).0;
    assert_eq!(
        model.predict(&x).unwrap().to_vec(),
        back.predict(&x).unwrap().to_vec()
    );
    assert_eq!(back.config(), model.config());
    let json = serde_json::to_string(&model.config()).unwrap();
    assert!(
        json.contains(r#""registered_name":"scaled_tanh""#),
        "{json}"
    );
    // nabla's own names are not for custom layers
    let e = nabla::nn::registry::register_layer("dense", example::ScaledTanh::from_config);
    assert!(e
        .unwrap_err()
        .to_string()
        .contains("a name nabla does not use"));
}

#[test]
fn an_unregistered_type_lists_the_known_ones() {
    let spec = example::SPEC.replace("scaled_tanh", "scaled_tanh_unknown");
    let e = Spec::from_toml(&spec).unwrap_err().to_string();
    assert!(
        e.contains("scaled_tanh_unknown") && e.contains("dense"),
        "{e}"
    );
}
