//! MPI for nabla's data-parallel training.
