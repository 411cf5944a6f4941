//! Data-parallel `fit` over a communicator of threads (the MPI one is tested by
//! `scripts/test_mpi.sh` under `mpirun -np 2`): the same numbers as one process with the whole
//! batch, identical weights on every process, every process joining every collective.

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

fn weights(m: &Model) -> Vec<Vec<f32>> {
    m.named_params()
        .iter()
        .map(|(_, p)| p.value.to_vec())
        .collect()
}

/// Trains on `size` threads; each member's history and weights, in rank order.
fn parallel(
    size: usize,
    fit: impl Fn() -> (Model, Fit<'static>) + Sync,
    data: &Dataset,
) -> Vec<(History, Vec<Vec<f32>>)> {
    let comms = group(size);
    std::thread::scope(|s| {
        let runs: Vec<_> = comms
            .into_iter()
            .map(|c| {
                let fit = &fit;
                s.spawn(move || {
                    let (mut m, opts) = fit();
                    let h = m.fit(data, opts.distributed(c)).unwrap();
                    (h, weights(&m))
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
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
    let comms = group(2);
    let runs: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = comms
            .into_iter()
            .map(|c| {
                let d = &d;
                s.spawn(move || {
                    // each process built with its own seed
                    let mut m = model(false, 10 + c.rank() as u64);
                    let fit = Fit::new().epochs(1).batch_size(16).verbose(0);
                    m.fit(d, fit.distributed(c)).unwrap();
                    weights(&m)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
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
