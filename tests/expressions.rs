//! Behaviour of expressions, filter and reductions, one test body per behaviour, run on the CPU
//! engine, the simulated device and (with EMBER_TEST_CUDA=1) CUDA. Expected values are written
//! out by hand (SQL / arrow-rs semantics), not taken from another executor.
mod common;
use arrow::array::*;
use common::{frame, host};
use ember::prelude::*;
use ember::Scalar;
use std::sync::Arc;

fn bools(v: &[Option<bool>]) -> ArrayRef {
    Arc::new(BooleanArray::from(v.to_vec()))
}

fn eval(df: &DataFrame, e: Expr) -> ArrayRef {
    df.evaluate(&e).unwrap().to_arrow().unwrap()
}

test_device!(kleene_logic_truth_table, |device: Device| {
    let (t, f, n) = (Some(true), Some(false), None);
    let a = [t, t, t, f, f, f, n, n, n];
    let b = [t, f, n, t, f, n, t, f, n];
    let df = frame(vec![("a", bools(&a)), ("b", bools(&b))], device);
    assert_eq!(eval(&df, col("a").and(col("b"))).as_ref(), bools(&[t, f, n, f, f, f, n, f, n]).as_ref());
    assert_eq!(eval(&df, col("a").or(col("b"))).as_ref(), bools(&[t, t, t, t, f, n, t, n, n]).as_ref());
    assert_eq!(eval(&df, !col("a")).as_ref(), bools(&[f, f, f, t, t, t, n, n, n]).as_ref());
    assert_eq!(eval(&df, col("a").is_null()).as_ref(), bools(&[f, f, f, f, f, f, t, t, t]).as_ref());
    assert_eq!(eval(&df, col("b").is_not_null()).as_ref(), bools(&[t, t, f, t, t, f, t, t, f]).as_ref());
    // with a null literal
    assert_eq!(eval(&df, col("a").and(lit(Scalar::Null))).as_ref(), bools(&[n, n, n, f, f, f, n, n, n]).as_ref());
    assert_eq!(eval(&df, col("a").or(lit(Scalar::Null))).as_ref(), bools(&[t, t, t, n, n, n, n, n, n]).as_ref());
});

test_device!(is_in_and_is_between_follow_sql_nulls, |device: Device| {
    let x: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(5), None, Some(3)]));
    let df = frame(vec![("x", x)], device);
    let (t, f, n) = (Some(true), Some(false), None);
    let in12 = eval(&df, col("x").is_in([Scalar::Int64(1), Scalar::Int64(2)]));
    assert_eq!(in12.as_ref(), bools(&[t, f, n, f]).as_ref());
    let in1n = eval(&df, col("x").is_in([Scalar::Int64(1), Scalar::Null]));
    assert_eq!(in1n.as_ref(), bools(&[t, n, n, n]).as_ref());
    let between = eval(&df, col("x").is_between(lit(1i64), lit(3i64)));
    assert_eq!(between.as_ref(), bools(&[t, f, n, t]).as_ref());
});

test_device!(filter_drops_null_predicates_and_keeps_order, |device: Device| {
    let a: ArrayRef = Arc::new(Int32Array::from(vec![Some(5), None, Some(1), Some(7), Some(2)]));
    let s: ArrayRef = Arc::new(StringArray::from(vec![Some("e"), Some("n"), None, Some("g"), Some("b")]));
    let df = frame(vec![("a", a), ("s", s)], device);
    let kept = host(&df.filter(col("a").gt(lit(1))).unwrap());
    let want = common::batch(vec![
        ("a", Arc::new(Int32Array::from(vec![5, 7, 2])) as ArrayRef),
        ("s", Arc::new(StringArray::from(vec!["e", "g", "b"])) as ArrayRef),
    ]);
    assert_eq!(kept.columns(), want.columns());
    // literal predicates
    assert_eq!(df.filter(lit(true)).unwrap().num_rows(), 5);
    assert_eq!(df.filter(lit(false)).unwrap().num_rows(), 0);
    assert_eq!(df.filter(lit(Scalar::Null)).unwrap().num_rows(), 0);
});

