//! Device-wide primitives written by us (no CUB): exclusive scan, reduce, stream compaction and
//! gathers, radix sort, a hash table grouping rows by key. Each runs unchanged on CUDA and on the
//! simulated device.

pub mod compact;
pub mod hash_table;
pub mod radix_sort;
pub mod reduce;
pub mod scan;

/// Threads per block of the 1-D primitive kernels (`EMBER_BLOCK` in `kernels/common.cuh`).
pub const BLOCK: u32 = 256;

/// Physical element types the kernels are stamped out for (`{op}_{suffix}` kernel names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prim {
    /// `signed char`
    I8,
    /// `short`
    I16,
    /// `int`
    I32,
    /// `long long`
    I64,
    /// `unsigned char`
    U8,
    /// `unsigned short`
    U16,
    /// `unsigned`
    U32,
    /// `unsigned long long`
    U64,
    /// `float`
    F32,
    /// `double`
    F64,
    /// `__int128` (decimal128 values)
    I128,
}

impl Prim {
    /// Kernel-name suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Prim::I8 => "i8",
            Prim::I16 => "i16",
            Prim::I32 => "i32",
            Prim::I64 => "i64",
            Prim::U8 => "u8",
            Prim::U16 => "u16",
            Prim::U32 => "u32",
            Prim::U64 => "u64",
            Prim::F32 => "f32",
            Prim::F64 => "f64",
            Prim::I128 => "i128",
        }
    }
    /// Bytes per value.
    pub fn width(self) -> usize {
        match self {
            Prim::I8 | Prim::U8 => 1,
            Prim::I16 | Prim::U16 => 2,
            Prim::I32 | Prim::U32 | Prim::F32 => 4,
            Prim::I64 | Prim::U64 | Prim::F64 => 8,
            Prim::I128 => 16,
        }
    }
    /// Whether this is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, Prim::F32 | Prim::F64)
    }
    /// Whether this is a signed integer type (decimal included).
    pub fn is_signed_int(self) -> bool {
        matches!(self, Prim::I8 | Prim::I16 | Prim::I32 | Prim::I64 | Prim::I128)
    }
}
