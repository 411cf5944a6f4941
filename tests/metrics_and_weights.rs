//! Metrics computed by `evaluate` on known predictions, and per-sample / per-class loss
//! weights in `fit`.

use nabla::prelude::*;

/// A model whose output equals its input (identity kernel, zero bias, linear).
fn identity(n: usize, loss: LossSpec, metrics: &[Metric]) -> Model {
    let mut m = Sequential::new([n]).add(Dense::new(n)).build(0).unwrap();
    for (i, p) in m.params_mut().into_iter().enumerate() {
        p.value.update(|w| {
            w.fill(0.0);
            if i == 0 {
                (0..n).for_each(|k| w[k * n + k] = 1.0);
            }
        });
    }
    m.compile_boxed(Box::new(Sgd::new(0.0)), loss, metrics)
        .unwrap();
    m
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-6, "{a} vs {b}");
}

#[test]
fn binary_metrics_by_hand() {
    let p = vec![0.9, 0.4, 0.6, 0.2, 0.7, 0.1];
    let y = vec![1.0, 1.0, 0.0, 0.0, 1.0, 0.0];
    let data = Dataset::new(p, &[1], y, &[1]).unwrap();
    let metrics = [
        Metric::Accuracy,
        Metric::BinaryAccuracy,
        Metric::Precision,
        Metric::Recall,
        Metric::F1,
        Metric::Auc,
        Metric::MeanAbsoluteError,
        Metric::MeanSquaredError,
        Metric::RootMeanSquaredError,
    ];
    let m = identity(1, Loss::BinaryCrossentropy.into(), &metrics);
    let s = m.evaluate(&data).unwrap();
    // predicted 1 0 1 0 1 0 against 1 1 0 0 1 0: tp 2, fn 1, fp 1, tn 2
    close(s.get("accuracy").unwrap(), 4.0 / 6.0);
    close(s.get("binary_accuracy").unwrap(), 4.0 / 6.0);
    close(s.get("precision").unwrap(), 2.0 / 3.0);
    close(s.get("recall").unwrap(), 2.0 / 3.0);
    close(s.get("f1").unwrap(), 2.0 / 3.0);
    close(s.get("auc").unwrap(), 8.0 / 9.0); // positive beats negative in 8 of 9 pairs
    close(s.get("mae").unwrap(), 1.9 / 6.0);
    close(s.get("mse").unwrap(), 0.87 / 6.0);
    close(s.get("rmse").unwrap(), (0.87f64 / 6.0).sqrt());
}

#[test]
fn multiclass_metrics_by_hand() {
    // 4 samples, 3 classes; argmax 0, 1, 2, 1; labels 0, 2, 2, 1
    let p = vec![
        0.7, 0.2, 0.1, //
        0.1, 0.5, 0.4, //
        0.2, 0.3, 0.5, //
        0.3, 0.6, 0.1,
    ];
    let data = Dataset::new(p, &[3], vec![0.0, 2.0, 2.0, 1.0], &[]).unwrap();
    let metrics = [
        Metric::Accuracy,
        Metric::TopKCategoricalAccuracy { k: 2 },
        Metric::Precision,
        Metric::Recall,
        Metric::F1,
    ];
    let m = identity(3, Loss::SparseCategoricalCrossentropy.into(), &metrics);
    let s = m.evaluate(&data).unwrap();
    close(s.get("accuracy").unwrap(), 0.75);
    close(s.get("top_2_accuracy").unwrap(), 1.0); // sample 1's class 2 is second best
                                                  // per class: 0: p 1, r 1; 1: p 1/2, r 1; 2: p 1, r 1/2
    close(s.get("precision").unwrap(), (1.0 + 0.5 + 1.0) / 3.0);
    close(s.get("recall").unwrap(), (1.0 + 1.0 + 0.5) / 3.0);
    close(s.get("f1").unwrap(), (1.0 + 2.0 / 3.0 + 2.0 / 3.0) / 3.0);
    // the same with one-hot targets and the categorical loss
    let onehot = data.one_hot(3).unwrap();
    let m = identity(
        3,
        Loss::CategoricalCrossentropy.into(),
        &[Metric::Accuracy, Metric::CategoricalAccuracy],
    );
    let s = m.evaluate(&onehot).unwrap();
    close(s.get("accuracy").unwrap(), 0.75);
    close(s.get("categorical_accuracy").unwrap(), 0.75);
}

#[test]
fn auc_needs_one_output() {
    let data = Dataset::new(vec![0.5; 6], &[3], vec![0.0, 1.0], &[]).unwrap();
    let m = identity(
        3,
        Loss::SparseCategoricalCrossentropy.into(),
        &[Metric::Auc],
    );
    let e = m.evaluate(&data).unwrap_err().to_string();
    assert!(
        e.contains("auc") && e.contains("1 output") && e.contains("3 outputs"),
        "{e}"
    );
}

#[test]
fn sample_and_class_weights_scale_each_sample() {
    let x = vec![0.2, -0.5, 0.9, 0.1];
    let y = vec![1.0, 0.0, 1.0, 0.0];
    let data = Dataset::new(x, &[1], y, &[1]).unwrap();
    let fit = || Fit::new().batch_size(4).shuffle(false).verbose(0);
    let loss_of = |opts: Fit| {
        let mut m = identity(1, Loss::MeanSquaredError.into(), &[]);
        m.fit(&data, opts).unwrap().get("loss")[0]
    };
    let plain = loss_of(fit());
    close(loss_of(fit().sample_weight(&[2.0; 4])), 2.0 * plain);
    // class 1 (targets 1.0) counts 3x, class 0 not at all
    let per = [0.64, 0.25, 0.01, 0.01]; // (x - y)² of each sample
    close(
        loss_of(fit().class_weight(&[0.0, 3.0])),
        3.0 * (per[0] + per[2]) / 4.0,
    );
    // both multiply
    let sw = [1.0, 1.0, 2.0, 1.0];
    close(
        loss_of(fit().class_weight(&[0.0, 3.0]).sample_weight(&sw)),
        3.0 * (per[0] + 2.0 * per[2]) / 4.0,
    );
    let mut m = identity(1, Loss::MeanSquaredError.into(), &[]);
    let e = m
        .fit(&data, fit().sample_weight(&[1.0; 3]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sample_weight") && e.contains("(4)") && e.contains("received 3"),
        "{e}"
    );
    let e = m
        .fit(&data, fit().class_weight(&[1.0]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("class_weight") && e.contains("2 classes"), "{e}");
    // a NaN or negative class weight names the class (it used to end as a NaN loss)
    for bad in [f32::NAN, f32::INFINITY, -1.0] {
        let e = m
            .fit(&data, fit().class_weight(&[1.0, bad]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("class_weight") && e.contains("of class 1") && e.contains("finite"),
            "{e}"
        );
    }
}

#[test]
fn zero_class_weights_leave_the_model_unchanged() {
    let (train, _) = nabla::datasets::mnist().unwrap();
    let mut m = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(10))
        .build(0)
        .unwrap();
    m.compile(
        Adam::default(),
        Loss::SparseCategoricalCrossentropy.from_logits(),
        &[],
    )
    .unwrap();
    let before: Vec<f32> = m.named_params()[0].1.value.to_vec();
    m.fit(
        &train.slice(0..256),
        Fit::new().class_weight(&[0.0; 10]).verbose(0),
    )
    .unwrap();
    assert_eq!(m.named_params()[0].1.value.to_vec(), before);
}
