//! Callbacks, learning-rate schedules, regularisation penalties and exact resume, through
//! the public API.

mod common;

use common::weights;
use nabla::nn::{Per, Regularizer, Schedule, ScheduleKind};
use nabla::prelude::*;
use nabla::train::{
    CsvLogger, EarlyStopping, LambdaCallback, LearningRateScheduler, ModelCheckpoint,
    ReduceLrOnPlateau, TerminateOnNaN,
};
use std::cell::RefCell;
use std::rc::Rc;

fn data() -> Dataset {
    nabla::datasets::mnist().unwrap().0.slice(0..640)
}

fn mlp(seed: u64) -> Model {
    let mut m = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(32).activation(Activation::Relu))
        .add(Dropout::new(0.2))
        .add(Dense::new(10).activation(Activation::Softmax))
        .build(seed)
        .unwrap();
    m.compile(
        Adam::default(),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )
    .unwrap();
    m
}

#[test]
fn early_stopping_stops_and_restores_the_best_weights() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = mlp(1);
    // "loss" with mode max: the falling loss never improves after epoch 1
    let mut es = EarlyStopping::new("loss", 2).restore_best_weights(true);
    es.mode = nabla::train::callbacks::Mode::Max;
    let h = m
        .fit(
            &data(),
            Fit::new()
                .epochs(10)
                .verbose(0)
                .callback(es)
                .callback(ModelCheckpoint::new(
                    dir.path().join("m-{epoch}.safetensors"),
                )),
        )
        .unwrap();
    assert_eq!(h.epochs.len(), 3, "stopped after patience 2");
    let best = Model::load(dir.path().join("m-1.safetensors")).unwrap();
    assert_eq!(weights(&m), weights(&best), "epoch 1's weights are back");
    assert!(dir.path().join("m-3.safetensors").exists());
}

#[test]
fn model_checkpoint_save_best_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = mlp(2);
    let (train, test) = nabla::datasets::mnist().unwrap();
    m.fit(
        &train.slice(0..640),
        Fit::new()
            .epochs(3)
            .verbose(0)
            .validation_data(&test)
            .callback(
                ModelCheckpoint::new(dir.path().join("best.safetensors"))
                    .save_best_only("val_accuracy"),
            ),
    )
    .unwrap();
    let best = Model::load(dir.path().join("best.safetensors")).unwrap();
    let acc = best.evaluate(&test).unwrap().get("accuracy").unwrap();
    assert!(acc > 0.5, "{acc}");
}

#[test]
fn reduce_lr_on_plateau_and_learning_rate_scheduler_show_in_history() {
    let mut m = mlp(3);
    let mut r = ReduceLrOnPlateau::new("loss", 0.5, 1);
    r.mode = nabla::train::callbacks::Mode::Max; // improves only at epoch 1 (the first value)
    let h = m
        .fit(&data(), Fit::new().epochs(4).verbose(0).callback(r))
        .unwrap();
    // the rate each epoch ran with: halved after every flat epoch from epoch 2 on
    let want = [1e-3, 1e-3, 5e-4, 2.5e-4];
    for (got, want) in h.get("learning_rate").iter().zip(want) {
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }

    let mut m = mlp(3);
    let s = LearningRateScheduler::new(|epoch, _lr| 0.001 * (epoch + 1) as f32);
    let h = m
        .fit(&data(), Fit::new().epochs(3).verbose(0).callback(s))
        .unwrap();
    let lr = h.get("learning_rate");
    assert!((lr[2] - 0.003).abs() < 1e-9, "{lr:?}");
}

#[test]
fn compiled_schedules_run_per_epoch_or_per_step() {
    let cfg = |per| nabla::nn::CompileConfig {
        optimizer: nabla::nn::OptimizerConfig::Sgd(Sgd::new(0.1)),
        loss: Loss::SparseCategoricalCrossentropy.into(),
        metrics: vec![].into(),
        loss_weights: 1.0.into(),
        clipping: Default::default(),
        lr_schedule: Some(Schedule {
            kind: ScheduleKind::Step {
                step_size: 1,
                gamma: 0.5,
            },
            per: Some(per),
        }),
    };
    let mut m = mlp(4);
    m.compile_from_config(&cfg(Per::Epoch)).unwrap();
    let h = m.fit(&data(), Fit::new().epochs(3).verbose(0)).unwrap();
    let lr = h.get("learning_rate");
    assert!(
        (lr[0] - 0.1).abs() < 1e-8 && (lr[2] - 0.025).abs() < 1e-8,
        "{lr:?}"
    );
    let mut m = mlp(4);
    m.compile_from_config(&cfg(Per::Step)).unwrap();
    let h = m
        .fit(&data(), Fit::new().epochs(1).batch_size(128).verbose(0))
        .unwrap();
    // 5 steps: the last one ran at t = 4
    assert!((h.get("learning_rate")[0] - 0.1 * 0.5f64.powi(4)).abs() < 1e-8);
    // the saved compile config keeps the base rate and the schedule
    let saved = m.compile_config().unwrap();
    assert_eq!(saved, cfg(Per::Step));
}

