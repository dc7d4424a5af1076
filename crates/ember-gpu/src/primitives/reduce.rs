//! Device-wide reductions: sum, min, max of a column with an optional validity bitmap, plus the
//! count of non-null values. Two phases (see `kernels/reduce.cu`); the grid size depends only on
//! `n`, so a float sum is the same number on every run and on CUDA and Sim.
use super::{Prim, BLOCK};
use crate::{DeviceBuffer, ExecContext, Kernel, KernelArg, LaunchConfig, Result};

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
    /// The error word ([`crate::abi::ERR_OVERFLOW`]: a checked (i128) sum overflowed).
    pub err: u32,
    /// The two words at bytes 32..48 of the packed result, which a caller's own first phase may
    /// fill (ember-ops' fused reductions keep their expression error keys there).
    pub tail: [u64; 2],
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

/// Bytes of the packed result every reduction leaves on the device: the accumulator (16 bytes,
/// little-endian), the non-null count (`u64` at byte 16), the error word (`u32` at byte 24;
/// [`crate::abi::ERR_OVERFLOW`]) and two words for the caller (bytes 32..48), read back with one
/// download.
pub const RESULT_BYTES: usize = 48;

impl Reduced {
    /// Decodes the packed device result (see [`RESULT_BYTES`]).
    pub fn from_packed(bytes: &[u8]) -> Reduced {
        let value: [u8; 16] = bytes[..16].try_into().expect("16 bytes");
        let count = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
        let err = u32::from_le_bytes(bytes[24..28].try_into().expect("4 bytes"));
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        Reduced { value, count, err, tail: [word(32), word(40)] }
    }

    /// Whether a checked sum overflowed.
    pub fn overflow(&self) -> bool {
        self.err & crate::abi::ERR_OVERFLOW != 0
    }
}

/// Name of the reduction in kernel names.
pub fn op_name(op: ReduceOp) -> &'static str {
    match op {
        ReduceOp::Sum => "sum",
        ReduceOp::Min => "min",
        ReduceOp::Max => "max",
    }
}

/// Blocks the first phase of a reduction over `n` rows uses (fixed by `n`, so the order of
/// combination never depends on scheduling).
pub fn partial_blocks(n: usize) -> usize {
    n.div_ceil(BLOCK as usize).clamp(1, MAX_PARTIALS)
}

/// Folds per-block partials (`blocks` accumulators of type `acc` plus `u64` counts) into
/// `result` (a zeroed [`RESULT_BYTES`] buffer whose error word the first phase may have set), and
/// reads it back: the one synchronisation of a reduction.
pub fn finish(
    ctx: &ExecContext,
    op: ReduceOp,
    acc: Prim,
    partials: &DeviceBuffer,
    counts: &DeviceBuffer,
    blocks: usize,
    result: &DeviceBuffer,
) -> Result<Reduced> {
    let base = result.device_ptr();
    ctx.launch(
        Kernel::named("reduce", &format!("reduce_final_{}_{}", op_name(op), acc.suffix())),
        LaunchConfig::blocks(1, BLOCK),
        &[
            partials.into(),
            counts.into(),
            KernelArg::U64(blocks as u64),
            KernelArg::Ptr(base),
            KernelArg::Ptr(base + 16),
            KernelArg::Ptr(base + 24),
        ],
    )?;
    // Scalar result readback: value, count and error flags in one copy.
    let bytes = ctx.download::<u8>(result, RESULT_BYTES)?;
    Ok(Reduced::from_packed(&bytes))
}

/// Reduces the first `n` values of `values` (skipping nulls per `validity`): two launches and one
/// synchronisation.
///
/// ```
/// use ember_gpu::{ExecContext, Gpu, primitives::{Prim, reduce::{reduce, ReduceOp}}};
/// # if !ember_gpu::sim::compiled() { return; }
/// let ctx = ExecContext::new(Gpu::sim().unwrap());
/// let v = ctx.upload(&[5i32, -2, 7]).unwrap();
/// let r = reduce(&ctx, ReduceOp::Sum, Prim::I32, &v, None, 3).unwrap();
/// assert_eq!(i64::from_le_bytes(r.value[..8].try_into().unwrap()), 10);
/// assert_eq!(r.count, 3);
/// ```
pub fn reduce(
    ctx: &ExecContext,
    op: ReduceOp,
    prim: Prim,
    values: &DeviceBuffer,
    validity: Option<&DeviceBuffer>,
    n: usize,
) -> Result<Reduced> {
    let acc = accumulator(op, prim);
    let blocks = partial_blocks(n);
    let partials = ctx.alloc(blocks * acc.width())?;
    let counts = ctx.alloc(blocks * 8)?;
    let result = ctx.alloc_zeroed(RESULT_BYTES)?;
    ctx.launch(
        Kernel::named("reduce", &format!("reduce_{}_{}", op_name(op), prim.suffix())),
        LaunchConfig::blocks(blocks as u32, BLOCK),
        &[
            values.into(),
            validity.into(),
            KernelArg::U64(n as u64),
            (&partials).into(),
            (&counts).into(),
            KernelArg::Ptr(result.device_ptr() + 24),
        ],
    )?;
    finish(ctx, op, acc, &partials, &counts, blocks, &result)
}

/// How many of the first `n` bits of `bits` are set (`n` when `bits` is `None`): the non-null
/// count of a column from its validity bitmap. One launch, one synchronisation.
///
/// ```
/// use ember_gpu::{ExecContext, Gpu, primitives::reduce::count_set_bits};
/// # if !ember_gpu::sim::compiled() { return; }
/// let ctx = ExecContext::new(Gpu::sim().unwrap());
/// let bits = ctx.upload(&[0xffff_ffffu32, 0b1011]).unwrap();
/// assert_eq!(count_set_bits(&ctx, Some(&bits), 35).unwrap(), 34);
/// assert_eq!(count_set_bits(&ctx, None, 35).unwrap(), 35);
/// ```
pub fn count_set_bits(ctx: &ExecContext, bits: Option<&DeviceBuffer>, n: usize) -> Result<u64> {
    let Some(bits) = bits else { return Ok(n as u64) };
    if n == 0 {
        return Ok(0);
    }
    let out = ctx.alloc_zeroed(8)?;
    ctx.launch(
        Kernel::new("reduce", "count_bits"),
        LaunchConfig::for_elems(n.div_ceil(32), BLOCK),
        &[bits.into(), KernelArg::U64(n as u64), (&out).into()],
    )?;
    // Scalar result readback.
    Ok(ctx.download::<u64>(&out, 1)?[0])
}
