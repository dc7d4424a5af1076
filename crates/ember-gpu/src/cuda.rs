//! The CUDA backend: cudarc's driver API (dynamically loaded) with raw, stream-ordered calls, and
//! kernels compiled by NVRTC on first use.
//!
//! Every call that touches the driver first binds the device's context to the calling thread
//! ([`CudaBackend::bind`]): a frame may be read or dropped on any thread (a rayon worker, a Python
//! thread), and the driver's current context is per thread.
use crate::error::{GpuError, Result};
use crate::launch::{KernelArg, LaunchConfig};
use crate::memory::MemoryResource;
use crate::nvrtc::{self, Target};
use crate::stream::Stream;
use crate::Backend;
use cudarc::driver::{result as cu, sys, CudaContext, CudaFunction, CudaModule};
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex};

/// The oldest driver that loads NVRTC 13's CUBINs (`cuDriverGetVersion` format).
const MIN_DRIVER_VERSION: i32 = 13000;

pub(crate) struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Stream,
    resource: Arc<dyn MemoryResource>,
    sm: u32,
    name: String,
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    functions: Mutex<HashMap<(&'static str, &'static str), CudaFunction>>,
}

pub(crate) fn driver_err(context: &str, e: cu::DriverError) -> GpuError {
    if e.0 == sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY {
        return GpuError::OutOfMemory { bytes: 0, limit: None };
    }
    GpuError::Driver { context: context.into(), message: format!("{e:?}") }
}

/// A one-line kernel the availability probe compiles: proves NVRTC *and* its builtins library load.
const PROBE_SRC: &str = "extern \"C\" __global__ void ember_probe(int* p) { if (p) *p = 1; }\n";

/// Why CUDA device `ordinal` can't be used, or `None` if it can. Never panics: cudarc's context
/// constructor panics when the driver library is missing, so that is checked first. NVRTC must
/// also compile a kernel (a missing `libnvrtc-builtins` only shows then), and the driver must be
/// new enough for NVRTC 13's CUBINs.
pub(crate) fn unavailable_reason(ordinal: usize) -> Option<String> {
    // SAFETY: only attempts to dlopen libcuda.
    if !unsafe { sys::is_culib_present() } {
        return Some("no CUDA driver library (libcuda.so) found".into());
    }
    match std::panic::catch_unwind(CudaContext::device_count) {
        Ok(Ok(n)) if (ordinal as i64) < n as i64 => {}
        Ok(Ok(n)) => return Some(format!("{n} CUDA device(s) present, device {ordinal} requested")),
        Ok(Err(e)) => return Some(format!("cuInit/cuDeviceGetCount failed: {e:?}")),
        Err(_) => return Some("the CUDA driver could not be initialised".into()),
    }
    let mut version = 0i32;
    // SAFETY: a plain out-parameter; the driver library is loaded (checked above).
    let r = unsafe { sys::cuDriverGetVersion(&mut version) };
    if r != sys::CUresult::CUDA_SUCCESS {
        return Some(format!("cuDriverGetVersion failed: {r:?}"));
    }
    if version < MIN_DRIVER_VERSION {
        return Some(format!(
            "the CUDA driver supports CUDA {}.{}; ember's NVRTC 13 kernels need a CUDA 13 driver",
            version / 1000,
            version % 1000 / 10
        ));
    }
    if !nvrtc::available() {
        return Some("libnvrtc not found (pip install nvidia-cuda-nvrtc and add its lib/ to LD_LIBRARY_PATH)".into());
    }
    if let Err(e) = nvrtc::compile("ember_probe", PROBE_SRC, Target::Ptx(75)) {
        return Some(format!("NVRTC cannot compile a kernel ({e}); is libnvrtc-builtins on LD_LIBRARY_PATH?"));
    }
    None
}

/// Stream-ordered allocation from the device's default memory pool (`cuMemAllocAsync`), whose
/// release threshold is raised to "keep everything" so freed memory is reused instead of being
/// returned to the driver at every synchronisation.
pub struct CudaAsyncResource {
    ctx: Arc<CudaContext>,
    ordinal: usize,
}

impl std::fmt::Debug for CudaAsyncResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaAsyncResource(cuda:{})", self.ordinal)
    }
}

