//! Reductions on the CPU engine with arrow-rs aggregate kernels (semantics and result types in
//! [`super`]).
//!
//! The expression is evaluated in row chunks ([`crate::expr::cpu`]); each chunk is reduced in
//! parallel into an [`AggState`] and the states are merged in chunk order, so results never depend
//! on the number of threads:
//!
//! | agg | input | per chunk | combined |
//! |---|---|---|---|
//! | sum, mean | signed ints | cast to i64, `sum` (wrapping) | wrapping `+` |
//! | sum, mean | unsigned ints | cast to u64, `sum` (wrapping) | wrapping `+` |
//! | sum, mean | floats | `sum` in the float type | `+` in the float type |
//! | sum, mean | decimals | `sum_checked` in i128 | checked `+`; overflow is [`Error::Overflow`] |
//! | min, max | numbers, dates, timestamps | `min` / `max` (floats in IEEE total order) | the same order |
//! | count | any | non-null values | `+` |
//!
//! `mean` is the sum above as f64 (a decimal sum divided by `10^scale`) divided by the count, the
//! same definition as the GPU's.
use super::state::AggState;
use super::{output_type, Agg};
use crate::expr::{types::dtype_of, Expr};
use arrow::array::{Array, ArrayRef, AsArray};
use ember_core::{DType, DataFrame, Error, Result, Scalar};
use rayon::prelude::*;

/// `agg(expr)` over all rows of `df` (a CPU frame).
///
/// # Example
/// ```
/// use arrow::array::{Int32Array, RecordBatch};
/// use ember_core::{DataFrame, Scalar};
/// use ember_ops::{col, Agg};
/// use std::sync::Arc;
/// let a = Int32Array::from(vec![Some(1), None, Some(3)]);
/// let batch = RecordBatch::try_from_iter([("a", Arc::new(a) as _)]).unwrap();
/// let df = DataFrame::from_record_batch(&batch).unwrap();
/// let reduce = |agg| ember_ops::reduce::cpu::reduce(&df, &col("a"), agg).unwrap();
/// assert_eq!(reduce(Agg::Sum), Scalar::Int64(4));
/// assert_eq!(reduce(Agg::Mean), Scalar::Float64(2.0));
/// assert_eq!(reduce(Agg::Max), Scalar::Int32(3));
/// assert_eq!(reduce(Agg::Count), Scalar::UInt64(2));
/// ```
pub fn reduce(df: &DataFrame, expr: &Expr, agg: Agg) -> Result<Scalar> {
    reduce_where(df, None, expr, agg)
}

/// `agg(expr)` over the rows of `df` (a CPU frame) where `predicate` is true. The predicate and
/// the value are evaluated in the same row chunks; each value chunk is filtered by its mask chunk
/// and reduced, so no filtered frame is built.
pub fn reduce_where(df: &DataFrame, predicate: Option<&Expr>, expr: &Expr, agg: Agg) -> Result<Scalar> {
    let Some(t) = dtype_of(expr, df.fields())? else {
        // An untyped null literal reduces like an all-null i32 column.
        output_type(agg, DType::Int32)?;
        if let Some(p) = predicate {
            // Its errors still count, as in filter then reduce.
            crate::expr::cpu::evaluate_chunks(df, p)?;
        }
        let rows = || -> Result<u64> {
            Ok(match predicate {
                None => df.num_rows() as u64,
                Some(p) => crate::expr::cpu::evaluate_chunks(df, p)?
                    .iter()
                    .map(|m| m.as_boolean_opt().map_or(0, |b| arrow::compute::prep_null_mask_filter(b).true_count()))
                    .sum::<usize>() as u64,
            })
        };
        return Ok(match agg {
            Agg::Sum => Scalar::Int64(0),
            Agg::Count => Scalar::UInt64(0),
            Agg::Len => Scalar::UInt64(rows()?),
            Agg::NUnique => Scalar::UInt64(rows()?.min(1)),
            Agg::Min
            | Agg::Max
            | Agg::Mean
            | Agg::First
            | Agg::Last
            | Agg::Var
            | Agg::Std
            | Agg::Median
            | Agg::Quantile(_) => Scalar::Null,
        });
    };
    output_type(agg, t)?;
    let chunks = match predicate {
        None => crate::expr::cpu::evaluate_chunks(df, expr)?,
        Some(p) => filtered_chunks(df, p, expr)?,
    };
    reduce_chunks(&chunks, t, agg)
}

