//! Streams: the queue device work is ordered on.
use std::sync::Arc;

/// A stream of one device. On CUDA a non-blocking `CUstream` (work on it never waits for the
/// legacy default stream); on the simulated device every operation completes before it returns,
/// so one implicit stream orders everything.
#[derive(Clone)]
pub enum Stream {
    /// A CUDA stream.
    Cuda(Arc<cudarc::driver::CudaStream>),
    /// The simulated device's implicit stream.
    Sim,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stream::Cuda(s) => write!(f, "Stream(cuda {:p})", s.cu_stream()),
            Stream::Sim => f.write_str("Stream(sim)"),
        }
    }
}

impl Stream {
    /// The raw CUDA stream (null on the simulated device).
    pub(crate) fn cu_stream(&self) -> cudarc::driver::sys::CUstream {
        match self {
            Stream::Cuda(s) => s.cu_stream(),
            Stream::Sim => std::ptr::null_mut(),
        }
    }
}