impl CudaAsyncResource {
    fn new(ctx: Arc<CudaContext>, ordinal: usize) -> Result<Self> {
        ctx.bind_to_thread().map_err(|e| driver_err("cuCtxSetCurrent", e))?;
        // SAFETY: the device handle comes from a live context; the attribute value is a u64.
        unsafe {
            let pool = cu::device::get_default_mem_pool(ctx.cu_device()).map_err(|e| driver_err("default pool", e))?;
            let mut keep_all = u64::MAX;
            sys::cuMemPoolSetAttribute(
                pool,
                sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                &mut keep_all as *mut u64 as *mut c_void,
            )
            .result()
            .map_err(|e| driver_err("cuMemPoolSetAttribute(release threshold)", e))?;
        }
        Ok(Self { ctx, ordinal })
    }
}

impl MemoryResource for CudaAsyncResource {
    fn backend(&self) -> Backend {
        Backend::Cuda(self.ordinal)
    }
    fn allocate(&self, capacity: usize, stream: &Stream) -> Result<u64> {
        self.ctx.bind_to_thread().map_err(|e| driver_err("cuCtxSetCurrent", e))?;
        // SAFETY: the context is current; the stream belongs to it.
        unsafe { cu::malloc_async(stream.cu_stream(), capacity) }.map_err(|e| match driver_err("cuMemAllocAsync", e) {
            GpuError::OutOfMemory { .. } => GpuError::OutOfMemory { bytes: capacity, limit: None },
            other => other,
        })
    }
    unsafe fn deallocate(&self, ptr: u64, _capacity: usize, stream: &Stream) {
        let r = self
            .ctx
            .bind_to_thread()
            // SAFETY: per the trait contract `ptr` came from `cuMemAllocAsync` and is no longer used.
            .and_then(|_| unsafe { cu::free_async(ptr, stream.cu_stream()) });
        if let Err(e) = r {
            // A drop cannot return an error; the memory is lost to this process, nothing else is.
            tracing::error!(target: "ember::gpu", "cuMemFreeAsync({ptr:#x}) failed: {e:?}");
        }
    }
}

