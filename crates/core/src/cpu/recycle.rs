//! The buffer cache: large f32 buffers freed by a training step (activations, gradients) are
//! kept and handed out again by [`scratch`], because the next step asks for the same sizes.
//! Without it each step gets fresh memory from the allocator, which the kernel must zero
//! (page faults) or `calloc` must clear — a pass over every activation that a kernel then
//! overwrites anyway (W4 spent ~5% of its time there).
//!
//! Only buffers of at least [`MIN_LEN`] elements are kept, at most 512 of them and 1 GiB in
//! all per element type; the oldest go first, and [`release`] frees them all.

use std::sync::Mutex;

/// Smaller buffers go straight back to the allocator (cheap to get again).
pub const MIN_LEN: usize = 1 << 16;
const MAX_BUFFERS: usize = 512;
const MAX_BYTES: usize = 1 << 30;

/// The kept buffers of one element type (fields private).
pub struct Cache<T> {
    /// Oldest first.
    buffers: Vec<Vec<T>>,
    bytes: usize,
}

/// An element type with a cache of its own: f32 for values, u32 for pooling's winners.
pub trait Cached: Copy + Default + 'static {
    /// This type's cache.
    #[doc(hidden)]
    fn cache() -> &'static Mutex<Cache<Self>>;
}

static F32: Mutex<Cache<f32>> = Mutex::new(Cache {
    buffers: Vec::new(),
    bytes: 0,
});
static U32: Mutex<Cache<u32>> = Mutex::new(Cache {
    buffers: Vec::new(),
    bytes: 0,
});

impl Cached for f32 {
    fn cache() -> &'static Mutex<Cache<f32>> {
        &F32
    }
}

impl Cached for u32 {
    fn cache() -> &'static Mutex<Cache<u32>> {
        &U32
    }
}

fn lock<T: Cached>() -> std::sync::MutexGuard<'static, Cache<T>> {
    // A panic elsewhere cannot leave the list half-updated; keep using it.
    T::cache().lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps `v` for a later [`scratch`] of the same length (or frees it if small).
pub fn recycle<T: Cached>(v: Vec<T>) {
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if v.len() < MIN_LEN || bytes > MAX_BYTES {
        return;
    }
    let mut c = lock::<T>();
    while !c.buffers.is_empty() && (c.bytes + bytes > MAX_BYTES || c.buffers.len() >= MAX_BUFFERS) {
        let old = c.buffers.remove(0);
        c.bytes -= old.capacity() * std::mem::size_of::<T>();
    }
    c.bytes += bytes;
    c.buffers.push(v);
}

/// A buffer of `len` elements whose values are unspecified (left from earlier use, or zero):
/// only for a kernel that writes every element before reading any.
pub fn scratch<T: Cached>(len: usize) -> Vec<T> {
    if len >= MIN_LEN {
        let mut c = lock::<T>();
        if let Some(i) = c.buffers.iter().rposition(|b| b.len() == len) {
            let v = c.buffers.remove(i);
            c.bytes -= v.capacity() * std::mem::size_of::<T>();
            return v;
        }
    }
    vec![T::default(); len]
}

/// Bytes of f32 buffers kept now (a training loop's stays the same from step to step).
pub fn kept_bytes() -> usize {
    lock::<f32>().bytes
}

/// Frees every kept buffer (say after training, before a long inference-only phase).
pub fn release() {
    fn empty<T: Cached>() {
        let mut c = lock::<T>();
        c.buffers = Vec::new();
        c.bytes = 0;
    }
    empty::<f32>();
    empty::<u32>();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_buffer_comes_back_for_its_length_only_until_released() {
        let len = MIN_LEN + 12_345; // a length no other test uses
        let v = vec![7.0f32; len];
        let ptr = v.as_ptr();
        recycle(v);
        assert_eq!(scratch::<f32>(len + 1).len(), len + 1);
        let again = scratch::<f32>(len);
        assert_eq!((again.len(), again.as_ptr()), (len, ptr));
        assert!(again.iter().all(|&x| x == 7.0));
        let fresh = scratch::<f32>(len); // taken: a fresh one now
        assert_ne!(fresh.as_ptr(), ptr);
        // (in the same test: a release in a test running beside the lines above would
        // break them)
        let len = MIN_LEN + 54_321;
        recycle(vec![3u32; len]);
        release();
        assert!(scratch::<u32>(len).iter().all(|&v| v == 0)); // a new, zeroed buffer
    }
}
