//! Device-wide reductions: sum, min, max of a column with an optional validity bitmap, plus the
//! count of non-null values. Two phases (see `kernels/reduce.cu`); the grid size depends only on
//! `n`, so a float sum is the same number on every run and on CUDA and Sim.
use super::{Prim, BLOCK};
use crate::{DeviceBuffer, Gpu, KernelArg, LaunchConfig, Result};

/// Blocks of the first phase, at most.
const MAX_PARTIALS: usize = 1024;

/// Which reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    /// Sum (signed ints in i64, unsigned in u64, wrapping; floats in their type; i128 checked).
    Sum,
    /// Minimum (floats in IEEE total order).
    Min,
    /// Maximum (floats in IEEE total order).
    Max,
}

/// Result of [`reduce`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reduced {
    /// Little-endian bytes of the accumulator ([`accumulator`] type); meaningless when `count == 0`
    /// for min/max.
    pub value: [u8; 16],
    /// Number of non-null values seen.
    pub count: u64,
    /// A checked (i128) sum overflowed.
    pub overflow: bool,
}

/// The accumulator type of `op` over `input`.
pub fn accumulator(op: ReduceOp, input: Prim) -> Prim {
    match op {
        ReduceOp::Sum => match input {
            Prim::I8 | Prim::I16 | Prim::I32 | Prim::I64 => Prim::I64,
            Prim::U8 | Prim::U16 | Prim::U32 | Prim::U64 => Prim::U64,
            other => other,
        },
        ReduceOp::Min | ReduceOp::Max => input,
    }
}

/// Reduces the first `n` values of `values` (skipping nulls per `validity`).
///
/// ```
/// use ember_gpu::{Gpu, primitives::{Prim, reduce::{reduce, ReduceOp}}};
/// # if !ember_gpu::sim::compiled() { return; }
/// let gpu = Gpu::sim().unwrap();
/// let v = gpu.upload(&[5i32, -2, 7]).unwrap();
/// let r = reduce(&gpu, ReduceOp::Sum, Prim::I32, &v, None, 3).unwrap();
/// assert_eq!(i64::from_le_bytes(r.value[..8].try_into().unwrap()), 10);
/// assert_eq!(r.count, 3);
/// ```
pub fn reduce(
    gpu: &Gpu,
    op: ReduceOp,
    prim: Prim,
    values: &DeviceBuffer,
    validity: Option<&DeviceBuffer>,
    n: usize,
) -> Result<Reduced> {
    let acc = accumulator(op, prim);
    let opname = match op {
        ReduceOp::Sum => "sum",
        ReduceOp::Min => "min",
        ReduceOp::Max => "max",
    };
    let blocks = n.div_ceil(BLOCK as usize).clamp(1, MAX_PARTIALS);
    let partials = gpu.alloc(blocks * acc.width())?;
    let counts = gpu.alloc(blocks * 8)?;
    let err = gpu.alloc(4)?;
    gpu.launch(
        "reduce",
        &format!("reduce_{opname}_{}", prim.suffix()),
        LaunchConfig::blocks(blocks as u32, BLOCK),
        &[
            values.into(),
            validity.into(),
            KernelArg::U64(n as u64),
            (&partials).into(),
            (&counts).into(),
            (&err).into(),
        ],
    )?;
    let out = gpu.alloc(16)?;
    let out_count = gpu.alloc(8)?;
    gpu.launch(
        "reduce",
        &format!("reduce_final_{opname}_{}", acc.suffix()),
        LaunchConfig::blocks(1, BLOCK),
        &[
            (&partials).into(),
            (&counts).into(),
            KernelArg::U64(blocks as u64),
            (&out).into(),
            (&out_count).into(),
            (&err).into(),
        ],
    )?;
    let value: [u8; 16] = gpu.download_prefix::<u8>(&out, 16)?.try_into().expect("16 bytes");
    let count = gpu.download_prefix::<u64>(&out_count, 1)?[0];
    let overflow = gpu.download_prefix::<u32>(&err, 1)?[0] != 0;
    Ok(Reduced { value, count, overflow })
}

/// How many of the first `n` bits of `bits` are set (`n` when `bits` is `None`): the non-null
/// count of a column from its validity bitmap.
///
/// ```
/// use ember_gpu::{Gpu, primitives::reduce::count_set_bits};
/// # if !ember_gpu::sim::compiled() { return; }
/// let gpu = Gpu::sim().unwrap();
/// let bits = gpu.upload(&[0xffff_ffffu32, 0b1011]).unwrap();
/// assert_eq!(count_set_bits(&gpu, Some(&bits), 35).unwrap(), 34);
/// assert_eq!(count_set_bits(&gpu, None, 35).unwrap(), 35);
/// ```
pub fn count_set_bits(gpu: &Gpu, bits: Option<&DeviceBuffer>, n: usize) -> Result<u64> {
    let Some(bits) = bits else { return Ok(n as u64) };
    if n == 0 {
        return Ok(0);
    }
    let out = gpu.alloc(8)?;
    gpu.launch(
        "reduce",
        "count_bits",
        LaunchConfig::for_elems(n.div_ceil(32), BLOCK),
        &[bits.into(), KernelArg::U64(n as u64), (&out).into()],
    )?;
    Ok(gpu.download_prefix::<u64>(&out, 1)?[0])
}
