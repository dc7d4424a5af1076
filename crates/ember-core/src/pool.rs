//! A pool of large host buffers, reused across operations (the host-side counterpart of a GPU
//! memory pool such as RMM's).
//!
//! Why: an output above glibc's largest mmap threshold (32 MiB) is mapped fresh from the kernel on
//! every allocation and unmapped on every free, so each use pays for faulting in and zeroing every
//! page — measured at ~15 ms per 44 MB column on a 2-core VM, three times the work of filling it.
//! Buffers from [`filled`] go back to the pool when their last Arrow reference drops, and the next
//! large output of a similar size reuses them, already mapped. The pool keeps at most
//! [`max_pooled_bytes`], evicting the least recently freed blocks to make room for new ones;
//! smaller requests (under [`MIN_POOLED_BYTES`]) use plain `Vec`s.
use arrow::buffer::{Buffer, ScalarBuffer};
use arrow::datatypes::ArrowNativeType;
use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

/// Requests below this size are not pooled (glibc reuses its own heap for them).
pub const MIN_POOLED_BYTES: usize = 8 << 20;
/// Free bytes the pool keeps at most: an eighth of the machine's memory, at most 2 GiB (1 GiB
/// where the memory size cannot be read). Blocks beyond it go back to the system.
///
/// Why that much: an operation's outputs must fit beside the previous operation's, or each call
/// of the smaller one finds the pool full and faults its outputs in afresh (at TPC-H SF1 a
/// `lineitem` Parquet read leaves 1 GB of blocks; with a 1 GiB pool the filter after it took
/// 0.075 s instead of 0.061 s).
pub fn max_pooled_bytes() -> usize {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        // `MemTotal:    24567890 kB` (Linux); elsewhere the fallback.
        let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok().map(|kb| kb * 1024)
        });
        total.map_or(1 << 30, |t| (t / 8).min(2 << 30))
    })
}
const GRAIN: usize = 1 << 20;
const ALIGN: usize = 64;

/// One allocation of `cap` bytes, aligned to 64.
struct Block {
    ptr: NonNull<u8>,
    cap: usize,
}

// SAFETY: a Block is a uniquely owned heap allocation; the pointer is only dereferenced by the
// Buffer built over it (immutable after construction) and by `filled` before it is shared.
unsafe impl Send for Block {}
// SAFETY: as above: shared access is read-only.
unsafe impl Sync for Block {}
impl std::panic::RefUnwindSafe for Block {}

struct Free {
    blocks: Vec<Block>,
    bytes: usize,
}

static FREE: Mutex<Free> = Mutex::new(Free { blocks: Vec::new(), bytes: 0 });

impl Block {
    fn take(bytes: usize) -> Option<Block> {
        let cap = bytes.div_ceil(GRAIN) * GRAIN;
        {
            let mut free = FREE.lock().unwrap_or_else(|p| p.into_inner());
            // Best fit among blocks no more than twice the request; among equal fits the most
            // recently freed one (its pages are the likeliest to still be in cache).
            let best = (0..free.blocks.len())
                .rev()
                .filter(|&i| free.blocks[i].cap >= cap && free.blocks[i].cap <= 2 * cap)
                .min_by_key(|&i| free.blocks[i].cap);
            if let Some(i) = best {
                // (`remove`, not `swap_remove`: the list stays in the order blocks were freed)
                let b = free.blocks.remove(i);
                free.bytes -= b.cap;
                return Some(b);
            }
        }
        let layout = Layout::from_size_align(cap, ALIGN).ok()?;
        // Zeroed, so that every block's bytes are initialised ([`filled_with`] hands them out):
        // an allocation this large is fresh pages from the kernel, already zero, so the
        // allocator does not clear them again.
        // SAFETY: `layout` has a non-zero size (cap >= GRAIN).
        let ptr = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })?;
        Some(Block { ptr, cap })
    }
}

impl Block {
    /// Gives the memory back to the system (not to the pool).
    fn release(self) {
        let block = std::mem::ManuallyDrop::new(self);
        // SAFETY: allocated in `take` with exactly this layout, and no longer referenced (the
        // block is consumed, and `ManuallyDrop` keeps its `Drop` from pooling it again).
        unsafe { std::alloc::dealloc(block.ptr.as_ptr(), Layout::from_size_align_unchecked(block.cap, ALIGN)) };
    }
}