test_device!(filter_on_empty_frames, |device: Device| {
    let a: ArrayRef = Arc::new(Int32Array::from(Vec::<i32>::new()));
    let s: ArrayRef = Arc::new(StringViewArray::from(Vec::<&str>::new()));
    let df = frame(vec![("a", a), ("s", s)], device);
    let out = df.filter(col("a").lt(lit(3)).and(col("s").starts_with("x"))).unwrap();
    assert_eq!(out.num_rows(), 0);
    assert_eq!(host(&out).schema(), df.schema().clone());
    assert_eq!(df.sum(col("a")).unwrap(), Scalar::Int64(0));
    assert_eq!(df.min(col("a")).unwrap(), Scalar::Null);
    assert_eq!(df.mean(col("a")).unwrap(), Scalar::Null);
    assert_eq!(df.count(col("a")).unwrap(), Scalar::UInt64(0));
});

test_device!(string_predicates_and_comparisons, |device: Device| {
    let s: ArrayRef =
        Arc::new(StringViewArray::from(vec![Some("AIR REG"), Some(""), None, Some("MAIL"), Some("AIR"), Some("é!")]));
    let df = frame(vec![("s", s)], device);
    let (t, f, n) = (Some(true), Some(false), None);
    assert_eq!(eval(&df, col("s").starts_with("AIR")).as_ref(), bools(&[t, f, n, f, t, f]).as_ref());
    assert_eq!(eval(&df, col("s").ends_with("")).as_ref(), bools(&[t, t, n, t, t, t]).as_ref());
    assert_eq!(eval(&df, col("s").contains("I")).as_ref(), bools(&[t, f, n, t, t, f]).as_ref());
    assert_eq!(eval(&df, col("s").contains("!")).as_ref(), bools(&[f, f, n, f, f, t]).as_ref());
    assert_eq!(eval(&df, col("s").eq(lit("AIR"))).as_ref(), bools(&[f, f, n, f, t, f]).as_ref());
    assert_eq!(eval(&df, col("s").lt(lit("AIR R"))).as_ref(), bools(&[f, t, n, f, t, f]).as_ref());
    assert_eq!(eval(&df, col("s").gt_eq(lit("M"))).as_ref(), bools(&[f, f, n, t, f, t]).as_ref());
});

test_device!(decimal_arithmetic_is_exact_with_arrow_result_types, |device: Device| {
    let d = |v: Vec<Option<i128>>| -> ArrayRef {
        Arc::new(Decimal128Array::from(v).with_precision_and_scale(15, 2).unwrap())
    };
    let df =
        frame(vec![("p", d(vec![Some(125), Some(-1999), None])), ("q", d(vec![Some(5), Some(3), Some(1)]))], device);
    let prod = eval(&df, col("p") * col("q"));
    assert_eq!(prod.data_type(), &arrow::datatypes::DataType::Decimal128(31, 4));
    let prod = prod.as_any().downcast_ref::<Decimal128Array>().unwrap();
    assert_eq!(prod.iter().collect::<Vec<_>>(), vec![Some(625), Some(-5997), None]); // 1.25 * 0.05 = 0.0625
    let sum = eval(&df, col("p") + dec("0.001").unwrap());
    assert_eq!(sum.data_type(), &arrow::datatypes::DataType::Decimal128(17, 3));
    let q = eval(&df, col("p") / col("q"));
    assert_eq!(q.data_type(), &arrow::datatypes::DataType::Decimal128(21, 6));
    let q = q.as_any().downcast_ref::<Decimal128Array>().unwrap();
    assert_eq!(q.value(0), 25_000_000); // 1.25 / 0.05 = 25.000000
    assert_eq!(q.value(1), -666_333_333); // -19.99 / 0.03 = -666.333333 (truncated)
    assert_eq!(df.sum(col("p") * col("q")).unwrap(), Scalar::Decimal128 { value: 625 - 5997, precision: 38, scale: 4 });
    assert_eq!(df.sum(col("p")).unwrap().to_string(), "-18.74");
    assert_eq!(df.min(col("p")).unwrap(), Scalar::Decimal128 { value: -1999, precision: 15, scale: 2 });
    assert_eq!(df.mean(col("q")).unwrap(), Scalar::Float64(0.09 / 3.0));
});

