//! MPI for nabla's data-parallel training: [`world`] gives the processes an MPI launcher
//! (`mpirun -np N`, `mpiexec`, `srun`) started, as a
//! [`Communicator`](nabla_train::Communicator) for `Fit::distributed`. The MPI library comes
//! through the `mpi` crate (rsmpi) behind this crate's `mpi` feature, so that a build without
//! it needs no MPI installed.

#[cfg(feature = "mpi")]
mod mpi_world;
#[cfg(feature = "mpi")]
pub use mpi_world::MpiWorld;

use nabla_train::{Communicator, Result};
use std::sync::Arc;

/// The process count an MPI launcher announced to this process, if one started it: Open MPI
/// (`OMPI_COMM_WORLD_SIZE`), MPICH and Intel MPI (`PMI_SIZE`), PMIx launchers such as Slurm's
/// `srun --mpi=pmix` (`PMIX_SIZE`; Open MPI 5 sets it too).
pub fn launched_size() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"]
        .iter()
        .find_map(|k| std::env::var(k).ok()?.trim().parse().ok())
}

/// The processes of this run: `None` for a plain one-process run (not started by an MPI
/// launcher, or started as one process), else MPI's world communicator. Call it once per
/// process; MPI is shut down when the last clone of the returned communicator is dropped.
pub fn world() -> Result<Option<Arc<dyn Communicator>>> {
    match launched_size() {
        None | Some(0 | 1) => Ok(None),
        Some(n) => connect(n),
    }
}

#[cfg(feature = "mpi")]
fn connect(_: usize) -> Result<Option<Arc<dyn Communicator>>> {
    Ok(Some(Arc::new(MpiWorld::init()?)))
}

#[cfg(not(feature = "mpi"))]
fn connect(n: usize) -> Result<Option<Arc<dyn Communicator>>> {
    Err(nabla_train::Error::Input(format!(
        "data-parallel training: an MPI launcher started {n} processes, and this nabla was built without MPI (expected a build with the `mpi` feature: cargo install --path crates/cli --features mpi, after apt-get install openmpi-bin libopenmpi-dev libclang-dev)"
    )))
}
