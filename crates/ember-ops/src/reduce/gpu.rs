//! Reductions on a GPU, fused with their predicate: one program computes the predicate and the
//! value per row and `expr_reduce_partial` folds the kept rows into one partial per block; the
//! device-wide `reduce_final_*` folds the partials and the packed result (value, count, error
//! word) comes back in one copy. Two launches and one synchronisation, no filtered column.
use super::Agg;
use crate::executor::{Executor, GpuExecutor};
use crate::expr::gpu::{check_err, prepare};
use crate::expr::program::{type_code, Precomputed};
use crate::expr::typed::TypedExpr;
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
    let result = ctx.alloc_zeroed(RESULT_BYTES)?;
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
        ],
    )?;
    let r = finish(ctx, op, acc, &partials, &counts, blocks, &result)?;
    check_err(r.err, &|| format!("{agg:?} of {t}").to_lowercase())?;
    to_scalar(agg, t, acc, &r.value, r.count)
}

/// The scalar of a reduction from its accumulator bytes and non-null count.
fn to_scalar(agg: Agg, t: DType, acc: Prim, v: &[u8; 16], count: u64) -> Result<Scalar> {
    let i64v = || i64::from_le_bytes(v[..8].try_into().expect("8 bytes"));
    let u64v = || u64::from_le_bytes(v[..8].try_into().expect("8 bytes"));
    let f32v = || f32::from_le_bytes(v[..4].try_into().expect("4 bytes"));
    let f64v = || f64::from_le_bytes(v[..8].try_into().expect("8 bytes"));
    let i128v = || i128::from_le_bytes(*v);
    Ok(match agg {
        Agg::Count => Scalar::UInt64(u64v()),
        Agg::Sum => match (acc, t) {
            (Prim::I64, _) => Scalar::Int64(i64v()),
            (Prim::U64, _) => Scalar::UInt64(u64v()),
            (Prim::F32, _) => Scalar::Float32(f32v()),
            (Prim::F64, _) => Scalar::Float64(f64v()),
            (Prim::I128, DType::Decimal128 { scale, .. }) => {
                if i128v().unsigned_abs() >= 10u128.pow(38) {
                    return Err(Error::Overflow(format!(
                        "sum of decimals: the total has more than 38 digits (decimal(38, {scale}))"
                    )));
                }
                Scalar::Decimal128 { value: i128v(), precision: 38, scale }
            }
            (a, t) => return Err(Error::Internal(format!("sum accumulator {a:?} for {t}"))),
        },
        Agg::Mean => {
            if count == 0 {
                return Ok(Scalar::Null);
            }
            let total = match (acc, t) {
                (Prim::I64, _) => i64v() as f64,
                (Prim::U64, _) => u64v() as f64,
                (Prim::F32, _) => f32v() as f64,
                (Prim::F64, _) => f64v(),
                (Prim::I128, DType::Decimal128 { scale, .. }) => i128v() as f64 / 10f64.powi(scale as i32),
                (a, t) => return Err(Error::Internal(format!("mean accumulator {a:?} for {t}"))),
            };
            Scalar::Float64(total / count as f64)
        }
        Agg::Min | Agg::Max => {
            if count == 0 {
                return Ok(Scalar::Null);
            }
            match t {
                DType::Int8 => Scalar::Int8(v[0] as i8),
                DType::Int16 => Scalar::Int16(i16::from_le_bytes([v[0], v[1]])),
                DType::Int32 => Scalar::Int32(i32::from_le_bytes(v[..4].try_into().expect("4 bytes"))),
                DType::Date32 => Scalar::Date32(i32::from_le_bytes(v[..4].try_into().expect("4 bytes"))),
                DType::Int64 => Scalar::Int64(i64v()),
                DType::Timestamp(u) => Scalar::Timestamp(i64v(), u),
                DType::UInt8 => Scalar::UInt8(v[0]),
                DType::UInt16 => Scalar::UInt16(u16::from_le_bytes([v[0], v[1]])),
                DType::UInt32 => Scalar::UInt32(u32::from_le_bytes(v[..4].try_into().expect("4 bytes"))),
                DType::UInt64 => Scalar::UInt64(u64v()),
                DType::Float32 => Scalar::Float32(f32v()),
                DType::Float64 => Scalar::Float64(f64v()),
                DType::Decimal128 { precision, scale } => Scalar::Decimal128 { value: i128v(), precision, scale },
                t => return Err(Error::Internal(format!("min/max of {t}"))),
            }
        }
    })
}
