//! A model saved before model graphs (tests/fixtures/legacy) loads with today's code and gives
//! the numbers the old build gave, bit for bit.

use nabla::prelude::*;
mod common;
use common::{fixture, floats};

#[test]
fn a_model_saved_before_graphs_predicts_and_evaluates_the_same() {
    let dir = format!("{}/tests/fixtures/legacy", env!("CARGO_MANIFEST_DIR"));
    let model = Model::load(format!("{dir}/cnn_bn_format1.safetensors")).unwrap();
    assert!(model.graph().is_chain());
    let want = fixture("legacy/cnn_bn_format1.json");
    let (_, test) = nabla::datasets::mnist().unwrap();
    let test = test.with_x_shape(model.input_shape()).unwrap();
    let (x, _) = test.batch(&(0..16).collect::<Vec<_>>());
    assert_eq!(
        model.predict(&x).unwrap().to_vec(),
        floats(&want["probabilities"])
    );
    let logs = model.evaluate(&test).unwrap();
    // numbers read with Rust's correctly rounded parser (serde_json's can be an ulp off)
    let text = std::fs::read_to_string(format!("{dir}/cnn_bn_format1.json")).unwrap();
    let number = |key: &str| -> f64 {
        let at = text.find(&format!("\"{key}\": ")).unwrap() + key.len() + 4;
        let end = text[at..].find([',', '}']).unwrap();
        text[at..at + end].trim().parse().unwrap()
    };
    assert_eq!(logs.get("accuracy").unwrap(), number("accuracy"));
    // the mean loss is summed on the worker threads: its last ulp may depend on how the work
    // was shared out (the old build once gave an ulp more on a loaded machine)
    let (loss, want_loss) = (logs.get("loss").unwrap(), number("loss"));
    assert!(
        (loss - want_loss).abs() <= 1e-12 * want_loss,
        "{loss} vs {want_loss}"
    );
    // and saves again as the same plain layer list
    let json = serde_json::to_string(&model.config()).unwrap();
    assert!(
        json.starts_with(r#"{"input_shape":[1,28,28],"layers":[{"type":"conv2d""#),
        "{json}"
    );
}
