//! Device memory resources, shaped like RMM's: a [`MemoryResource`] allocates and frees device
//! memory on a stream; adaptors stack on top of one another.
//!
//! | resource | what it does |
//! |---|---|
//! | [`CudaAsyncResource`] | stream-ordered `cuMemAllocAsync` / `cuMemFreeAsync` on the device's default pool, whose release threshold is raised so freed memory stays in the pool across synchronisations |
//! | [`SimResource`] | 256-byte-aligned host memory for the simulated device, filled with `0xCD` so a kernel that reads memory it never wrote sees garbage (as on a GPU), not zeros |
//! | [`PoolResource`] | keeps freed blocks in power-of-two size classes and hands them out again (the Sim default; on CUDA the driver's pool already does this) |
//! | [`TrackingResource`] | counts allocations, current and peak bytes |
//! | [`LimitResource`] | refuses an allocation that would take the bytes in use past a limit, with [`GpuError::OutOfMemory`]; nothing else changes, so the caller can carry on |
//!
//! Allocations are uninitialised; [`crate::ExecContext::alloc_zeroed`] asks for zeros explicitly.
//!
//! ```
//! use ember_gpu::{memory::*, ExecContext, Gpu};
//! use std::sync::Arc;
//! # if !ember_gpu::sim::compiled() { return; }
//! let gpu = Gpu::sim().unwrap();
//! let limited: Arc<dyn MemoryResource> = Arc::new(LimitResource::new(gpu.default_resource(), 1 << 20));
//! let ctx = ExecContext::with_resource(gpu, limited);
//! assert!(ctx.alloc(1 << 19).is_ok());
//! assert!(matches!(ctx.alloc(2 << 20), Err(ember_gpu::GpuError::OutOfMemory { .. })));
//! assert!(ctx.alloc(1 << 19).is_ok()); // the context is still usable
//! ```
use crate::error::{GpuError, Result};
use crate::stream::Stream;
use crate::Backend;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Bytes every allocation is rounded up to: kernels may read whole 32-bit bitmap words and
/// 16-byte decimal values without bounds games.
pub const ALIGN: usize = 16;

/// The capacity actually allocated for a request of `bytes` (a multiple of [`ALIGN`], at least one).
pub fn padded(bytes: usize) -> usize {
    bytes.div_ceil(ALIGN).max(1) * ALIGN
}

/// Allocates and frees device memory, ordered on a stream (RMM's `device_memory_resource`).
pub trait MemoryResource: Send + Sync + fmt::Debug {
    /// The device this resource allocates on.
    fn backend(&self) -> Backend;
    /// Allocates `capacity` bytes (already a multiple of [`ALIGN`]), uninitialised, usable by
    /// work on `stream` from now on. Returns the device address.
    fn allocate(&self, capacity: usize, stream: &Stream) -> Result<u64>;
    /// Frees an allocation once the work queued on `stream` so far is done.
    ///
    /// # Safety
    /// `ptr` must come from [`MemoryResource::allocate`] of this resource with this `capacity`,
    /// and must not be used after this call (except by work already queued on `stream`).
    unsafe fn deallocate(&self, ptr: u64, capacity: usize, stream: &Stream);
}

/// Host memory standing in for device memory on the simulated device.
#[derive(Debug, Default)]
pub struct SimResource;

/// Alignment of simulated allocations (as `cudaMalloc`'s 256 bytes).
const SIM_ALIGN: usize = 256;
/// What fresh simulated memory holds: not zeros, so kernels that rely on zeroed memory fail on Sim
/// as they would on a GPU.
pub const SIM_POISON: u8 = 0xCD;