test_device!(division_by_zero_is_an_error_for_integers_and_ieee_for_floats, |device: Device| {
    let a: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), Some(2), None]));
    let z: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), Some(0), Some(0)]));
    let x: ArrayRef = Arc::new(Float64Array::from(vec![1.0, -1.0, 0.0]));
    let df = frame(vec![("a", a), ("z", z), ("x", x)], device);
    let err = df.evaluate(&(col("a") / col("z"))).unwrap_err();
    assert!(matches!(err, Error::DivideByZero(_)), "{err}");
    // a null row divided by zero is not an error
    let ok = df.filter(col("a").is_null()).unwrap().evaluate(&(col("a") / col("z")));
    assert!(ok.is_ok());
    let f = eval(&df, col("x") / lit(0.0));
    let f = f.as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!((f.value(0), f.value(1)), (f64::INFINITY, f64::NEG_INFINITY));
    assert!(f.value(2).is_nan());
});

test_device!(decimal_overflow_is_an_error, |device: Device| {
    let big: ArrayRef = Arc::new(Decimal128Array::from(vec![i128::MAX / 10]).with_precision_and_scale(38, 0).unwrap());
    let df = frame(vec![("b", big)], device);
    let err = df.evaluate(&(col("b") * col("b"))).unwrap_err();
    assert!(matches!(err, Error::Overflow(_)), "{err}");
});

test_device!(integer_arithmetic_wraps_and_widens, |device: Device| {
    let a: ArrayRef = Arc::new(Int32Array::from(vec![i32::MAX, -3]));
    let u: ArrayRef = Arc::new(UInt8Array::from(vec![200, 7]));
    let df = frame(vec![("a", a), ("u", u)], device);
    let w = eval(&df, col("a") + lit(1));
    assert_eq!(w.as_any().downcast_ref::<Int32Array>().unwrap().value(0), i32::MIN);
    let m = eval(&df, col("u") * col("a"));
    assert_eq!(m.data_type(), &arrow::datatypes::DataType::Int32);
    assert_eq!(m.as_any().downcast_ref::<Int32Array>().unwrap().value(1), -21);
    let l = eval(&df, col("a") + lit(1i64));
    assert_eq!(l.as_any().downcast_ref::<Int64Array>().unwrap().value(0), i32::MAX as i64 + 1);
});

test_device!(dates_compare_with_date_literals, |device: Device| {
    let t: ArrayRef = Arc::new(Date32Array::from(vec![Some(8765), Some(8766), None, Some(9130), Some(9131)]));
    let df = frame(vec![("t", t)], device);
    let in94 = col("t").gt_eq(date("1994-01-01").unwrap()).and(col("t").lt(date("1995-01-01").unwrap()));
    assert_eq!(df.filter(in94).unwrap().num_rows(), 2);
    assert_eq!(df.max(col("t")).unwrap(), Scalar::Date32(9131));
});

test_device!(type_errors_and_missing_columns_are_typed_errors, |device: Device| {
    let a: ArrayRef = Arc::new(Int32Array::from(vec![1]));
    let s: ArrayRef = Arc::new(StringArray::from(vec!["x"]));
    let df = frame(vec![("a", a), ("s", s)], device);
    assert!(matches!(df.filter(col("nope").gt(lit(1))), Err(Error::ColumnNotFound { .. })));
    assert!(matches!(df.filter(col("a") + lit(1)), Err(Error::Type { .. })));
    assert!(matches!(df.filter(col("s").gt(lit(1))), Err(Error::Type { .. })));
    assert!(matches!(df.sum(col("s")), Err(Error::Type { .. })));
    assert!(matches!(df.evaluate(&col("a").starts_with("x")), Err(Error::Type { .. })));
});

