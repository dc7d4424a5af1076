//! Device memory: one untyped, 16-byte-aligned allocation on a CUDA device or on the simulated device.
use crate::error::{GpuError, Result};
use std::ptr::NonNull;

/// Bytes every allocation is rounded up to: kernels may read whole 32-bit bitmap words and
/// 16-byte decimal values without bounds games.
pub(crate) const ALIGN: usize = 16;

pub(crate) enum Mem {
    Cuda(cudarc::driver::CudaSlice<u8>, std::sync::Arc<cudarc::driver::CudaStream>),
    #[cfg_attr(not(feature = "sim"), allow(dead_code))]
    Sim(SimAlloc),
}

/// Host memory standing in for device memory on the simulated device.
pub(crate) struct SimAlloc {
    ptr: NonNull<u128>,
    words: usize,
}

// SAFETY: the allocation is owned uniquely by its `DeviceBuffer`; like device memory it is only
// written by kernel launches and explicit copies, which the runtime orders (launches are
// synchronous on the simulated device).
unsafe impl Send for SimAlloc {}
// SAFETY: as above; shared references only hand out the address.
unsafe impl Sync for SimAlloc {}

impl SimAlloc {
    #[cfg_attr(not(feature = "sim"), allow(dead_code))]
    pub(crate) fn zeroed(bytes: usize) -> Self {
        let words = bytes.div_ceil(ALIGN).max(1);
        let boxed: Box<[u128]> = vec![0u128; words].into_boxed_slice();
        let ptr = NonNull::new(Box::into_raw(boxed) as *mut u128).expect("Box is never null");
        Self { ptr, words }
    }
    pub(crate) fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }
}

impl Drop for SimAlloc {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`words` came from `Box::into_raw` of a `[u128]` of exactly `words` elements.
        unsafe {
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.words)));
        }
    }
}

/// An allocation in device memory (CUDA or simulated), zero-initialised, at least 16 bytes and a
/// multiple of 16 bytes long (`len()` is the size that was asked for).
pub struct DeviceBuffer {
    pub(crate) len: usize,
    pub(crate) mem: Mem,
    pub(crate) device_id: u64,
}

impl std::fmt::Debug for DeviceBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.mem {
            Mem::Cuda(..) => "cuda",
            Mem::Sim(_) => "sim",
        };
        write!(f, "DeviceBuffer({kind}, {} bytes @ {:#x})", self.len, self.device_ptr())
    }
}

impl DeviceBuffer {
    /// Bytes requested at allocation.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the buffer holds zero bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The device address, for kernel arguments.
    pub fn device_ptr(&self) -> u64 {
        match &self.mem {
            Mem::Cuda(slice, stream) => {
                use cudarc::driver::DevicePtr;
                let (ptr, _sync) = slice.device_ptr(stream);
                ptr
            }
            Mem::Sim(a) => a.addr(),
        }
    }
    /// Address `offset` bytes into the buffer.
    pub fn device_ptr_at(&self, offset: usize) -> Result<u64> {
        if offset > self.len {
            return Err(GpuError::Size(format!("offset {offset} past a {}-byte buffer", self.len)));
        }
        Ok(self.device_ptr() + offset as u64)
    }
    /// Bytes physically allocated (a multiple of 16).
    pub fn capacity(&self) -> usize {
        self.len.div_ceil(ALIGN).max(1) * ALIGN
    }
}
