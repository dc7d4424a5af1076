//! `ember::polars`: frames to and from polars over the Arrow C Data Interface — values, nulls and
//! types survive both ways, numeric buffers are shared (same addresses), bad types are errors.
//! (The workspace build turns the `polars` feature on: `ember-bench` uses it.)
#![cfg(feature = "polars")]
use arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int16Array, Int64Array, RecordBatch,
    StringArray, StringViewArray, TimestampMicrosecondArray, UInt8Array,
};
use ember::polars::{from_polars, to_polars};
use ember::prelude::*;
use polars::prelude::{self as pl, NamedFrom};
use std::sync::Arc;

/// Every ember type polars has, `n` rows, nulls every few rows (none when `n` is 0).
fn frame(n: usize) -> DataFrame {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let vals: Vec<u64> = (0..n).map(|_| next()).collect();
    let null = |i: usize, m: usize| i % m == 1;
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("i64", Arc::new(Int64Array::from_iter((0..n).map(|i| (!null(i, 3)).then_some(vals[i] as i64))))),
        ("i16", Arc::new(Int16Array::from_iter((0..n).map(|i| (!null(i, 4)).then_some(vals[i] as i16))))),
        ("u8", Arc::new(UInt8Array::from_iter_values((0..n).map(|i| vals[i] as u8)))),
        ("f64", Arc::new(Float64Array::from_iter((0..n).map(|i| (!null(i, 5)).then_some(vals[i] as f64 / 7.0))))),
        ("b", Arc::new(BooleanArray::from_iter((0..n).map(|i| (!null(i, 6)).then_some(vals[i] & 1 == 1))))),
        ("d", Arc::new(Date32Array::from_iter((0..n).map(|i| (!null(i, 7)).then_some((vals[i] % 20_000) as i32))))),
        (
            "ts",
            Arc::new(TimestampMicrosecondArray::from_iter(
                (0..n).map(|i| (!null(i, 8)).then_some((vals[i] >> 12) as i64)),
            )),
        ),
        (
            "dec",
            Arc::new(
                Decimal128Array::from_iter((0..n).map(|i| (!null(i, 3)).then_some((vals[i] % 10_000_000) as i128)))
                    .with_precision_and_scale(15, 2)
                    .unwrap(),
            ),
        ),
        (
            "s",
            Arc::new(StringArray::from_iter(
                (0..n).map(|i| (!null(i, 4)).then(|| format!("str-{}-long-enough-to-be-out-of-line", vals[i] % 97))),
            )),
        ),
        (
            "sv",
            Arc::new(StringViewArray::from_iter((0..n).map(|i| (!null(i, 5)).then(|| format!("{}", vals[i] % 13))))),
        ),
    ];
    DataFrame::from_record_batch(&RecordBatch::try_from_iter(cols).unwrap()).unwrap()
}

/// The frame's columns as arrow arrays of canonical types (strings as `Utf8`), for comparison.
fn canonical(df: &DataFrame) -> Vec<ArrayRef> {
    let batch = df.to_record_batch().unwrap();
    batch
        .columns()
        .iter()
        .map(|a| match a.data_type() {
            arrow::datatypes::DataType::Utf8View => arrow::compute::cast(a, &arrow::datatypes::DataType::Utf8).unwrap(),
            _ => a.clone(),
        })
        .collect()
}

#[test]
fn round_trips_keep_values_nulls_and_types() {
    for n in [0, 1, 2, 1000, 4099] {
        let df = frame(n);
        let p = to_polars(&df).unwrap();
        assert_eq!(p.shape(), (n, 10));
        let dtypes: Vec<String> = p.dtypes().iter().map(|t| t.to_string()).collect();
        assert_eq!(
            dtypes,
            ["i64", "i16", "u8", "f64", "bool", "date", "datetime[μs]", "decimal[15,2]", "str", "str"],
            "n = {n}"
        );
        // polars sees the values: its own null counts and sums equal ember's.
        for name in ["i64", "f64", "s"] {
            let pc = p.column(name).unwrap().null_count();
            let ec = df.to_record_batch().unwrap().column_by_name(name).unwrap().null_count();
            assert_eq!(pc, ec, "{name}, n = {n}");
        }
        if n > 0 {
            let sum = p.column("i64").unwrap().as_materialized_series().sum::<i64>().unwrap();
            assert_eq!(Scalar::Int64(sum), df.sum(col("i64")).unwrap(), "n = {n}");
            let s0 = p.column("s").unwrap().str().unwrap().get(0).map(str::to_string);
            assert_eq!(
                s0,
                canonical(&df)[8].as_any().downcast_ref::<StringArray>().unwrap().value(0).to_string().into()
            );
        }
        let back = from_polars(&p).unwrap();
        assert_eq!(back.num_rows(), n);
        let names = |d: &DataFrame| d.schema().fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>();
        assert_eq!(names(&back), names(&df));
        let (a, b) = (canonical(&df), canonical(&back));
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x.to_data(), y.to_data(), "column {i}, n = {n}");
        }
    }
}

#[test]
fn numeric_buffers_are_shared_not_copied() {
    let df = frame(5000);
    let ember_ptr = df.to_record_batch().unwrap().column(0).to_data().buffers()[0].as_ptr();
    let p = to_polars(&df).unwrap();
    let ca = p.column("i64").unwrap().i64().unwrap();
    assert_eq!(ca.chunks().len(), 1);
    let polars_ptr = ca.downcast_iter().next().unwrap().values().as_ptr() as *const u8;
    assert_eq!(polars_ptr, ember_ptr, "ember -> polars shares the value buffer");
    let back = from_polars(&p).unwrap();
    let back_ptr = back.to_record_batch().unwrap().column(0).to_data().buffers()[0].as_ptr();
    assert_eq!(back_ptr, ember_ptr, "and polars -> ember gives the same buffer back");
    drop((df, p));
    // The round-tripped frame outlives both sources: the buffers are kept alive by the release
    // callbacks, not freed under it.
    assert_eq!(back.num_rows(), 5000);
    assert_eq!(back.to_record_batch().unwrap().column(0).len(), 5000);
}

#[test]
fn polars_frames_of_several_chunks_and_unsupported_types() {
    let mut a = pl::Series::new("a".into(), &[1i64, 2, 3]);
    a.append(&pl::Series::new("a".into(), &[Some(4i64), None])).unwrap();
    assert_eq!(a.n_chunks(), 2);
    let s = pl::Series::new("s".into(), &[Some("x"), None, Some("yy"), Some("x"), Some("")]);
    let p = pl::DataFrame::new(5, vec![a.into(), s.into()]).unwrap();
    let df = from_polars(&p).unwrap();
    assert_eq!(df.num_rows(), 5);
    assert_eq!(df.sum(col("a")).unwrap(), Scalar::Int64(10));
    let batch = df.to_record_batch().unwrap();
    assert_eq!(batch.column(0).null_count(), 1);
    assert_eq!(batch.column(1).null_count(), 1);

    let bin = pl::Series::new("blob".into(), &[b"ab".as_slice(), b"c".as_slice()]);
    let p = pl::DataFrame::new(2, vec![bin.into()]).unwrap();
    let e = from_polars(&p).unwrap_err();
    assert!(matches!(e, Error::UnsupportedArrowType(_)), "{e:?}");
    assert!(e.to_string().contains("\"blob\""), "{e}");

    // No columns: the height survives.
    let empty = pl::DataFrame::new(7, vec![]).unwrap();
    assert_eq!(from_polars(&empty).unwrap().num_rows(), 7);
}
