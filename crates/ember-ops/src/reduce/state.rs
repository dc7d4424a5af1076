//! Aggregation states: partial, merge, finalize (DataFusion's `Accumulator`, libcudf's MERGE
//! aggregations). A state is built from one chunk of values ([`AggState::update`]), states of
//! different chunks combine in a fixed order ([`AggState::merge`]), and the last one gives the
//! result ([`AggState::finish`]). The CPU engine reduces its row chunks in parallel this way;
//! group-by (a state per group) and a distributed mode (states sent between workers: they
//! serialise) reuse them.
//!
//! ```
//! use arrow::array::Int32Array;
//! use ember_core::{DType, Scalar};
//! use ember_ops::{reduce::state::AggState, Agg};
//! let mut a = AggState::new(Agg::Mean, DType::Int32).unwrap();
//! a.update(&Int32Array::from(vec![Some(1), None, Some(2)])).unwrap();
//! let mut b = AggState::new(Agg::Mean, DType::Int32).unwrap();
//! b.update(&Int32Array::from(vec![6])).unwrap();
//! a.merge(&b).unwrap();
//! assert_eq!(a.finish().unwrap(), Scalar::Float64(3.0));
//! ```
use super::{output_type, Agg};
use arrow::array::{Array, ArrayRef, ArrowNativeTypeOp, AsArray, PrimitiveArray};
use arrow::compute::{max, min, sum, sum_checked};
use arrow::datatypes::*;
use ember_core::{DType, Error, Result, Scalar};
use serde::{Deserialize, Serialize};

/// A running sum in its accumulator type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Sum {
    /// Signed integers, wrapping.
    I64(i64),
    /// Unsigned integers, wrapping.
    U64(u64),
    /// f32, in f32.
    F32(f32),
    /// f64.
    F64(f64),
    /// Decimals: exact, checked.
    Dec {
        /// The unscaled total.
        value: i128,
        /// The inputs' scale.
        scale: i8,
    },
}

/// The partial state of one whole-frame aggregation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AggState {
    /// `sum`.
    Sum(Sum),
    /// `mean`: a sum and a count of non-null values.
    Mean {
        /// The sum so far.
        sum: Sum,
        /// Values so far.
        count: u64,
    },
    /// `count` of non-null values.
    Count(u64),
    /// `len`: values so far, nulls included.
    Len(u64),
    /// `n_unique`: the distinct values so far, each as its arrow row-format bytes (a null is one).
    Distinct {
        /// The input type.
        dtype: DType,
        /// The encoded values.
        seen: std::collections::BTreeSet<Vec<u8>>,
    },
    /// `first` / `last`: the value kept so far (`None`: no row yet; `Some(Scalar::Null)`: a null).
    Pick {
        /// `first` (else `last`).
        first: bool,
        /// The value.
        value: Option<Scalar>,
    },
    /// `var` / `std` / `median`: every non-null value as f64, in row order (finished by
    /// [`f64_stat`], the group-by's formula).
    Values {
        /// Which.
        agg: Agg,
        /// The values.
        values: Vec<f64>,
    },
    /// `min` / `max` so far (`None`: no value yet), of the input type.
    Extreme {
        /// `min` (else `max`).
        is_min: bool,
        /// The input type.
        dtype: DType,
        /// The best value so far.
        best: Option<Scalar>,
    },
}

fn prim<T: ArrowPrimitiveType>(a: &dyn Array) -> Result<&PrimitiveArray<T>> {
    a.as_primitive_opt::<T>().ok_or_else(|| Error::Internal(format!("reduce: unexpected {}", a.data_type())))
}

fn cast(a: &dyn Array, to: &DataType) -> Result<ArrayRef> {
    Ok(arrow::compute::cast(&arrow::array::make_array(a.to_data()), to)?)
}

