//! Launch configuration and kernel arguments, shared by the CUDA and Sim backends.
use crate::buffer::DeviceBuffer;
use std::ffi::c_void;

/// Grid and block shape of one kernel launch (CUDA's `<<<grid, block, shared>>>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaunchConfig {
    /// Blocks in x, y, z.
    pub grid: (u32, u32, u32),
    /// Threads per block in x, y, z.
    pub block: (u32, u32, u32),
    /// Dynamic shared memory in bytes.
    pub shared_mem_bytes: u32,
}

impl LaunchConfig {
    /// One thread per element, `block` threads per block (1-D), at least one block.
    ///
    /// ```
    /// let cfg = ember_gpu::LaunchConfig::for_elems(1000, 256);
    /// assert_eq!(cfg.grid, (4, 1, 1));
    /// ```
    pub fn for_elems(n: usize, block: u32) -> Self {
        let blocks = n.div_ceil(block as usize).max(1);
        Self::blocks(blocks as u32, block)
    }

    /// `blocks` 1-D blocks of `block` threads.
    pub fn blocks(blocks: u32, block: u32) -> Self {
        Self { grid: (blocks.max(1), 1, 1), block: (block, 1, 1), shared_mem_bytes: 0 }
    }

    /// Total number of blocks.
    pub fn num_blocks(&self) -> u64 {
        self.grid.0 as u64 * self.grid.1 as u64 * self.grid.2 as u64
    }
}

/// One kernel argument, passed by value like a CUDA kernel parameter.
///
/// Device pointers are plain 64-bit addresses (`CUdeviceptr` on CUDA, a host address on Sim);
/// a null pointer (`KernelArg::NULL`) is how an optional buffer (e.g. "no validity bitmap") is passed.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(16))]
pub enum KernelArg {
    /// A device pointer.
    Ptr(u64),
    /// `int`
    I32(i32),
    /// `unsigned`
    U32(u32),
    /// `long long`
    I64(i64),
    /// `unsigned long long`
    U64(u64),
    /// `float`
    F32(f32),
    /// `double`
    F64(f64),
}

impl KernelArg {
    /// A null device pointer.
    pub const NULL: KernelArg = KernelArg::Ptr(0);

    /// Pointer to the payload, as CUDA's `kernelParams[i]` expects.
    pub(crate) fn as_param(&mut self) -> *mut c_void {
        match self {
            KernelArg::Ptr(v) | KernelArg::U64(v) => v as *mut u64 as *mut c_void,
            KernelArg::I32(v) => v as *mut i32 as *mut c_void,
            KernelArg::U32(v) => v as *mut u32 as *mut c_void,
            KernelArg::I64(v) => v as *mut i64 as *mut c_void,
            KernelArg::F32(v) => v as *mut f32 as *mut c_void,
            KernelArg::F64(v) => v as *mut f64 as *mut c_void,
        }
    }
}

impl From<&DeviceBuffer> for KernelArg {
    fn from(b: &DeviceBuffer) -> Self {
        KernelArg::Ptr(b.device_ptr())
    }
}
impl From<Option<&DeviceBuffer>> for KernelArg {
    fn from(b: Option<&DeviceBuffer>) -> Self {
        b.map_or(KernelArg::NULL, |b| KernelArg::Ptr(b.device_ptr()))
    }
}
impl From<i32> for KernelArg {
    fn from(v: i32) -> Self {
        KernelArg::I32(v)
    }
}
impl From<u32> for KernelArg {
    fn from(v: u32) -> Self {
        KernelArg::U32(v)
    }
}
impl From<i64> for KernelArg {
    fn from(v: i64) -> Self {
        KernelArg::I64(v)
    }
}
impl From<u64> for KernelArg {
    fn from(v: u64) -> Self {
        KernelArg::U64(v)
    }
}
impl From<f32> for KernelArg {
    fn from(v: f32) -> Self {
        KernelArg::F32(v)
    }
}
impl From<f64> for KernelArg {
    fn from(v: f64) -> Self {
        KernelArg::F64(v)
    }
}