#[test]
fn mixing_devices_is_an_error_that_says_how_to_fix_it() {
    let a: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
    let cpu = frame(vec![("a", a)], Device::Cpu);
    let sim = cpu.to(Device::Sim).unwrap();
    let mixed = DataFrame::try_new(cpu.schema().clone(), sim.columns().to_vec(), 2, Device::Cpu);
    let err = mixed.unwrap_err();
    assert!(matches!(err, Error::DeviceMismatch(_)), "{err}");
    assert!(sim.column("a").unwrap().as_host().unwrap_err().to_string().contains(".to(Device::Cpu)"));
}

test_device!(when_then_otherwise_picks_by_condition_and_null_is_false, |device: Device| {
    let x: ArrayRef = Arc::new(Int32Array::from(vec![Some(-3), Some(0), None, Some(7), Some(i32::MIN)]));
    let c: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), None, Some(true), Some(false), Some(true)]));
    let df = frame(vec![("x", x), ("c", c)], device);
    let e = when(col("c")).then(col("x") * lit(10)).otherwise(lit(-1));
    let got = eval(&df, e);
    // a null condition picks `otherwise`; a null `then` value stays null
    assert_eq!(got.as_ref(), &Int32Array::from(vec![Some(-30), Some(-1), None, Some(-1), Some(0)]) as &dyn Array);
    // branch types widen to their common type; an untyped null branch takes the other's
    let w = eval(&df, when(col("x").gt(lit(0))).then(lit(1.5)).otherwise(col("x")));
    assert_eq!(
        w.as_ref(),
        &Float64Array::from(vec![Some(-3.0), Some(0.0), None, Some(1.5), Some(-2147483648.0)]) as &dyn Array
    );
    let n = eval(&df, when(col("x").gt(lit(0))).then(col("x")).otherwise(lit(Scalar::Null)));
    assert_eq!(n.as_ref(), &Int32Array::from(vec![None, None, None, Some(7), None]) as &dyn Array);
    // coalesce, fill_null, abs (wrapping at MIN as polars)
    assert_eq!(
        eval(&df, col("x").fill_null(lit(42))).as_ref(),
        &Int32Array::from(vec![-3, 0, 42, 7, i32::MIN]) as &dyn Array
    );
    assert_eq!(
        eval(&df, coalesce([lit(Scalar::Null), col("x"), lit(1)])).as_ref(),
        &Int32Array::from(vec![-3, 0, 1, 7, i32::MIN]) as &dyn Array
    );
    assert_eq!(
        eval(&df, col("x").abs()).as_ref(),
        &Int32Array::from(vec![Some(3), Some(0), None, Some(7), Some(i32::MIN)]) as &dyn Array
    );
    // decimals keep their exact values
    let d = eval(&df, when(col("c")).then(dec("1.25").unwrap()).otherwise(dec("0.5").unwrap()));
    let d = d.as_any().downcast_ref::<Decimal128Array>().unwrap();
    assert_eq!(d.iter().collect::<Vec<_>>(), vec![Some(125), Some(50), Some(125), Some(50), Some(125)]);
    // utf8 branches (a column, a literal, a null): on a GPU once silently all-null, found by the
    // Python tests; now equal to the CPU engine's
    let s: ArrayRef = Arc::new(StringArray::from(vec![Some("p"), Some("q"), None, Some("s"), Some("t")]));
    let df_s = frame(
        vec![
            ("x", df.column("x").unwrap().to_arrow().unwrap()),
            ("c", df.column("c").unwrap().to_arrow().unwrap()),
            ("s", s),
        ],
        device,
    );
    let u = eval(&df_s, when(col("c")).then(col("s")).otherwise(lit("no")).alias("u"));
    assert_eq!(u.as_ref(), &StringArray::from(vec![Some("p"), Some("no"), None, Some("no"), Some("t")]) as &dyn Array);
    let w = eval(&df_s, when(col("s").is_not_null()).then(lit("set")).otherwise(col("s")));
    assert_eq!(
        w.as_ref(),
        &StringArray::from(vec![Some("set"), Some("set"), None, Some("set"), Some("set")]) as &dyn Array
    );
    let v = eval(&df_s, when(col("x").gt(lit(0))).then(lit("pos")).otherwise(lit(Scalar::Null)).eq(lit("pos")));
    assert_eq!(v.as_ref(), &BooleanArray::from(vec![None, None, None, Some(true), None]) as &dyn Array);
    // the condition must be boolean, the branches must have a common type
    assert!(matches!(df.evaluate(&when(col("x")).then(lit(1)).otherwise(lit(2))), Err(Error::Type { .. })));
    assert!(matches!(df.evaluate(&when(col("c")).then(lit(1)).otherwise(lit("a"))), Err(Error::Type { .. })));
});

