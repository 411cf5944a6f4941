//! The `nabla` binary end to end: train → files → evaluate → predict → summary → bench, and
//! the errors a user sees for bad input (exit code 1, a message, no half-written files).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn nabla(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("nabla runs")
}

fn ok(args: &[&str]) -> String {
    let out = nabla(args);
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "nabla {args:?} failed:\n{so}\n{se}");
    so.into_owned()
}

fn fails(args: &[&str]) -> String {
    let out = nabla(args);
    assert_eq!(out.status.code(), Some(1), "nabla {args:?} should fail");
    assert!(out.stdout.is_empty() || !String::from_utf8_lossy(&out.stderr).contains("panicked"));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn spec() -> String {
    format!("{}/../../specs/mnist_mlp.toml", env!("CARGO_MANIFEST_DIR"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The `name: value` of `name` in a report line.
fn value(text: &str, name: &str) -> f64 {
    let at = text
        .rfind(&format!("{name}: "))
        .unwrap_or_else(|| panic!("no {name} in {text}"));
    text[at + name.len() + 2..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Writes an unsigned-byte IDX file.
fn write_idx(path: &Path, dims: &[u32], data: &[u8]) -> PathBuf {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    b.extend(data);
    std::fs::write(path, b).unwrap();
    path.to_path_buf()
}

#[test]
fn train_evaluate_predict_summary_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let out = ok(&["train", &spec(), "--out", s(&a)]);
    assert!(out.contains("Epoch 5/5"), "{out}");
    let acc = value(
        out.lines().find(|l| l.starts_with("test:")).unwrap(),
        "accuracy",
    );
    assert!(acc >= 0.94, "test accuracy {acc}");
    for f in [
        "model.safetensors",
        "history.csv",
        "spec.toml",
        "curves.png",
        "checkpoint.safetensors",
    ] {
        assert!(a.join(f).exists(), "{f}");
    }
    let png = std::fs::read(a.join("curves.png")).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "a real picture"
    );
    let history = std::fs::read_to_string(a.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 6, "{history}");
    // the copied spec trains again to the very same numbers
    ok(&["train", s(&a.join("spec.toml")), "--out", s(&b), "--quiet"]);
    assert_eq!(
        history,
        std::fs::read_to_string(b.join("history.csv")).unwrap()
    );

    let model = a.join("model.safetensors");
    let eval = ok(&["evaluate", s(&model)]);
    assert_eq!(value(&eval, "accuracy"), (acc * 1e4).round() / 1e4);
    assert!(
        eval.contains("precision") && eval.contains("confusion matrix"),
        "{eval}"
    );
    // the 10 rows of the confusion matrix add up to the 2,000 test samples
    let rows: Vec<&str> = eval
        .lines()
        .skip_while(|l| !l.starts_with("confusion"))
        .skip(1)
        .collect();
    let total: u64 = rows
        .iter()
        .flat_map(|l| l.split_whitespace().skip(1))
        .map(|v| v.parse::<u64>().unwrap())
        .sum();
    assert_eq!((rows.len(), total), (10, 2000));
    let pred = ok(&["predict", s(&model), "--index", "3"]);
    assert!(pred.starts_with("sample 3: class "), "{pred}");
    // the same prediction as CSV and as JSON lines, to stdout and to a file
    let class = pred["sample 3: class ".len()..].split(' ').next().unwrap();
    let csv = ok(&["predict", s(&model), "--index", "3", "--format", "csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines.len() == 2 && lines[0].starts_with("sample,class,name,label,p_0,p_1,"),
        "{csv}"
    );
    assert!(
        lines[1].starts_with(&format!("3,{class},{class},")),
        "{csv}"
    );
    let file = dir.path().join("p.json");
    let json = ok(&[
        "predict",
        s(&model),
        "--index",
        "3",
        "--format",
        "json",
        "--out",
        s(&file),
    ]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["sample"], "3");
    assert_eq!(v["class"].to_string(), class);
    assert_eq!(v["probabilities"].as_array().unwrap().len(), 10);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        json,
        "the file holds what was printed"
    );
    predict_image_files(&model);
    let sum = ok(&["summary", s(&model)]);
    assert!(sum.contains("Total params: 101770"), "{sum}");
    assert_eq!(sum, ok(&["summary", &spec()]));

    // predicting an IDX file of the right and of the wrong image size
    let good = write_idx(&dir.path().join("g.idx"), &[2, 28, 28], &[0; 2 * 784]);
    assert_eq!(
        ok(&["predict", s(&model), "--idx", s(&good)])
            .lines()
            .count(),
        2
    );
    let wrong = write_idx(&dir.path().join("w.idx"), &[1, 20, 20], &[0; 400]);
    let e = fails(&["predict", s(&model), "--idx", s(&wrong)]);
    assert!(
        e.contains("[n, 28, 28]") && e.contains("[1, 20, 20]"),
        "{e}"
    );
}

/// Real test-split digits as PNG (gray 28x28, RGB 56x56) and JPEG files: each file's name
/// holds its label (`digit_<label>_idx<i>`), and the model must predict it.
fn predict_image_files(model: &Path) {
    let dir = format!("{}/../../tests/fixtures/digits", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png" || e == "jpg"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 12, "{files:?}");
    let mut args = vec!["predict", s(model)];
    args.extend(files.iter().map(|f| s(f)));
    let out = ok(&args);
    assert_eq!(out.lines().count(), files.len(), "{out}");
    for (line, file) in out.lines().zip(&files) {
        let name = file.file_name().unwrap().to_str().unwrap();
        let label = name
            .split("digit_")
            .nth(1)
            .unwrap()
            .split('_')
            .next()
            .unwrap();
        assert!(
            line.starts_with(&format!("{}: class {label} ", s(file))),
            "{line}"
        );
    }
    // a file that is not an image, and inverted digits (dark on light) that are off
    let e = fails(&["predict", s(model), &spec()]);
    assert!(
        e.contains("mnist_mlp.toml") && e.contains("PNG or JPEG"),
        "{e}"
    );
    let inverted = ok(&["predict", s(model), s(&files[0]), "--invert"]);
    assert!(inverted.contains("class "), "{inverted}");
}

#[test]
fn augment_writes_a_grid_and_an_image_folder_trains() {
    let dir = tempfile::tempdir().unwrap();
    let aug = format!(
        "{}/../../specs/mnist_cnn_augmented.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let grid = dir.path().join("grid.png");
    let out = ok(&[
        "augment",
        &aug,
        "--out",
        s(&grid),
        "--samples",
        "4",
        "--rows",
        "3",
    ]);
    assert!(out.contains("random_affine"), "{out}");
    let png = std::fs::read(&grid).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    // IHDR: width and height of 4 x 4 tiles of 28 pixels with 2-pixel gaps
    let (w, h) = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert_eq!((w, h), (4 * 30 - 2, 4 * 30 - 2));
    let e = fails(&["augment", &spec(), "--out", s(&dir.path().join("x.png"))]);
    assert!(e.contains("[data] augment"), "{e}");
    assert!(!dir.path().join("x.png").exists());

    // a 3-class image folder (real digits) trains from a spec
    let folder = format!(
        "{}/../../tests/fixtures/image_folder",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = format!(
        r#"
[data]
images = "{folder}"
test_images = "{folder}"
augment = {{ rotation_range = 5 }}

[model]
input_shape = [1, 28, 28]
layers = [
  {{ type = "conv2d", filters = 4, kernel_size = 3, activation = "relu" }},
  {{ type = "max_pool2d" }},
  {{ type = "flatten" }},
  {{ type = "dense", units = 3, activation = "softmax" }},
]

[train]
loss = "sparse_categorical_crossentropy"
metrics = ["accuracy"]
epochs = 30
batch_size = 4
"#
    );
    let p = write_spec(&dir, "folder.toml", &text);
    let out = ok(&["train", s(&p), "--out", s(&dir.path().join("f")), "-q"]);
    let acc = value(
        out.lines().find(|l| l.starts_with("test:")).unwrap(),
        "accuracy",
    );
    assert!(acc >= 0.9, "{out}");
    let e = fails(&[
        "train",
        s(&write_spec(
            &dir,
            "bad.toml",
            &text.replace(&folder, "/nonexistent/dir"),
        )),
        "-q",
        "--out",
        s(&dir.path().join("g")),
    ]);
    assert!(e.contains("/nonexistent/dir"), "{e}");
}

#[test]
fn epochs_and_seed_override_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    ok(&[
        "train",
        &spec(),
        "--out",
        s(&a),
        "--epochs",
        "1",
        "--seed",
        "1",
        "-q",
    ]);
    ok(&[
        "train",
        &spec(),
        "--out",
        s(&b),
        "--epochs",
        "1",
        "--seed",
        "2",
        "-q",
    ]);
    let ha = std::fs::read_to_string(a.join("history.csv")).unwrap();
    let hb = std::fs::read_to_string(b.join("history.csv")).unwrap();
    assert_eq!(ha.lines().count(), 2);
    assert_ne!(ha, hb);
    assert!(std::fs::read_to_string(a.join("spec.toml"))
        .unwrap()
        .contains("seed = 1"));
}

#[test]
fn bench_prints_one_json_line() {
    let out = ok(&["bench", "W1", "--epochs", "1"]);
    let line = out.trim();
    assert!(
        line.starts_with(r#"{"framework":"nabla","workload":"W1""#),
        "{line}"
    );
    for key in [
        "train_samples_per_s",
        "infer_samples_per_s",
        "test_acc",
        "epochs",
        "wall_s",
    ] {
        assert!(line.contains(&format!("\"{key}\"")), "{key} in {line}");
    }
    assert!(fails(&["bench", "W9"]).contains("unknown workload"));
    let w2 = ok(&["bench", "W2", "--epochs", "1"]);
    assert!(
        w2.starts_with(r#"{"framework":"nabla","workload":"W2""#) && w2.contains(r#""batch":128"#),
        "{w2}"
    );
}

#[test]
fn bad_specs_fail_cleanly_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(spec()).unwrap();
    let write = |name: &str, t: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, t).unwrap();
        p
    };
    let out = dir.path().join("out");
    let e = fails(&[
        "train",
        s(&write(
            "m.toml",
            text.replace("units = 128,", "units = 128,,"),
        )),
        "--out",
        s(&out),
    ]);
    assert!(
        e.contains("m.toml") && e.contains("line 16") && e.contains("column"),
        "{e}"
    );
    let e = fails(&[
        "train",
        s(&write("u.toml", text.replace("\"dropout\"", "\"dropot\""))),
        "--out",
        s(&out),
    ]);
    assert!(e.contains("dropot") && e.contains("expected one of"), "{e}");
    // diverging training stops with epoch and step, and leaves no model behind
    let nan = text.replace(
        "{ type = \"adam\", learning_rate = 1e-3 }",
        "{ type = \"sgd\", learning_rate = 1e30 }",
    );
    let e = fails(&["train", s(&write("n.toml", nan)), "--out", s(&out), "-q"]);
    assert!(e.contains("loss is") && e.contains("epoch 1, step"), "{e}");
    assert!(!out.join("model.safetensors").exists());
    let e = fails(&["train", s(&dir.path().join("missing.toml"))]);
    assert!(
        e.contains("missing.toml") && e.contains("cannot read"),
        "{e}"
    );
}

#[test]
fn bad_data_and_model_files_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let images = write_idx(&dir.path().join("i.idx"), &[3, 28, 28], &[7; 3 * 784]);
    let labels = write_idx(&dir.path().join("l.idx"), &[3], &[1, 12, 0]);
    let text = std::fs::read_to_string(spec()).unwrap().replace(
        "dataset = \"mnist\"",
        &format!(
            "idx = {{ train_images = {:?}, train_labels = {:?} }}",
            s(&images),
            s(&labels)
        ),
    );
    let p = dir.path().join("idx.toml");
    std::fs::write(&p, text).unwrap();
    let e = fails(&["train", s(&p), "--out", s(&dir.path().join("o")), "-q"]);
    assert!(
        e.contains("label 12") && e.contains("sample 1") && e.contains("[0, 9]"),
        "{e}"
    );
    let truncated = dir.path().join("t.idx");
    std::fs::write(&truncated, &std::fs::read(&images).unwrap()[..100]).unwrap();
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace(s(&images), s(&truncated));
    std::fs::write(&p, text).unwrap();
    let e = fails(&["train", s(&p), "--out", s(&dir.path().join("o")), "-q"]);
    assert!(
        e.contains("t.idx") && e.contains("needs 2352 bytes, received 84"),
        "{e}"
    );
    let not_model = dir.path().join("x.safetensors");
    std::fs::write(&not_model, "hello").unwrap();
    let e = fails(&["evaluate", s(&not_model)]);
    assert!(
        e.contains("x.safetensors") && e.contains("not a safetensors file"),
        "{e}"
    );
}

#[test]
fn every_optimizer_spec_trains_one_epoch_and_lowers_the_loss() {
    use nabla::prelude::*;
    let dir = format!("{}/../../specs/optimizers", env!("CARGO_MANIFEST_DIR"));
    let mut specs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    specs.sort();
    assert!(specs.len() >= 9, "a spec per optimiser: {specs:?}");
    let out = tempfile::tempdir().unwrap();
    for path in specs {
        let spec = Spec::from_file(&path).unwrap();
        let untrained = spec.build_model(spec.train.seed).unwrap();
        let (_, test) = spec.load_data(&untrained).unwrap();
        let before = untrained
            .evaluate(&test.unwrap())
            .unwrap()
            .get("loss")
            .unwrap();
        let printed = ok(&[
            "train",
            s(&path),
            "--out",
            s(out.path()),
            "--epochs",
            "1",
            "-q",
        ]);
        let after = value(
            printed.lines().find(|l| l.starts_with("test:")).unwrap(),
            "loss",
        );
        assert!(
            after < before,
            "{}: test loss {before} -> {after}",
            path.display()
        );
    }
}

#[test]
fn resume_continues_exactly_and_survives_a_crash_mid_write() {
    let dir = tempfile::tempdir().unwrap();
    let (straight, parted) = (dir.path().join("straight"), dir.path().join("parted"));
    ok(&[
        "train",
        &spec(),
        "--out",
        s(&straight),
        "--epochs",
        "2",
        "-q",
    ]);
    ok(&["train", &spec(), "--out", s(&parted), "--epochs", "1", "-q"]);
    let ck = parted.join("checkpoint.safetensors");
    let epoch1 = std::fs::read(&ck).unwrap();
    // resume, but crash while writing epoch 2's checkpoint: the process dies mid-write
    let out = Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args([
            "train",
            &spec(),
            "--out",
            s(&parted),
            "--epochs",
            "2",
            "--resume",
            "-q",
        ])
        .env("NABLA_TEST_ABORT_WRITING", "checkpoint.safetensors")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the process was aborted");
    assert_eq!(
        std::fs::read(&ck).unwrap(),
        epoch1,
        "the previous checkpoint is untouched"
    );
    let (_, r) = nabla::train::resume(&ck).unwrap();
    assert_eq!(r.epoch, 1);
    // resuming from it gives exactly the uninterrupted run
    let printed = ok(&[
        "train",
        &spec(),
        "--out",
        s(&parted),
        "--epochs",
        "2",
        "--resume",
    ]);
    assert!(printed.contains("resuming after epoch 1"), "{printed}");
    let read = |d: &Path| std::fs::read_to_string(d.join("history.csv")).unwrap();
    assert_eq!(read(&straight), read(&parted));
    let e = fails(&[
        "train",
        &spec(),
        "--out",
        s(&parted),
        "--epochs",
        "1",
        "--resume",
    ]);
    assert!(
        e.contains("2 epochs done") && e.contains("asks for 1"),
        "{e}"
    );
    let e = fails(&[
        "train",
        &spec(),
        "--out",
        s(&dir.path().join("none")),
        "--resume",
    ]);
    assert!(e.contains("no checkpoint"), "{e}");
}

#[test]
fn spec_callbacks_schedules_and_regularizers_run() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(spec()).unwrap()
        .replace(
            "{ type = \"dense\", units = 128, activation = \"relu\" }",
            "{ type = \"dense\", units = 128, activation = \"relu\", kernel_regularizer = { type = \"l2\", l2 = 1e-4 }, kernel_initializer = \"he_uniform\" }",
        )
        .replace("[data]", "[data]\nvalidation_split = 0.1")
        .replace(
            "seed = 42",
            "seed = 42\nlr_schedule = { type = \"exponential\", decay_rate = 0.5 }\nglobal_clipnorm = 5.0\ncallbacks = [\n  { type = \"early_stopping\", monitor = \"val_loss\", patience = 2 },\n  { type = \"csv_logger\", filename = \"log.csv\" },\n  { type = \"model_checkpoint\", filepath = \"best.safetensors\", save_best_only = true },\n]",
        );
    let p = dir.path().join("cb.toml");
    std::fs::write(&p, text).unwrap();
    let out = dir.path().join("o");
    ok(&["train", s(&p), "--out", s(&out), "--epochs", "3", "-q"]);
    let history = std::fs::read_to_string(out.join("history.csv")).unwrap();
    assert!(
        history.starts_with(
            "epoch,loss,accuracy,regularization_loss,val_loss,val_accuracy,learning_rate"
        ),
        "{history}"
    );
    assert!(
        history
            .lines()
            .nth(3)
            .unwrap()
            .ends_with(",0.0002500000118743628"),
        "{history}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("log.csv")).unwrap(),
        history
    );
    assert!(out.join("best.safetensors").exists());
    // the saved spec keeps all of it and parses again
    let saved = std::fs::read_to_string(out.join("spec.toml")).unwrap();
    assert!(
        saved.contains("early_stopping")
            && saved.contains("exponential")
            && saved.contains("kernel_regularizer"),
        "{saved}"
    );
    let e = fails(&[
        "train",
        s(&write_spec(
            &dir,
            "bad.toml",
            &saved.replace("patience = 2", "patiense = 2"),
        )),
        "-q",
    ]);
    assert!(e.contains("patiense"), "{e}");
}

fn write_spec(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn csv_data_with_a_normalization_layer_trains() {
    let dir = tempfile::tempdir().unwrap();
    // three blobs with text labels; the second feature is on a scale 1000x the first
    let mut rng = nabla::core::Rng::new(7);
    let mut text = String::from("width,weight_g,kind\n");
    for i in 0..300 {
        let (name, cx, cy) = [
            ("small", 0.0, 0.0),
            ("medium", 3.0, 3000.0),
            ("large", 6.0, 1500.0),
        ][i % 3];
        text += &format!(
            "{},{},{name}\n",
            cx + rng.normal(),
            cy + 400.0 * rng.normal()
        );
    }
    let csv = dir.path().join("blobs.csv");
    std::fs::write(&csv, text).unwrap();
    let spec_text = format!(
        r#"
[data]
csv = {{ path = {:?}, label = "kind", test_split = 0.2 }}
[model]
input_shape = [2]
layers = [
  {{ type = "normalization" }},
  {{ type = "dense", units = 16, activation = "relu" }},
  {{ type = "dense", units = 3, activation = "softmax" }},
]
[train]
optimizer = {{ type = "adam", learning_rate = 0.01 }}
loss = "categorical_crossentropy"
metrics = ["accuracy"]
epochs = 30
"#,
        s(&csv)
    );
    let p = write_spec(&dir, "csv.toml", &spec_text);
    let out = dir.path().join("o");
    let printed = ok(&["train", s(&p), "--out", s(&out), "-q"]);
    let acc = value(
        printed.lines().find(|l| l.starts_with("test:")).unwrap(),
        "accuracy",
    );
    assert!(acc >= 0.9, "{printed}");
    // the adapted statistics are saved with the model and it predicts raw rows
    let saved = std::fs::read_to_string(out.join("spec.toml")).unwrap();
    assert!(saved.contains("csv"), "{saved}");
    let bad = write_spec(
        &dir,
        "bad.toml",
        &spec_text.replace("label = \"kind\"", "label = \"kinds\""),
    );
    let e = fails(&["train", s(&bad), "-q"]);
    assert!(
        e.contains("no column 'kinds'") && e.contains("\"kind\""),
        "{e}"
    );
}

#[test]
fn invalid_callback_settings_are_spec_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(spec()).unwrap();
    let with = |cb: &str| text.replace("seed = 42", &format!("seed = 42\ncallbacks = [{cb}]"));
    let p = write_spec(
        &dir,
        "a.toml",
        &with(
            r#"{ type = "learning_rate_scheduler", schedule = { type = "piecewise_constant", boundaries = [1], values = [] } }"#,
        ),
    );
    let e = fails(&["train", s(&p), "-q"]);
    assert!(e.contains("one more value than boundaries"), "{e}");
    let p = write_spec(
        &dir,
        "b.toml",
        &with(r#"{ type = "reduce_lr_on_plateau", factor = 2.0 }"#),
    );
    let e = fails(&["train", s(&p), "-q"]);
    assert!(e.contains("factor") && e.contains("(0, 1)"), "{e}");
    // a run that stopped early trains no more on resume: it writes its final files again
    let stop = with(r#"{ type = "early_stopping", monitor = "loss", mode = "max", patience = 1 }"#);
    let p = write_spec(&dir, "c.toml", &stop);
    let out = dir.path().join("o");
    ok(&["train", s(&p), "--out", s(&out), "-q"]);
    let history = std::fs::read_to_string(out.join("history.csv")).unwrap();
    let printed = ok(&["train", s(&p), "--out", s(&out), "--resume"]);
    assert!(printed.contains("writing the final files"), "{printed}");
    assert_eq!(
        std::fs::read_to_string(out.join("history.csv")).unwrap(),
        history
    );
}

#[test]
fn every_spec_in_specs_builds_and_summarises() {
    let dir = format!("{}/../../specs", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            n += 1;
            let text = std::fs::read_to_string(&p).unwrap();
            if text.contains("pretrained = {") {
                // needs a downloaded folder (relative to the repository root): it builds, or
                // the error names the folder
                let out = nabla(&["summary", s(&p)]);
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    out.status.success()
                        || (err.contains("target/minilm") && err.contains("config.json")),
                    "{}: {err}",
                    p.display()
                );
                continue;
            }
            let out = ok(&["summary", s(&p)]);
            assert!(out.contains("Total params"), "{}: {out}", p.display());
        }
    }
    assert!(n >= 5, "{n} specs");
}

#[test]
fn a_text_spec_trains_a_causal_transformer_and_writes_its_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
[data]
text = { corpus = "shakespeare", context = 16, stride = 256 }

[model]
input_shape = [16]
layers = [
  { type = "embedding", input_dim = 76, output_dim = 16 },
  { type = "positional_embedding" },
  { type = "transformer_block", num_heads = 2, causal = true },
  { type = "layer_norm" },
  { type = "dense", units = 76 },
]

[train]
optimizer = { type = "adamw", learning_rate = 3e-3, weight_decay = 0.01 }
loss = { type = "sparse_categorical_crossentropy", from_logits = true }
metrics = ["perplexity"]
epochs = 3
batch_size = 16
"#;
    let p = write_spec(&dir, "gpt.toml", text);
    let out = dir.path().join("run");
    let printed = ok(&["train", s(&p), "--out", s(&out), "-q"]);
    let loss = value(
        printed.lines().find(|l| l.starts_with("test:")).unwrap(),
        "loss",
    );
    // chance is ln(76) = 4.33 per character; perplexity = e^loss (no regulariser here)
    assert!(loss < 3.3, "{printed}");
    let ppl = value(
        printed.lines().find(|l| l.starts_with("test:")).unwrap(),
        "perplexity",
    );
    assert!((ppl.ln() - loss).abs() < 1e-3, "{printed}");
    // the vocabulary travels inside the model file
    let saved = nabla::nn::Model::load(out.join("model.safetensors")).unwrap();
    let tok: serde_json::Value = serde_json::from_str(saved.tokenizer().unwrap()).unwrap();
    assert_eq!(tok["chars"].as_array().unwrap().len(), 76);
    assert!(!out.join("tokenizer.json").exists());
    // generation: the prompt and 40 sampled characters, the same for the same seed
    let model = out.join("model.safetensors");
    let args = |seed: &'static str| {
        vec![
            "generate",
            s(&model),
            "--prompt",
            "ROMEO:",
            "--tokens",
            "40",
            "--top-k",
            "10",
            "--seed",
            seed,
        ]
    };
    let a = ok(&args("3"));
    let generated = a.strip_suffix('\n').unwrap();
    assert!(
        generated.starts_with("ROMEO:") && generated.chars().count() == 46,
        "{a:?}"
    );
    assert_eq!(a, ok(&args("3")));
    assert_ne!(a, ok(&args("4")));
    // the epoch line of a text spec reports tokens/s
    let verbose = ok(&[
        "train",
        s(&p),
        "--out",
        s(&dir.path().join("v")),
        "--epochs",
        "1",
    ]);
    assert!(verbose.contains(" tokens/s - loss: "), "{verbose}");
    let e = fails(&["generate", s(&model), "--prompt", "ROMEO€"]);
    assert!(e.contains("--prompt") && e.contains("'€'"), "{e}");
    let e = fails(&[
        "train",
        s(&write_spec(
            &dir,
            "bad.toml",
            &text.replace("shakespeare", "poems"),
        )),
        "-q",
        "--out",
        s(&dir.path().join("b")),
    ]);
    assert!(e.contains("data.text") && e.contains("poems"), "{e}");
}

#[test]
fn csv_rows_as_sequences_train_a_recurrent_spec() {
    let dir = tempfile::tempdir().unwrap();
    // 8 steps of 2 features per row; the label is whether the first step's first feature
    // is positive, so the model must carry it through the sequence
    let mut rng = nabla::core::Rng::new(11);
    let names: Vec<String> = (0..8)
        .flat_map(|t| [format!("t{t}_a"), format!("t{t}_b")])
        .collect();
    let mut text = names.join(",") + ",label\n";
    for _ in 0..400 {
        let first: f32 = if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
        let mut row = vec![first, rng.normal() * 0.3];
        row.extend((0..14).map(|_| rng.normal() * 0.5));
        let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        text += &format!("{},{}\n", cells.join(","), u8::from(first > 0.0));
    }
    let csv = dir.path().join("seq.csv");
    std::fs::write(&csv, text).unwrap();
    let spec_text = format!(
        r#"
[data]
csv = {{ path = {:?}, label = "label", test_split = 0.25 }}
[model]
input_shape = [8, 2]
layers = [
  {{ type = "gru", units = 16, bidirectional = true }},
  {{ type = "dense", units = 2, activation = "softmax" }},
]
[train]
optimizer = {{ type = "adam", learning_rate = 0.01 }}
loss = "sparse_categorical_crossentropy"
metrics = ["accuracy"]
epochs = 15
batch_size = 32
"#,
        s(&csv)
    );
    let p = write_spec(&dir, "seq.toml", &spec_text);
    let printed = ok(&["train", s(&p), "--out", s(&dir.path().join("o")), "-q"]);
    let acc = value(
        printed.lines().find(|l| l.starts_with("test:")).unwrap(),
        "accuracy",
    );
    assert!(acc >= 0.9, "{printed}");
}

#[test]
fn summary_of_a_graph_shows_connections_and_draws_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!(
        "{}/../../specs/mnist_resnet.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let png = dir.path().join("resnet.png");
    let out = ok(&["summary", &spec, "--plot", s(&png)]);
    assert!(out.contains("Connected to"), "{out}");
    assert!(
        out.contains("b1_add (add)") && out.contains("stem, b1_bn2"),
        "{out}"
    );
    assert!(
        out.contains("b2_shortcut (conv2d)") && out.contains("pool1"),
        "{out}"
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    // width and height from the IHDR chunk: one column of 24 rows, a box of 300 px each
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert!(w >= 600 && h > 24 * 46, "{w}x{h}");
    // a sequential spec keeps the three-column table
    let mlp = ok(&["summary", &spec.replace("mnist_resnet", "mnist_mlp")]);
    assert!(
        !mlp.contains("Connected to") && mlp.contains("Model: \"sequential\""),
        "{mlp}"
    );
}

/// `specs/iris_two_towers.toml` (two inputs, two outputs, CSV columns) trains from the repository
/// root as its header says; `nabla evaluate --data SPEC` scores the saved model on the spec's
/// test split with every output's loss and metrics.
#[test]
fn the_two_input_two_output_spec_trains_and_evaluates_on_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let root = format!("{}/../..", env!("CARGO_MANIFEST_DIR"));
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_nabla"))
            .args(args)
            .current_dir(&root)
            .output()
            .unwrap();
        let so = String::from_utf8_lossy(&out.stdout).into_owned();
        let se = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "nabla {args:?}:\n{so}\n{se}");
        so
    };
    let out = dir.path().join("iris");
    let trained = run(&["train", "specs/iris_two_towers.toml", "--out", s(&out)]);
    let model = out.join("model.safetensors");
    let scores = run(&[
        "evaluate",
        s(&model),
        "--data",
        "specs/iris_two_towers.toml",
    ]);
    assert!(scores.contains("samples: 30"), "{scores}");
    assert!(value(&scores, "species_accuracy") >= 0.9, "{scores}");
    assert!(value(&scores, "petal_width_mae") < 0.3, "{scores}");
    // the same numbers as the test line of training
    let test = trained.lines().find(|l| l.starts_with("test:")).unwrap();
    assert_eq!(
        value(test, "species_loss"),
        value(&scores, "species_loss"),
        "{test}\n{scores}"
    );
    // a spec whose data does not fit the model's inputs names them
    let e = fails(&["evaluate", s(&model), "--data", &spec()]);
    assert!(e.contains("input 'sepal'"), "{e}");
}

