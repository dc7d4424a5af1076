//! Reductions on a GPU, fused with their predicate: one program computes the predicate and the
//! value per row and `expr_reduce_partial` folds the kept rows into one partial per block; the
//! device-wide `reduce_final_*` folds the partials and the packed result (value, count, error
//! word) comes back in one copy. Two launches and one synchronisation, no filtered column.
use super::Agg;
use crate::executor::{Executor, GpuExecutor};
use crate::expr::gpu::{check_key, prepare};
use crate::expr::program::{type_code, Precomputed};
use crate::expr::typed::TypedExpr;
use crate::reduce::state::{AggState, Sum};
use ember_core::{DType, DataFrame, Error, Result, Scalar};
use ember_gpu::primitives::reduce::{accumulator, finish, partial_blocks, ReduceOp, RESULT_BYTES};
use ember_gpu::primitives::{Prim, BLOCK};
use ember_gpu::{abi, ExecContext, Kernel, KernelArg, LaunchConfig};

const PARTIAL: Kernel = Kernel::new("expr", "expr_reduce_partial");
const PARTIAL_NULLS: Kernel = Kernel::new("expr", "expr_reduce_partial_nulls");

/// The identity of `op` for accumulator `acc` as two 64-bit words (min: the type's largest value,
/// max: its smallest, floats in total order; sum: zero).
fn identity(op: ReduceOp, acc: Prim) -> (u64, u64) {
    let (lo, hi): (i128, i128) = match acc {
        Prim::I8 => (i8::MIN as i128, i8::MAX as i128),
        Prim::I16 => (i16::MIN as i128, i16::MAX as i128),
        Prim::I32 => (i32::MIN as i128, i32::MAX as i128),
        Prim::I64 => (i64::MIN as i128, i64::MAX as i128),
        Prim::U8 => (0, u8::MAX as i128),
        Prim::U16 => (0, u16::MAX as i128),
        Prim::U32 => (0, u32::MAX as i128),
        Prim::U64 => (0, u64::MAX as i128),
        // -NaN / +NaN with every payload bit set: the ends of IEEE total order.
        Prim::F32 => (0xffff_ffff, 0x7fff_ffff),
        Prim::F64 => (0xffff_ffff_ffff_ffff, 0x7fff_ffff_ffff_ffff),
        Prim::I128 => (i128::MIN, i128::MAX),
    };
    let v = match op {
        ReduceOp::Sum => 0,
        ReduceOp::Min => hi,
        ReduceOp::Max => lo,
    };
    (v as u128 as u64, (v as u128 >> 64) as u64)
}