fn wrapping_sum<T: ArrowNumericType>(a: &dyn Array) -> Result<T::Native> {
    let sum_of = |p: &PrimitiveArray<T>| sum(p).unwrap_or(T::Native::ZERO);
    if a.data_type() == &T::DATA_TYPE {
        return Ok(sum_of(prim::<T>(a)?));
    }
    Ok(sum_of(prim::<T>(cast(a, &T::DATA_TYPE)?.as_ref())?))
}

impl Sum {
    fn zero(input: DType) -> Result<Sum> {
        Ok(match input {
            t if t.is_signed_integer() => Sum::I64(0),
            t if t.is_integer() => Sum::U64(0),
            DType::Float32 => Sum::F32(0.0),
            DType::Float64 => Sum::F64(0.0),
            DType::Decimal128 { scale, .. } => Sum::Dec { value: 0, scale },
            t => return Err(Error::Internal(format!("sum of {t}"))),
        })
    }

    fn add_chunk(&mut self, a: &dyn Array) -> Result<()> {
        match self {
            Sum::I64(s) => *s = s.wrapping_add(wrapping_sum::<Int64Type>(a)?),
            Sum::U64(s) => *s = s.wrapping_add(wrapping_sum::<UInt64Type>(a)?),
            Sum::F32(s) => *s += wrapping_sum::<Float32Type>(a)?,
            Sum::F64(s) => *s += wrapping_sum::<Float64Type>(a)?,
            Sum::Dec { .. } => {
                let part = sum_checked(prim::<Decimal128Type>(a)?)?.unwrap_or(0);
                self.merge(&Sum::Dec { value: part, scale: 0 })?;
            }
        }
        Ok(())
    }

    fn merge(&mut self, other: &Sum) -> Result<()> {
        match (self, other) {
            (Sum::I64(a), Sum::I64(b)) => *a = a.wrapping_add(*b),
            (Sum::U64(a), Sum::U64(b)) => *a = a.wrapping_add(*b),
            (Sum::F32(a), Sum::F32(b)) => *a += *b,
            (Sum::F64(a), Sum::F64(b)) => *a += *b,
            (Sum::Dec { value, scale }, Sum::Dec { value: b, .. }) => {
                *value = value.checked_add(*b).ok_or_else(|| {
                    Error::Overflow(format!(
                        "sum of decimals: the total does not fit in 128 bits (decimal(38, {scale}))"
                    ))
                })?;
            }
            (a, b) => return Err(Error::Internal(format!("merging sums {a:?} and {b:?}"))),
        }
        Ok(())
    }

    fn scalar(&self) -> Scalar {
        match *self {
            Sum::I64(v) => Scalar::Int64(v),
            Sum::U64(v) => Scalar::UInt64(v),
            Sum::F32(v) => Scalar::Float32(v),
            Sum::F64(v) => Scalar::Float64(v),
            Sum::Dec { value, scale } => Scalar::Decimal128 { value, precision: 38, scale },
        }
    }

    /// The sum's scalar, or an overflow error for a decimal total of more than 38 digits.
    fn checked_scalar(&self) -> Result<Scalar> {
        if let Sum::Dec { value, scale } = *self {
            if value.unsigned_abs() >= 10u128.pow(38) {
                return Err(Error::Overflow(format!(
                    "sum of decimals: the total has more than 38 digits (decimal(38, {scale}))"
                )));
            }
        }
        Ok(self.scalar())
    }

    /// The sum as an f64 (decimals: unscaled / 10^scale), as means divide it.
    pub(crate) fn as_f64(&self) -> f64 {
        match *self {
            Sum::I64(v) => v as f64,
            Sum::U64(v) => v as f64,
            Sum::F32(v) => v as f64,
            Sum::F64(v) => v,
            Sum::Dec { value, scale } => value as f64 / 10f64.powi(scale as i32),
        }
    }
}

