//! Data-parallel `fit` over a communicator of threads (the MPI one is tested by
//! `scripts/test_mpi.sh` under `mpirun -np 2`): the same numbers as one process with the whole
//! batch, identical weights on every process, every process joining every collective.

mod common;

use common::weights;
use nabla::prelude::*;
use nabla::train::Communicator;
use std::sync::{Arc, Barrier, Mutex};

/// Processes as threads: every collective puts each member's buffer in its slot, waits for
/// all, and reads them in rank order (so every member gets the same bits).
struct Group {
    barrier: Barrier,
    slots: Mutex<Vec<Vec<f64>>>,
}

struct Member {
    rank: usize,
    group: Arc<Group>,
}

fn group(size: usize) -> Vec<Arc<dyn Communicator>> {
    let g = Arc::new(Group {
        barrier: Barrier::new(size),
        slots: Mutex::new(vec![Vec::new(); size]),
    });
    (0..size)
        .map(|rank| {
            Arc::new(Member {
                rank,
                group: g.clone(),
            }) as Arc<dyn Communicator>
        })
        .collect()
}

impl Member {
    /// Every member's buffer, in rank order.
    fn exchange(&self, mine: Vec<f64>) -> Vec<Vec<f64>> {
        self.group.slots.lock().unwrap()[self.rank] = mine;
        self.group.barrier.wait();
        let all = self.group.slots.lock().unwrap().clone();
        self.group.barrier.wait();
        all
    }

    fn sum(&self, mine: Vec<f64>) -> Vec<f64> {
        let all = self.exchange(mine);
        let mut acc = all[0].clone();
        for v in &all[1..] {
            assert_eq!(
                v.len(),
                acc.len(),
                "a collective with buffers of different lengths"
            );
            acc.iter_mut().zip(v).for_each(|(a, b)| *a += b);
        }
        acc
    }
}

impl Communicator for Member {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.group.slots.lock().unwrap().len()
    }
    fn all_reduce_f32(&self, buf: &mut [f32]) {
        let s = self.sum(buf.iter().map(|&v| v as f64).collect());
        buf.iter_mut().zip(s).for_each(|(b, v)| *b = v as f32);
    }
    fn all_reduce_f64(&self, buf: &mut [f64]) {
        let s = self.sum(buf.to_vec());
        buf.copy_from_slice(&s);
    }
    fn broadcast_f32(&self, buf: &mut [f32], root: usize) {
        let all = self.exchange(buf.iter().map(|&v| v as f64).collect());
        buf.iter_mut()
            .zip(&all[root])
            .for_each(|(b, v)| *b = *v as f32);
    }
}

fn data(n: usize) -> Dataset {
    let mut rng = Rng::new(5);
    let x: Vec<f32> = (0..n * 4).map(|_| rng.normal()).collect();
    let y: Vec<f32> = x
        .chunks(4)
        .map(|r| (r[0] - r[1] + 0.3 * r[2] > 0.0) as u8 as f32)
        .collect();
    Dataset::new(x, &[4], y, &[]).unwrap()
}

fn model(dropout: bool, seed: u64) -> Model {
    let mut s = Sequential::new([4]).add(Dense::new(16).activation(Activation::Tanh));
    if dropout {
        s = s.add(Dropout::new(0.3));
    }
    let mut m = s
        .add(Dense::new(2).activation(Activation::Softmax))
        .build(seed)
        .unwrap();
    m.compile(
        Adam::new(0.01),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy, Metric::Precision],
    )
    .unwrap();
    m
}

