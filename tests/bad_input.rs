//! Regression tests for defects a probe of the public API found (issue 17), on every device.
mod common;
use arrow::array::{ArrayRef, AsArray, Decimal128Array, Int32Array, Int64Array};
use arrow::datatypes::{DataType, Field, Schema};
use ember::prelude::*;
use ember::Column;
use std::sync::Arc;

fn ints(v: Vec<i64>, device: Device) -> DataFrame {
    common::frame(vec![("x", Arc::new(Int64Array::from(v)) as ArrayRef)], device)
}

test_device!(long_is_in_lists_do_not_overflow_the_stack, |device: Device| {
    let n_values = if device == Device::Cpu { 10_000 } else { 2_000 };
    let df = ints((0..300).collect(), device);
    let values = (0..n_values).map(|i| Scalar::Int64(i * 7));
    let kept = df.filter(col("x").is_in(values)).unwrap();
    assert_eq!(kept.num_rows(), 300usize.div_ceil(7), "on {device}");
});

test_device!(slices_clamp_instead_of_overflowing, |device: Device| {
    let df = ints(vec![1, 2, 3], device);
    assert_eq!(df.lazy().slice(1, usize::MAX).collect().unwrap().num_rows(), 2);
    assert_eq!(df.lazy().slice(usize::MAX, 1).collect().unwrap().num_rows(), 0);
});

#[test]
fn out_of_range_dates_are_errors() {
    for s in ["5881580-07-12", "10000000-01-01", "-9999999-01-01", "99999999999999999-01-01"] {
        assert!(matches!(date(s), Err(Error::InvalidArgument(_))), "{s}");
    }
    assert_eq!(date("2024-02-29").unwrap(), lit(Scalar::Date32(19782)));
}

test_device!(reductions_of_a_null_literal_agree, |device: Device| {
    let df = ints(vec![1, 2, 3], device);
    assert_eq!(df.sum(lit(Scalar::Null)).unwrap(), Scalar::Int64(0));
    for agg in [Agg::Min, Agg::Max, Agg::Mean] {
        assert_eq!(df.agg(lit(Scalar::Null), agg).unwrap(), Scalar::Null, "{agg:?} on {device}");
    }
    assert_eq!(df.count(lit(Scalar::Null)).unwrap(), Scalar::UInt64(0));
});

test_device!(decimal_to_float_rounds_once, |device: Device| {
    let values =
        [1i128, 10i128.pow(30), 123_456_789_012_345_678_901_234_567, -(2i128.pow(53) + 1), 9_007_199_254_740_993];
    for (p, s) in [(38u8, 30i8), (38, 2), (38, 0), (20, 6)] {
        let arr = Decimal128Array::from(values.to_vec()).with_precision_and_scale(p, s).unwrap();
        let df = common::frame(vec![("d", Arc::new(arr) as ArrayRef)], device);
        let got = df.evaluate(&(col("d") * lit(1.0))).unwrap().to_arrow().unwrap();
        let want: Vec<f64> = values.iter().map(|v| ember::format_decimal(*v, s).parse::<f64>().unwrap()).collect();
        assert_eq!(
            got.as_primitive::<arrow::datatypes::Float64Type>().values().to_vec(),
            want,
            "({p},{s}) on {device}"
        );
    }
});

test_device!(decimals_past_38_digits_are_overflow_errors, |device: Device| {
    let max = 10i128.pow(38) - 1;
    let arr = Decimal128Array::from(vec![max, 1]).with_precision_and_scale(38, 0).unwrap();
    let df = common::frame(vec![("d", Arc::new(arr) as ArrayRef)], device);
    let e = df.evaluate(&(col("d") + dec("1").unwrap())).map(|c| c.to_arrow());
    assert!(matches!(e, Err(Error::Overflow(_))), "(10^38 - 1) + 1 on {device}: {e:?}");
    let s = df.sum(col("d"));
    assert!(matches!(s, Err(Error::Overflow(_))), "sum([10^38 - 1, 1]) on {device}: {s:?}");
    assert!(df.evaluate(&(col("d") - dec("1").unwrap())).is_ok());
});

test_device!(constant_errors_need_a_row, |device: Device| {
    let e = col("x") + lit(1i64) / lit(0i64);
    let empty = ints(vec![], device);
    assert_eq!(empty.evaluate(&e).unwrap().len(), 0, "over no rows on {device}");
    assert_eq!(empty.filter(e.clone().gt(lit(0i64))).unwrap().num_rows(), 0);
    let one = ints(vec![5], device);
    assert!(matches!(one.evaluate(&e).map(|c| c.to_arrow()), Err(Error::DivideByZero(_))), "over a row on {device}");
});

test_device!(the_first_failing_row_decides_the_error, |device: Device| {
    let frame = |a: Vec<i64>, b: Vec<i64>| {
        common::frame(
            vec![("a", Arc::new(Int64Array::from(a)) as ArrayRef), ("b", Arc::new(Int64Array::from(b)) as _)],
            device,
        )
    };
    let q = col("a") / col("b");
    let e = frame(vec![i64::MIN, 5], vec![-1, 0]).evaluate(&q).map(|c| c.to_arrow());
    assert!(matches!(e, Err(Error::Overflow(_))), "MIN / -1 first, on {device}: {e:?}");
    let e = frame(vec![5, i64::MIN], vec![0, -1]).evaluate(&q).map(|c| c.to_arrow());
    assert!(matches!(e, Err(Error::DivideByZero(_))), "5 / 0 first, on {device}: {e:?}");
    let e =
        frame(vec![1, 2, 3, i64::MIN, 5], vec![1, 1, 1, -1, 0]).filter(q.clone().gt(lit(0i64))).map(|d| d.num_rows());
    assert!(matches!(e, Err(Error::Overflow(_))), "in a filter, on {device}: {e:?}");
    let e = frame(vec![1, 2, 3, 4, 5], vec![1, 0, 1, 1, 1]).sum(q.clone());
    assert!(matches!(e, Err(Error::DivideByZero(ref m)) if m.contains("row 1")), "in a sum, on {device}: {e:?}");
});

#[test]
fn frames_reject_columns_that_do_not_match_their_schema() {
    let ints: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
    let with_null: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None]));
    let schema = |name: &str, t: DataType, nullable: bool| Arc::new(Schema::new(vec![Field::new(name, t, nullable)]));
    let e = DataFrame::try_new(schema("b", DataType::Boolean, true), vec![Column::Host(ints.clone())], 2, Device::Cpu);
    assert!(matches!(e, Err(Error::Type { .. })), "{e:?}");
    let e = DataFrame::try_new(schema("a", DataType::Int32, false), vec![Column::Host(with_null)], 2, Device::Cpu);
    assert!(matches!(e, Err(Error::InvalidArgument(_))), "{e:?}");
    let two =
        Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, true), Field::new("a", DataType::Int32, true)]));
    let e = DataFrame::try_new(two, vec![Column::Host(ints.clone()), Column::Host(ints)], 2, Device::Cpu);
    assert!(matches!(e, Err(Error::InvalidArgument(_))), "{e:?}");
}