/// `nabla embed` on a Hugging Face folder (the tiny random BERT fixture: mean pooling, no
/// normalisation) prints transformers' mean-pooled vectors, and writes `.npy` files.
#[test]
fn embed_prints_and_writes_sentence_vectors() {
    let root = format!("{}/../../tests/fixtures/hub", env!("CARGO_MANIFEST_DIR"));
    let model = format!("{root}/tiny_bert");
    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/tiny_bert_reference.json")).unwrap(),
    )
    .unwrap();
    let (a, b) = (
        r["sentences"][0].as_str().unwrap(),
        r["sentences"][1].as_str().unwrap(),
    );
    let out = ok(&["embed", &model, "--text", a, "--text", b]);
    let rows: Vec<Vec<f32>> = out
        .lines()
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 2);
    for (row, want) in rows.iter().zip(r["mean_pooled"].as_array().unwrap()) {
        assert_eq!(row.len(), 16);
        for (x, w) in row.iter().zip(want.as_array().unwrap()) {
            assert!((x - w.as_f64().unwrap() as f32).abs() < 1e-4, "{x} vs {w}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let texts = dir.path().join("texts.txt");
    std::fs::write(&texts, format!("{a}\n\n{b}\n")).unwrap();
    let npy = dir.path().join("v.npy");
    ok(&["embed", &model, s(&texts), "--out", s(&npy)]);
    let bytes = std::fs::read(&npy).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert!(String::from_utf8_lossy(&bytes[10..10 + header_len]).contains("'shape': (2, 16)"));
    let first = f32::from_le_bytes(bytes[10 + header_len..14 + header_len].try_into().unwrap());
    assert_eq!(first, rows[0][0]);
    // not a model folder; no texts
    let e = fails(&["embed", &root, "--text", "x"]);
    assert!(e.contains("config.json"), "{e}");
    let e = fails(&["embed", &model]);
    assert!(e.contains("expected texts"), "{e}");
}

/// Fine-tuning from a spec: `[model] pretrained` (the tiny random BERT fixture, copied and then
/// removed, so the model file must carry what it needs), a CSV text column, masked mean
/// pooling and a head; the model keeps its tokenizer and class names, and `predict --text`
/// names the class.
#[test]
fn a_pretrained_encoder_fine_tunes_on_a_text_column_and_predicts_label_names() {
    let dir = tempfile::tempdir().unwrap();
    let bert = dir.path().join("bert");
    std::fs::create_dir(&bert).unwrap();
    let fixture = format!(
        "{}/../../tests/fixtures/hub/tiny_bert",
        env!("CARGO_MANIFEST_DIR")
    );
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(format!("{fixture}/{f}"), bert.join(f)).unwrap();
    }
    // a review is positive when it has one of the good words, negative with a bad one
    let (good, bad) = (
        ["great", "wonderful", "superb"],
        ["awful", "terrible", "dreadful"],
    );
    let filler = [
        "the", "film", "was", "really", "quite", "a", "story", "and", "plot",
    ];
    let mut csv = String::from("review,sentiment\n");
    for i in 0..240usize {
        let w = if i % 2 == 0 {
            good[i / 2 % 3]
        } else {
            bad[i / 2 % 3]
        };
        let mut words: Vec<&str> = (0..3 + i % 5)
            .map(|k| filler[(i * 7 + k * 3) % 9])
            .collect();
        words.insert(i % words.len(), w);
        let label = if i % 2 == 0 { "positive" } else { "negative" };
        csv += &format!("\"{}\",{label}\n", words.join(" "));
    }
    let data = dir.path().join("reviews.csv");
    std::fs::write(&data, csv).unwrap();
    let ft = write_spec(
        &dir,
        "ft.toml",
        &format!(
            r#"
[data]
csv = {{ path = "{}", text = "review", label = "sentiment", test_split = 0.25 }}

[model]
pretrained = {{ path = "{}", max_length = 16 }}
layers = [
  {{ type = "global_avg_pool1d", inputs = ["encoder", "attention_mask"] }},
  {{ type = "dense", units = 2, activation = "softmax" }},
]

[train]
optimizer = {{ type = "adamw", learning_rate = 3e-3, weight_decay = 0.01 }}
lr_schedule = {{ type = "linear", total_steps = 120, warmup_steps = 10 }}
loss = "sparse_categorical_crossentropy"
metrics = ["accuracy"]
epochs = 10
batch_size = 16
"#,
            s(&data),
            s(&bert)
        ),
    );
    let out = dir.path().join("run");
    let log = ok(&["train", s(&ft), "--out", s(&out), "-q"]);
    let test = log.lines().find(|l| l.starts_with("test:")).unwrap();
    assert!(value(test, "accuracy") >= 0.9, "{log}");
    std::fs::remove_dir_all(&bert).unwrap();
    let model = out.join("model.safetensors");
    let p = ok(&[
        "predict",
        s(&model),
        "--text",
        "the plot was superb",
        "--text",
        "a dreadful film",
    ]);
    let lines: Vec<&str> = p.lines().collect();
    assert!(lines[0].contains("class 1 (positive)"), "{p}");
    assert!(lines[1].contains("class 0 (negative)"), "{p}");
    // a model without a tokenizer cannot take text
    let mlp = dir.path().join("mlp");
    ok(&["train", &spec(), "--out", s(&mlp), "--epochs", "1", "-q"]);
    let e = fails(&["predict", s(&mlp.join("model.safetensors")), "--text", "hi"]);
    assert!(e.contains("tokenizer"), "{e}");
}

/// `nabla generate` on a Hugging Face GPT-2 folder (the tiny random fixture): greedy text equals
/// transformers' `generate`, printed after the prompt; a BERT folder is refused by name.
#[test]
fn generate_from_a_gpt2_folder() {
    let root = format!("{}/../../tests/fixtures/hub", env!("CARGO_MANIFEST_DIR"));
    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/tiny_gpt2_reference.json")).unwrap(),
    )
    .unwrap();
    let g = &r["generate"];
    let out = ok(&[
        "generate",
        &format!("{root}/tiny_gpt2"),
        "--prompt",
        "ROMEO:",
        "--tokens",
        "20",
        "--temperature",
        "0",
    ]);
    assert_eq!(out.trim_end_matches('\n'), g["text"].as_str().unwrap());
    let e = fails(&["generate", &format!("{root}/tiny_bert"), "--prompt", "hi"]);
    assert!(e.contains("GPT-2") && e.contains("bert"), "{e}");
}