/// `x` before `y` in arrow-rs's order of one type (floats in IEEE total order).
fn less(x: &Scalar, y: &Scalar) -> bool {
    match (x, y) {
        (Scalar::Float32(a), Scalar::Float32(b)) => a.total_cmp(b).is_lt(),
        (Scalar::Float64(a), Scalar::Float64(b)) => a.total_cmp(b).is_lt(),
        (Scalar::Int8(a), Scalar::Int8(b)) => a < b,
        (Scalar::Int16(a), Scalar::Int16(b)) => a < b,
        (Scalar::Int32(a), Scalar::Int32(b)) | (Scalar::Date32(a), Scalar::Date32(b)) => a < b,
        (Scalar::Int64(a), Scalar::Int64(b)) | (Scalar::Timestamp(a, _), Scalar::Timestamp(b, _)) => a < b,
        (Scalar::UInt8(a), Scalar::UInt8(b)) => a < b,
        (Scalar::UInt16(a), Scalar::UInt16(b)) => a < b,
        (Scalar::UInt32(a), Scalar::UInt32(b)) => a < b,
        (Scalar::UInt64(a), Scalar::UInt64(b)) => a < b,
        (Scalar::Decimal128 { value: a, .. }, Scalar::Decimal128 { value: b, .. }) => a < b,
        _ => false,
    }
}

/// The smallest (`is_min`) or largest value of one chunk of type `dtype`.
fn chunk_extreme(a: &dyn Array, dtype: DType, is_min: bool) -> Result<Option<Scalar>> {
    macro_rules! m {
        ($ty:ty, $v:ident) => {{
            let p = prim::<$ty>(a)?;
            (if is_min { min(p) } else { max(p) }).map(Scalar::$v)
        }};
    }
    Ok(match dtype {
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
            let p = prim::<Decimal128Type>(a)?;
            (if is_min { min(p) } else { max(p) }).map(|value| Scalar::Decimal128 { value, precision, scale })
        }
        DType::Timestamp(unit) => {
            // the same i64 values, without the unit
            let raw = cast(a, &DataType::Int64)?;
            let p = prim::<Int64Type>(raw.as_ref())?;
            (if is_min { min(p) } else { max(p) }).map(|v| Scalar::Timestamp(v, unit))
        }
        t => return Err(Error::Internal(format!("min/max of {t}"))),
    })
}

impl AggState {
    /// The empty state of `agg` over values of type `input` (a type error if `agg` does not take it).
    pub fn new(agg: Agg, input: DType) -> Result<AggState> {
        output_type(agg, input)?;
        Ok(match agg {
            Agg::Sum => AggState::Sum(Sum::zero(input)?),
            Agg::Mean => AggState::Mean { sum: Sum::zero(input)?, count: 0 },
            Agg::Count => AggState::Count(0),
            Agg::Min | Agg::Max => AggState::Extreme { is_min: agg == Agg::Min, dtype: input, best: None },
            Agg::Len => AggState::Len(0),
            Agg::NUnique => AggState::Distinct { dtype: input, seen: Default::default() },
            Agg::First | Agg::Last => AggState::Pick { first: agg == Agg::First, value: None },
            Agg::Var | Agg::Std | Agg::Median | Agg::Quantile(_) => AggState::Values { agg, values: Vec::new() },
        })
    }

    /// Adds the non-null values of `chunk` (of the input type).
    pub fn update(&mut self, chunk: &dyn Array) -> Result<()> {
        let non_null = (chunk.len() - chunk.logical_null_count()) as u64;
        match self {
            AggState::Sum(s) => s.add_chunk(chunk)?,
            AggState::Mean { sum, count } => {
                sum.add_chunk(chunk)?;
                *count += non_null;
            }
            AggState::Count(c) => *c += non_null,
            AggState::Len(c) => *c += chunk.len() as u64,
            AggState::Values { values, .. } => {
                let f = cast(chunk, &DataType::Float64)?;
                values.extend(f.as_primitive::<Float64Type>().iter().flatten());
            }
            AggState::Distinct { dtype, seen } => {
                let conv = arrow::row::RowConverter::new(vec![arrow::row::SortField::new(dtype.to_arrow())])?;
                let arr = cast(chunk, &dtype.to_arrow())?;
                let rows = conv.convert_columns(&[arr])?;
                seen.extend(rows.iter().map(|r| r.as_ref().to_vec()));
            }
            AggState::Pick { first, value } => {
                if chunk.is_empty() || (*first && value.is_some()) {
                    return Ok(());
                }
                let at = if *first { 0 } else { chunk.len() - 1 };
                *value = Some(Scalar::from_array(chunk, at)?);
            }
            AggState::Extreme { is_min, dtype, .. } => {
                let (is_min, dtype) = (*is_min, *dtype);
                if let Some(v) = chunk_extreme(chunk, dtype, is_min)? {
                    self.merge(&AggState::Extreme { is_min, dtype, best: Some(v) })?;
                }
            }
        }
        Ok(())
    }