test_device!(date_parts_of_dates_around_leap_years_and_epochs, |device: Device| {
    // 1969-12-31 (Wed), 1970-01-01 (Thu), 2000-02-29 (Tue), 1900-03-01 (Thu), 1600-02-29 (Tue), -1-12-31
    let days = [-1, 0, 11016, -25508, -135081, -719529];
    let d: ArrayRef = Arc::new(Date32Array::from(days.iter().map(|&x| Some(x)).chain([None]).collect::<Vec<_>>()));
    let df = frame(vec![("d", d)], device);
    let ints = |v: &[Option<i32>]| -> ArrayRef { Arc::new(Int32Array::from(v.to_vec())) };
    let s = Some;
    assert_eq!(
        eval(&df, col("d").year()).as_ref(),
        ints(&[s(1969), s(1970), s(2000), s(1900), s(1600), s(-1), None]).as_ref()
    );
    assert_eq!(eval(&df, col("d").month()).as_ref(), ints(&[s(12), s(1), s(2), s(3), s(2), s(12), None]).as_ref());
    assert_eq!(eval(&df, col("d").day()).as_ref(), ints(&[s(31), s(1), s(29), s(1), s(29), s(31), None]).as_ref());
    assert_eq!(eval(&df, col("d").weekday()).as_ref(), ints(&[s(3), s(4), s(2), s(4), s(2), s(5), None]).as_ref());
    // in a fused program with arithmetic and a comparison
    let f = df.filter(col("d").year().gt_eq(lit(1900)).and(col("d").month().lt(lit(3)))).unwrap();
    assert_eq!(f.num_rows(), 2);
    assert!(df.evaluate(&col("d").year().alias("y")).is_ok());
    let i: ArrayRef = Arc::new(Int32Array::from(vec![1]));
    assert!(matches!(frame(vec![("i", i)], device).evaluate(&col("i").year()), Err(Error::Type { .. })));
});

