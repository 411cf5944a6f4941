//! The thread pool: rayon's global pool, sized once from `NABLA_NUM_THREADS` (default: all
//! cores). rayon's workers sleep when idle (no busy-waiting beyond a short spin), so a second
//! process on the machine slows us down gracefully instead of collapsing training.
//!
//! Built from the program's main thread, the pool takes that thread as its worker 0: a
//! kernel called there splits its work in place instead of handing it to a sleeping worker
//! and sleeping until the result comes back (two thread wake-ups per kernel, a few hundred
//! kernels per transformer step: W4 ran ~10% faster this way). Built from any other thread
//! (a test's), the pool has its own workers only, since that thread may end before the pool.
//!
//! A kernel that calls rayon directly must call [`num_threads`] first (or go through
//! [`share`] / `buffer.rs`, which do): otherwise rayon builds its default pool and
//! `NABLA_NUM_THREADS` is ignored.

use std::sync::OnceLock;

static THREADS: OnceLock<usize> = OnceLock::new();

/// The number of worker threads kernels may use (builds the pool on first call).
pub fn num_threads() -> usize {
    *THREADS.get_or_init(|| {
        let wanted = std::env::var("NABLA_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            });
        // Fails only if a pool was already built (by the user); then we use that one.
        let mut b = rayon::ThreadPoolBuilder::new().num_threads(wanted);
        // (with one thread only, a spawned worker is kept, so that kernels called from
        // another thread while `main` waits for it still run)
        if wanted > 1 && std::thread::current().name() == Some("main") {
            b = b.use_current_thread();
        }
        let _ = b.build_global();
        rayon::current_num_threads()
    })
}

/// `(a(), b())`, side by side on two workers when `parallel` (else one after the other).
pub fn join_if<A: Send, B: Send>(
    parallel: bool,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if parallel && num_threads() > 1 {
        rayon::join(a, b)
    } else {
        (a(), b())
    }
}

/// The length of each worker's share of `len` elements, a multiple of `align` (16 at least,
/// so vector loops keep the same lanes whatever the thread count); `None` when one thread
/// should do it all (one worker, or fewer than `min_len` elements).
pub fn share(len: usize, min_len: usize, align: usize) -> Option<usize> {
    let threads = num_threads();
    let align = align.max(1).next_multiple_of(16);
    (threads > 1 && len >= min_len).then(|| len.div_ceil(threads).div_ceil(align) * align)
}
