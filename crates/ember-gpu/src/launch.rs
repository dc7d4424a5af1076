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
    ///
    /// A grid too large for CUDA saturates here and is refused at launch ([`LaunchConfig::check`]),
    /// never truncated.
    pub fn for_elems(n: usize, block: u32) -> Self {
        let blocks = n.div_ceil(block.max(1) as usize).max(1);
        Self::blocks(u32::try_from(blocks).unwrap_or(u32::MAX), block)
    }

    /// `blocks` 1-D blocks of `block` threads.
    pub fn blocks(blocks: u32, block: u32) -> Self {
        Self { grid: (blocks.max(1), 1, 1), block: (block, 1, 1), shared_mem_bytes: 0 }
    }

    /// Refuses a shape no GPU launches: a zero dimension, grid x above 2^31 - 1, y or z above
    /// 65535, more than 1024 threads per block.
    pub fn check(&self, kernel: &str) -> crate::Result<()> {
        let (g, b) = (self.grid, self.block);
        let threads = b.0 as u64 * b.1 as u64 * b.2 as u64;
        if g.0 == 0 || g.1 == 0 || g.2 == 0 || g.0 > i32::MAX as u32 || g.1 > 65535 || g.2 > 65535 {
            return Err(crate::GpuError::Size(format!("grid {g:?} of {kernel} is beyond what CUDA launches")));
        }
        if threads == 0 || threads > 1024 {
            return Err(crate::GpuError::Size(format!("block {b:?} of {kernel}: {threads} threads (1..=1024)")));
        }
        Ok(())
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
/// [`KernelArg::Struct`] passes a `#[repr(C)]` struct by value (e.g. an expression program), as
/// CUDA copies any parameter up to 4 KiB into the launch.
#[derive(Debug, Clone, Copy)]
pub enum KernelArg<'a> {
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
    /// The bytes of a `#[repr(C)]` value whose C twin is the parameter's type.
    Struct(&'a [u8]),
}

/// Largest by-value parameter list CUDA accepts without opting in (bytes).
pub const MAX_PARAM_BYTES: usize = 4096;

impl KernelArg<'_> {
    /// A null device pointer.
    pub const NULL: KernelArg<'static> = KernelArg::Ptr(0);

    /// Size of the C parameter this argument stands for.
    pub fn size(&self) -> usize {
        match self {
            KernelArg::Ptr(_) | KernelArg::I64(_) | KernelArg::U64(_) | KernelArg::F64(_) => 8,
            KernelArg::I32(_) | KernelArg::U32(_) | KernelArg::F32(_) => 4,
            KernelArg::Struct(b) => b.len(),
        }
    }

    /// Pointer to the payload, as CUDA's `kernelParams[i]` expects (only ever read through).
    pub(crate) fn as_param(&mut self) -> *mut c_void {
        match self {
            KernelArg::Ptr(v) | KernelArg::U64(v) => v as *mut u64 as *mut c_void,
            KernelArg::I32(v) => v as *mut i32 as *mut c_void,
            KernelArg::U32(v) => v as *mut u32 as *mut c_void,
            KernelArg::I64(v) => v as *mut i64 as *mut c_void,
            KernelArg::F32(v) => v as *mut f32 as *mut c_void,
            KernelArg::F64(v) => v as *mut f64 as *mut c_void,
            KernelArg::Struct(b) => b.as_ptr() as *mut c_void,
        }
    }
}

impl From<&DeviceBuffer> for KernelArg<'_> {
    fn from(b: &DeviceBuffer) -> Self {
        KernelArg::Ptr(b.device_ptr())
    }
}
impl From<Option<&DeviceBuffer>> for KernelArg<'_> {
    fn from(b: Option<&DeviceBuffer>) -> Self {
        b.map_or(KernelArg::NULL, |b| KernelArg::Ptr(b.device_ptr()))
    }
}
macro_rules! arg_from {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for KernelArg<'_> {
            fn from(v: $t) -> Self {
                KernelArg::$v(v)
            }
        }
    )*};
}
arg_from!(i32 => I32, u32 => U32, i64 => I64, u64 => U64, f32 => F32, f64 => F64);
