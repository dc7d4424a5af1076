//! The host memory a piece of work allocated at its peak, for both engines in one process: a
//! global allocator (mimalloc underneath) that counts only while [`peak_during`] runs, so the
//! timed repetitions pay one relaxed load per allocation and nothing more.
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

static TRACKING: AtomicBool = AtomicBool::new(false);
static NET: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

/// mimalloc, counting while [`peak_during`] runs. Install it in a binary with
/// `#[global_allocator] static A: ember_bench::alloc::Counting = ember_bench::alloc::Counting;`.
///
/// Both engines allocate from mimalloc, as polars' Python package does from jemalloc: glibc's
/// malloc returns every large block to the OS and takes it back zeroed on the next query, and on
/// this machine those page faults cost more than the operators (docs/perf.md).
#[derive(Debug)]
pub struct Counting;

fn count(delta: i64) {
    if TRACKING.load(Ordering::Relaxed) {
        let now = NET.fetch_add(delta, Ordering::Relaxed) + delta;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to mimalloc with the caller's layout; counting touches only atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64);
        // SAFETY: forwarded under the caller's guarantees.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64);
        // SAFETY: forwarded under the caller's guarantees.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as i64));
        // SAFETY: forwarded under the caller's guarantees.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as i64 - layout.size() as i64);
        // SAFETY: forwarded under the caller's guarantees.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns its result with the most bytes it had allocated at once beyond what was
/// allocated when it started (0 when [`Counting`] is not the global allocator). Not reentrant:
/// one measurement at a time.
pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, u64) {
    NET.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    TRACKING.store(true, Ordering::SeqCst);
    let out = f();
    TRACKING.store(false, Ordering::SeqCst);
    (out, PEAK.load(Ordering::Relaxed).max(0) as u64)
}