    /// Folds `other` (a state of the same aggregation, of later rows) into this one.
    pub fn merge(&mut self, other: &AggState) -> Result<()> {
        match (self, other) {
            (AggState::Sum(a), AggState::Sum(b)) => a.merge(b)?,
            (AggState::Mean { sum: a, count: n }, AggState::Mean { sum: b, count: m }) => {
                a.merge(b)?;
                *n += m;
            }
            (AggState::Count(a), AggState::Count(b)) | (AggState::Len(a), AggState::Len(b)) => *a += b,
            (AggState::Values { values, .. }, AggState::Values { values: other, .. }) => values.extend(other),
            (AggState::Distinct { seen, .. }, AggState::Distinct { seen: other, .. }) => {
                seen.extend(other.iter().cloned())
            }
            (AggState::Pick { first, value }, AggState::Pick { value: other, .. }) => {
                if other.is_some() && (!*first || value.is_none()) {
                    *value = other.clone();
                }
            }
            (AggState::Extreme { is_min, best, .. }, AggState::Extreme { best: other, .. }) => {
                if let Some(o) = other {
                    let better = match best {
                        None => true,
                        Some(b) => {
                            if *is_min {
                                less(o, b)
                            } else {
                                less(b, o)
                            }
                        }
                    };
                    if better {
                        *best = Some(o.clone());
                    }
                }
            }
            (a, b) => return Err(Error::Internal(format!("merging aggregation states {a:?} and {b:?}"))),
        }
        Ok(())
    }

    /// The aggregation's result: a mean of no values, and a min/max of none, are null.
    pub fn finish(&self) -> Result<Scalar> {
        Ok(match self {
            AggState::Sum(s) => s.checked_scalar()?,
            AggState::Mean { count: 0, .. } => Scalar::Null,
            AggState::Mean { sum, count } => Scalar::Float64(sum.as_f64() / *count as f64),
            AggState::Count(c) | AggState::Len(c) => Scalar::UInt64(*c),
            AggState::Distinct { seen, .. } => Scalar::UInt64(seen.len() as u64),
            AggState::Pick { value, .. } => value.clone().unwrap_or(Scalar::Null),
            AggState::Values { agg, values } => {
                let mut v = values.clone();
                f64_stat(*agg, &mut v).map_or(Scalar::Null, Scalar::Float64)
            }
            AggState::Extreme { best, .. } => best.clone().unwrap_or(Scalar::Null),
        })
    }
}

/// `var` / `std` / `median` / `quantile` of `values` (row order; sorted in place for the median), `None` where
/// the result is null. Variance is two-pass in row order: the mean, then the squared deviations,
/// the formula the GPU's `seg_var` kernel uses, so both give the same bits.
pub fn f64_stat(agg: Agg, values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    match agg {
        Agg::Median => {
            if n == 0 {
                return None;
            }
            values.sort_unstable_by(f64::total_cmp);
            Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
        }
        Agg::Quantile(q) => {
            values.sort_unstable_by(f64::total_cmp);
            q.pick(values)
        }
        _ => {
            if n < 2 {
                return None;
            }
            let mean = values.iter().fold(0.0, |a, v| a + v) / n as f64;
            let m2 = values.iter().fold(0.0, |a, v| a + (v - mean) * (v - mean));
            let var = m2 / (n - 1) as f64;
            Some(if agg == Agg::Std { var.sqrt() } else { var })
        }
    }
}
