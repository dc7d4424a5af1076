//! Reductions on the CPU engine with arrow-rs aggregate kernels (see [`super`] for semantics).
use super::Agg;
use crate::expr::Expr;
use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use arrow::compute::{max, min, sum, sum_checked};
use arrow::datatypes::*;
use ember_core::{DType, DataFrame, Error, Result, Scalar};

/// `agg(expr)` over all rows of `df` (a CPU frame).
pub fn reduce(df: &DataFrame, expr: &Expr, agg: Agg) -> Result<Scalar> {
    let a = crate::expr::cpu::evaluate(df, expr)?;
    let t = DType::from_arrow(a.data_type())?;
    if agg == Agg::Count {
        return Ok(Scalar::UInt64((a.len() - a.logical_null_count()) as u64));
    }
    match agg {
        Agg::Sum => sum_of(&a, t),
        Agg::Mean => mean_of(&a, t),
        Agg::Min | Agg::Max => min_max(&a, t, agg == Agg::Min),
        Agg::Count => unreachable!("handled above"),
    }
}

fn cast(a: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    Ok(arrow::compute::cast(a, to)?)
}

fn sum_of(a: &ArrayRef, t: DType) -> Result<Scalar> {
    Ok(match t {
        t if t.is_signed_integer() => {
            Scalar::Int64(sum(cast(a, &DataType::Int64)?.as_primitive::<Int64Type>()).unwrap_or(0))
        }
        t if t.is_integer() => {
            Scalar::UInt64(sum(cast(a, &DataType::UInt64)?.as_primitive::<UInt64Type>()).unwrap_or(0))
        }
        DType::Float32 => Scalar::Float32(sum(a.as_primitive::<Float32Type>()).unwrap_or(0.0)),
        DType::Float64 => Scalar::Float64(sum(a.as_primitive::<Float64Type>()).unwrap_or(0.0)),
        DType::Decimal128 { scale, .. } => Scalar::Decimal128 {
            value: sum_checked(a.as_primitive::<Decimal128Type>())?.unwrap_or(0),
            precision: 38,
            scale,
        },
        t => return Err(Error::Internal(format!("sum of {t}"))),
    })
}

/// Mean as documented: the sum (wrapping i64/u64 for integers, the float type for floats, exact
/// i128 for decimals) as f64, divided by the count.
fn mean_of(a: &ArrayRef, t: DType) -> Result<Scalar> {
    let count = a.len() - a.logical_null_count();
    if count == 0 {
        return Ok(Scalar::Null);
    }
    let total = match sum_of(a, t)? {
        Scalar::Int64(v) => v as f64,
        Scalar::UInt64(v) => v as f64,
        Scalar::Float32(v) => v as f64,
        Scalar::Float64(v) => v,
        Scalar::Decimal128 { value, scale, .. } => value as f64 / 10f64.powi(scale as i32),
        other => return Err(Error::Internal(format!("mean over {other:?}"))),
    };
    Ok(Scalar::Float64(total / count as f64))
}

fn pick<T: ArrowNumericType>(a: &ArrayRef, is_min: bool) -> Option<T::Native> {
    let p: &PrimitiveArray<T> = a.as_primitive::<T>();
    if is_min {
        min(p)
    } else {
        max(p)
    }
}

fn min_max(a: &ArrayRef, t: DType, is_min: bool) -> Result<Scalar> {
    macro_rules! m {
        ($ty:ty, $v:ident) => {
            pick::<$ty>(a, is_min).map(Scalar::$v)
        };
    }
    let v = match t {
        DType::Int8 => m!(Int8Type, Int8),
        DType::Int16 => m!(Int16Type, Int16),
        DType::Int32 => m!(Int32Type, Int32),
        DType::Int64 => m!(Int64Type, Int64),
        DType::UInt8 => m!(UInt8Type, UInt8),
        DType::UInt16 => m!(UInt16Type, UInt16),
        DType::UInt32 => m!(UInt32Type, UInt32),
        DType::UInt64 => m!(UInt64Type, UInt64),
        DType::Float32 => m!(Float32Type, Float32),
        DType::Float64 => m!(Float64Type, Float64),
        DType::Date32 => m!(Date32Type, Date32),
        DType::Decimal128 { precision, scale } => {
            pick::<Decimal128Type>(a, is_min).map(|value| Scalar::Decimal128 { value, precision, scale })
        }
        DType::Timestamp(u) => {
            let v = cast(a, &DataType::Int64)?;
            pick::<Int64Type>(&v, is_min).map(|x| Scalar::Timestamp(x, u))
        }
        t => return Err(Error::Internal(format!("min/max of {t}"))),
    };
    Ok(v.unwrap_or(Scalar::Null))
}