test_device!(like_slice_and_length_count_characters, |device: Device| {
    let s: ArrayRef = Arc::new(StringViewArray::from(vec![
        Some("special requests"),
        Some("a special, quiet requests x"),
        Some("requests special"),
        None,
        Some(""),
        Some("héllo wörld"),
        Some("100%_done"),
        Some("PROMO BRUSHED"),
    ]));
    let df = frame(vec![("s", s)], device);
    let (t, f, n) = (Some(true), Some(false), None);
    let like = |p: &str| eval(&df, col("s").like(p));
    assert_eq!(like("%special%requests%").as_ref(), bools(&[t, t, f, n, f, f, f, f]).as_ref());
    assert_eq!(like("%").as_ref(), bools(&[t, t, t, n, t, t, t, t]).as_ref());
    assert_eq!(like("").as_ref(), bools(&[f, f, f, n, t, f, f, f]).as_ref());
    assert_eq!(like("h_llo w_rld").as_ref(), bools(&[f, f, f, n, f, t, f, f]).as_ref());
    assert_eq!(like("%\\%\\_%").as_ref(), bools(&[f, f, f, n, f, f, t, f]).as_ref());
    assert_eq!(like("PROMO%").as_ref(), bools(&[f, f, f, n, f, f, f, t]).as_ref());
    assert_eq!(like("%s_").as_ref(), bools(&[f, f, f, n, f, f, f, f]).as_ref());
    assert_eq!(like("%ts").as_ref(), bools(&[t, f, f, n, f, f, f, f]).as_ref());
    assert_eq!(eval(&df, !col("s").like("%special%")).as_ref(), bools(&[f, f, f, n, t, t, t, t]).as_ref());
    let strs = |v: &[Option<&str>]| -> ArrayRef { Arc::new(LargeStringArray::from(v.to_vec())) };
    let as_large = |a: ArrayRef| arrow::compute::cast(&a, &arrow::datatypes::DataType::LargeUtf8).unwrap();
    let sl = as_large(eval(&df, col("s").str_slice(0, Some(2))));
    assert_eq!(
        sl.as_ref(),
        strs(&[Some("sp"), Some("a "), Some("re"), None, Some(""), Some("hé"), Some("10"), Some("PR")]).as_ref()
    );
    let tail = as_large(eval(&df, col("s").str_slice(-3, None)));
    assert_eq!(
        tail.as_ref(),
        strs(&[Some("sts"), Some("s x"), Some("ial"), None, Some(""), Some("rld"), Some("one"), Some("HED")]).as_ref()
    );
    let mid = as_large(eval(&df, col("s").str_slice(7, Some(100))));
    assert_eq!(
        mid.as_ref(),
        strs(&[
            Some(" requests"),
            Some("al, quiet requests x"),
            Some("s special"),
            None,
            Some(""),
            Some("örld"),
            Some("ne"),
            Some("RUSHED")
        ])
        .as_ref()
    );
    let len = eval(&df, col("s").str_len());
    assert_eq!(
        len.as_ref(),
        &UInt32Array::from(vec![Some(16), Some(27), Some(16), None, Some(0), Some(11), Some(9), Some(13)])
            as &dyn Array
    );
    // string nodes compose: a slice compared, matched and measured
    let code = eval(&df, col("s").str_slice(0, Some(2)).is_in([Scalar::Utf8("sp".into()), Scalar::Utf8("PR".into())]));
    assert_eq!(code.as_ref(), bools(&[t, f, f, n, f, f, f, t]).as_ref());
    let pre = eval(&df, col("s").str_slice(2, None).like("%ques%").and(col("s").str_len().gt(lit(16u32))));
    assert_eq!(pre.as_ref(), bools(&[f, t, f, n, f, f, f, f]).as_ref());
});

test_device!(widening_casts_convert_and_decimal_narrowing_is_a_type_error, |device: Device| {
    let x: ArrayRef = Arc::new(Int32Array::from(vec![Some(-3), None, Some(7)]));
    let d: ArrayRef =
        Arc::new(Decimal128Array::from(vec![Some(125), Some(-5), None]).with_precision_and_scale(15, 2).unwrap());
    let df = frame(vec![("x", x), ("d", d)], device);
    assert_eq!(
        eval(&df, col("x").cast(DType::Int64)).as_ref(),
        &Int64Array::from(vec![Some(-3), None, Some(7)]) as &dyn Array
    );
    assert_eq!(
        eval(&df, col("d").cast(DType::Float64)).as_ref(),
        &Float64Array::from(vec![Some(1.25), Some(-0.05), None]) as &dyn Array
    );
    let wide = eval(&df, col("x").cast(DType::Decimal128 { precision: 12, scale: 2 }));
    let wide = wide.as_any().downcast_ref::<Decimal128Array>().unwrap();
    assert_eq!(wide.iter().collect::<Vec<_>>(), vec![Some(-300), None, Some(700)]);
    assert_eq!(
        eval(&df, col("x").cast(DType::Int8)).as_ref(),
        &Int8Array::from(vec![Some(-3), None, Some(7)]) as &dyn Array
    );
    assert!(matches!(df.evaluate(&col("d").cast(DType::Int64)), Err(Error::Type { .. })));
});

