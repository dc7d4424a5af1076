//! Device memory: one untyped, 16-byte-aligned allocation from a [`MemoryResource`], returned to it
//! (ordered on its stream) when the buffer drops.
use crate::error::{GpuError, Result};
use crate::memory::{padded, MemoryResource};
use crate::stream::Stream;
use crate::Backend;
use std::sync::Arc;

/// An allocation in device memory (CUDA or simulated). Uninitialised unless it was allocated
/// zeroed; `capacity()` is `len()` rounded up to 16 bytes (at least 16).
pub struct DeviceBuffer {
    ptr: u64,
    len: usize,
    resource: Arc<dyn MemoryResource>,
    stream: Stream,
}

impl std::fmt::Debug for DeviceBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceBuffer({:?}, {} bytes @ {:#x})", self.backend(), self.len, self.ptr)
    }
}

impl DeviceBuffer {
    /// Allocates `bytes` (uninitialised) from `resource`, ordered on `stream`.
    pub fn allocate(resource: &Arc<dyn MemoryResource>, bytes: usize, stream: &Stream) -> Result<DeviceBuffer> {
        let ptr = resource.allocate(padded(bytes), stream)?;
        Ok(DeviceBuffer { ptr, len: bytes, resource: resource.clone(), stream: stream.clone() })
    }
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
        self.ptr
    }
    /// Address `offset` bytes into the buffer.
    pub fn device_ptr_at(&self, offset: usize) -> Result<u64> {
        if offset > self.len {
            return Err(GpuError::Size(format!("offset {offset} past a {}-byte buffer", self.len)));
        }
        Ok(self.ptr + offset as u64)
    }
    /// Bytes physically allocated (a multiple of 16).
    pub fn capacity(&self) -> usize {
        padded(self.len)
    }
    /// The device the memory is on.
    pub fn backend(&self) -> Backend {
        self.resource.backend()
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `resource.allocate(padded(len))` and this buffer is its only owner;
        // work queued on `stream` that still reads it runs before the memory is reused.
        unsafe { self.resource.deallocate(self.ptr, padded(self.len), &self.stream) }
    }
}