#[test]
fn terminate_on_nan_stops_instead_of_failing() {
    let d = Dataset::new(vec![3.0; 64], &[2], vec![1.0; 32], &[1]).unwrap();
    let mut m = Sequential::new([2]).add(Dense::new(1)).build(0).unwrap();
    m.compile(Sgd::new(1e30), Loss::MeanSquaredError, &[])
        .unwrap();
    let h = m
        .fit(
            &d,
            Fit::new()
                .epochs(5)
                .batch_size(8)
                .verbose(0)
                .callback(TerminateOnNaN::default()),
        )
        .unwrap();
    assert!(h.epochs.len() <= 1, "stopped in the first epoch");
}

/// Keras's TerminateOnNaN: the batch with the NaN loss ends the epoch, which still closes as
/// usual (its loss in the logs reads NaN, validation runs, on_epoch_end sees it, the CSV log
/// gets its row) and `fit` returns; without the callback, `fit` fails naming epoch and step.
#[test]
fn terminate_on_nan_ends_the_epoch_as_keras_does() {
    let mut x = vec![0.5; 80];
    x[2 * 11] = f32::NAN; // sample 11: in the second batch of 8 (no shuffling)
    let d = Dataset::new(x, &[2], vec![1.0; 40], &[1]).unwrap();
    let model = || {
        let mut m = Sequential::new([2]).add(Dense::new(1)).build(0).unwrap();
        m.compile(Sgd::new(0.01), Loss::MeanSquaredError, &[])
            .unwrap();
        m
    };
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("log.csv");
    let (ends, batches) = (Rc::new(RefCell::new(Vec::new())), Rc::new(RefCell::new(0)));
    let (e2, b2) = (ends.clone(), batches.clone());
    let fit = || {
        Fit::new()
            .epochs(3)
            .batch_size(8)
            .shuffle(false)
            .validation_split(0.2)
            .verbose(0)
    };
    let h = model()
        .fit(
            &d,
            fit()
                .callback(TerminateOnNaN::default())
                .callback(CsvLogger::new(&csv))
                .callback(
                    LambdaCallback::new()
                        .on_epoch_end(move |e, logs| e2.borrow_mut().push((e, logs.get("loss"))))
                        .on_batch_end(move |_, _| *b2.borrow_mut() += 1),
                ),
        )
        .unwrap();
    assert_eq!(h.epochs.len(), 1, "one epoch, ended early");
    assert_eq!(*batches.borrow(), 2, "stopped after the NaN batch");
    assert!(h.get("loss")[0].is_nan(), "the epoch's loss reads NaN");
    assert!(
        h.last().unwrap().get("val_loss").is_some(),
        "validation ran"
    );
    let ends = ends.borrow();
    assert_eq!(ends.len(), 1);
    assert!(ends[0].0 == 1 && ends[0].1.is_some_and(f64::is_nan));
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), h.to_csv());
    let err = model().fit(&d, fit()).unwrap_err().to_string();
    assert!(err.contains("epoch 1") && err.contains("step 2"), "{err}");
}

#[test]
fn csv_logger_and_lambda_callback_see_every_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.csv");
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s2 = seen.clone();
    let batches = Rc::new(RefCell::new(0));
    let b2 = batches.clone();
    let mut m = mlp(5);
    let h = m
        .fit(
            &data(),
            Fit::new()
                .epochs(2)
                .verbose(0)
                .callback(CsvLogger::new(&path))
                .callback(
                    LambdaCallback::new()
                        .on_epoch_end(move |e, logs| {
                            s2.borrow_mut().push((e, logs.get("loss").unwrap()))
                        })
                        .on_batch_end(move |_, _| *b2.borrow_mut() += 1),
                ),
        )
        .unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), h.to_csv());
    assert_eq!(
        *seen.borrow(),
        vec![(1, h.get("loss")[0]), (2, h.get("loss")[1])]
    );
    assert_eq!(*batches.borrow(), 2 * 20);
}

