//! Data-parallel training over MPI, run by `scripts/test_mpi.sh` as
//! `mpirun -np 2 <this test> --ignored`: 2 processes with 64 samples each per step log the
//! losses of 1 process with batches of 128, to 1e-5 relative, and end with bit-identical
//! weights (W2's CNN, which has no dropout).
#![cfg(feature = "mpi")]

use nabla_data::Dataset;
use nabla_nn::{Activation, Adam, Conv2d, Dense, Flatten, Loss, Metric, Model, Pool2d, Sequential};
use nabla_train::{Fit, Training};

fn w2() -> Model {
    let relu = Activation::Relu;
    let mut m = Sequential::new([1, 28, 28])
        .add(Conv2d::new(32, 3).activation(relu))
        .add(Pool2d::max(2))
        .add(Conv2d::new(64, 3).activation(relu))
        .add(Pool2d::max(2))
        .add(Conv2d::new(64, 3).activation(relu))
        .add(Flatten::new())
        .add(Dense::new(64).activation(relu))
        .add(Dense::new(10).activation(Activation::Softmax))
        .build(42)
        .unwrap();
    m.compile(
        Adam::new(1e-3),
        Loss::CategoricalCrossentropy,
        &[Metric::Accuracy],
    )
    .unwrap();
    m
}

fn weights(m: &Model) -> Vec<f32> {
    m.named_params()
        .iter()
        .flat_map(|(_, p)| p.value.to_vec())
        .collect()
}

#[test]
#[ignore = "needs mpirun -np 2: scripts/test_mpi.sh runs it"]
fn two_processes_of_batch_64_train_as_one_of_batch_128() {
    let world = nabla_dist::world()
        .unwrap()
        .expect("started by mpirun -np 2 (scripts/test_mpi.sh)");
    assert_eq!(world.size(), 2, "expected mpirun -np 2");
    let (train, test) = nabla_data::mnist().unwrap();
    let prep = |d: Dataset| d.with_x_shape(&[1, 28, 28]).unwrap().one_hot(10).unwrap();
    let (train, test) = (prep(train), prep(test));
    // the last global batch of 8000 % 128 = 64 samples: 32 per process. One epoch: after
    // it, rounding differences (a sum over 128 samples against two over 64) grow through
    // Adam as any change of summation order does (1 thread against 2 in one process: 3e-5
    // after epoch 1, 5e-4 after epoch 2), past 1e-5 in the second epoch.
    let opts = || {
        Fit::new()
            .epochs(1)
            .batch_size(128)
            .validation_data(&test)
            .verbose(0)
    };

    let mut parallel = w2();
    let h2 = parallel
        .fit(&train, opts().distributed(world.clone()))
        .unwrap();
    let mine = weights(&parallel);
    let mut rank0 = mine.clone();
    world.broadcast_f32(&mut rank0, 0);
    let mut differ = [mine
        .iter()
        .zip(&rank0)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count() as f64];
    world.all_reduce_f64(&mut differ);
    assert_eq!(differ[0], 0.0, "weights that differ between the processes");

    // each process also trains alone, with the whole batch
    let mut alone = w2();
    let h1 = alone.fit(&train, opts()).unwrap();
    for (e, (one, two)) in h1.epochs.iter().zip(&h2.epochs).enumerate() {
        for name in ["loss", "val_loss"] {
            let (a, b) = (one.get(name).unwrap(), two.get(name).unwrap());
            assert!(
                (a - b).abs() <= 1e-5 * a.abs(),
                "epoch {} {name}: 1 process {a}, 2 processes {b} (rank {})",
                e + 1,
                world.rank()
            );
        }
    }
}