/// The chunks of `expr` over the rows where `predicate` is true. The predicate runs first over
/// every row (its errors count everywhere); the value only over the kept rows' chunks.
fn filtered_chunks(df: &DataFrame, predicate: &Expr, expr: &Expr) -> Result<Vec<ArrayRef>> {
    let masks = crate::expr::cpu::evaluate_chunks(df, predicate)?;
    let mask = if masks.len() == 1 {
        masks[0].clone()
    } else {
        let refs: Vec<&dyn Array> = masks.iter().map(|a| a.as_ref()).collect();
        arrow::compute::concat(&refs)?
    };
    let Some(mask) = mask.as_boolean_opt() else {
        return Err(Error::Internal(format!("predicate {predicate} is not boolean")));
    };
    let mask = if mask.null_count() > 0 { arrow::compute::prep_null_mask_filter(mask) } else { mask.clone() };
    if mask.true_count() == mask.len() {
        return crate::expr::cpu::evaluate_chunks(df, expr);
    }
    // Only the columns the value reads, filtered: far narrower than the frame.
    let kept = crate::filter::cpu::filter_by_mask(&df.select(&expr.column_names())?, &mask)?;
    crate::expr::cpu::evaluate_chunks(&kept, expr)
}

/// `agg` over the chunks: a state per chunk built in parallel, merged in chunk order (so the
/// result never depends on the number of threads), finished.
fn reduce_chunks(chunks: &[ArrayRef], t: DType, agg: Agg) -> Result<Scalar> {
    let partial = |a: &ArrayRef| {
        let mut s = AggState::new(agg, t)?;
        s.update(a.as_ref())?;
        Ok(s)
    };
    let states: Vec<AggState> = if chunks.len() == 1 {
        chunks.iter().map(partial).collect::<Result<_>>()?
    } else {
        chunks.par_iter().map(partial).collect::<Result<_>>()?
    };
    let mut total = AggState::new(agg, t)?;
    for s in &states {
        total.merge(s)?;
    }
    total.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, lit};
    use arrow::array::*;
    use ember_core::{Column, Device, Scalar};
    use std::sync::Arc;

    fn frame(cols: Vec<(&str, ArrayRef)>) -> DataFrame {
        let named = cols.into_iter().map(|(n, a)| (n.to_string(), Column::Host(a))).collect();
        DataFrame::from_columns(named, Device::Cpu).unwrap()
    }

    fn one(a: ArrayRef) -> DataFrame {
        frame(vec![("x", a)])
    }

    fn r(df: &DataFrame, agg: Agg) -> Scalar {
        reduce(df, &col("x"), agg).unwrap()
    }

    fn dec(v: Vec<Option<i128>>, p: u8, s: i8) -> ArrayRef {
        Arc::new(Decimal128Array::from(v).with_precision_and_scale(p, s).unwrap())
    }

    #[test]
    fn sums_have_the_documented_types() {
        let i = one(Arc::new(Int32Array::from(vec![Some(i32::MAX), None, Some(i32::MAX)])));
        assert_eq!(r(&i, Agg::Sum), Scalar::Int64(2 * i32::MAX as i64));
        let w = one(Arc::new(Int64Array::from(vec![i64::MAX, 1])));
        assert_eq!(r(&w, Agg::Sum), Scalar::Int64(i64::MIN)); // wraps
        let u = one(Arc::new(UInt8Array::from(vec![200, 100])));
        assert_eq!(r(&u, Agg::Sum), Scalar::UInt64(300));
        let f = one(Arc::new(Float32Array::from(vec![Some(1.5), None, Some(2.25)])));
        assert_eq!(r(&f, Agg::Sum), Scalar::Float32(3.75));
        let d = one(dec(vec![Some(125), None, Some(-1999)], 15, 2));
        assert_eq!(r(&d, Agg::Sum), Scalar::Decimal128 { value: -1874, precision: 38, scale: 2 });
        // an expression: evaluated first
        let prod = reduce(&d, &(col("x") * col("x")), Agg::Sum).unwrap();
        assert_eq!(prod, Scalar::Decimal128 { value: 125 * 125 + 1999 * 1999, precision: 38, scale: 4 });
    }

    #[test]
    fn decimal_sum_overflow_is_an_error() {
        let big = one(dec(vec![Some(i128::MAX), Some(1)], 38, 0));
        assert!(matches!(reduce(&big, &col("x"), Agg::Sum), Err(Error::Overflow(_))));
        assert!(matches!(reduce(&big, &col("x"), Agg::Mean), Err(Error::Overflow(_))));
        // min/max/count don't add
        assert_eq!(r(&big, Agg::Max), Scalar::Decimal128 { value: i128::MAX, precision: 38, scale: 0 });
    }

    #[test]
    fn empty_and_all_null_inputs() {
        let cases: Vec<(ArrayRef, Scalar)> = vec![
            (Arc::new(Int32Array::from(Vec::<i32>::new())), Scalar::Int64(0)),
            (Arc::new(Int16Array::from(vec![None, None])), Scalar::Int64(0)),
            (Arc::new(UInt32Array::from(vec![None])), Scalar::UInt64(0)),
            (Arc::new(Float64Array::from(vec![None, None])), Scalar::Float64(0.0)),
            (Arc::new(Float32Array::from(Vec::<f32>::new())), Scalar::Float32(0.0)),
            (dec(vec![None], 15, 2), Scalar::Decimal128 { value: 0, precision: 38, scale: 2 }),
        ];
        for (a, zero) in cases {
            let t = a.data_type().clone();
            let df = one(a);
            assert_eq!(r(&df, Agg::Sum), zero, "{t}");
            assert_eq!(r(&df, Agg::Min), Scalar::Null, "{t}");
            assert_eq!(r(&df, Agg::Max), Scalar::Null, "{t}");
            assert_eq!(r(&df, Agg::Mean), Scalar::Null, "{t}");
            assert_eq!(r(&df, Agg::Count), Scalar::UInt64(0), "{t}");
        }
        // an untyped null literal is an all-null i32 column
        let df = one(Arc::new(Int32Array::from(vec![1, 2])));
        let null = lit(Scalar::Null);
        assert_eq!(reduce(&df, &null, Agg::Sum).unwrap(), Scalar::Int64(0));
        assert_eq!(reduce(&df, &null, Agg::Max).unwrap(), Scalar::Null);
        assert_eq!(reduce(&df, &null, Agg::Count).unwrap(), Scalar::UInt64(0));
    }

    #[test]
    fn float_min_max_follow_total_order() {
        let df = one(Arc::new(Float64Array::from(vec![Some(0.0), Some(f64::NAN), None, Some(-0.0), Some(1.0)])));
        let Scalar::Float64(lo) = r(&df, Agg::Min) else { panic!("f64 expected") };
        assert!(lo == 0.0 && lo.is_sign_negative(), "min is -0.0, got {lo}");
        let Scalar::Float64(hi) = r(&df, Agg::Max) else { panic!("f64 expected") };
        assert!(hi.is_nan(), "NaN is the largest, got {hi}");
        let z = one(Arc::new(Float32Array::from(vec![-0.0f32, 0.0])));
        let Scalar::Float32(hi) = r(&z, Agg::Max) else { panic!("f32 expected") };
        assert!(hi == 0.0 && hi.is_sign_positive());
        let neg = one(Arc::new(Float64Array::from(vec![-f64::NAN, f64::NEG_INFINITY])));
        let Scalar::Float64(lo) = r(&neg, Agg::Min) else { panic!("f64 expected") };
        assert!(lo.is_nan() && lo.is_sign_negative(), "-NaN is the smallest");
    }

    #[test]
    fn min_max_keep_the_input_type() {
        let d = one(Arc::new(Date32Array::from(vec![Some(9131), None, Some(8766)])));
        assert_eq!((r(&d, Agg::Min), r(&d, Agg::Max)), (Scalar::Date32(8766), Scalar::Date32(9131)));
        let ts = one(Arc::new(TimestampMillisecondArray::from(vec![Some(5), Some(-3), None])));
        assert_eq!(r(&ts, Agg::Min), Scalar::Timestamp(-3, arrow::datatypes::TimeUnit::Millisecond));
        assert_eq!(r(&ts, Agg::Count), Scalar::UInt64(2));
        let x = one(dec(vec![Some(125), Some(-1999)], 15, 2));
        assert_eq!(r(&x, Agg::Min), Scalar::Decimal128 { value: -1999, precision: 15, scale: 2 });
        let u = one(Arc::new(UInt64Array::from(vec![u64::MAX, 0])));
        assert_eq!((r(&u, Agg::Min), r(&u, Agg::Max)), (Scalar::UInt64(0), Scalar::UInt64(u64::MAX)));
        let i = one(Arc::new(Int8Array::from(vec![Some(-128), None, Some(127)])));
        assert_eq!((r(&i, Agg::Min), r(&i, Agg::Max)), (Scalar::Int8(-128), Scalar::Int8(127)));
    }

    #[test]
    fn means_are_the_sum_as_f64_over_the_count() {
        let i = one(Arc::new(Int32Array::from(vec![Some(1), None, Some(4)])));
        assert_eq!(r(&i, Agg::Mean), Scalar::Float64(2.5));
        // integers: the wrapping i64 sum, as the GPU computes it
        let w = one(Arc::new(Int64Array::from(vec![i64::MAX, 1])));
        assert_eq!(r(&w, Agg::Mean), Scalar::Float64(i64::MIN as f64 / 2.0));
        let d = one(dec(vec![Some(5), Some(3), Some(1)], 15, 2));
        assert_eq!(r(&d, Agg::Mean), Scalar::Float64(0.09 / 3.0));
        let f = one(Arc::new(Float32Array::from(vec![0.1f32, 0.2])));
        assert_eq!(r(&f, Agg::Mean), Scalar::Float64((0.1f32 + 0.2f32) as f64 / 2.0));
    }

    #[test]
    fn count_takes_any_type() {
        let s = one(Arc::new(StringViewArray::from(vec![Some("a"), None, Some("")])));
        assert_eq!(r(&s, Agg::Count), Scalar::UInt64(2));
        let b = one(Arc::new(BooleanArray::from(vec![Some(true), None])));
        assert_eq!(reduce(&b, &col("x").is_null(), Agg::Count).unwrap(), Scalar::UInt64(2));
        assert!(matches!(reduce(&s, &col("x"), Agg::Sum), Err(Error::Type { .. })));
        assert!(matches!(reduce(&b, &col("x"), Agg::Min), Err(Error::Type { .. })));
    }

    #[test]
    fn chunked_reductions_match_a_single_pass() {
        let n = 3 * crate::expr::cpu::CHUNK_ROWS + 5;
        let vals: Vec<Option<i64>> =
            (0..n as i64).map(|i| (i % 13 != 0).then_some(i * 7919 % 100_003 - 50_000)).collect();
        let df = one(Arc::new(Int64Array::from(vals.clone())));
        let present: Vec<i64> = vals.iter().flatten().copied().collect();
        let total: i64 = present.iter().sum();
        assert_eq!(r(&df, Agg::Sum), Scalar::Int64(total));
        assert_eq!(r(&df, Agg::Count), Scalar::UInt64(present.len() as u64));
        assert_eq!(r(&df, Agg::Min), Scalar::Int64(*present.iter().min().unwrap()));
        assert_eq!(r(&df, Agg::Max), Scalar::Int64(*present.iter().max().unwrap()));
        assert_eq!(r(&df, Agg::Mean), Scalar::Float64(total as f64 / present.len() as f64));
        // decimal: exact
        let d = reduce(&df, &(col("x") * crate::expr::dec("0.01").unwrap()), Agg::Sum).unwrap();
        assert_eq!(d, Scalar::Decimal128 { value: total as i128, precision: 38, scale: 2 });
        // a literal over every row
        assert_eq!(reduce(&df, &lit(2i64), Agg::Sum).unwrap(), Scalar::Int64(2 * n as i64));
        // floats: within rounding of the exact sum
        let Scalar::Float64(f) = reduce(&df, &(col("x") * lit(0.5)), Agg::Sum).unwrap() else { panic!() };
        assert!((f - total as f64 * 0.5).abs() <= 1e-9 * (total as f64).abs().max(1.0));
    }
}