impl MemoryResource for SimResource {
    fn backend(&self) -> Backend {
        Backend::Sim
    }
    fn allocate(&self, capacity: usize, _: &Stream) -> Result<u64> {
        let layout = std::alloc::Layout::from_size_align(capacity, SIM_ALIGN)
            .map_err(|_| GpuError::OutOfMemory { bytes: capacity, limit: None })?;
        // SAFETY: `layout` has a non-zero size (capacity is at least ALIGN).
        let p = unsafe { std::alloc::alloc(layout) };
        if p.is_null() {
            return Err(GpuError::OutOfMemory { bytes: capacity, limit: None });
        }
        // SAFETY: `p` points to `capacity` writable bytes just allocated.
        unsafe { std::ptr::write_bytes(p, SIM_POISON, capacity) };
        Ok(p as u64)
    }
    unsafe fn deallocate(&self, ptr: u64, capacity: usize, _: &Stream) {
        let layout = std::alloc::Layout::from_size_align(capacity, SIM_ALIGN).expect("checked at allocation");
        // SAFETY: per the trait contract `ptr` came from `allocate` with this capacity, i.e. from
        // `std::alloc::alloc` with this layout.
        unsafe { std::alloc::dealloc(ptr as *mut u8, layout) }
    }
}

/// Keeps freed blocks for reuse, in power-of-two size classes from 256 bytes up; blocks above
/// `max_class` bytes go straight to the upstream. At most `max_cached` bytes are kept.
///
/// Reuse is safe only when every user of the pool shares one stream order (true on the simulated
/// device, whose launches are synchronous); CUDA uses [`CudaAsyncResource`], whose driver pool is
/// stream-aware.
#[derive(Debug)]
pub struct PoolResource {
    upstream: Arc<dyn MemoryResource>,
    free: Mutex<Vec<Vec<u64>>>,
    cached: AtomicUsize,
    max_cached: usize,
}

const MIN_CLASS_LOG2: u32 = 8;
const MAX_CLASS_LOG2: u32 = 34; // 16 GiB

impl PoolResource {
    /// A pool over `upstream` keeping at most `max_cached` bytes of freed blocks.
    pub fn new(upstream: Arc<dyn MemoryResource>, max_cached: usize) -> Self {
        let classes = (MAX_CLASS_LOG2 - MIN_CLASS_LOG2 + 1) as usize;
        Self { upstream, free: Mutex::new(vec![Vec::new(); classes]), cached: AtomicUsize::new(0), max_cached }
    }
    fn class_of(capacity: usize) -> Option<(usize, usize)> {
        let log2 = capacity.next_power_of_two().trailing_zeros().max(MIN_CLASS_LOG2);
        (log2 <= MAX_CLASS_LOG2).then(|| ((log2 - MIN_CLASS_LOG2) as usize, 1usize << log2))
    }
    /// Bytes of freed blocks held for reuse.
    pub fn cached_bytes(&self) -> usize {
        self.cached.load(Ordering::Relaxed)
    }
}

impl MemoryResource for PoolResource {
    fn backend(&self) -> Backend {
        self.upstream.backend()
    }
    fn allocate(&self, capacity: usize, stream: &Stream) -> Result<u64> {
        let Some((class, size)) = Self::class_of(capacity) else {
            return self.upstream.allocate(capacity, stream);
        };
        if let Some(p) = self.free.lock().unwrap_or_else(|p| p.into_inner())[class].pop() {
            self.cached.fetch_sub(size, Ordering::Relaxed);
            return Ok(p);
        }
        self.upstream.allocate(size, stream)
    }
    unsafe fn deallocate(&self, ptr: u64, capacity: usize, stream: &Stream) {
        let Some((class, size)) = Self::class_of(capacity) else {
            // SAFETY: blocks above the largest class came straight from the upstream.
            return unsafe { self.upstream.deallocate(ptr, capacity, stream) };
        };
        if self.cached.load(Ordering::Relaxed) + size <= self.max_cached {
            self.cached.fetch_add(size, Ordering::Relaxed);
            self.free.lock().unwrap_or_else(|p| p.into_inner())[class].push(ptr);
        } else {
            // SAFETY: the block came from the upstream with the class size.
            unsafe { self.upstream.deallocate(ptr, size, stream) };
        }
    }
}

