//! The buffer cache: large f32 buffers freed by a training step (activations, gradients) are
//! kept and handed out again by [`scratch`], because the next step asks for the same sizes.
//! Without it each step gets fresh memory from the allocator, which the kernel must zero
//! (page faults) or `calloc` must clear — a pass over every activation that a kernel then
//! overwrites anyway (W4 spent ~5% of its time there).
//!
//! Only buffers of at least [`MIN_LEN`] elements are kept, at most [`MAX_BUFFERS`] of them
//! and [`MAX_BYTES`] in all; the oldest go first.

use std::sync::Mutex;

/// Smaller buffers go straight back to the allocator (cheap to get again).
pub const MIN_LEN: usize = 1 << 16;
const MAX_BUFFERS: usize = 512;
const MAX_BYTES: usize = 1 << 30;

struct Cache {
    /// Oldest first.
    buffers: Vec<Vec<f32>>,
    bytes: usize,
}

static CACHE: Mutex<Cache> = Mutex::new(Cache {
    buffers: Vec::new(),
    bytes: 0,
});

fn lock() -> std::sync::MutexGuard<'static, Cache> {
    // A panic elsewhere cannot leave the list half-updated; keep using it.
    CACHE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps `v` for a later [`scratch`] of the same length (or frees it if small).
pub fn recycle(v: Vec<f32>) {
    let bytes = v.capacity() * 4;
    if v.len() < MIN_LEN || bytes > MAX_BYTES {
        return;
    }
    let mut c = lock();
    while !c.buffers.is_empty() && (c.bytes + bytes > MAX_BYTES || c.buffers.len() >= MAX_BUFFERS) {
        let old = c.buffers.remove(0);
        c.bytes -= old.capacity() * 4;
    }
    c.bytes += bytes;
    c.buffers.push(v);
}

/// A buffer of `len` elements whose values are unspecified (left from earlier use, or zero):
/// only for a kernel that writes every element before reading any.
pub fn scratch(len: usize) -> Vec<f32> {
    if len >= MIN_LEN {
        let mut c = lock();
        if let Some(i) = c.buffers.iter().rposition(|b| b.len() == len) {
            let v = c.buffers.remove(i);
            c.bytes -= v.capacity() * 4;
            return v;
        }
    }
    vec![0.0; len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_buffer_comes_back_for_its_length_only() {
        let len = MIN_LEN + 12_345; // a length no other test uses
        let v = vec![7.0; len];
        let ptr = v.as_ptr();
        recycle(v);
        assert_eq!(scratch(len + 1).len(), len + 1);
        let again = scratch(len);
        assert_eq!((again.len(), again.as_ptr()), (len, ptr));
        assert!(again.iter().all(|&x| x == 7.0));
        let fresh = scratch(len); // taken: a fresh one now
        assert_ne!(fresh.as_ptr(), ptr);
    }
}
