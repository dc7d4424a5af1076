//! The GPU runtime's error type.

/// Why a launch was rejected by the simulated device (mirrors `EmberSimError::code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimRejection {
    /// Grid or block dimensions a GPU refuses (zero, more than 1024 threads per block, ...).
    InvalidLaunchConfig,
    /// Static plus dynamic shared memory above the per-block limit.
    SharedMemoryExceeded,
    /// Threads of one block reached different `__syncthreads()` (or some exited while others wait).
    DivergentSyncthreads,
    /// No thread of a block could make progress: on a GPU this launch would hang.
    Deadlock,
    /// A warp intrinsic was called with a lane mask the emulator does not model.
    UnsupportedWarpMask,
    /// The arguments do not match the kernel's signature (count, size, pointer alignment).
    ArgumentMismatch,
    /// Anything else the emulator reports.
    Other,
}

impl SimRejection {
    #[cfg_attr(not(feature = "sim"), allow(dead_code))]
    pub(crate) fn from_code(code: i32) -> Self {
        match code {
            1 => Self::InvalidLaunchConfig,
            2 => Self::SharedMemoryExceeded,
            3 => Self::DivergentSyncthreads,
            4 => Self::Deadlock,
            5 => Self::UnsupportedWarpMask,
            7 => Self::ArgumentMismatch,
            _ => Self::Other,
        }
    }
}

/// Errors from the GPU runtime: device discovery, compilation, memory, launches.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GpuError {
    /// No usable CUDA device: no driver library, no device, or no NVRTC.
    #[error("CUDA is not available: {reason}")]
    CudaUnavailable {
        /// What was missing.
        reason: String,
    },
    /// The simulated device was requested but this build does not include it.
    #[error("the simulated device is not compiled into this build (enable the `sim` cargo feature)")]
    SimNotCompiled,
    /// A CUDA driver call failed.
    #[error("CUDA driver error in {context}: {message}")]
    Driver {
        /// The operation that failed.
        context: String,
        /// The driver's message.
        message: String,
    },
    /// Device memory could not be allocated (the device is full, or a limit set on the context's
    /// memory resource would be passed). The context stays usable.
    #[error("out of device memory allocating {bytes} bytes{}", limit.map(|l| format!(" (limit {l} bytes)")).unwrap_or_default())]
    OutOfMemory {
        /// The request that failed.
        bytes: usize,
        /// The limit that refused it, if a limit did.
        limit: Option<usize>,
    },
    /// NVRTC rejected a kernel source (a bug in ember's kernels).
    #[error("NVRTC failed to compile kernel module `{module}`: {log}")]
    Compile {
        /// The `kernels/<module>.cu` file.
        module: String,
        /// NVRTC's log.
        log: String,
    },
    /// The named kernel does not exist in the module.
    #[error("kernel `{kernel}` not found in module `{module}`")]
    KernelNotFound {
        /// The module searched.
        module: String,
        /// The kernel name.
        kernel: String,
    },
    /// The simulated device refused or aborted a launch, as a GPU would fail or hang.
    #[error("simulated launch of `{kernel}` rejected ({kind:?}): {message}")]
    SimLaunch {
        /// The kernel.
        kernel: String,
        /// The class of problem.
        kind: SimRejection,
        /// The emulator's message (names the source line where it knows it).
        message: String,
    },
    /// A buffer was too small for the requested copy or view.
    #[error("buffer size mismatch: {0}")]
    Size(String),
    /// Two buffers from different devices were mixed.
    #[error("device mismatch: {0}")]
    DeviceMismatch(String),
}

/// Result alias for the GPU runtime.
pub type Result<T, E = GpuError> = std::result::Result<T, E>;