#[test]
fn regularization_is_part_of_the_loss_and_shown_separately() {
    let x = vec![0.5, -1.0, 2.0, 0.0];
    let d = Dataset::new(x, &[2], vec![1.0, 0.0], &[1]).unwrap();
    let mut m = Sequential::new([2])
        .add(
            Dense::new(1)
                .kernel_regularizer(Regularizer::L2 { l2: 0.1 })
                .bias_regularizer(Regularizer::L1 { l1: 0.2 }),
        )
        .build(0)
        .unwrap();
    m.compile(Sgd::new(0.0), Loss::MeanSquaredError, &[])
        .unwrap(); // lr 0: weights stay put
    let w = weights(&m);
    let want_reg =
        0.1 * w[0].iter().map(|v| (v * v) as f64).sum::<f64>() + 0.2 * w[1][0].abs() as f64;
    let h = m.fit(&d, Fit::new().batch_size(2).verbose(0)).unwrap();
    let reg = h.get("regularization_loss")[0];
    assert!((reg - want_reg).abs() < 1e-6, "{reg} vs {want_reg}");
    let data_loss = m.evaluate(&d).unwrap().get("loss").unwrap(); // includes the weight penalty
    assert!((h.get("loss")[0] - data_loss).abs() < 1e-6);
    // the penalty's gradient moves the weights: with lr > 0 and zero data gradient (targets
    // equal to predictions) the L2 term alone shrinks the kernel
    let mut m2 = Sequential::new([2])
        .add(
            Dense::new(1)
                .use_bias(false)
                .kernel_regularizer(Regularizer::L2 { l2: 0.5 }),
        )
        .build(0)
        .unwrap();
    m2.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])
        .unwrap();
    let k0 = weights(&m2)[0].clone();
    let preds = m2
        .predict(&Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.0], &[2, 2]))
        .unwrap();
    let d2 = Dataset::new(vec![0.5, -1.0, 2.0, 0.0], &[2], preds.to_vec(), &[1]).unwrap();
    m2.fit(&d2, Fit::new().batch_size(2).shuffle(false).verbose(0))
        .unwrap();
    let k1 = weights(&m2)[0].clone();
    for (a, b) in k0.iter().zip(&k1) {
        assert!((b - a * (1.0 - 0.1 * 2.0 * 0.5)).abs() < 1e-6, "{a} -> {b}"); // w -= lr · 2 · l2 · w
    }
}

#[test]
fn resume_gives_the_same_history_as_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck.safetensors");
    let callbacks = || EarlyStopping::new("loss", 5);
    let mut straight = mlp(6);
    let full = straight
        .fit(
            &data(),
            Fit::new().epochs(3).verbose(0).callback(callbacks()),
        )
        .unwrap();

    let mut first = mlp(6);
    first
        .fit(
            &data(),
            Fit::new()
                .epochs(1)
                .verbose(0)
                .callback(callbacks())
                .checkpoint(&ck),
        )
        .unwrap();
    let (mut resumed, r) = nabla::train::resume(&ck).unwrap();
    assert_eq!(r.epoch, 1);
    let rest = resumed
        .fit(
            &data(),
            Fit::new()
                .epochs(3)
                .verbose(0)
                .callback(callbacks())
                .resume(r),
        )
        .unwrap();
    assert_eq!(rest, full, "identical history rows");
    assert_eq!(weights(&resumed), weights(&straight), "identical weights");
}

#[test]
fn resume_is_exact_with_schedules_and_restore_best_weights() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck.safetensors");
    let sched = || {
        Schedule::new(ScheduleKind::Step {
            step_size: 1,
            gamma: 0.5,
        })
    };
    let cbs = |f: Fit<'static>| {
        let mut es = EarlyStopping::new("loss", 10).restore_best_weights(true);
        es.mode = nabla::train::callbacks::Mode::Max;
        f.callback(LearningRateScheduler::from_schedule(sched()))
            .callback(es)
    };
    let mut straight = mlp(8);
    let full = straight
        .fit(&data(), cbs(Fit::new().epochs(4).verbose(0)))
        .unwrap();
    let mut first = mlp(8);
    first
        .fit(
            &data(),
            cbs(Fit::new().epochs(2).verbose(0)).checkpoint(&ck),
        )
        .unwrap();
    let (mut resumed, r) = nabla::train::resume(&ck).unwrap();
    assert_eq!(
        r.callbacks[1].tensors.len(),
        4,
        "early stopping's best weights travel as tensors"
    );
    let rest = resumed
        .fit(
            &data(),
            cbs(Fit::new().epochs(4).verbose(0)).resume(r.clone()),
        )
        .unwrap();
    assert_eq!(rest, full);
    assert_eq!(weights(&resumed), weights(&straight));
    let lr = full.get("learning_rate");
    assert!((lr[3] - 1e-3 * 0.125).abs() < 1e-9, "{lr:?}");
    // other callbacks than the checkpoint's: an error, not a silent mix-up
    let (mut again, r2) = nabla::train::resume(&ck).unwrap();
    let e = again
        .fit(
            &data(),
            Fit::new()
                .epochs(4)
                .verbose(0)
                .callback(TerminateOnNaN::default())
                .resume(r2),
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("learning_rate_scheduler, early_stopping"),
        "{e}"
    );
}

