//! Per-thread reuse of the few large byte buffers every proxied request
//! needs (the upstream request head with the first body bytes, the response
//! head read, the client head): 1–16 KiB each, above glibc's per-thread
//! cache (tcache, ≤ 1 KiB), so a fresh `Vec` per request went through the
//! arena's bins with their splitting and consolidation. perf on the
//! upstream-keepalive bench: malloc/free took ~6.2 % of rampart's CPU per
//! request before, ~4.8 % with this pool (the rest is small allocations and
//! the per-request future). A thread needs only as many buffers as it has
//! requests in flight at once; memory stays bounded: at most `KEEP` idle
//! buffers of at most `MAX_CAP` bytes per thread.
//!
//! A second, smaller class holds the few large buffers of a compressed
//! static body (a read of up to 128 KiB and its output): glibc returned such
//! a freed block to the kernel (madvise) and the next response faulted its
//! pages in again, ~4 % of the CPU of a 100 KiB gzip response. At most
//! `KEEP_LARGE` of at most `MAX_LARGE` bytes are kept per thread.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

/// Idle buffers kept per thread.
const KEEP: usize = 16;
/// Larger buffers are freed, not kept (a rare big head or body).
const MAX_CAP: usize = 64 * 1024;

/// Idle large buffers kept per thread: a compressed body holds three.
const KEEP_LARGE: usize = 6;
/// The largest buffer kept at all.
const MAX_LARGE: usize = 256 * 1024;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    static LARGE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// The pool a buffer of `cap` bytes belongs to, and how many it keeps.
fn class(cap: usize) -> (&'static std::thread::LocalKey<RefCell<Vec<Vec<u8>>>>, usize) {
    if cap > MAX_CAP {
        (&LARGE, KEEP_LARGE)
    } else {
        (&POOL, KEEP)
    }
}

/// An empty buffer of at least `cap` bytes that goes back to this thread's
/// pool when dropped.
pub struct PooledBuf(Vec<u8>);

impl PooledBuf {
    pub fn take(cap: usize) -> PooledBuf {
        let reused = class(cap).0.with(|p| {
            let mut p = p.try_borrow_mut().ok()?;
            let i = p.iter().rposition(|b| b.capacity() >= cap)?;
            Some(p.swap_remove(i))
        });
        PooledBuf(reused.unwrap_or_else(|| Vec::with_capacity(cap)))
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        let mut v = std::mem::take(&mut self.0);
        if v.capacity() == 0 || v.capacity() > MAX_LARGE {
            return;
        }
        v.clear();
        let (pool, keep) = class(v.capacity());
        pool.with(|p| {
            if let Ok(mut p) = p.try_borrow_mut() {
                if p.len() < keep {
                    p.push(v);
                }
            }
        });
    }
}

impl Deref for PooledBuf {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_and_bounded() {
        let ptr = {
            let mut b = PooledBuf::take(4096);
            b.extend_from_slice(b"left over");
            b.as_ptr()
        };
        let b = PooledBuf::take(4096);
        assert!(b.is_empty(), "a reused buffer starts empty");
        assert_eq!(b.as_ptr(), ptr, "the dropped buffer is reused");
        // A bigger request than anything pooled allocates anew.
        let big = PooledBuf::take(8192);
        assert!(big.capacity() >= 8192);
        drop((b, big));
        // Large buffers go to their own class; oversized ones are not kept.
        let large = PooledBuf::take(MAX_CAP + 1);
        let large_ptr = large.as_ptr();
        drop((large, PooledBuf::take(MAX_LARGE + 1)));
        assert!(POOL.with(|p| p.borrow().iter().all(|b| b.capacity() <= MAX_CAP)));
        assert!(LARGE.with(|p| p.borrow().iter().all(|b| b.capacity() <= MAX_LARGE)));
        assert_eq!(
            PooledBuf::take(MAX_CAP + 1).as_ptr(),
            large_ptr,
            "a large buffer is reused"
        );
        // Never more than KEEP idle.
        let many: Vec<_> = (0..KEEP + 5).map(|_| PooledBuf::take(2048)).collect();
        drop(many);
        assert!(POOL.with(|p| p.borrow().len()) <= KEEP);
        let many: Vec<_> = (0..KEEP_LARGE + 3)
            .map(|_| PooledBuf::take(MAX_CAP * 2))
            .collect();
        drop(many);
        assert!(LARGE.with(|p| p.borrow().len()) <= KEEP_LARGE);
    }
}