/// Runs `f` on `size` threads, each a member of one new group; the results in rank order.
fn on_threads<T: Send>(size: usize, f: impl Fn(Arc<dyn Communicator>) -> T + Sync) -> Vec<T> {
    let comms = group(size);
    std::thread::scope(|s| {
        let runs: Vec<_> = comms
            .into_iter()
            .map(|c| {
                let f = &f;
                s.spawn(move || f(c))
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    })
}

/// Trains on `size` threads; each member's history and weights, in rank order.
fn parallel(
    size: usize,
    fit: impl Fn() -> (Model, Fit<'static>) + Sync,
    data: &Dataset,
) -> Vec<(History, Vec<Vec<f32>>)> {
    on_threads(size, |c| {
        let (mut m, opts) = fit();
        let h = m.fit(data, opts.distributed(c)).unwrap();
        (h, weights(&m))
    })
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-3)
}

#[test]
fn two_processes_with_half_batches_log_what_one_process_logs() {
    let d = data(230); // 184 to train: the last batch of 32 holds 24, 12 each
    let opts = || {
        Fit::new()
            .epochs(3)
            .batch_size(32)
            .validation_split(0.2)
            .verbose(0)
    };
    let mut one = model(false, 7);
    let h1 = one.fit(&d, opts()).unwrap();
    let runs = parallel(2, || (model(false, 7), opts()), &d);
    let again = parallel(2, || (model(false, 7), opts()), &d);
    assert_eq!(runs[0].1, again[0].1, "two runs differ");
    assert_eq!(runs[0].1, runs[1].1, "the processes' weights differ");
    for (e, logs) in h1.epochs.iter().enumerate() {
        for (name, v) in &logs.0 {
            for (rank, (h, _)) in runs.iter().enumerate() {
                let got = h.epochs[e].get(name).unwrap();
                assert!(
                    close(*v, got, 1e-5),
                    "epoch {} {name}: one process {v}, rank {rank} {got}",
                    e + 1
                );
            }
        }
    }
    for (a, b) in weights(&one)
        .iter()
        .flatten()
        .zip(runs[0].1.iter().flatten())
    {
        assert!(close(*a as f64, *b as f64, 1e-4), "weights {a} vs {b}");
    }
}

#[test]
fn the_weights_of_rank_zero_reach_every_process() {
    let d = data(64);
    let runs = on_threads(2, |c| {
        // each process built with its own seed
        let mut m = model(false, 10 + c.rank() as u64);
        let fit = Fit::new().epochs(1).batch_size(16).verbose(0);
        m.fit(&d, fit.distributed(c)).unwrap();
        weights(&m)
    });
    assert_eq!(runs[0], runs[1]);
    let mut alone = model(false, 10);
    alone
        .fit(&d, Fit::new().epochs(1).batch_size(16).verbose(0))
        .unwrap();
    for (a, b) in weights(&alone)
        .iter()
        .flatten()
        .zip(runs[0].iter().flatten())
    {
        assert!(close(*a as f64, *b as f64, 1e-4), "weights {a} vs {b}");
    }
}

#[test]
fn a_process_with_an_empty_slice_still_joins_every_step() {
    // 33 samples in batches of 16: the last batch holds 1, so rank 1's slice is empty; with
    // accumulation over 2 micro-batches
    let d = data(33);
    let opts = || Fit::new().epochs(2).batch_size(16).accumulate(2).verbose(0);
    let runs = parallel(2, || (model(false, 3), opts()), &d);
    assert_eq!(runs[0].1, runs[1].1);
    let mut one = model(false, 3);
    let h1 = one.fit(&d, opts()).unwrap();
    let (a, b) = (h1.epochs[1].get("loss"), runs[1].0.epochs[1].get("loss"));
    assert!(close(a.unwrap(), b.unwrap(), 1e-5), "{a:?} vs {b:?}");
}

#[test]
fn dropout_draws_differently_per_process_and_reproducibly() {
    let d = data(128);
    let opts = || Fit::new().epochs(2).batch_size(32).verbose(0);
    let a = parallel(2, || (model(true, 4), opts()), &d);
    let b = parallel(2, || (model(true, 4), opts()), &d);
    assert_eq!(a[0].1, a[1].1, "the processes' weights differ");
    assert_eq!(a[0].1, b[0].1, "two runs with 2 processes differ");
    // one process draws its masks from the shared stream, the ranks from their own
    let mut one = model(true, 4);
    one.fit(&d, opts()).unwrap();
    assert_ne!(weights(&one), a[0].1);
}

fn bn_model(seed: u64) -> Model {
    // no bias before batch norm: its gradient is zero but for rounding, which Adam would turn
    // into steps that differ with any change of summation order
    let mut m = Sequential::new([4])
        .add(Dense::new(16).use_bias(false))
        .add(BatchNorm::new())
        .add(Dense::new(2).activation(Activation::Softmax))
        .build(seed)
        .unwrap();
    m.compile(Adam::new(0.01), Loss::SparseCategoricalCrossentropy, &[])
        .unwrap();
    m
}

#[test]
fn synchronised_batch_norm_trains_as_one_process() {
    let d = data(230);
    let opts = |sync: bool| {
        Fit::new()
            .epochs(3)
            .batch_size(32)
            .validation_split(0.2)
            .sync_batch_norm(sync)
            .verbose(0)
    };
    let mut one = bn_model(9);
    let h1 = one.fit(&d, opts(false)).unwrap();
    let synced = parallel(2, || (bn_model(9), opts(true)), &d);
    let apart = parallel(2, || (bn_model(9), opts(false)), &d);
    assert_eq!(synced[0].1, synced[1].1, "the processes' weights differ");
    let mut apart_gap: f64 = 0.0;
    for e in 0..3 {
        for name in ["loss", "val_loss"] {
            let a = h1.epochs[e].get(name).unwrap();
            let b = synced[0].0.epochs[e].get(name).unwrap();
            assert!(
                close(a, b, 1e-5),
                "epoch {} {name}: one process {a}, synchronised {b}",
                e + 1
            );
            let c = apart[0].0.epochs[e].get(name).unwrap();
            apart_gap = apart_gap.max((a - c).abs() / a);
        }
    }
    // per-process statistics are another computation: the option is what makes the difference
    assert!(
        apart_gap > 1e-4,
        "per-process statistics gave the same losses ({apart_gap})"
    );
    // the running statistics too: the saved model predicts as the one-process model
    for (a, b) in weights(&one)
        .iter()
        .flatten()
        .zip(synced[0].1.iter().flatten())
    {
        assert!(close(*a as f64, *b as f64, 1e-4), "weights {a} vs {b}");
    }
}

#[test]
fn synchronised_batch_norm_refuses_batches_with_an_empty_slice() {
    let d = data(33); // a last batch of 1 for 2 processes
    let errors = on_threads(2, |c| {
        let fit = Fit::new().batch_size(16).sync_batch_norm(true).verbose(0);
        bn_model(1)
            .fit(&d, fit.distributed(c))
            .unwrap_err()
            .to_string()
    });
    assert!(
        errors[0].contains("sync_batch_norm") && errors[0].contains("last batch of 1"),
        "{}",
        errors[0]
    );
}

/// Synchronised batch norm's gradient against finite differences of the loss of the whole
/// step, with slices of unequal size (3 and 2 samples): process r's loss is the mean over its
/// rows, and the step's is `Σ n_r L_r / Σ n_r`, which the all-reduce of the gradients
/// computes as `Σ n_r g_r / Σ n_r`.
#[test]
fn synchronised_batch_norm_gradient_matches_finite_differences() {
    let rows = [3usize, 2];
    let x0: Vec<Vec<f32>> = {
        let mut rng = Rng::new(11);
        rows.iter()
            .map(|&n| (0..n * 2).map(|_| rng.normal()).collect())
            .collect()
    };
    let w: Vec<f32> = vec![0.7, -1.3];
    let gamma = Tensor::from_vec(vec![1.2, 0.8], &[2]);
    let beta = Tensor::from_vec(vec![0.1, -0.2], &[2]);
    // every process's (n_r · L_r, dL_r/dx_r) for inputs `xs`
    let step = |xs: &[Vec<f32>]| -> Vec<(f64, Vec<f32>)> {
        on_threads(2, |c| {
            let n = rows[c.rank()];
            let x = Tensor::from_vec(xs[c.rank()].clone(), &[n, 2]).requires_grad(true);
            let (y, ..) = x.batch_norm_sync(&gamma, &beta, 1e-5, Some(c));
            let wt = Tensor::from_vec(w.repeat(n), &[n, 2]);
            let l = y.mul(&wt).sum().scale(1.0 / n as f32);
            let g = l.backward();
            (l.item() as f64 * n as f64, g.get(&x).unwrap().to_vec())
        })
    };
    let total = rows.iter().sum::<usize>() as f64;
    let loss = |xs: &[Vec<f32>]| step(xs).iter().map(|(l, _)| l).sum::<f64>() / total;
    let analytic = step(&x0);
    let h = 1e-2;
    for r in 0..2 {
        for i in 0..x0[r].len() {
            let mut up = x0.clone();
            up[r][i] += h;
            let mut down = x0.clone();
            down[r][i] -= h;
            let numeric = (loss(&up) - loss(&down)) / (2.0 * h as f64);
            // the step's gradient: this process's, weighted n_r / Σ n by the all-reduce
            let got = analytic[r].1[i] as f64 * rows[r] as f64 / total;
            assert!(
                (numeric - got).abs() < 2e-3 * numeric.abs().max(0.1),
                "process {r} x[{i}]: finite differences {numeric}, backward {got}"
            );
        }
    }
}