impl Free {
    /// Keeps `block`, the most recently freed, making room by evicting the least recently freed
    /// blocks, so the pool never holds more than `max` bytes; returns the blocks that no longer
    /// fit (for the caller to release outside the lock).
    ///
    /// Why least recently freed: the next large request is most likely the same operation again
    /// (the next batch, the next query), wanting the blocks it just gave back. Dropping the new
    /// block instead, as the pool once did, left a pool full of an earlier operation's blocks
    /// (a Parquet read's, say) and sent every later output of another size to the system, to be
    /// faulted in and zeroed again on each call (SF1's filter: 0.064 s alone, 0.078 s after a
    /// Parquet read).
    fn keep(&mut self, block: Block, max: usize) -> Vec<Block> {
        if block.cap > max {
            return vec![block];
        }
        let mut evicted = Vec::new();
        while self.bytes + block.cap > max {
            let old = self.blocks.remove(0);
            self.bytes -= old.cap;
            evicted.push(old);
        }
        self.bytes += block.cap;
        self.blocks.push(block);
        evicted
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        let block = Block { ptr: self.ptr, cap: self.cap };
        let evicted = FREE.lock().unwrap_or_else(|p| p.into_inner()).keep(block, max_pooled_bytes());
        evicted.into_iter().for_each(Block::release);
    }
}

/// A buffer of `len` values, the `i`-th being `f(i)`, taken from the pool when it is large.
///
/// ```
/// let b = ember_core::pool::filled(3, |i| i as i64 * 10);
/// assert_eq!(b.as_ref(), &[0, 10, 20]);
/// ```
pub fn filled<T: ArrowNativeType>(len: usize, mut f: impl FnMut(usize) -> T) -> ScalarBuffer<T> {
    let bytes = len * std::mem::size_of::<T>();
    if bytes < MIN_POOLED_BYTES || std::mem::align_of::<T>() > ALIGN {
        return (0..len).map(f).collect::<Vec<T>>().into();
    }
    let Some(block) = Block::take(bytes) else {
        return (0..len).map(f).collect::<Vec<T>>().into();
    };
    let out = block.ptr.as_ptr() as *mut T;
    for i in 0..len {
        // SAFETY: the block holds at least `bytes = len * size_of::<T>()` bytes, aligned to 64
        // (>= align_of::<T>()), and is not shared yet.
        unsafe { out.add(i).write(f(i)) };
    }
    into_buffer(block, len)
}

/// A buffer of `len` values written by `fill`, which gets them as one slice (to fill it in
/// parallel, say); taken from the pool when it is large. Values `fill` leaves unwritten are
/// unspecified (zero, or whatever a reused block held), never uninitialised memory.
///
/// ```
/// let b = ember_core::pool::filled_with(4, |out: &mut [u32]| out.iter_mut().enumerate().for_each(|(i, o)| *o = i as u32 * 2));
/// assert_eq!(b.as_ref(), &[0, 2, 4, 6]);
/// ```
pub fn filled_with<T: ArrowNativeType + bytemuck::Pod>(len: usize, fill: impl FnOnce(&mut [T])) -> ScalarBuffer<T> {
    let bytes = len * std::mem::size_of::<T>();
    let block = (bytes >= MIN_POOLED_BYTES && std::mem::align_of::<T>() <= ALIGN).then(|| Block::take(bytes)).flatten();
    let Some(block) = block else {
        let mut v = vec![T::zeroed(); len];
        fill(&mut v);
        return v.into();
    };
    // SAFETY: the block holds at least `bytes = len * size_of::<T>()` bytes, aligned to 64 (>=
    // align_of::<T>()), all initialised (zeroed when allocated, or written by an earlier use),
    // and any bytes are a valid `T` (Pod); it is not shared until the buffer is built below.
    let out = unsafe { std::slice::from_raw_parts_mut(block.ptr.as_ptr() as *mut T, len) };
    fill(out);
    into_buffer(block, len)
}

/// The first `len` values of `block` as a buffer that owns it: the block returns to the pool when
/// the buffer's last reference drops. The caller has initialised those values.
fn into_buffer<T: ArrowNativeType>(block: Block, len: usize) -> ScalarBuffer<T> {
    let bytes = len * std::mem::size_of::<T>();
    debug_assert!(bytes <= block.cap);
    let ptr = block.ptr;
    // SAFETY: the block holds `cap >= bytes` initialised bytes (the callers' contract), aligned
    // to 64; the buffer owns the block through the Arc and only reads it from now on.
    let buffer = unsafe { Buffer::from_custom_allocation(ptr, bytes, Arc::new(block)) };
    ScalarBuffer::new(buffer, 0, len)
}