test_device!(round_is_half_away_from_zero_and_exact_for_decimals, |device: Device| {
    let f: ArrayRef = Arc::new(Float64Array::from(vec![Some(2.5), Some(-2.5), Some(1.2345), None, Some(0.0)]));
    let d: ArrayRef = Arc::new(
        Decimal128Array::from(vec![Some(125), Some(-125), Some(9999), None, Some(124)])
            .with_precision_and_scale(4, 2)
            .unwrap(),
    );
    let i: ArrayRef = Arc::new(Int32Array::from(vec![Some(7), Some(-7), Some(0), None, Some(1)]));
    let df = frame(vec![("f", f), ("d", d), ("i", i)], device);
    assert_eq!(
        eval(&df, col("f").round(0)).as_ref(),
        &Float64Array::from(vec![Some(3.0), Some(-3.0), Some(1.0), None, Some(0.0)]) as &dyn Array
    );
    assert_eq!(
        eval(&df, col("f").round(2)).as_ref(),
        &Float64Array::from(vec![Some(2.5), Some(-2.5), Some(1.23), None, Some(0.0)]) as &dyn Array
    );
    let r1 = eval(&df, col("d").round(1));
    assert_eq!(r1.data_type(), &arrow::datatypes::DataType::Decimal128(5, 2));
    let r1 = r1.as_any().downcast_ref::<Decimal128Array>().unwrap();
    assert_eq!(r1.iter().collect::<Vec<_>>(), vec![Some(130), Some(-130), Some(10000), None, Some(120)]);
    let r0 = eval(&df, col("d").round(0));
    let r0 = r0.as_any().downcast_ref::<Decimal128Array>().unwrap();
    assert_eq!(r0.iter().collect::<Vec<_>>(), vec![Some(100), Some(-100), Some(10000), None, Some(100)]);
    assert_eq!(
        eval(&df, col("i").round(1)).as_ref(),
        &Int32Array::from(vec![Some(7), Some(-7), Some(0), None, Some(1)]) as &dyn Array
    );
    let s: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
    assert!(matches!(frame(vec![("s", s)], device).evaluate(&col("s").round(1)), Err(Error::Type { .. })));
});

