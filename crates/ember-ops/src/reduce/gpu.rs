//! Reductions on a GPU with the device-wide two-phase reduce (`ember_gpu::primitives::reduce`).
use super::Agg;
use crate::expr::{gpu::gpu_of, Expr};
use ember_core::{DType, DataFrame, Error, Result, Scalar};
use ember_gpu::primitives::reduce::{accumulator, count_set_bits, reduce as device_reduce, ReduceOp};
use ember_gpu::primitives::Prim;

/// `agg(expr)` over all rows of `df` (on a GPU); see the module docs of [`super`] for semantics.
pub fn reduce(df: &DataFrame, expr: &Expr, agg: Agg) -> Result<Scalar> {
    let gpu = gpu_of(df)?;
    let c = crate::expr::gpu::evaluate(df, expr)?;
    if agg == Agg::Count {
        return Ok(Scalar::UInt64(count_set_bits(&gpu, c.validity.as_deref(), c.len)?));
    }
    let prim = c.dtype.prim().ok_or_else(|| Error::Internal(format!("reduce over {}", c.dtype)))?;
    let op = match agg {
        Agg::Min => ReduceOp::Min,
        Agg::Max => ReduceOp::Max,
        Agg::Sum | Agg::Mean | Agg::Count => ReduceOp::Sum, // Count returned above
    };
    let r = device_reduce(&gpu, op, prim, &c.values, c.validity.as_deref(), c.len)?;
    let acc = accumulator(op, prim);
    let v = r.value;
    let i64v = || i64::from_le_bytes(v[..8].try_into().expect("8 bytes"));
    let u64v = || u64::from_le_bytes(v[..8].try_into().expect("8 bytes"));
    let f32v = || f32::from_le_bytes(v[..4].try_into().expect("4 bytes"));
    let f64v = || f64::from_le_bytes(v[..8].try_into().expect("8 bytes"));
    let i128v = || i128::from_le_bytes(v);
    if r.overflow && matches!(agg, Agg::Sum | Agg::Mean) {
        return Err(Error::Overflow(format!("{agg:?} of {}", c.dtype).to_lowercase()));
    }
    Ok(match agg {
        Agg::Sum => match (acc, c.dtype) {
            (Prim::I64, _) => Scalar::Int64(i64v()),
            (Prim::U64, _) => Scalar::UInt64(u64v()),
            (Prim::F32, _) => Scalar::Float32(f32v()),
            (Prim::F64, _) => Scalar::Float64(f64v()),
            (Prim::I128, DType::Decimal128 { scale, .. }) => {
                Scalar::Decimal128 { value: i128v(), precision: 38, scale }
            }
            (a, t) => return Err(Error::Internal(format!("sum accumulator {a:?} for {t}"))),
        },
        Agg::Mean => {
            if r.count == 0 {
                return Ok(Scalar::Null);
            }
            let total = match (acc, c.dtype) {
                (Prim::I64, _) => i64v() as f64,
                (Prim::U64, _) => u64v() as f64,
                (Prim::F32, _) => f32v() as f64,
                (Prim::F64, _) => f64v(),
                (Prim::I128, DType::Decimal128 { scale, .. }) => i128v() as f64 / 10f64.powi(scale as i32),
                (a, t) => return Err(Error::Internal(format!("mean accumulator {a:?} for {t}"))),
            };
            Scalar::Float64(total / r.count as f64)
        }
        Agg::Min | Agg::Max => {
            if r.count == 0 {
                return Ok(Scalar::Null);
            }
            match c.dtype {
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
        Agg::Count => unreachable!("handled above"),
    })
}