impl CudaBackend {
    pub(crate) fn new(ordinal: usize) -> Result<Self> {
        if let Some(reason) = unavailable_reason(ordinal) {
            return Err(GpuError::CudaUnavailable { reason });
        }
        let ctx = std::panic::catch_unwind(|| CudaContext::new(ordinal))
            .map_err(|_| GpuError::CudaUnavailable { reason: "cudarc panicked creating the context".into() })?
            .map_err(|e| driver_err("cuCtxCreate", e))?;
        // SAFETY: no cudarc-managed buffers exist yet; ember orders its own memory on its streams.
        unsafe { ctx.disable_event_tracking() };
        let (major, minor) = ctx.compute_capability().map_err(|e| driver_err("compute capability", e))?;
        let name = ctx.name().unwrap_or_else(|_| "unknown".into());
        // A non-blocking stream: ember's work never serialises against the legacy default stream.
        let stream = Stream::Cuda(ctx.new_stream().map_err(|e| driver_err("cuStreamCreate", e))?);
        let resource: Arc<dyn MemoryResource> = Arc::new(CudaAsyncResource::new(ctx.clone(), ordinal)?);
        Ok(Self {
            ctx,
            stream,
            resource,
            sm: (major * 10 + minor) as u32,
            name,
            modules: Mutex::new(HashMap::new()),
            functions: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn describe(&self) -> String {
        format!("{} (sm_{})", self.name, self.sm)
    }

    pub(crate) fn default_stream(&self) -> Stream {
        self.stream.clone()
    }

    pub(crate) fn new_stream(&self) -> Result<Stream> {
        self.bind()?;
        Ok(Stream::Cuda(self.ctx.new_stream().map_err(|e| driver_err("cuStreamCreate", e))?))
    }

    pub(crate) fn default_resource(&self) -> Arc<dyn MemoryResource> {
        self.resource.clone()
    }

    /// Makes the device's context current on this thread.
    fn bind(&self) -> Result<()> {
        self.ctx.bind_to_thread().map_err(|e| driver_err("cuCtxSetCurrent", e))
    }

    /// Host to device. The source is pageable memory, which the driver stages before the call
    /// returns, so `src` may be reused at once; no synchronisation.
    pub(crate) fn htod(&self, stream: &Stream, dst: u64, src: &[u8]) -> Result<()> {
        if src.is_empty() {
            return Ok(());
        }
        self.bind()?;
        // SAFETY: the caller checked `dst` holds `src.len()` bytes of a live allocation.
        unsafe { cu::memcpy_htod_async(dst, src, stream.cu_stream()) }.map_err(|e| driver_err("memcpy host->device", e))
    }

    /// Device to host; returns once the bytes are on the host (a synchronisation).
    pub(crate) fn dtoh(&self, stream: &Stream, src: u64, dst: &mut [u8]) -> Result<()> {
        if dst.is_empty() {
            return Ok(());
        }
        self.bind()?;
        // SAFETY: the caller checked `src` holds `dst.len()` bytes; synchronised below before
        // `dst` is read.
        unsafe { cu::memcpy_dtoh_async(dst, src, stream.cu_stream()) }
            .map_err(|e| driver_err("memcpy device->host", e))?;
        self.synchronize(stream)
    }

    pub(crate) fn dtod(&self, stream: &Stream, src: u64, dst: u64, bytes: usize) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        self.bind()?;
        // SAFETY: the caller checked both ranges lie inside live allocations of this device.
        unsafe { cu::memcpy_dtod_async(dst, src, bytes, stream.cu_stream()) }
            .map_err(|e| driver_err("memcpy device->device", e))
    }

    pub(crate) fn memset(&self, stream: &Stream, dst: u64, value: u8, bytes: usize) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        self.bind()?;
        // SAFETY: the caller checked the range lies inside a live allocation of this device.
        unsafe { cu::memset_d8_async(dst, value, bytes, stream.cu_stream()) }.map_err(|e| driver_err("memset", e))
    }

    pub(crate) fn synchronize(&self, stream: &Stream) -> Result<()> {
        self.bind()?;
        // SAFETY: the stream belongs to this context.
        unsafe { cu::stream::synchronize(stream.cu_stream()) }.map_err(|e| driver_err("stream synchronize", e))
    }

    fn function(&self, module: &'static str, src: &'static str, kernel: &'static str) -> Result<CudaFunction> {
        if let Some(f) = self.functions.lock().unwrap_or_else(|p| p.into_inner()).get(&(module, kernel)) {
            return Ok(f.clone());
        }
        let m = {
            let mut mods = self.modules.lock().unwrap_or_else(|p| p.into_inner());
            match mods.get(module) {
                Some(m) => m.clone(),
                None => {
                    let target = Target::Cubin(self.sm);
                    let load = |cubin: Vec<u8>| self.ctx.load_module(cudarc::nvrtc::Ptx::from_binary(cubin));
                    let m = match load(nvrtc::compile_cached(module, src, target)?) {
                        Ok(m) => m,
                        Err(_) => {
                            // A corrupt or truncated disk-cache entry: recompile once.
                            nvrtc::invalidate_cached(module, src, target);
                            load(nvrtc::compile_cached(module, src, target)?)
                                .map_err(|e| driver_err("cuModuleLoadData", e))?
                        }
                    };
                    mods.insert(module, m.clone());
                    m
                }
            }
        };
        let f = m
            .load_function(kernel)
            .map_err(|_| GpuError::KernelNotFound { module: module.into(), kernel: kernel.into() })?;
        self.functions.lock().unwrap_or_else(|p| p.into_inner()).insert((module, kernel), f.clone());
        Ok(f)
    }

    pub(crate) fn launch(
        &self,
        stream: &Stream,
        module: &'static str,
        src: &'static str,
        kernel: &'static str,
        cfg: &LaunchConfig,
        args: &mut [KernelArg<'_>],
    ) -> Result<()> {
        self.bind()?;
        let f = self.function(module, src, kernel)?;
        let mut params: Vec<*mut c_void> = args.iter_mut().map(|a| a.as_param()).collect();
        // SAFETY: `params` holds one pointer per kernel parameter, each to a value of the parameter's
        // C type (checked against the kernel's signature on every Sim launch); the values outlive
        // this call, which copies them into the launch.
        unsafe {
            cu::launch_kernel(
                f.cu_function(),
                cfg.grid,
                cfg.block,
                cfg.shared_mem_bytes,
                stream.cu_stream(),
                &mut params,
            )
            .map_err(|e| driver_err(&format!("launch of {module}::{kernel}"), e))?;
        }
        if std::env::var_os("EMBER_SYNC_LAUNCHES").is_some() {
            self.synchronize(stream)?;
        }
        Ok(())
    }
}
