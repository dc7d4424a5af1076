//! The execution context every primitive and op runs in: a device, a stream, a memory resource
//! and the trace of what the work cost (launches, copies, synchronisations, bytes).
//!
//! ```
//! use ember_gpu::{ExecContext, Gpu};
//! # if !ember_gpu::sim::compiled() { return; }
//! let ctx = ExecContext::new(Gpu::sim().unwrap());
//! let buf = ctx.upload(&[1u32, 2, 3]).unwrap();
//! assert_eq!(ctx.download::<u32>(&buf, 3).unwrap(), vec![1, 2, 3]);
//! let t = ctx.trace();
//! assert_eq!((t.htod_copies, t.dtoh_copies, t.syncs), (1, 1, 1));
//! ```
use crate::buffer::DeviceBuffer;
use crate::error::{GpuError, Result};
use crate::launch::{KernelArg, LaunchConfig};
use crate::memory::{MemoryResource, MemoryStats, TrackingResource};
use crate::stream::Stream;
use crate::{Backend, Gpu, Kernel};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One kernel launch, as recorded in a [`TraceSummary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchRecord {
    /// `module::kernel`.
    pub kernel: String,
    /// Blocks.
    pub grid: (u32, u32, u32),
    /// Threads per block.
    pub block: (u32, u32, u32),
}

/// What the work on a context has cost so far (see [`ExecContext::trace`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceSummary {
    /// Kernel launches.
    pub launches: u64,
    /// Host-to-device copies and their bytes.
    pub htod_copies: u64,
    /// Bytes copied host to device.
    pub htod_bytes: u64,
    /// Device-to-host copies (each one waits for the stream: a host round trip).
    pub dtoh_copies: u64,
    /// Bytes copied device to host.
    pub dtoh_bytes: u64,
    /// Device-to-device copies and memsets.
    pub device_copies: u64,
    /// Host synchronisations (waits for the stream).
    pub syncs: u64,
    /// Device allocations, bytes allocated, bytes in use, peak bytes in use.
    pub memory: MemoryStats,
    /// Each launch in order.
    pub kernels: Vec<LaunchRecord>,
}

impl std::fmt::Display for TraceSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} launches, {} syncs, {} H->D copies ({} B), {} D->H copies ({} B), {} D->D copies/memsets, \
             {} allocations ({} B), peak {} B",
            self.launches,
            self.syncs,
            self.htod_copies,
            self.htod_bytes,
            self.dtoh_copies,
            self.dtoh_bytes,
            self.device_copies,
            self.memory.allocations,
            self.memory.allocated_bytes,
            self.memory.peak_bytes
        )?;
        for k in &self.kernels {
            writeln!(f, "  launch {} grid={:?} block={:?}", k.kernel, k.grid, k.block)?;
        }
        Ok(())
    }
}

/// The counts of a trace: one set per context, and one per device ([`Gpu::trace`]).
#[derive(Debug, Default)]
pub(crate) struct Counts {
    launches: AtomicU64,
    htod_copies: AtomicU64,
    htod_bytes: AtomicU64,
    dtoh_copies: AtomicU64,
    dtoh_bytes: AtomicU64,
    device_copies: AtomicU64,
    syncs: AtomicU64,
}

impl Counts {
    /// The counts as a summary, with `memory` and `kernels` added.
    pub(crate) fn summary(&self, memory: MemoryStats, kernels: Vec<LaunchRecord>) -> TraceSummary {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TraceSummary {
            launches: get(&self.launches),
            htod_copies: get(&self.htod_copies),
            htod_bytes: get(&self.htod_bytes),
            dtoh_copies: get(&self.dtoh_copies),
            dtoh_bytes: get(&self.dtoh_bytes),
            device_copies: get(&self.device_copies),
            syncs: get(&self.syncs),
            memory,
            kernels,
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    counts: Counts,
    kernels: Mutex<Vec<LaunchRecord>>,
}

/// Device, stream and memory resource for a piece of work, plus its trace.
///
/// Cloning is cheap and shares the trace. [`ExecContext::new`] uses the device's default stream and
/// memory resource (a pool), wrapped in a fresh tracking adaptor, so each context reports its own
/// allocations and peak. Every operation emits `tracing` events under the target `ember::gpu`
/// (launches, copies, synchronisations).
#[derive(Clone)]
pub struct ExecContext {
    gpu: Arc<Gpu>,
    stream: Stream,
    resource: Arc<dyn MemoryResource>,
    tracking: Arc<TrackingResource>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for ExecContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExecContext({:?}, {:?}, {:?})", self.gpu, self.stream, self.tracking)
    }
}

impl ExecContext {
    /// The device's default stream and memory resource.
    pub fn new(gpu: Arc<Gpu>) -> Self {
        let resource = gpu.default_resource();
        Self::with_resource(gpu, resource)
    }

    /// The device's default stream, allocating from `resource`.
    pub fn with_resource(gpu: Arc<Gpu>, resource: Arc<dyn MemoryResource>) -> Self {
        let tracking = Arc::new(TrackingResource::new(resource));
        let stream = gpu.default_stream();
        Self { gpu, stream, resource: tracking.clone(), tracking, counters: Arc::default() }
    }

    /// The same device and resource on a new stream (its own queue of work), with a fresh trace.
    pub fn on_new_stream(&self) -> Result<Self> {
        let mut c = Self::with_resource(self.gpu.clone(), self.resource.clone());
        c.stream = self.gpu.new_stream()?;
        Ok(c)
    }

    /// The device.
    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.gpu
    }
    /// The stream work is queued on.
    pub fn stream(&self) -> &Stream {
        &self.stream
    }
    /// The memory resource buffers come from (the tracking adaptor over the one given).
    pub fn resource(&self) -> &Arc<dyn MemoryResource> {
        &self.resource
    }

    /// What the work on this context (and its clones) has cost so far.
    pub fn trace(&self) -> TraceSummary {
        let kernels = self.counters.kernels.lock().unwrap_or_else(|p| p.into_inner()).clone();
        self.counters.counts.summary(self.tracking.stats(), kernels)
    }

    /// Adds `by` to one count of this context's trace and of the device's.
    fn bump(&self, count: fn(&Counts) -> &AtomicU64, by: u64) {
        count(&self.counters.counts).fetch_add(by, Ordering::Relaxed);
        count(self.gpu.totals()).fetch_add(by, Ordering::Relaxed);
    }

    /// Emits the trace so far as one `tracing` event (target `ember::trace`) headed by `what`.
    pub fn log_trace(&self, what: &str) {
        if tracing::enabled!(target: "ember::trace", tracing::Level::INFO) {
            tracing::info!(target: "ember::trace", "{what} on {}: {}", self.gpu.describe(), self.trace());
        }
    }

    fn check_own(&self, b: &DeviceBuffer) -> Result<()> {
        if b.backend() != self.gpu.backend() {
            return Err(GpuError::DeviceMismatch(format!("{b:?} does not belong to {:?}", self.gpu)));
        }
        Ok(())
    }

    /// Allocates `bytes` of uninitialised device memory.
    pub fn alloc(&self, bytes: usize) -> Result<DeviceBuffer> {
        DeviceBuffer::allocate(&self.resource, bytes, &self.stream)
    }

    /// Allocates `bytes` of device memory set to zero (one memset on the stream).
    pub fn alloc_zeroed(&self, bytes: usize) -> Result<DeviceBuffer> {
        let b = self.alloc(bytes)?;
        self.fill_bytes(&b, 0)?;
        Ok(b)
    }

    /// Copies a host slice into a new device buffer (no synchronisation).
    pub fn upload<T: bytemuck::Pod>(&self, data: &[T]) -> Result<DeviceBuffer> {
        self.upload_bytes(bytemuck::cast_slice(data))
    }

    /// Copies host bytes into a new device buffer (no synchronisation). The padding past
    /// `data.len()` up to the buffer's capacity (a multiple of 16) is written as zeros, so kernels
    /// that read whole words (a bitmap of `n` bits read as `u32`s, a tail read as `u128`) never
    /// read bytes nothing wrote (compute-sanitizer's initcheck found such reads on an H200).
    pub fn upload_bytes(&self, data: &[u8]) -> Result<DeviceBuffer> {
        /// Unaligned uploads up to this size are padded on the host and go in one copy.
        const PAD_ON_HOST: usize = 1 << 20;
        let buf = self.alloc(data.len())?;
        let aligned = data.len() - data.len() % 16;
        if data.len() == buf.capacity() {
            self.write_bytes(&buf, 0, data)?;
        } else if data.len() <= PAD_ON_HOST {
            let mut padded = vec![0u8; buf.capacity()];
            padded[..data.len()].copy_from_slice(data);
            self.write_bytes(&buf, 0, &padded)?;
        } else {
            // Large and unaligned: the aligned part as it is, then the last 16 bytes padded.
            self.write_bytes(&buf, 0, &data[..aligned])?;
            let mut tail = [0u8; 16];
            tail[..data.len() - aligned].copy_from_slice(&data[aligned..]);
            self.write_bytes(&buf, aligned, &tail)?;
        }
        Ok(buf)
    }

    /// Copies host bytes into `buf` at byte `offset`.
    pub fn write_bytes(&self, buf: &DeviceBuffer, offset: usize, data: &[u8]) -> Result<()> {
        self.check_own(buf)?;
        if offset.checked_add(data.len()).is_none_or(|end| end > buf.capacity()) {
            return Err(GpuError::Size(format!("write of {} bytes at {offset} into {buf:?}", data.len())));
        }
        self.bump(|c| &c.htod_copies, 1);
        self.bump(|c| &c.htod_bytes, data.len() as u64);
        tracing::trace!(target: "ember::gpu", bytes = data.len(), "copy H->D");
        self.gpu.htod(&self.stream, buf.device_ptr() + offset as u64, data)
    }

    /// Copies the first `n` values of type `T` of `buf` to the host: waits for the stream (one
    /// host round trip). An op that needs a size or a scalar result makes exactly one such call,
    /// and says why at the call site.
    pub fn download<T: bytemuck::Pod>(&self, buf: &DeviceBuffer, n: usize) -> Result<Vec<T>> {
        self.download_range(buf, 0, n)
    }

    /// Copies the whole buffer (`len() / size_of::<T>()` values) to the host; see [`Self::download`].
    pub fn download_all<T: bytemuck::Pod>(&self, buf: &DeviceBuffer) -> Result<Vec<T>> {
        self.download(buf, buf.len() / std::mem::size_of::<T>())
    }

    /// Copies values `first..first + n` (of type `T`) of `buf` to the host; see [`Self::download`].
    pub fn download_range<T: bytemuck::Pod>(&self, buf: &DeviceBuffer, first: usize, n: usize) -> Result<Vec<T>> {
        let mut out = vec![T::zeroed(); n];
        self.download_into(buf, first * std::mem::size_of::<T>(), bytemuck::cast_slice_mut(&mut out))?;
        Ok(out)
    }

    /// Copies `out.len()` bytes of `buf` from byte `offset` into `out`; see [`Self::download`].
    /// For a host buffer that must be aligned wider than the bytes it takes (Arrow values
    /// downloaded into `u128` words), so only the bytes a kernel wrote are read.
    pub fn download_into(&self, buf: &DeviceBuffer, offset: usize, out: &mut [u8]) -> Result<()> {
        self.check_own(buf)?;
        let bytes = out.len();
        if offset.checked_add(bytes).is_none_or(|end| end > buf.capacity()) {
            return Err(GpuError::Size(format!("download of {bytes} bytes at {offset} from {buf:?}")));
        }
        self.bump(|c| &c.dtoh_copies, 1);
        self.bump(|c| &c.dtoh_bytes, bytes as u64);
        self.bump(|c| &c.syncs, 1);
        tracing::trace!(target: "ember::gpu", bytes, "copy D->H (synchronises)");
        self.gpu.dtoh(&self.stream, buf.device_ptr() + offset as u64, out)
    }

    /// Copies `bytes` bytes from `src[src_off..]` to `dst[dst_off..]` on the device.
    pub fn copy(
        &self,
        src: &DeviceBuffer,
        src_off: usize,
        dst: &DeviceBuffer,
        dst_off: usize,
        bytes: usize,
    ) -> Result<()> {
        self.check_own(src)?;
        self.check_own(dst)?;
        let fits = |off: usize, b: &DeviceBuffer| off.checked_add(bytes).is_some_and(|end| end <= b.capacity());
        if !fits(src_off, src) || !fits(dst_off, dst) {
            return Err(GpuError::Size(format!("copy of {bytes} bytes from {src:?}+{src_off} to {dst:?}+{dst_off}")));
        }
        self.bump(|c| &c.device_copies, 1);
        self.gpu.dtod(&self.stream, src.device_ptr() + src_off as u64, dst.device_ptr() + dst_off as u64, bytes)
    }

    /// Sets every byte of `buf` (its whole capacity) to `value`.
    pub fn fill_bytes(&self, buf: &DeviceBuffer, value: u8) -> Result<()> {
        self.check_own(buf)?;
        self.bump(|c| &c.device_copies, 1);
        self.gpu.memset(&self.stream, buf.device_ptr(), value, buf.capacity())
    }

    /// Queues `kernel` on the stream (on Sim it runs to completion before returning).
    pub fn launch(&self, kernel: Kernel, cfg: LaunchConfig, args: &[KernelArg<'_>]) -> Result<()> {
        self.bump(|c| &c.launches, 1);
        tracing::debug!(target: "ember::gpu", kernel = %kernel, grid = ?cfg.grid, block = ?cfg.block, "launch");
        self.counters.kernels.lock().unwrap_or_else(|p| p.into_inner()).push(LaunchRecord {
            kernel: kernel.to_string(),
            grid: cfg.grid,
            block: cfg.block,
        });
        self.gpu.launch(&self.stream, kernel, cfg, args)
    }

    /// Waits for all work queued on the stream.
    pub fn synchronize(&self) -> Result<()> {
        self.bump(|c| &c.syncs, 1);
        self.gpu.synchronize(&self.stream)
    }

    /// Which backend this context's device is.
    pub fn backend(&self) -> Backend {
        self.gpu.backend()
    }
}