/// A buffer filled by appending pieces in order, of a capacity chosen up front (taken from the
/// pool when large: a column assembled from decoded batches, say). Appends past the capacity
/// grow it by one copy into a larger block; capacity never written costs nothing (a fresh
/// block's pages are mapped when first touched).
///
/// ```
/// let mut a = ember_core::pool::Appender::with_capacity(2);
/// a.extend_from_slice(&[1u64, 2]);
/// a.extend_from_slice(&[3]);
/// assert_eq!(a.len(), 3);
/// assert_eq!(a.finish().as_ref(), &[1, 2, 3]);
/// ```
pub struct Appender<T: ArrowNativeType + bytemuck::Pod> {
    store: Store<T>,
    len: usize,
}

impl<T: ArrowNativeType + bytemuck::Pod> std::fmt::Debug for Appender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appender").field("len", &self.len).finish_non_exhaustive()
    }
}

enum Store<T> {
    Small(Vec<T>),
    /// A block of `cap` values.
    Pooled(Block, usize),
}

impl<T: ArrowNativeType + bytemuck::Pod> Appender<T> {
    /// An empty appender with room for `cap` values.
    pub fn with_capacity(cap: usize) -> Appender<T> {
        Appender { store: Self::store(cap), len: 0 }
    }

    fn store(cap: usize) -> Store<T> {
        let bytes = cap.saturating_mul(std::mem::size_of::<T>());
        if bytes >= MIN_POOLED_BYTES && std::mem::align_of::<T>() <= ALIGN {
            if let Some(block) = Block::take(bytes) {
                return Store::Pooled(block, cap);
            }
        }
        Store::Small(Vec::with_capacity(cap))
    }

