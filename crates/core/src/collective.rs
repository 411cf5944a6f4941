//! `Communicator`: the processes of a data-parallel run (MPI's world communicator, or any
//! other transport), as far as the tensors need them: synchronised batch norm reduces its
//! statistics through one inside the pass; training averages gradients through one.

/// The processes of a data-parallel run. Every call is a collective: all processes make the
/// same calls in the same order with buffers of the same length. A failed call ends the
/// process (MPI's default handler, `MPI_ERRORS_ARE_FATAL`); the launcher (`mpirun`, `srun`)
/// then stops the others.
pub trait Communicator: Send + Sync {
    /// This process's index, `0..size`.
    fn rank(&self) -> usize;
    /// How many processes take part.
    fn size(&self) -> usize;
    /// Replaces `buf` by its element-wise sum over all processes; every process gets the
    /// same bits.
    fn all_reduce_f32(&self, buf: &mut [f32]);
    /// [`Communicator::all_reduce_f32`] in double precision (statistics, losses, metrics).
    fn all_reduce_f64(&self, buf: &mut [f64]);
    /// Replaces `buf` by process `root`'s.
    fn broadcast_f32(&self, buf: &mut [f32], root: usize);
}