/// A classifier fine-tuned with BERT's own head (pooler and classifier, logits) exports as a
/// Hugging Face `BertForSequenceClassification` folder, which reads back (through the hub
/// loader) to the same predictions with the same label names; a head of another shape is
/// refused by name.
#[test]
fn a_fine_tuned_bert_classifier_exports_as_a_hugging_face_folder() {
    let dir = tempfile::tempdir().unwrap();
    let bert = format!(
        "{}/../../tests/fixtures/hub/tiny_bert",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut csv = String::from("text,label\n");
    for i in 0..64 {
        let (w, l) = [("good", "pos"), ("bad", "neg"), ("fine", "mid")][i % 3];
        csv += &format!("\"a {w} film number {i}\",{l}\n");
    }
    let data = dir.path().join("d.csv");
    std::fs::write(&data, csv).unwrap();
    let spec = |head: &str| {
        format!(
            r#"
[data]
csv = {{ path = "{}", text = "text", label = "label" }}
[model]
pretrained = {{ path = "{bert}", max_length = 12 }}
layers = [
  {{ type = "first_token", name = "cls" }},
  {{ type = "dense", units = 16, activation = "tanh", name = "pooler" }},
  {{ type = "dropout", rate = 0.1 }},
  {{ type = "dense", units = 3, name = "classifier"{head} }},
]
[train]
optimizer = {{ type = "adamw", learning_rate = 1e-3 }}
loss = {{ type = "sparse_categorical_crossentropy", from_logits = true }}
epochs = 2
batch_size = 16
"#,
            s(&data)
        )
    };
    let ft = write_spec(&dir, "ft.toml", &spec(""));
    let run = dir.path().join("run");
    ok(&["train", s(&ft), "--out", s(&run), "-q"]);
    let model = run.join("model.safetensors");
    let hf = dir.path().join("hf");
    ok(&["export", s(&model), "--hf", s(&hf)]);
    let config = std::fs::read_to_string(hf.join("config.json")).unwrap();
    assert!(
        config.contains("BertForSequenceClassification") && config.contains("\"mid\""),
        "{config}"
    );
    let texts = ["a good film", "a bad film number 3", "fine"];
    let mut args = vec!["predict"];
    for t in &texts {
        args.extend(["--text", t]);
    }
    let ours = ok(&[&args[..1], &[s(&model)], &args[1..]].concat());
    let theirs = ok(&[&args[..1], &[s(&hf)], &args[1..]].concat());
    assert_eq!(ours, theirs);
    assert!(
        ours.contains("(pos)") || ours.contains("(neg)") || ours.contains("(mid)"),
        "{ours}"
    );
    // a softmax head is no logits head
    let soft = write_spec(
        &dir,
        "soft.toml",
        &spec(r#", activation = "softmax""#).replace(", from_logits = true", ""),
    );
    let run2 = dir.path().join("run2");
    ok(&["train", s(&soft), "--out", s(&run2), "-q", "--epochs", "1"]);
    let e = fails(&[
        "export",
        s(&run2.join("model.safetensors")),
        "--hf",
        s(&dir.path().join("hf2")),
    ]);
    assert!(e.contains("classifier") && e.contains("linear"), "{e}");
}

/// Killed while writing its final files (the model, after the last epoch's checkpoint): the
/// run is left without model, history, spec and curves, and a temporary file stays behind.
/// `--resume` writes the missing files, the same as an uninterrupted run's, and removes the
/// temporary file.
#[test]
fn resume_finishes_a_run_killed_while_writing_its_final_files() {
    let dir = tempfile::tempdir().unwrap();
    let (straight, killed) = (dir.path().join("straight"), dir.path().join("killed"));
    let args =
        |out: &Path| ["train", &spec(), "--out", s(out), "--epochs", "2", "-q"].map(String::from);
    ok(&args(&straight).each_ref().map(String::as_str));
    let out = Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(args(&killed))
        .env("NABLA_TEST_ABORT_WRITING", "model.safetensors")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the process was aborted");
    let temps = |d: &Path| -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    };
    assert!(!killed.join("model.safetensors").exists());
    assert!(!killed.join("history.csv").exists());
    assert_eq!(
        temps(&killed).len(),
        1,
        "the aborted write leaves its temporary file"
    );
    let mut resume = args(&killed).to_vec();
    resume.retain(|a| a != "-q");
    resume.push("--resume".into());
    let printed = ok(&resume.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        printed.contains("training finished after epoch 2"),
        "{printed}"
    );
    for f in [
        "model.safetensors",
        "history.csv",
        "spec.toml",
        "curves.png",
    ] {
        assert!(killed.join(f).exists(), "{f} missing after --resume");
    }
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    assert_eq!(read(&straight, "history.csv"), read(&killed, "history.csv"));
    // the same weights, bit for bit (the file's metadata is a map, written in any order)
    let weights = |d: &Path| -> Vec<Vec<u32>> {
        let m = nabla::prelude::Model::load(d.join("model.safetensors")).unwrap();
        let named = m.named_params();
        named
            .iter()
            .map(|(_, p)| p.value.data().iter().map(|v| v.to_bits()).collect())
            .collect()
    };
    assert!(
        weights(&straight) == weights(&killed),
        "the finished model differs"
    );
    assert_eq!(
        temps(&killed),
        Vec::<String>::new(),
        "stale temporary files removed"
    );
}

/// `--resume` with a spec that is not the checkpoint's: an error naming what differs (it
/// used to go on with the checkpoint's model and fail later, or not at all).
#[test]
fn resume_refuses_a_checkpoint_of_another_spec() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    ok(&["train", &spec(), "--out", s(&out), "--epochs", "1", "-q"]);
    let text = std::fs::read_to_string(spec()).unwrap();
    // resuming `out` with the spec changed from `from` to `to` fails, naming `says`
    let refused = |from: &str, to: &str, says: &[&str]| {
        let changed = text.replace(from, to);
        assert_ne!(changed, text, "the spec holds {from}");
        let p = write_spec(&dir, "changed.toml", &changed);
        let e = fails(&[
            "train",
            s(&p),
            "--out",
            s(&out),
            "--epochs",
            "2",
            "--resume",
        ]);
        assert!(says.iter().all(|w| e.contains(w)), "{e}");
    };
    refused(
        "units = 128",
        "units = 64",
        &["another spec", "units is 128 there, the spec says 64"],
    );
    refused(
        "loss = \"sparse_categorical_crossentropy\"",
        "loss = { type = \"sparse_categorical_crossentropy\", label_smoothing = 0.1 }",
        &["train.loss", "label_smoothing"],
    );
    // the same spec with another seed resumes (the seed made the checkpoint's weights)
    ok(&[
        "train",
        &spec(),
        "--out",
        s(&out),
        "--epochs",
        "2",
        "--seed",
        "7",
        "--resume",
        "-q",
    ]);
}

