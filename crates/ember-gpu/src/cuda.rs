//! The CUDA backend: cudarc (driver API, dynamically loaded) + kernels compiled by NVRTC on first use.
use crate::buffer::{DeviceBuffer, Mem};
use crate::error::{GpuError, Result};
use crate::launch::{KernelArg, LaunchConfig};
use crate::nvrtc::{self, Target};
use cudarc::driver::{result as cu, sys, CudaContext, CudaFunction, CudaModule, CudaStream};
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex};

pub(crate) struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    sm: u32,
    name: String,
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    functions: Mutex<HashMap<String, CudaFunction>>,
}

fn driver_err(context: &str, e: cu::DriverError) -> GpuError {
    if e.0 == sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY {
        return GpuError::OutOfMemory { bytes: 0 };
    }
    GpuError::Driver { context: context.into(), message: format!("{e:?}") }
}

/// Why CUDA device `ordinal` can't be used, or `None` if it can. Never panics: cudarc's context
/// constructor panics when the driver library is missing, so that is checked first.
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
    if !nvrtc::available() {
        return Some("libnvrtc not found (pip install nvidia-cuda-nvrtc and add its lib/ to LD_LIBRARY_PATH)".into());
    }
    None
}

impl CudaBackend {
    pub(crate) fn new(ordinal: usize) -> Result<Self> {
        if let Some(reason) = unavailable_reason(ordinal) {
            return Err(GpuError::CudaUnavailable { reason });
        }
        let ctx = std::panic::catch_unwind(|| CudaContext::new(ordinal))
            .map_err(|_| GpuError::CudaUnavailable { reason: "cudarc panicked creating the context".into() })?
            .map_err(|e| driver_err("cuCtxCreate", e))?;
        let (major, minor) = ctx.compute_capability().map_err(|e| driver_err("compute capability", e))?;
        let name = ctx.name().unwrap_or_else(|_| "unknown".into());
        let stream = ctx.default_stream();
        Ok(Self {
            ctx,
            stream,
            sm: (major * 10 + minor) as u32,
            name,
            modules: Mutex::new(HashMap::new()),
            functions: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn describe(&self) -> String {
        format!("{} (sm_{})", self.name, self.sm)
    }

    pub(crate) fn alloc(&self, bytes: usize, padded: usize, device_id: u64) -> Result<DeviceBuffer> {
        let slice = self.stream.alloc_zeros::<u8>(padded).map_err(|e| match driver_err("alloc", e) {
            GpuError::OutOfMemory { .. } => GpuError::OutOfMemory { bytes },
            other => other,
        })?;
        Ok(DeviceBuffer { len: bytes, mem: Mem::Cuda(slice, self.stream.clone()), device_id })
    }

    pub(crate) fn htod(&self, src: &[u8], dst: &DeviceBuffer) -> Result<()> {
        if src.is_empty() {
            return Ok(());
        }
        // SAFETY: `dst` has at least `src.len()` bytes (checked by the caller); the copy is ordered
        // on our stream and `src` stays borrowed until the stream is synchronised below.
        unsafe {
            cu::memcpy_htod_async(dst.device_ptr(), src, self.stream.cu_stream())
                .map_err(|e| driver_err("memcpy host->device", e))?;
        }
        self.synchronize()
    }

    pub(crate) fn dtoh(&self, src: &DeviceBuffer, dst: &mut [u8]) -> Result<()> {
        if dst.is_empty() {
            return Ok(());
        }
        // SAFETY: `src` has at least `dst.len()` bytes (checked by the caller); synchronised below
        // before `dst` is read.
        unsafe {
            cu::memcpy_dtoh_async(dst, src.device_ptr(), self.stream.cu_stream())
                .map_err(|e| driver_err("memcpy device->host", e))?;
        }
        self.synchronize()
    }

    pub(crate) fn dtod(&self, src: u64, dst: u64, bytes: usize) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        // SAFETY: the caller checked both ranges lie inside live allocations of this device.
        unsafe {
            cu::memcpy_dtod_async(dst, src, bytes, self.stream.cu_stream())
                .map_err(|e| driver_err("memcpy device->device", e))
        }
    }

    pub(crate) fn memset(&self, dst: u64, value: u8, bytes: usize) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        // SAFETY: the caller checked the range lies inside a live allocation of this device.
        unsafe { cu::memset_d8_async(dst, value, bytes, self.stream.cu_stream()).map_err(|e| driver_err("memset", e)) }
    }

    pub(crate) fn synchronize(&self) -> Result<()> {
        self.stream.synchronize().map_err(|e| driver_err("stream synchronize", e))
    }

    fn function(&self, module: &'static str, src: &'static str, kernel: &str) -> Result<CudaFunction> {
        let key = format!("{module}::{kernel}");
        if let Some(f) = self.functions.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(f.clone());
        }
        let m = {
            let mut mods = self.modules.lock().unwrap_or_else(|p| p.into_inner());
            match mods.get(module) {
                Some(m) => m.clone(),
                None => {
                    let cubin = nvrtc::compile_cached(module, src, Target::Cubin(self.sm))?;
                    let m = self
                        .ctx
                        .load_module(cudarc::nvrtc::Ptx::from_binary(cubin))
                        .map_err(|e| driver_err("cuModuleLoadData", e))?;
                    mods.insert(module, m.clone());
                    m
                }
            }
        };
        let f = m
            .load_function(kernel)
            .map_err(|_| GpuError::KernelNotFound { module: module.into(), kernel: kernel.into() })?;
        self.functions.lock().unwrap_or_else(|p| p.into_inner()).insert(key, f.clone());
        Ok(f)
    }

    pub(crate) fn launch(
        &self,
        module: &'static str,
        src: &'static str,
        kernel: &str,
        cfg: &LaunchConfig,
        args: &mut [KernelArg],
    ) -> Result<()> {
        let f = self.function(module, src, kernel)?;
        let mut params: Vec<*mut c_void> = args.iter_mut().map(|a| a.as_param()).collect();
        // SAFETY: `params` holds one pointer per kernel parameter, each to a value of the parameter's
        // C type (the caller's duty, as with any cuLaunchKernel); the values outlive this call, which
        // copies them into the launch.
        unsafe {
            cu::launch_kernel(
                f.cu_function(),
                cfg.grid,
                cfg.block,
                cfg.shared_mem_bytes,
                self.stream.cu_stream(),
                &mut params,
            )
            .map_err(|e| driver_err(&format!("launch of {kernel}"), e))?;
        }
        if std::env::var_os("EMBER_SYNC_LAUNCHES").is_some() {
            self.synchronize()?;
        }
        Ok(())
    }
}