#[test]
fn misuse_is_an_error_not_a_surprise() {
    let (train, test) = nabla::datasets::mnist().unwrap();
    let small = train.slice(0..64);
    // a compiled schedule would undo ReduceLROnPlateau
    let mut m = mlp(9);
    let mut cfg = m.compile_config().unwrap();
    cfg.lr_schedule = Some(Schedule::new(ScheduleKind::Constant));
    m.compile_from_config(&cfg).unwrap();
    let e = m
        .fit(
            &small,
            Fit::new()
                .verbose(0)
                .callback(ReduceLrOnPlateau::new("loss", 0.5, 1)),
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("reduce_lr_on_plateau") && e.to_string().contains("lr_schedule"),
        "{e}"
    );
    // validation_data overrides validation_split, as in Keras
    let mut m = mlp(9);
    let h = m
        .fit(
            &small,
            Fit::new()
                .verbose(0)
                .validation_split(0.5)
                .validation_data(&test),
        )
        .unwrap();
    let mut m2 = mlp(9);
    let h2 = m2
        .fit(&small, Fit::new().verbose(0).validation_data(&test))
        .unwrap();
    assert_eq!(h, h2);
    // a split that holds out nothing
    let e = mlp(9)
        .fit(
            &train.slice(0..40),
            Fit::new().verbose(0).validation_split(0.01),
        )
        .unwrap_err();
    assert!(e.to_string().contains("holds out none"), "{e}");
    // a metric that cannot read the targets
    let mut m = mlp(9);
    m.compile(
        Adam::default(),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::CategoricalAccuracy],
    )
    .unwrap();
    let e = m.fit(&small, Fit::new().verbose(0)).unwrap_err();
    assert!(
        e.to_string().contains("categorical_accuracy") && e.to_string().contains("one-hot"),
        "{e}"
    );
}

#[test]
fn cross_entropies_average_over_positions_for_sequence_outputs() {
    let mut rng = nabla::core::Rng::new(3);
    let logits = Tensor::from_vec((0..24).map(|_| rng.normal()).collect(), &[2, 3, 4]);
    let labels = Tensor::from_vec(vec![0.0, 3.0, 1.0, 2.0, 2.0, 0.0], &[2, 3]);
    let flat = Tensor::from_vec(logits.to_vec(), &[6, 4]);
    let flat_labels = Tensor::from_vec(labels.to_vec(), &[6]);
    let spec = Loss::SparseCategoricalCrossentropy
        .from_logits()
        .label_smoothing(0.1);
    let a = spec.compute(&logits, &labels).item();
    let b = spec.compute(&flat, &flat_labels).item();
    assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    assert_eq!(spec.per_sample(&logits, &labels).shape(), &[2]);
    assert!(spec.check_targets(labels.data(), &[3], &[3, 4]).is_ok());
    assert!(spec.check_targets(labels.data(), &[], &[3, 4]).is_err());
}

/// serde_json's default parser is fast and off by one ulp for about one float in ten
/// (1.6163328681580267 came back as 1.616332868158027): the checkpoint's history and
/// callback states must come back bit for bit.
#[test]
fn a_checkpoint_gives_its_floats_back_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.safetensors");
    let mut m = Sequential::new([2]).add(Dense::new(1)).build(1).unwrap();
    m.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])
        .unwrap();
    let mut rng = Rng::new(3);
    let values: Vec<f64> = (0..1000)
        .map(|_| rng.normal() as f64 * std::f64::consts::PI)
        .chain([1.6163328681580267, 0.11841684125979945])
        .collect();
    m.save_checkpoint(&path, serde_json::json!({ "values": values }), Vec::new())
        .unwrap();
    let (_, json, _) = Model::load_checkpoint(&path).unwrap();
    let back: Vec<f64> = serde_json::from_value(json["values"].clone()).unwrap();
    let differ = values
        .iter()
        .zip(&back)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(differ, 0, "{differ} of {} floats changed", values.len());
}

/// SGD at lr 1e6: the loss reaches 1e25 without ever being NaN. It used to end "successfully"
/// with a useless model; now `fit` stops with an error that says it diverged.
#[test]
fn a_diverging_run_stops_with_an_error() {
    let (train, _) = nabla::datasets::mnist().unwrap();
    let train = train.slice(0..1024);
    let mut m = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(32).activation(Activation::Relu))
        .add(Dense::new(10).activation(Activation::Softmax))
        .build(1)
        .unwrap();
    m.compile(Sgd::new(1e6), Loss::SparseCategoricalCrossentropy, &[])
        .unwrap();
    let e = m
        .fit(&train, Fit::new().epochs(3).batch_size(32).verbose(0))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("diverged") && e.contains("at the first step"),
        "{e}"
    );
    // an ordinary run is not mistaken for one
    let mut m = mlp(3);
    m.fit(&data(), Fit::new().epochs(3).verbose(0)).unwrap();
}