/// A spec that declares absurd sizes (a 1 KB file) gets an error naming the layer before any
/// weight or batch is allocated: it used to allocate terabytes and abort, or panic on a
/// capacity overflow.
#[test]
fn absurd_sizes_in_a_spec_are_errors_not_aborts() {
    let dir = tempfile::tempdir().unwrap();
    let specs = format!("{}/../../specs", env!("CARGO_MANIFEST_DIR"));
    let cases = [
        (
            "mnist_mlp.toml",
            "units = 128",
            "units = 1000000000000",
            "layer 'dense'",
        ),
        (
            "mnist_mlp.toml",
            "input_shape = [28, 28]",
            "input_shape = [1000000, 1000000]",
            "input_shape",
        ),
        (
            "mnist_cnn.toml",
            "filters = 32",
            "filters = 1000000000000",
            "conv2d",
        ),
        ("mnist_lstm.toml", "units = 256", "units = 1000000", "lstm"),
        (
            "shakespeare_gpt.toml",
            "output_dim = 128",
            "output_dim = 1000000000000",
            "embedding",
        ),
        (
            "mnist_cnn.toml",
            "{ type = \"max_pool2d\", pool_size = 2 },",
            "{ type = \"up_sampling2d\", size = 100000 },",
            "up_sampling2d",
        ),
        (
            "mnist_cnn.toml",
            "{ type = \"max_pool2d\", pool_size = 2 },",
            "{ type = \"zero_padding2d\", padding = 1000000000 },",
            "zero_padding2d",
        ),
    ];
    for (i, (file, from, to, names)) in cases.iter().enumerate() {
        let text = std::fs::read_to_string(format!("{specs}/{file}")).unwrap();
        assert!(text.contains(from), "{file} has no '{from}'");
        let p = write_spec(&dir, &format!("{i}.toml"), &text.replacen(from, to, 1));
        let e = fails(&["summary", s(&p)]);
        assert!(
            e.contains(names) && (e.contains("NABLA_MAX_VALUES") || e.contains("fits in memory")),
            "{file} with {to}: {e}"
        );
    }
}