impl Drop for PoolResource {
    fn drop(&mut self) {
        let free = std::mem::take(&mut *self.free.lock().unwrap_or_else(|p| p.into_inner()));
        for (class, blocks) in free.into_iter().enumerate() {
            let size = 1usize << (class as u32 + MIN_CLASS_LOG2);
            for p in blocks {
                // SAFETY: cached blocks came from the upstream with the class size and are unused.
                unsafe { self.upstream.deallocate(p, size, &Stream::Sim) };
            }
        }
    }
}

/// Allocation statistics of a [`TrackingResource`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Allocations made.
    pub allocations: u64,
    /// Bytes allocated in total.
    pub allocated_bytes: u64,
    /// Bytes in use now.
    pub current_bytes: u64,
    /// Most bytes in use at once.
    pub peak_bytes: u64,
}

/// Counts what passes through it (RMM's `statistics_resource_adaptor`).
#[derive(Debug)]
pub struct TrackingResource {
    upstream: Arc<dyn MemoryResource>,
    stats: Mutex<MemoryStats>,
}

impl TrackingResource {
    /// Tracks allocations made through `upstream`.
    pub fn new(upstream: Arc<dyn MemoryResource>) -> Self {
        Self { upstream, stats: Mutex::new(MemoryStats::default()) }
    }
    /// The statistics so far.
    pub fn stats(&self) -> MemoryStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Starts a new peak from the bytes in use now.
    pub fn reset_peak(&self) {
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        s.peak_bytes = s.current_bytes;
    }
}

impl MemoryResource for TrackingResource {
    fn backend(&self) -> Backend {
        self.upstream.backend()
    }
    fn allocate(&self, capacity: usize, stream: &Stream) -> Result<u64> {
        let p = self.upstream.allocate(capacity, stream)?;
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        s.allocations += 1;
        s.allocated_bytes += capacity as u64;
        s.current_bytes += capacity as u64;
        s.peak_bytes = s.peak_bytes.max(s.current_bytes);
        Ok(p)
    }
    unsafe fn deallocate(&self, ptr: u64, capacity: usize, stream: &Stream) {
        // SAFETY: forwarded under the caller's guarantee.
        unsafe { self.upstream.deallocate(ptr, capacity, stream) };
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        s.current_bytes = s.current_bytes.saturating_sub(capacity as u64);
    }
}

/// Refuses allocations past `limit` bytes in use (RMM's `limiting_resource_adaptor`).
#[derive(Debug)]
pub struct LimitResource {
    upstream: Arc<dyn MemoryResource>,
    limit: usize,
    used: AtomicUsize,
}

impl LimitResource {
    /// At most `limit` bytes in use at once through this adaptor.
    pub fn new(upstream: Arc<dyn MemoryResource>, limit: usize) -> Self {
        Self { upstream, limit, used: AtomicUsize::new(0) }
    }
    /// Bytes in use through this adaptor.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

impl MemoryResource for LimitResource {
    fn backend(&self) -> Backend {
        self.upstream.backend()
    }
    fn allocate(&self, capacity: usize, stream: &Stream) -> Result<u64> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(capacity).filter(|&total| total <= self.limit)
            })
            .map_err(|_| GpuError::OutOfMemory { bytes: capacity, limit: Some(self.limit) })?;
        match self.upstream.allocate(capacity, stream) {
            Ok(p) => Ok(p),
            Err(e) => {
                self.used.fetch_sub(capacity, Ordering::AcqRel);
                Err(e)
            }
        }
    }
    unsafe fn deallocate(&self, ptr: u64, capacity: usize, stream: &Stream) {
        // SAFETY: forwarded under the caller's guarantee.
        unsafe { self.upstream.deallocate(ptr, capacity, stream) };
        self.used.fetch_sub(capacity, Ordering::AcqRel);
    }
}

pub use crate::cuda::CudaAsyncResource;
