//! Runtime CPU dispatch. A portable binary is compiled for baseline x86-64 (SSE2); the
//! kernels have versions for AVX-512 and for AVX2+FMA, and [`Isa::get`] says which one runs:
//! the widest this CPU has, or a narrower one asked for with `NABLA_CPU=avx512|avx2|generic`
//! (so every path can be tested and benchmarked on any machine).
//!
//! `multiversion!` compiles a loop body again with AVX-512 and with AVX2+FMA enabled, so the
//! compiler's auto-vectoriser uses wide registers. Only the instruction set changes, never
//! the arithmetic (no fast-math, no contraction into FMA), so every version gives
//! bit-identical results.

use std::sync::atomic::{AtomicU8, Ordering};

/// The instruction sets the kernels are written for, narrowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Plain Rust: any CPU (SSE2 on x86-64).
    Generic = 1,
    /// AVX2 with FMA: 8 lanes of f32 (x86-64 since 2013-2015).
    Avx2 = 2,
    /// AVX-512F (with AVX2 and FMA): 16 lanes.
    Avx512 = 3,
}

/// The path in use (`Isa as u8`; 0 until first asked).
static PATH: AtomicU8 = AtomicU8::new(0);

impl Isa {
    /// The widest path this CPU runs.
    pub fn detected() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 =
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
            if avx2 && std::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if avx2 {
                return Isa::Avx2;
            }
        }
        Isa::Generic
    }

    /// The path every kernel takes: [`Isa::detected`], capped by `NABLA_CPU` when set (read
    /// once; an unknown value is reported on stderr and ignored).
    #[inline]
    pub fn get() -> Isa {
        match PATH.load(Ordering::Relaxed) {
            1 => Isa::Generic,
            2 => Isa::Avx2,
            3 => Isa::Avx512,
            _ => {
                let cap = match std::env::var("NABLA_CPU") {
                    Ok(v) => Isa::parse(&v).unwrap_or_else(|| {
                        eprintln!(
                            "warning: NABLA_CPU: expected avx512, avx2 or generic, received {v:?}; using the CPU's widest path"
                        );
                        Isa::Avx512
                    }),
                    Err(_) => Isa::Avx512,
                };
                Isa::cap(cap)
            }
        }
    }

    /// Uses at most `isa` from now on (the narrower of it and [`Isa::detected`], which is
    /// returned): what `NABLA_CPU` does at start, for tests and benchmarks that compare
    /// paths in one process. Results differ between paths only by rounding.
    pub fn cap(isa: Isa) -> Isa {
        let path = isa.min(Isa::detected());
        PATH.store(path as u8, Ordering::Relaxed);
        path
    }

    /// `avx512`, `avx2` or `generic` (as `NABLA_CPU` spells them).
    pub fn parse(name: &str) -> Option<Isa> {
        match name.trim().to_ascii_lowercase().as_str() {
            "avx512" => Some(Isa::Avx512),
            "avx2" => Some(Isa::Avx2),
            "generic" => Some(Isa::Generic),
            _ => None,
        }
    }

    /// The name `NABLA_CPU` and the benchmarks' JSON use.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Generic => "generic",
        }
    }
}

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
                match $crate::cpu::simd::Isa::get() {
                    // SAFETY: `Isa::get` never exceeds what the CPU supports.
                    $crate::cpu::simd::Isa::Avx512 => return unsafe { v512($($arg),*) },
                    // SAFETY: as above (AVX2 and FMA).
                    $crate::cpu::simd::Isa::Avx2 => return unsafe { v256($($arg),*) },
                    $crate::cpu::simd::Isa::Generic => {}
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