/// `agg(value)` over the rows of `df` (on a GPU) where `predicate` (if any) is true; see the
/// module docs of [`super`] for semantics. Both expressions are resolved against `df`.
pub fn reduce(
    ctx: &ExecContext,
    df: &DataFrame,
    predicate: Option<&TypedExpr>,
    value: &TypedExpr,
    agg: Agg,
) -> Result<Scalar> {
    let n = df.num_rows();
    let t = value.dtype();
    // Count sums "value is not null" (always valid) over the kept rows.
    let original = value;
    let counted;
    let (value, input) = if agg == Agg::Count {
        counted = TypedExpr::IsNotNull(Box::new(value.clone()));
        (&counted, DType::Bool)
    } else {
        (value, t)
    };
    let prim = match input {
        DType::Bool => Prim::U8, // the 0/1 of a count, summed in u64 below
        t => t.prim().ok_or_else(|| Error::Internal(format!("reduce over {t}")))?,
    };
    let op = match agg {
        Agg::Min => ReduceOp::Min,
        Agg::Max => ReduceOp::Max,
        Agg::Sum | Agg::Mean | Agg::Count => ReduceOp::Sum,
        _ => return Err(Error::Internal(format!("{agg:?} is reduced as a one-group group-by"))),
    };
    let acc = accumulator(op, prim);
    let acc_code = match acc {
        Prim::I64 => abi::TY_I64,
        Prim::U64 => abi::TY_U64,
        _ => type_code(input).ok_or_else(|| Error::Internal(format!("accumulator for {input}")))? as u32,
    };
    let mut pre = Precomputed::new();
    let p = match prepare(ctx, df, predicate, value, &mut pre) {
        Err(Error::ProgramTooLarge) => {
            // The value is too large to fuse with the predicate: filter, then reduce.
            let gpu = GpuExecutor::new(ctx);
            let rows = gpu.select_rows_typed(df, predicate.expect("only under a predicate"))?;
            return reduce(ctx, &gpu.gather(df, &rows)?, None, original, agg);
        }
        other => other?,
    };
    let blocks = partial_blocks(n);
    let partials = ctx.alloc(blocks * acc.width())?;
    let counts = ctx.alloc(blocks * 8)?;
    // value, count and the sum's error word zeroed; the predicate's and the value's error keys
    // (bytes 32..48) set to "none"
    let result = ctx.alloc(RESULT_BYTES)?;
    let mut init = [0u8; RESULT_BYTES];
    init[32..].fill(0xff);
    ctx.write_bytes(&result, 0, &init)?;
    let (ident_lo, ident_hi) = identity(op, acc);
    let red = match op {
        ReduceOp::Sum => abi::RED_SUM,
        ReduceOp::Min => abi::RED_MIN,
        ReduceOp::Max => abi::RED_MAX,
    };
    ctx.launch(
        if p.nullable { PARTIAL_NULLS } else { PARTIAL },
        LaunchConfig::blocks(blocks as u32, BLOCK),
        &[
            KernelArg::Struct(p.program.as_bytes()),
            KernelArg::U64(n as u64),
            KernelArg::U32(red),
            KernelArg::U32(acc_code),
            KernelArg::U64(ident_lo),
            KernelArg::U64(ident_hi),
            (&partials).into(),
            (&counts).into(),
            KernelArg::Ptr(result.device_ptr() + 24),
            KernelArg::Ptr(result.device_ptr() + 32),
        ],
    )?;
    let r = finish(ctx, op, acc, &partials, &counts, blocks, &result)?;
    // The predicate's errors (every row) before the value's (kept rows), as filter then reduce.
    check_key(r.tail[0], &|| "the filter of a reduction".into())?;
    check_key(r.tail[1], &|| format!("{agg:?} of {t}").to_lowercase())?;
    if r.overflow() {
        return Err(Error::Overflow(format!("{agg:?} of {t}").to_lowercase()));
    }
    to_state(agg, t, acc, &r.value, r.count)?.finish()
}

/// The device result as an aggregation state (the same one the CPU engine merges), so both
/// executors finish a reduction (mean, the 38-digit check, nulls for no values) in one place.
fn to_state(agg: Agg, t: DType, acc: Prim, v: &[u8; 16], count: u64) -> Result<AggState> {
    let i64v = || i64::from_le_bytes(v[..8].try_into().expect("8 bytes"));
    let u64v = || u64::from_le_bytes(v[..8].try_into().expect("8 bytes"));
    let sum = || -> Result<Sum> {
        Ok(match (acc, t) {
            (Prim::I64, _) => Sum::I64(i64v()),
            (Prim::U64, _) => Sum::U64(u64v()),
            (Prim::F32, _) => Sum::F32(f32::from_le_bytes(v[..4].try_into().expect("4 bytes"))),
            (Prim::F64, _) => Sum::F64(f64::from_le_bytes(v[..8].try_into().expect("8 bytes"))),
            (Prim::I128, DType::Decimal128 { scale, .. }) => Sum::Dec { value: i128::from_le_bytes(*v), scale },
            (a, t) => return Err(Error::Internal(format!("sum accumulator {a:?} for {t}"))),
        })
    };
    Ok(match agg {
        Agg::Count => AggState::Count(u64v()),
        Agg::Sum => AggState::Sum(sum()?),
        Agg::Mean => AggState::Mean { sum: sum()?, count },
        Agg::Min | Agg::Max => {
            let best = if count == 0 {
                None
            } else {
                let w = t.prim().ok_or_else(|| Error::Internal(format!("min/max of {t}")))?.width();
                // The accumulator's bytes are the value's own Arrow bytes.
                let arr = arrow::array::make_array(
                    arrow::array::ArrayData::builder(t.to_arrow())
                        .len(1)
                        .add_buffer(arrow::buffer::Buffer::from_slice_ref(&v[..w]))
                        .build()?,
                );
                Some(Scalar::from_array(arr.as_ref(), 0)?)
            };
            AggState::Extreme { is_min: agg == Agg::Min, dtype: t, best }
        }
        other => return Err(Error::Internal(format!("device state of {other:?}"))),
    })
}
