//! A loss, a metric and a callback of one's own, registered by name: a spec uses them,
//! training logs and runs them, and a saved model comes back with them.

use nabla::nn::registry::{register_loss, register_metric};
use nabla::prelude::*;

const SPEC: &str = r#"
[model]
input_shape = [3]
layers = [{ type = "dense", units = 1 }]

[train]
optimizer = { type = "sgd", learning_rate = 0.05 }
loss = "double_mse"
metrics = ["max_error", "mae"]
epochs = 20
"#;

fn data() -> Dataset {
    let mut rng = Rng::new(2);
    let x: Vec<f32> = (0..192).map(|_| rng.normal()).collect();
    let y: Vec<f32> = x.chunks(3).map(|r| r[0] - 2.0 * r[1] + 0.5).collect();
    Dataset::new(x, &[3], y, &[1]).unwrap()
}

fn register() {
    // 2 · mean((ŷ − y)²) per sample, from tensor ops (so it has gradients)
    let _ = register_loss("double_mse", |p, y| {
        let n = p.shape()[0];
        p.sub(y)
            .square()
            .reshape(&[n, p.numel() / n])
            .mean_axis(1)
            .scale(2.0)
    });
    let _ = register_metric("max_error", |p, y| {
        let e = p.data().iter().zip(y.data()).map(|(a, b)| (a - b).abs());
        e.fold(0.0f32, f32::max) as f64
    });
}

#[test]
fn a_custom_loss_and_metric_train_log_save_and_load() {
    register();
    let spec = Spec::from_toml(SPEC).unwrap();
    let mut model = spec.build_model(1).unwrap();
    // before training: the custom loss is twice the built-in mse of the same model
    let mut same = spec.build_model(1).unwrap();
    same.compile(Sgd::new(0.05), Loss::MeanSquaredError, &[])
        .unwrap();
    let (l2, l1) = (
        model.evaluate(&data()).unwrap().get("loss").unwrap(),
        same.evaluate(&data()).unwrap().get("loss").unwrap(),
    );
    assert!((l2 - 2.0 * l1).abs() < 1e-5 * l1, "{l2} vs 2 x {l1}");
    let h = model.fit(&data(), spec.fit_options().verbose(0)).unwrap();
    let (first, last) = (&h.epochs[0], h.epochs.last().unwrap());
    assert!(last.get("loss").unwrap() < 0.05 * first.get("loss").unwrap());
    let max_err = last.get("max_error").unwrap();
    assert!(
        max_err > 0.0 && max_err >= last.get("mae").unwrap(),
        "{last:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model.save(&path).unwrap();
    let back = Model::load(&path).unwrap();
    assert_eq!(back.compile_config(), model.compile_config());
    assert_eq!(
        back.evaluate(&data()).unwrap(),
        model.evaluate(&data()).unwrap()
    );
    let json = serde_json::to_string(&model.compile_config().unwrap()).unwrap();
    assert!(json.contains(r#""registered_name":"double_mse""#) && json.contains("max_error"));
    // our names are not for custom losses and metrics
    assert!(register_loss("mse", |p, _| p.clone()).is_err());
    assert!(register_metric("accuracy", |_, _| 0.0).is_err());
}

#[test]
fn an_unregistered_loss_lists_ours() {
    let e = Spec::from_toml(&SPEC.replace("double_mse", "triple_mse")).unwrap_err();
    let e = e.to_string();
    assert!(
        e.contains("triple_mse") && e.contains("mean_squared_error"),
        "{e}"
    ); // from Rust, an unregistered name is a compile error, not a panic in training
    let mut m = Sequential::new([3]).add(Dense::new(1)).build(0).unwrap();
    let e = m.compile(Sgd::new(0.1), nabla::nn::LossSpec::custom("nope"), &[]);
    assert!(e.unwrap_err().to_string().contains("'nope'"));
}

/// Stops training once the epoch's loss is below `loss`, and logs how far above it was.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StopBelow {
    loss: f64,
}

impl nabla::train::Callback for StopBelow {
    fn on_epoch_end(
        &mut self,
        logs: &mut nabla::train::Logs,
        s: &mut nabla::train::TrainState,
    ) -> nabla::train::Result<()> {
        let l = logs.get("loss").unwrap_or(f64::INFINITY);
        logs.set("above_target", l - self.loss);
        s.stop_training |= l < self.loss;
        Ok(())
    }
}

#[test]
fn a_custom_callback_runs_from_a_spec() {
    use nabla::train::callbacks::register_callback;
    register();
    let _ = register_callback("stop_below", |c: StopBelow| c);
    let text = SPEC.replace(
        "epochs = 20",
        "epochs = 200\ncallbacks = [{ type = \"stop_below\", loss = 0.05 }]",
    );
    let spec = Spec::from_toml(&text).unwrap();
    let mut model = spec.build_model(1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut fit = spec.fit_options().verbose(0);
    for c in &spec.train.callbacks {
        fit = fit.callback_boxed(c.build(dir.path()).unwrap());
    }
    let h = model.fit(&data(), fit).unwrap();
    let last = h.epochs.last().unwrap();
    assert!(h.epochs.len() < 200, "it stopped early");
    assert!(last.get("loss").unwrap() < 0.05, "{last:?}");
    let before = &h.epochs[h.epochs.len() - 2];
    assert!(before.get("above_target").unwrap() >= 0.0, "{before:?}");
    // the spec as written back reads the same
    let back = Spec::from_toml(&spec.to_toml()).unwrap();
    assert_eq!(back, spec);
    assert!(spec.to_toml().contains("registered_name"));
    // a field the callback does not have, an unknown type, one of our names
    let e = Spec::from_toml(&text.replace("loss = 0.05 }", "los = 0.05 }")).unwrap_err();
    assert!(
        e.to_string().contains("stop_below") && e.to_string().contains("los"),
        "{e}"
    );
    let e = Spec::from_toml(&text.replace("\"stop_below\"", "\"stop_above\"")).unwrap_err();
    assert!(
        e.to_string().contains("stop_above") && e.to_string().contains("early_stopping"),
        "{e}"
    );
    assert!(register_callback("early_stopping", |c: StopBelow| c).is_err());
    assert!(register_callback("stop_below", |c: StopBelow| c).is_err());
}