    /// Values appended so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `values`.
    pub fn extend_from_slice(&mut self, values: &[T]) {
        let need = self.len + values.len();
        if let Store::Pooled(_, cap) = &self.store {
            if need > *cap {
                let mut grown = Self::store(need.max(cap + cap / 2));
                if let Store::Small(v) = &mut grown {
                    v.extend_from_slice(Self::values_of(&self.store, self.len));
                }
                let old = std::mem::replace(&mut self.store, grown);
                if let Store::Pooled(block, _) = &self.store {
                    // SAFETY: the new block holds at least `need > len` values; the old one is a
                    // different allocation, whose first `len` values are written.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            Self::values_of(&old, self.len).as_ptr(),
                            block.ptr.as_ptr() as *mut T,
                            self.len,
                        )
                    };
                }
            }
        }
        match &mut self.store {
            Store::Small(v) => v.extend_from_slice(values),
            Store::Pooled(b, _) => {
                // SAFETY: `need <= cap` (grown above): the block has room for the values after
                // the first `len`, and it is not shared until `finish`.
                let out =
                    unsafe { std::slice::from_raw_parts_mut((b.ptr.as_ptr() as *mut T).add(self.len), values.len()) };
                out.copy_from_slice(values);
            }
        }
        self.len = need;
    }

    /// The first `len` values of `store` (all of a `Small` one).
    fn values_of(store: &Store<T>, len: usize) -> &[T] {
        match store {
            Store::Small(v) => v,
            // SAFETY: the block holds `cap >= len` values, aligned, the first `len` written.
            Store::Pooled(b, _) => unsafe { std::slice::from_raw_parts(b.ptr.as_ptr() as *const T, len) },
        }
    }

    /// The values as a buffer (a pooled block goes back to the pool when it drops).
    pub fn finish(self) -> ScalarBuffer<T> {
        match self.store {
            Store::Small(v) => v.into(),
            Store::Pooled(block, _) => into_buffer(block, self.len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The free list is global and the test harness runs tests in parallel: a test that checks
    /// which block it gets back holds this lock, so no other test takes its block in between.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn large_buffers_are_reused_after_they_drop() {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let n = (MIN_POOLED_BYTES / 8) + 1000;
        let a = filled(n, |i| i as u64);
        assert_eq!((a[0], a[n - 1]), (0, n as u64 - 1));
        let addr = a.as_ptr() as usize;
        drop(a);
        let b = filled(n, |i| (i * 2) as u64);
        assert_eq!(b.as_ptr() as usize, addr, "the freed block is reused");
        assert_eq!(b[n - 1], 2 * (n as u64 - 1));
        // a second live buffer cannot share it
        let c = filled(n, |i| i as u64);
        assert_ne!(c.as_ptr() as usize, addr);
        assert_eq!(c[7], 7);
    }

    #[test]
    fn filled_with_reuses_blocks_and_writes_every_value() {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let n = (MIN_POOLED_BYTES / 4) + 77;
        let a = filled_with(n, |out: &mut [u32]| out.iter_mut().for_each(|o| *o = 7));
        let addr = a.as_ptr() as usize;
        assert!(a.iter().all(|&x| x == 7));
        drop(a);
        let b = filled_with(n, |out: &mut [u32]| out.iter_mut().enumerate().for_each(|(i, o)| *o = i as u32));
        assert_eq!(b.as_ptr() as usize, addr, "the freed block is reused");
        assert_eq!((b[0], b[n - 1]), (0, n as u32 - 1));
        let small = filled_with(3, |out: &mut [i128]| out[1] = -1);
        assert_eq!(small.as_ref(), &[0, -1, 0]);
    }

    #[test]
    fn appenders_grow_past_their_capacity_and_keep_every_value() {
        // (it takes pooled blocks: not while the reuse tests watch theirs)
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        // Small and staying small, pooled and fitting, pooled and growing into a larger block,
        // small and growing past the pooled size.
        for (cap, pieces) in [
            (0usize, 3usize),
            (MIN_POOLED_BYTES / 8 + 5, 2),
            (MIN_POOLED_BYTES / 8 + 5, 7),
            (MIN_POOLED_BYTES / 8 - 10, 5),
        ] {
            let mut a = Appender::<u64>::with_capacity(cap);
            let piece = MIN_POOLED_BYTES / 8 / 3;
            for p in 0..pieces {
                let values: Vec<u64> = (0..piece).map(|i| (p * piece + i) as u64).collect();
                a.extend_from_slice(&values);
            }
            assert_eq!(a.len(), pieces * piece);
            let b = a.finish();
            assert!(b.iter().enumerate().all(|(i, &v)| v == i as u64), "capacity {cap}");
        }
        assert!(Appender::<i128>::with_capacity(10).finish().is_empty());
    }

    #[test]
    fn a_full_pool_evicts_its_least_recently_freed_blocks() {
        let block = |mb: usize| {
            let cap = mb * GRAIN;
            // SAFETY: a non-zero size.
            let ptr = NonNull::new(unsafe { std::alloc::alloc(Layout::from_size_align(cap, ALIGN).unwrap()) }).unwrap();
            Block { ptr, cap }
        };
        let mut free = Free { blocks: Vec::new(), bytes: 0 };
        let max = 8 * GRAIN;
        let (a, b, c) = (block(3), block(3), block(4));
        let (pa, pb, pc) = (a.ptr, b.ptr, c.ptr);
        assert!(free.keep(a, max).is_empty() && free.keep(b, max).is_empty());
        // c does not fit beside a and b: a, the oldest, goes.
        let evicted = free.keep(c, max);
        assert_eq!(evicted.iter().map(|e| e.ptr).collect::<Vec<_>>(), vec![pa]);
        assert_eq!((free.blocks.iter().map(|e| e.ptr).collect::<Vec<_>>(), free.bytes), (vec![pb, pc], 7 * GRAIN));
        // A block larger than the whole pool is not kept, and evicts nothing.
        let huge = block(9);
        let ph = huge.ptr;
        let back = free.keep(huge, max);
        assert_eq!((back.len(), back[0].ptr, free.blocks.len()), (1, ph, 2));
        evicted.into_iter().chain(back).chain(std::mem::take(&mut free.blocks)).for_each(Block::release);
    }

    #[test]
    fn the_pool_cap_is_a_share_of_memory() {
        let max = max_pooled_bytes();
        assert!((64 << 20..=2 << 30).contains(&max), "{max}");
    }

    #[test]
    fn small_buffers_are_plain_vectors() {
        let a = filled(10, |i| i as i128 - 5);
        assert_eq!(a.as_ref(), &(0..10).map(|i| i as i128 - 5).collect::<Vec<_>>()[..]);
    }
}
