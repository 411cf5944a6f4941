//! The seams of training: a gradient hook between backward and the optimiser step, a
//! user's own `train_step`, and a model shared by threads.

use nabla::nn::{GradientHook, Param};
use nabla::prelude::*;
use nabla::train::{Batch, StandardStep, StepLogs, TrainStep};
use std::sync::{Arc, Mutex};

fn data() -> Dataset {
    let mut rng = Rng::new(5);
    let x: Vec<f32> = (0..256).map(|_| rng.normal()).collect();
    let y: Vec<f32> = x
        .chunks(4)
        .map(|r| (r[0] - r[1] > 0.0) as u8 as f32)
        .collect();
    Dataset::new(x, &[4], y, &[]).unwrap()
}

fn model() -> Model {
    let mut m = Sequential::new([4])
        .add(Dense::new(8).activation(Activation::Tanh))
        .add(Dense::new(2).activation(Activation::Softmax))
        .build(3)
        .unwrap();
    m.compile(
        Sgd::new(0.1),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )
    .unwrap();
    m
}

/// Zeroes the gradients of the weights whose names start with `frozen` (a pruning mask's
/// shape of work) and records the largest gradient it saw.
struct Mask {
    frozen: &'static str,
    largest: Arc<Mutex<f32>>,
}

impl GradientHook for Mask {
    fn name(&self) -> &str {
        "mask"
    }
    fn apply(&mut self, grads: &mut Gradients, params: &[(String, &Param)]) {
        let all: Vec<u64> = params.iter().map(|(_, p)| p.value.id()).collect();
        grads.map_each(&all, |g| {
            let m = g.iter().fold(0f32, |m, v| m.max(v.abs()));
            let mut l = self.largest.lock().unwrap();
            *l = l.max(m);
        });
        let masked: Vec<u64> = params
            .iter()
            .filter(|(n, _)| n.starts_with(self.frozen))
            .map(|(_, p)| p.value.id())
            .collect();
        grads.map_each(&masked, |g| g.iter_mut().for_each(|v| *v = 0.0));
    }
}

#[test]
fn a_gradient_hook_runs_after_clipping_and_before_the_step() {
    let mut m = model();
    m.compiled_mut().unwrap().clipping = nabla::nn::Clipping::value(1e-3);
    let largest = Arc::new(Mutex::new(0.0));
    m.add_gradient_hook(Mask {
        frozen: "dense.",
        largest: largest.clone(),
    })
    .unwrap();
    let before: Vec<Vec<f32>> = m
        .named_params()
        .iter()
        .map(|(_, p)| p.value.to_vec())
        .collect();
    m.fit(&data(), Fit::new().epochs(1).batch_size(16).verbose(0))
        .unwrap();
    let after: Vec<(String, Vec<f32>)> = m
        .named_params()
        .iter()
        .map(|(n, p)| (n.clone(), p.value.to_vec()))
        .collect();
    for ((name, a), b) in after.iter().zip(&before) {
        assert_eq!(
            name.starts_with("dense."),
            a == b,
            "{name}: masked weights stay, others move"
        );
    }
    // the hook saw clipped gradients
    let l = *largest.lock().unwrap();
    assert!(l > 0.0 && l <= 1e-3, "largest gradient seen {l}");
}

/// A step of one's own: the standard step on the batch, and a count of the samples seen.
struct Counting {
    samples: usize,
}

impl TrainStep for Counting {
    fn train_step(&mut self, model: &mut Model, batch: &Batch) -> nabla::train::Result<StepLogs> {
        self.samples += batch.len();
        StandardStep.train_step(model, batch)
    }
}

#[test]
fn a_custom_train_step_drives_fit_with_the_same_numbers() {
    let (mut a, mut b) = (model(), model());
    let fit = || Fit::new().epochs(2).batch_size(16).verbose(0);
    let ha = a.fit(&data(), fit()).unwrap();
    let mut step = Counting { samples: 0 };
    let hb = b.fit(&data(), fit().train_step(&mut step)).unwrap();
    assert_eq!(ha, hb);
    assert_eq!(step.samples, 2 * 64);
}

impl TrainStep for &mut Counting {
    fn train_step(&mut self, model: &mut Model, batch: &Batch) -> nabla::train::Result<StepLogs> {
        (**self).train_step(model, batch)
    }
}

#[test]
fn one_model_serves_many_threads() {
    fn shareable<T: Send + Sync>(_: &T) {}
    let mut m = model();
    m.fit(&data(), Fit::new().epochs(1).verbose(0)).unwrap();
    shareable(&m);
    let x = data().batch(&(0..64).collect::<Vec<_>>()).0;
    let alone = m.predict(&x).unwrap().to_vec();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| m.predict(&x).unwrap().to_vec()))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), alone);
        }
    });
}
