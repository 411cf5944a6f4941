//! The thread pool: rayon's global pool, sized once from `NABLA_NUM_THREADS` (default: all
//! cores). rayon's workers sleep when idle (no busy-waiting beyond a few milliseconds), so a
//! second process on the machine slows us down gracefully instead of collapsing training.
//!
//! Built from the program's main thread, the pool takes that thread as its worker 0: a
//! kernel called there splits its work in place instead of handing it to a sleeping worker
//! and sleeping until the result comes back (two thread wake-ups per kernel, a few hundred
//! kernels per transformer step: W4 ran ~10% faster this way). Built from any other thread
//! (a test's), the pool has its own workers only, since that thread may end before the pool.
//!
//! Between kernels a worker keeps looking for work for a few milliseconds before rayon may
//! put it to sleep ([`keep_awake`]): on a virtual machine a sleeping worker takes 0.1-0.5 ms
//! to wake, and a training step's dozens of kernels each waited for it (OpenMP's threads,
//! PyTorch's, spin the same way before they sleep).
//!
//! A kernel that calls rayon directly must call [`num_threads`] first (or go through
//! [`share`] / `buffer.rs`, which do): otherwise rayon builds its default pool and
//! `NABLA_NUM_THREADS` is ignored.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

static THREADS: OnceLock<usize> = OnceLock::new();
/// Whether the pool runs on the main thread (then workers are kept awake between kernels).
static ON_MAIN: AtomicBool = AtomicBool::new(false);
/// How many workers are looking for work ([`keep_awake`]).
static KEEPING: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    /// Whether this thread runs [`keep_awake`] (lower on its stack).
    static KEEPS: Cell<bool> = const { Cell::new(false) };
}
/// How long a kept worker looks for work without finding any before it lets rayon take over.
const KEEP_FOR: Duration = Duration::from_millis(5);

/// The number of worker threads kernels may use (builds the pool on first call).
pub fn num_threads() -> usize {
    let n = *THREADS.get_or_init(|| {
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
        if b.build_global().is_ok() && rayon::current_thread_index() == Some(0) {
            ON_MAIN.store(true, Ordering::Relaxed);
        }
        rayon::current_num_threads()
    });
    if ON_MAIN.load(Ordering::Relaxed) && KEEPING.load(Ordering::Relaxed) < n - 1 {
        for _ in KEEPING.swap(n - 1, Ordering::Relaxed)..n - 1 {
            rayon::spawn(keep_awake);
        }
    }
    n
}

/// Runs on a worker: takes the other workers' jobs as soon as they are offered (rayon's own
/// loop would put it to sleep after ~60 µs idle) until none came for [`KEEP_FOR`]; the next
/// kernel starts it again. Picked up by the main thread or by a worker that already keeps
/// looking, it does nothing.
fn keep_awake() {
    if rayon::current_thread_index() != Some(0) && !KEEPS.replace(true) {
        let mut last = Instant::now();
        loop {
            match rayon::yield_now() {
                Some(rayon::Yield::Executed) => last = Instant::now(),
                _ if last.elapsed() > KEEP_FOR => break,
                _ => std::hint::spin_loop(),
            }
        }
        KEEPS.set(false);
    }
    KEEPING.fetch_sub(1, Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_worker_runs_offered_work_then_stops() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        KEEPING.fetch_add(1, Ordering::Relaxed);
        pool.spawn(keep_awake);
        // joins (split between the workers or not) still finish with the right results
        let sums: Vec<u64> = (0..200u64)
            .map(|k| pool.install(|| rayon::join(|| k * 2, || k + 1)))
            .map(|(a, b)| a + b)
            .collect();
        assert_eq!(sums.iter().sum::<u64>(), (0..200).map(|k| 3 * k + 1).sum());
        // and with nothing more offered the worker lets go within KEEP_FOR (plus slack)
        let start = Instant::now();
        while KEEPING.load(Ordering::Relaxed) > 0 {
            assert!(start.elapsed() < 40 * KEEP_FOR, "the worker kept looking");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