test_device!(numeric_casts_narrow_with_overflow_errors_as_arrow, |device: Device| {
    // Each value alone (errors are per value), on this device and on the CPU engine (arrow's
    // checked cast): the same value, or both an overflow error.
    let ints: Vec<i64> = vec![
        i64::MIN,
        -2147483649,
        -2147483648,
        -32769,
        -129,
        -128,
        -1,
        0,
        1,
        127,
        128,
        255,
        256,
        32767,
        65535,
        65536,
        2147483647,
        4294967295,
        4294967296,
        i64::MAX,
    ];
    let floats: Vec<f64> = vec![
        f64::NAN,
        f64::INFINITY,
        -f64::INFINITY,
        -9223372036854775808.0,
        9223372036854775808.0,
        18446744073709551616.0,
        -1.0,
        -0.9,
        -0.0,
        0.5,
        1.9,
        -128.99,
        127.99,
        255.5,
        256.0,
        3.4e38,
        1e39,
        2147483647.5,
    ];
    let targets = [
        DType::Int8,
        DType::Int16,
        DType::Int32,
        DType::Int64,
        DType::UInt8,
        DType::UInt16,
        DType::UInt32,
        DType::UInt64,
        DType::Float32,
        DType::Float64,
    ];
    let columns: Vec<ArrayRef> = ints
        .iter()
        .map(|&v| Arc::new(Int64Array::from(vec![v])) as ArrayRef)
        .chain(ints.iter().filter(|v| **v >= 0).map(|&v| Arc::new(UInt64Array::from(vec![v as u64])) as ArrayRef))
        .chain([Arc::new(UInt64Array::from(vec![u64::MAX])) as ArrayRef])
        .chain(floats.iter().map(|&v| Arc::new(Float64Array::from(vec![v])) as ArrayRef))
        .chain(floats.iter().map(|&v| Arc::new(Float32Array::from(vec![v as f32])) as ArrayRef))
        .chain([Arc::new(Int8Array::from(vec![Some(-5), None])) as ArrayRef])
        .collect();
    for x in columns {
        for to in targets {
            let e = col("x").cast(to);
            let want = frame(vec![("x", x.clone())], Device::Cpu).evaluate(&e);
            let got = frame(vec![("x", x.clone())], device).evaluate(&e);
            let what = format!("{:?} as {to} on {device}", x);
            match (want, got) {
                (Ok(w), Ok(g)) => {
                    assert_eq!(w.to_arrow().unwrap().to_data(), g.to_arrow().unwrap().to_data(), "{what}")
                }
                (Err(w), Err(g)) => {
                    assert!(matches!(w, Error::Overflow(_)), "{what}: {w}");
                    assert!(matches!(g, Error::Overflow(_)), "{what}: {g}");
                }
                (w, g) => panic!("{what}: cpu {w:?} vs {g:?}"),
            }
        }
    }
    // other pairs stay type errors naming the pair
    let s: ArrayRef = Arc::new(StringArray::from(vec!["1"]));
    let err = frame(vec![("s", s)], device).evaluate(&col("s").cast(DType::Int32)).unwrap_err();
    assert!(matches!(err, Error::Type { .. }) && err.to_string().contains("utf8 -> int32"), "{err}");
});

test_device!(dates_plus_and_minus_days, |device: Device| {
    let d: ArrayRef = Arc::new(Date32Array::from(vec![Some(0), None, Some(19_000), Some(-1)]));
    let n: ArrayRef = Arc::new(Int16Array::from(vec![Some(31), Some(1), Some(-19_000), None]));
    let df = frame(vec![("d", d), ("n", n)], device);
    let dates = |v: &[Option<i32>]| Arc::new(Date32Array::from(v.to_vec())) as ArrayRef;
    assert_eq!(eval(&df, col("d") + col("n")).as_ref(), dates(&[Some(31), None, Some(0), None]).as_ref());
    assert_eq!(eval(&df, lit(1) + col("d")).as_ref(), dates(&[Some(1), None, Some(19_001), Some(0)]).as_ref());
    assert_eq!(
        eval(&df, col("d") - lit(365i64)).as_ref(),
        dates(&[Some(-365), None, Some(18_635), Some(-366)]).as_ref()
    );
    // compared with a date literal, as TPC-H writes `date '1994-01-01' + interval '1' year`
    let later = eval(&df, (col("d") + lit(30)).gt(date("1970-01-15").unwrap()));
    assert_eq!(later.as_ref(), &BooleanArray::from(vec![Some(true), None, Some(true), Some(true)]) as &dyn Array);
    // days that do not fit int32 overflow; date - date and date * n are type errors
    assert!(matches!(df.evaluate(&(col("d") + lit(i64::MAX))), Err(Error::Overflow(_))));
    assert!(matches!(df.evaluate(&(col("d") - col("d"))), Err(Error::Type { .. })));
    assert!(matches!(df.evaluate(&(col("d") * lit(2))), Err(Error::Type { .. })));
});
