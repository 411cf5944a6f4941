//! `MpiWorld`: MPI's world communicator as a [`Communicator`], through rsmpi.

use mpi::collective::SystemOperation;
use mpi::topology::{Communicator as _, SimpleCommunicator};
use mpi::traits::{CommunicatorCollectives, Root};
use mpi::Threading;
use nabla_train::{Communicator, Error, Result};
use std::sync::Mutex;

/// The processes of `MPI_COMM_WORLD`. Dropping it shuts MPI down (`MPI_Finalize`).
pub struct MpiWorld {
    comm: Mutex<SimpleCommunicator>,
    rank: usize,
    size: usize,
    // dropped last: MPI_Finalize after the communicator is released
    _universe: mpi::environment::Universe,
}

// SAFETY: MPI is initialised with MPI_THREAD_SERIALIZED, and every call goes through the
// mutex, so no two threads ever call MPI at once (the handle itself is an opaque pointer that
// any thread may pass to MPI under that level).
unsafe impl Send for MpiWorld {}
// SAFETY: as above; `&MpiWorld` reaches MPI only through the mutex.
unsafe impl Sync for MpiWorld {}

impl MpiWorld {
    /// Initialises MPI (once per process) and joins the world communicator.
    pub fn init() -> Result<MpiWorld> {
        let (universe, level) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| {
                Error::Input("MPI: expected to initialise it once per process, and it was already initialised".into())
            })?;
        if level < Threading::Serialized {
            return Err(Error::Input(format!(
                "MPI: expected a library with thread level MPI_THREAD_SERIALIZED or higher, received {level:?}"
            )));
        }
        let comm = universe.world();
        let (rank, size) = (comm.rank() as usize, comm.size() as usize);
        Ok(MpiWorld {
            comm: Mutex::new(comm),
            rank,
            size,
            _universe: universe,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&SimpleCommunicator) -> T) -> T {
        // a poisoned lock only means another thread panicked mid-call; MPI's state is MPI's
        f(&self.comm.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Communicator for MpiWorld {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_reduce_f32(&self, buf: &mut [f32]) {
        let send = buf.to_vec(); // rsmpi has no MPI_IN_PLACE; a copy costs little beside the reduce
        self.with(|c| c.all_reduce_into(&send[..], buf, SystemOperation::sum()));
    }

    fn all_reduce_f64(&self, buf: &mut [f64]) {
        let send = buf.to_vec();
        self.with(|c| c.all_reduce_into(&send[..], buf, SystemOperation::sum()));
    }

    fn broadcast_f32(&self, buf: &mut [f32], root: usize) {
        self.with(|c| c.process_at_rank(root as i32).broadcast_into(buf));
    }
}