/// Each sample's activation and each weight are bounded when the model is built; now the
/// batch and the whole model too. Up-sampling by 25 builds (2.7e7 values a sample) but a
/// batch of 128 of it would need 14 GB, which used to abort on the allocation: it is refused
/// before the first step, naming the layer and the batch. All the weights together, and all
/// of a batch's layer outputs together, are held to NABLA_MAX_MEMORY (default: the
/// machine's memory), the weights each before it is allocated.
#[test]
fn a_batch_or_a_model_that_cannot_fit_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cnn = format!("{}/../../specs/mnist_cnn.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&cnn).unwrap();
    let from = "{ type = \"max_pool2d\", pool_size = 2 },";
    assert!(text.contains(from));
    let big = text.replacen(from, "{ type = \"up_sampling2d\", size = 25 },", 1);
    let big = write_spec(&dir, "big.toml", &big);
    let out = s(&dir.path().join("out")).to_string();
    let train = |spec: &Path, memory: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_nabla"));
        c.args(["train", s(spec), "--out", &out, "--epochs", "1", "-q"]);
        if let Some(m) = memory {
            c.env("NABLA_MAX_MEMORY", m);
        }
        let o = c.current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap();
        let e = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success() && !e.contains("panicked"), "{e}");
        e
    };
    let e = train(&big, None);
    assert!(
        e.contains("conv2d_1") && e.contains("batch of 128") && e.contains("NABLA_MAX_VALUES"),
        "{e}"
    );
    // its dense kernel alone is 1.7 GB: refused before it is allocated
    let e = train(&big, Some("1000000000"));
    assert!(
        e.contains("layer 'dense'")
            && e.contains("model's weights")
            && e.contains("NABLA_MAX_MEMORY"),
        "{e}"
    );
    // the CNN's weights take 0.4 MB, a batch of 128 of its layer outputs about 18 MB
    let e = train(Path::new(&cnn), Some("5000000"));
    assert!(
        e.contains("batch of 128 samples") && e.contains("NABLA_MAX_MEMORY"),
        "{e}"
    );
}

