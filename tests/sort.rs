//! Sort on every device: against a plain-Rust oracle (a stable sort of row numbers with a
//! comparator written from the documented order) and against the CPU engine, on random frames
//! with nulls at block-boundary sizes, several key combinations, directions and null placements.
mod common;
use arrow::array::*;
use arrow::datatypes::*;
use common::{frame, host, random_batch};
use ember::prelude::*;
use std::cmp::Ordering;
use std::sync::Arc;

/// (column, descending, nulls_last), most significant first.
type Keys<'a> = &'a [(&'a str, bool, bool)];

const KEY_SETS: &[Keys<'static>] = &[
    &[("a", false, false)],
    &[("a", true, true), ("b", false, false)],
    &[("c", false, true)],
    &[("d", true, false)],
    &[("f", false, false), ("t", true, true), ("u", false, false)],
    &[("b", false, true), ("a", true, false)],
    &[("s", false, false), ("a", false, true)],
    &[("s", true, true)],
];

fn sort_keys(keys: Keys<'_>) -> Vec<SortKey> {
    keys.iter()
        .map(|&(c, desc, last)| {
            let mut k = SortKey::new(col(c));
            if desc {
                k = k.descending();
            }
            if last {
                k = k.nulls_last();
            }
            k
        })
        .collect()
}

/// Ascending order of two non-null values of one column.
fn cmp_values(a: &ArrayRef, i: usize, j: usize) -> Ordering {
    match a.data_type() {
        DataType::Int32 => a.as_primitive::<Int32Type>().value(i).cmp(&a.as_primitive::<Int32Type>().value(j)),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(i).cmp(&a.as_primitive::<Int64Type>().value(j)),
        DataType::UInt8 => a.as_primitive::<UInt8Type>().value(i).cmp(&a.as_primitive::<UInt8Type>().value(j)),
        DataType::Date32 => a.as_primitive::<Date32Type>().value(i).cmp(&a.as_primitive::<Date32Type>().value(j)),
        DataType::Float64 => {
            a.as_primitive::<Float64Type>().value(i).total_cmp(&a.as_primitive::<Float64Type>().value(j))
        }
        DataType::Decimal128(..) => {
            a.as_primitive::<Decimal128Type>().value(i).cmp(&a.as_primitive::<Decimal128Type>().value(j))
        }
        DataType::Int8 => a.as_primitive::<Int8Type>().value(i).cmp(&a.as_primitive::<Int8Type>().value(j)),
        DataType::Int16 => a.as_primitive::<Int16Type>().value(i).cmp(&a.as_primitive::<Int16Type>().value(j)),
        DataType::UInt16 => a.as_primitive::<UInt16Type>().value(i).cmp(&a.as_primitive::<UInt16Type>().value(j)),
        DataType::UInt32 => a.as_primitive::<UInt32Type>().value(i).cmp(&a.as_primitive::<UInt32Type>().value(j)),
        DataType::UInt64 => a.as_primitive::<UInt64Type>().value(i).cmp(&a.as_primitive::<UInt64Type>().value(j)),
        DataType::Float32 => {
            a.as_primitive::<Float32Type>().value(i).total_cmp(&a.as_primitive::<Float32Type>().value(j))
        }
        DataType::Boolean => a.as_boolean().value(i).cmp(&a.as_boolean().value(j)),
        DataType::Utf8View => a.as_string_view().value(i).cmp(a.as_string_view().value(j)),
        t => panic!("no oracle order for {t}"),
    }
}

/// The oracle: a stable sort of the row numbers by the documented order.
fn oracle(batch: &RecordBatch, keys: Keys<'_>) -> RecordBatch {
    let cols: Vec<&ArrayRef> = keys.iter().map(|(c, ..)| batch.column_by_name(c).unwrap()).collect();
    let mut idx: Vec<u32> = (0..batch.num_rows() as u32).collect();
    idx.sort_by(|&x, &y| {
        let (x, y) = (x as usize, y as usize);
        for (a, &(_, desc, last)) in cols.iter().zip(keys) {
            let o = match (a.is_null(x), a.is_null(y)) {
                (true, true) => Ordering::Equal,
                (true, false) => {
                    if last {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                (false, true) => {
                    if last {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (false, false) => {
                    let o = cmp_values(a, x, y);
                    if desc {
                        o.reverse()
                    } else {
                        o
                    }
                }
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    let idx = UInt32Array::from(idx);
    let cols = batch.columns().iter().map(|c| arrow::compute::take(c, &idx, None).unwrap()).collect();
    RecordBatch::try_new(batch.schema(), cols).unwrap()
}

test_device!(sort_matches_the_oracle_on_random_frames, |device: Device| {
    for &n in &[0usize, 1, 2, 31, 32, 33, 255, 256, 257, 1025, 4099] {
        let batch = random_batch(n, n as u64 * 31 + 5);
        let df = DataFrame::from_record_batch(&batch).unwrap().to(device).unwrap();
        for keys in KEY_SETS {
            let got = df.sort(sort_keys(keys)).unwrap();
            assert_eq!(got.device(), device);
            assert_eq!(host(&got), oracle(&batch, keys), "n={n} keys={keys:?} on {device}");
        }
    }
});

test_device!(float_keys_follow_ieee_total_order, |device: Device| {
    let nan = f64::NAN;
    let v = vec![
        Some(1.5),
        Some(-nan),
        None,
        Some(0.0),
        Some(f64::INFINITY),
        Some(-0.0),
        Some(nan),
        Some(f64::NEG_INFINITY),
    ];
    let df = frame(vec![("x", Arc::new(Float64Array::from(v)) as ArrayRef)], device);
    let got = df.sort(["x"]).unwrap();
    let x = host(&got).column(0).as_primitive::<Float64Type>().clone();
    assert!(x.is_null(0), "nulls first by default on {device}");
    let bits: Vec<u64> = (1..8).map(|i| x.value(i).to_bits()).collect();
    let want: Vec<u64> =
        [-nan, f64::NEG_INFINITY, -0.0, 0.0, 1.5, f64::INFINITY, nan].iter().map(|f| f.to_bits()).collect();
    assert_eq!(bits, want, "on {device}");
});

test_device!(sort_is_stable_and_a_lazy_filter_runs_below_it, |device: Device| {
    let k = Int32Array::from(vec![2, 1, 2, 1, 2, 1]);
    let v = Int64Array::from(vec![0, 1, 2, 3, 4, 5]);
    let df = frame(vec![("k", Arc::new(k) as ArrayRef), ("v", Arc::new(v))], device);
    let q = df.lazy().sort([SortKey::new(col("k")).descending()]).filter(col("v").gt(lit(0i64)));
    let plan = q.explain().unwrap();
    let (sort_at, filter_at) = (plan.find("SORT").unwrap(), plan.find("FILTER").unwrap());
    assert!(filter_at > sort_at, "the filter should run below the sort:\n{plan}");
    let out = host(&q.collect().unwrap());
    assert_eq!(out.column(1).as_primitive::<Int64Type>().values().to_vec(), vec![2, 4, 1, 3, 5], "on {device}");
});

test_device!(sort_errors_name_the_problem, |device: Device| {
    let df = frame(vec![("k", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef)], device);
    match df.sort(["missing"]) {
        Err(Error::ColumnNotFound { name, .. }) => assert_eq!(name, "missing"),
        other => panic!("expected ColumnNotFound on {device}, got {other:?}"),
    }
    // Sorting by an expression works as by a column.
    let out = df.sort([SortKey::new(col("k") * lit(-1i32))]).unwrap();
    assert_eq!(host(&out).column(0).as_primitive::<Int32Type>().values().to_vec(), vec![2, 1]);
});

test_device!(utf8_keys_sort_bytewise, |device: Device| {
    let v = vec![Some("b"), None, Some("a"), Some("ab"), Some("a\0"), Some(""), Some("abcdefghij"), Some("abcdefghi")];
    // Utf8 and LargeUtf8 (the CPU engine ranks each layout's strings).
    for large in [false, true] {
        let s: ArrayRef = Arc::new(StringArray::from(v.clone()));
        let s = if large { arrow::compute::cast(&s, &DataType::LargeUtf8).unwrap() } else { s };
        let df = frame(vec![("s", s)], device);
        let strings = |df: &DataFrame| -> Vec<Option<String>> {
            let c = arrow::compute::cast(host(df).column(0), &DataType::Utf8).unwrap();
            c.as_string::<i32>().iter().map(|s| s.map(String::from)).collect()
        };
        let want = ["", "a", "a\0", "ab", "abcdefghi", "abcdefghij", "b"];
        let mut asc: Vec<Option<String>> = vec![None];
        asc.extend(want.iter().map(|s| Some(s.to_string())));
        assert_eq!(strings(&df.sort(["s"]).unwrap()), asc, "large={large} on {device}");
        let mut desc: Vec<Option<String>> = want.iter().rev().map(|s| Some(s.to_string())).collect();
        desc.push(None);
        let sorted = df.sort([SortKey::new(col("s")).descending().nulls_last()]).unwrap();
        assert_eq!(strings(&sorted), desc, "large={large} on {device}");
    }
});

// More distinct strings than one launch ranks by comparing every pair (2048): the GPU ranks them
// by a radix sort of their byte words. Long strings sharing 20-byte prefixes, nulls, and a second
// key that breaks ties, sorted both ways.
test_device!(utf8_keys_with_many_distinct_strings_sort_bytewise, |device: Device| {
    let mut r = common::rng(5);
    let n = 6_000;
    let s: StringViewArray = (0..n)
        .map(|_| {
            let x = r() % 3_500;
            (!x.is_multiple_of(17))
                .then(|| format!("a shared prefix of 20{}{}", "z".repeat((x % 5) as usize), x % 2_900))
        })
        .collect();
    let i: Int32Array = (0..n).map(|_| Some((r() % 7) as i32)).collect();
    let batch = common::batch(vec![("s", Arc::new(s) as ArrayRef), ("i", Arc::new(i))]);
    let df = DataFrame::from_record_batch(&batch).unwrap().to(device).unwrap();
    for keys in [&[("s", false, false), ("i", true, false)][..], &[("s", true, true), ("i", false, true)][..]] {
        let got = df.sort(sort_keys(keys)).unwrap();
        assert_eq!(host(&got), oracle(&batch, keys), "{keys:?} on {device}");
    }
});

test_device!(wide_decimal_keys_use_both_words, |device: Device| {
    let big = 10i128.pow(30);
    let v = vec![Some(big), Some(-big), Some(1), None, Some(-1), Some(big + 1), Some(i128::from(u64::MAX)), Some(0)];
    let d = Decimal128Array::from(v).with_precision_and_scale(38, 0).unwrap();
    let batch = common::batch(vec![("d", Arc::new(d) as ArrayRef)]);
    let df = DataFrame::from_record_batch(&batch).unwrap().to(device).unwrap();
    for keys in [&[("d", false, false)][..], &[("d", true, true)][..]] {
        let got = df.sort(sort_keys(keys)).unwrap();
        assert_eq!(host(&got), oracle(&batch, keys), "{keys:?} on {device}");
    }
});

/// A frame with a column of every fixed-width numeric type and a decimal (small values with nulls, so float sums
/// are exact), for tests that must run every type's kernel.
fn every_numeric_type(n: usize) -> RecordBatch {
    let mut r = common::rng(n as u64 + 77);
    let base: Int64Array = (0..n).map(|_| (!r().is_multiple_of(10)).then(|| (r() % 200) as i64 - 100)).collect();
    let unsigned: Int64Array = base.iter().map(|v| v.map(|x| x + 100)).collect();
    let cast = |a: &Int64Array, t: DataType| arrow::compute::cast(a, &t).unwrap();
    let k: Int32Array = (0..n).map(|_| Some((r() % 7) as i32)).collect();
    let mut cols: Vec<(&str, ArrayRef)> = vec![("k", Arc::new(k))];
    for (name, t) in
        [("i8", DataType::Int8), ("i16", DataType::Int16), ("i32", DataType::Int32), ("i64", DataType::Int64)]
    {
        cols.push((name, cast(&base, t)));
    }
    for (name, t) in
        [("u8", DataType::UInt8), ("u16", DataType::UInt16), ("u32", DataType::UInt32), ("u64", DataType::UInt64)]
    {
        cols.push((name, cast(&unsigned, t)));
    }
    cols.push(("f32", cast(&base, DataType::Float32)));
    cols.push(("f64", cast(&base, DataType::Float64)));
    cols.push(("dec", cast(&base, DataType::Decimal128(15, 2))));
    common::batch(cols)
}

const NUMERIC: [&str; 11] = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "dec"];

// Every numeric type's key kernel, in both directions.
test_device!(every_numeric_type_sorts_as_the_oracle, |device: Device| {
    let batch = every_numeric_type(1025);
    let df = DataFrame::from_record_batch(&batch).unwrap().to(device).unwrap();
    for c in NUMERIC {
        for keys in [[(c, false, false)], [(c, true, true)]] {
            assert_eq!(host(&df.sort(sort_keys(&keys)).unwrap()), oracle(&batch, &keys), "{keys:?} on {device}");
        }
    }
});

// Every numeric type's group kernels (sum, min, max, mean), the GPU path against the CPU engine.
#[test]
fn every_numeric_type_groups_alike_on_cpu_and_sim() {
    let batch = every_numeric_type(1025);
    let run = |device: Device| {
        let df = DataFrame::from_record_batch(&batch).unwrap().to(device).unwrap();
        let aggs = NUMERIC.iter().flat_map(|c| {
            [
                col(c).sum().alias(&format!("{c}_sum")),
                col(c).min().alias(&format!("{c}_min")),
                col(c).max().alias(&format!("{c}_max")),
                col(c).mean().alias(&format!("{c}_mean")),
            ]
        });
        host(&df.lazy().group_by([col("k")]).agg(aggs).collect().unwrap())
    };
    assert_eq!(run(Device::Sim), run(Device::Cpu));
}

test_device!(top_k_equals_a_full_sort_then_head, |device: Device| {
    for n in [0usize, 5, 257, 4099].into_iter().filter(|&n| !ember::gpu::sim::TSAN || n <= 257) {
        let batch = common::random_batch(n, n as u64 + 77);
        let df = DataFrame::from_record_batch(&batch).unwrap().to(device).unwrap();
        for keys in [
            vec![SortKey::new(col("a")).descending(), SortKey::new(col("t"))],
            vec![SortKey::new(col("s")).nulls_last(), SortKey::new(col("d")).descending()],
        ] {
            for k in [0usize, 1, 10, 100] {
                let plan = df.lazy().top_k(k, keys.clone());
                assert!(n == 0 || plan.explain().unwrap().contains("TOP"), "{}", plan.explain().unwrap());
                let got = common::host(&plan.collect().unwrap());
                let want =
                    common::host(&df.lazy().sort(keys.clone()).head(k).with_optimizations(false).collect().unwrap());
                assert_eq!(got.columns(), want.columns(), "n={n} k={k} on {device}");
            }
        }
    }
});
