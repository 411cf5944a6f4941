//! Runtime CPU dispatch for element-wise loops. A portable binary is compiled for baseline
//! x86-64 (SSE2); `multiversion!` compiles a loop body again with AVX-512 and with AVX2+FMA
//! enabled and picks the best at run time, so the compiler's auto-vectoriser uses wide
//! registers. Only the instruction set changes, never the arithmetic (no fast-math, no
//! contraction into FMA), so every version gives bit-identical results.

/// Defines `pub fn $name(args)` whose body is compiled for AVX-512, AVX2+FMA and the
/// baseline, dispatched at run time (the check is a cached atomic load).
#[macro_export]
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn v512($($arg: $ty),*) $body
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v256($($arg: $ty),*) $body
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports AVX-512F (checked just above).
                    return unsafe { v512($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                    return unsafe { v256($($arg),*) };
                }
            }
            fn base($($arg: $ty),*) $body
            base($($arg),*)
        }
    };
}

/// Splits `0..n` into one contiguous range per worker thread when `n >= min_parallel`
/// (otherwise runs `f(0..n)` on the calling thread). Each range starts at a multiple of 16,
/// so vector loops stay aligned to the same lanes whatever the thread count.
pub fn for_ranges(n: usize, min_parallel: usize, f: impl Fn(std::ops::Range<usize>) + Sync) {
    let Some(chunk) = super::threads::share(n, min_parallel, 16) else {
        f(0..n);
        return;
    };
    rayon::scope(|s| {
        let f = &f;
        for start in (chunk..n).step_by(chunk) {
            s.spawn(move |_| f(start..(start + chunk).min(n)));
        }
        f(0..chunk.min(n));
    });
}