#[test]
fn tune_searches_a_spec_resumes_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(format!(
        "{}/../../specs/mnist_mlp_tune.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("trials = 20", "trials = 3")
    .replace("epochs = 2\nseed = 0", "epochs = 1\nseed = 0");
    let spec = dir.path().join("tune.toml");
    std::fs::write(&spec, &text).unwrap();
    let out_dir = dir.path().join("search");
    let out = ok(&["tune", s(&spec), "--out", s(&out_dir)]);
    assert!(out.contains("bayesian search of 3 trials"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("trial ")).count(),
        3,
        "{out}"
    );
    assert!(out.contains("best: trial"), "{out}");
    for f in [
        "trials.csv",
        "best.toml",
        "best_model.safetensors",
        "tune.png",
    ] {
        assert!(out_dir.join(f).exists(), "{f}");
    }
    // nothing left to do on --resume with the same trials; more trials go on from there
    let again = ok(&["tune", s(&spec), "--out", s(&out_dir), "--resume"]);
    assert!(!again.lines().any(|l| l.starts_with("trial ")), "{again}");
    std::fs::write(&spec, text.replace("trials = 3", "trials = 4")).unwrap();
    let more = ok(&["tune", s(&spec), "--out", s(&out_dir), "--resume"]);
    assert!(more.contains("trial 4/4"), "{more}");
    let csv = std::fs::read_to_string(out_dir.join("trials.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    let err = fails(&["tune", s(&spec), "--out", s(&out_dir)]);
    assert!(err.contains("--resume"), "{err}");
    // `nabla train` reads the same spec and ignores its [tune] table
    let trained = ok(&["train", s(&spec), "--out", s(&dir.path().join("t")), "-q"]);
    assert!(trained.contains("saved"), "{trained}");
}

#[test]
fn a_csv_model_evaluates_and_predicts_new_csv_files_with_its_class_names() {
    let dir = tempfile::tempdir().unwrap();
    let iris = std::fs::read_to_string(format!(
        "{}/../../data/iris/iris.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let names = ["setosa", "versicolor", "virginica"];
    let mut labelled = String::from("sepal_length,sepal_width,petal_length,petal_width,species\n");
    let mut features = String::from("petal_width,sepal_length,sepal_width,petal_length\n");
    for line in iris.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let species = names[f[4].parse::<usize>().unwrap()];
        labelled += &format!("{},{},{},{},{species}\n", f[0], f[1], f[2], f[3]);
        // the columns in another order, no label: read by name
        features += &format!("{},{},{},{}\n", f[3], f[0], f[1], f[2]);
    }
    let (data, rows) = (dir.path().join("iris.csv"), dir.path().join("rows.csv"));
    std::fs::write(&data, &labelled).unwrap();
    std::fs::write(&rows, &features).unwrap();
    let iris_spec = dir.path().join("iris.toml");
    std::fs::write(
        &iris_spec,
        format!(
            r#"
[data]
csv = {{ path = "{}", label = "species", test_split = 0.2 }}
normalize = {{ mean = [3.0], std = [2.0] }}
[model]
input_shape = [4]
layers = [{{ type = "dense", units = 16, activation = "relu" }}, {{ type = "dense", units = 3, activation = "softmax" }}]
[train]
optimizer = {{ type = "adam", learning_rate = 0.02 }}
loss = "sparse_categorical_crossentropy"
metrics = ["accuracy"]
epochs = 40
batch_size = 16
"#,
            s(&data)
        ),
    )
    .unwrap();
    let run = dir.path().join("run");
    ok(&["train", s(&iris_spec), "--out", s(&run), "-q"]);
    let model = run.join("model.safetensors");
    let scores = ok(&["evaluate", s(&model), "--data", s(&data)]);
    assert!(scores.contains("samples: 150"), "{scores}");
    let acc = value(
        scores.lines().find(|l| l.starts_with("accuracy")).unwrap(),
        "accuracy",
    );
    assert!(acc > 0.9, "{scores}");
    assert!(
        scores.contains("virginica"),
        "the class report names the classes: {scores}"
    );
    let out = dir.path().join("p.csv");
    let said = ok(&["predict", s(&model), s(&rows), "--out", s(&out)]);
    assert_eq!(
        said.lines().filter(|l| l.starts_with("row ")).count(),
        150,
        "{said}"
    );
    for name in names {
        assert!(said.contains(&format!(" ({name}) p=")), "{name}: {said}");
    }
    let p = std::fs::read_to_string(&out).unwrap();
    assert!(
        p.starts_with("row,class,name,p_setosa,p_versicolor,p_virginica\n1,1,versicolor,"),
        "{p}"
    );
    assert_eq!(p.lines().count(), 151);
    // a label the model never saw, a missing column, a model without a CSV recipe
    std::fs::write(&rows, labelled.replace("setosa", "tulip")).unwrap();
    let e = fails(&["evaluate", s(&model), "--data", s(&rows)]);
    assert!(
        e.contains("expected one of the model's classes") && e.contains("'tulip'"),
        "{e}"
    );
    std::fs::write(&rows, features.replace("petal_width,", "petal_w,")).unwrap();
    let e = fails(&["predict", s(&model), s(&rows)]);
    assert!(e.contains("no column 'petal_width'"), "{e}");
    let digits = dir.path().join("digits");
    ok(&["train", &spec(), "--out", s(&digits), "--epochs", "1", "-q"]);
    let e = fails(&["predict", s(&digits.join("model.safetensors")), s(&data)]);
    assert!(e.contains("does not say how to read a CSV file"), "{e}");
}

#[cfg(unix)]
#[test]
fn serve_answers_predictions_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("mlp");
    ok(&["train", &spec(), "--out", s(&run), "--epochs", "1", "-q"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(["serve", s(&run.join("model.safetensors")), "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    // "serving 'mlp': POST http://127.0.0.1:PORT/v1/models/mlp:predict"
    let url = first
        .split("http://")
        .nth(1)
        .unwrap_or_else(|| panic!("{first}"));
    let addr = url.split('/').next().unwrap().to_string();
    assert!(url.ends_with("/v1/models/mlp:predict"), "{first}");
    let body = format!(r#"{{"instances": [[{}]]}}"#, vec!["0.5"; 784].join(","));
    let mut sock = std::net::TcpStream::connect(&addr).unwrap();
    write!(sock, "POST /v1/models/mlp:predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut reply = String::new();
    sock.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with("HTTP/1.1 200") && reply.contains("\"predictions\":[["),
        "{reply}"
    );
    // SIGTERM: a clean stop
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: sends SIGTERM to the child this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
}

#[test]
fn quantize_shrinks_a_model_that_evaluates_predicts_and_summarises() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    ok(&["train", &spec(), "--out", s(&a), "--quiet"]);
    let (model, q) = (
        a.join("model.safetensors"),
        dir.path().join("q.safetensors"),
    );
    let out = ok(&["quantize", s(&model), "--out", s(&q)]);
    assert!(
        out.contains("quantised 2 layers to int8 (dynamic): dense, dense_1"),
        "{out}"
    );
    let (f32_bytes, int8_bytes) = (
        std::fs::metadata(&model).unwrap().len() as f64,
        std::fs::metadata(&q).unwrap().len() as f64,
    );
    assert!(f32_bytes / int8_bytes >= 3.5, "{f32_bytes} -> {int8_bytes}");
    // "accuracy: float -> int8", and evaluate reads the same from the file
    let line = out.lines().find(|l| l.contains("accuracy:")).unwrap();
    let nums: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!((nums[0] - nums[1]).abs() <= 0.005, "{line}");
    assert_eq!(value(&ok(&["evaluate", s(&q)]), "accuracy"), nums[1]);
    assert!(ok(&["predict", s(&q), "--index", "3"]).starts_with("sample 3: class "));
    let sum = ok(&["summary", s(&q)]);
    assert!(sum.contains("dense (quantized_dense, int8)"), "{sum}");
    assert!(sum.contains("int8 params: 101632"), "{sum}");
    // nothing to quantise twice, and an unknown mode, are errors that write nothing
    let again = dir.path().join("again.safetensors");
    assert!(fails(&["quantize", s(&q), "--out", s(&again)]).contains("no layer to quantise"));
    let e = fails(&["quantize", s(&model), "--out", s(&again), "--mode", "fast"]);
    assert!(e.contains("quantisation mode") && e.contains("fast"), "{e}");
    assert!(!again.exists());
    let w7 = ok(&["bench", "W7", "--epochs", "1"]);
    for key in [
        "f32_infer_samples_per_s",
        "int8_infer_samples_per_s",
        "int8_test_acc",
        "int8_bytes",
    ] {
        assert!(w7.contains(&format!("\"{key}\"")), "{key} in {w7}");
    }
}

#[test]
fn static_quantisation_calibrates_the_convolutions_of_a_cnn() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let cnn = format!("{}/../../specs/mnist_cnn.toml", env!("CARGO_MANIFEST_DIR"));
    ok(&["train", &cnn, "--epochs", "1", "--out", s(&a), "--quiet"]);
    let (model, q) = (
        a.join("model.safetensors"),
        dir.path().join("q.safetensors"),
    );
    let out = ok(&[
        "quantize",
        s(&model),
        "--out",
        s(&q),
        "--mode",
        "static",
        "--calibrate",
        "2",
    ]);
    assert!(
        out.contains(
            "quantised 5 layers to int8 (static): conv2d, conv2d_1, conv2d_2, dense, dense_1"
        ),
        "{out}"
    );
    assert!(
        out.contains("calibrated on 64 samples (2 batches of up to 32)"),
        "{out}"
    );
    let line = out.lines().find(|l| l.contains("accuracy:")).unwrap();
    let nums: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!((nums[0] - nums[1]).abs() <= 0.01, "{line}");
    assert_eq!(value(&ok(&["evaluate", s(&q)]), "accuracy"), nums[1]);
    let sum = ok(&["summary", s(&q)]);
    assert!(sum.contains("conv2d (quantized_conv2d, int8)"), "{sum}");
    let again = dir.path().join("again.safetensors");
    let e = fails(&[
        "quantize",
        s(&model),
        "--out",
        s(&again),
        "--mode",
        "static",
        "--calibrate",
        "0",
    ]);
    assert!(e.contains("--calibrate") && e.contains("at least 1"), "{e}");
    assert!(!again.exists());
}

#[test]
fn prune_trains_dense_then_sparse_and_saves_the_sparse_form() {
    let dir = tempfile::tempdir().unwrap();
    let pruning = format!(
        "{}/../../specs/mnist_mlp_prune.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = ok(&["prune", &pruning, "--out", s(dir.path()), "-q"]);
    let nums = |key: &str| -> Vec<f64> {
        let line = out.lines().find(|l| l.contains(key)).unwrap();
        line.split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect()
    };
    let acc = nums("accuracy:");
    assert!(acc[0] - acc[1] <= 0.01, "{out}");
    assert_eq!(nums("sparsity:"), [0.0, 0.8], "{out}");
    let size = nums("size:");
    assert!(size[0] / size[1] >= 4.0, "{out}");
    let model = dir.path().join("model.safetensors");
    assert_eq!(value(&ok(&["evaluate", s(&model)]), "accuracy"), acc[1]);
    let sum = ok(&["summary", s(&model)]);
    assert!(sum.contains("dense (dense, 80% zeros)"), "{sum}");
    // a spec without [prune]
    let e = fails(&["prune", &spec(), "--out", s(dir.path())]);
    assert!(e.contains("expected a [prune] table"), "{e}");
}
