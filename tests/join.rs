//! Joins on every device against a nested-loop oracle: random frames with nulls (keys with
//! duplicates, nulls, empty sides), one and two keys (integer, bool, date, decimal, utf8), inner /
//! left / semi / anti, nulls equal or not; output order as documented (left rows in order, each one's matches in right order).
mod common;
use arrow::array::*;
use common::{frame, host, random_batch};
use ember::join::join;
use ember::prelude::*;
use std::sync::Arc;

/// Whether left row `i` and right row `j` match on `keys`.
fn matches(l: &RecordBatch, r: &RecordBatch, keys: &[&str], i: usize, j: usize, nulls_equal: bool) -> bool {
    keys.iter().all(|k| {
        let (a, b) = (l.column_by_name(k).unwrap(), r.column_by_name(k).unwrap());
        match (a.is_null(i), b.is_null(j)) {
            (true, true) => nulls_equal,
            (false, false) => {
                let (x, y) = (a.slice(i, 1), b.slice(j, 1));
                x.to_data() == y.to_data()
            }
            _ => false,
        }
    })
}

/// The gather maps of a `how` join from each left row's matching right rows (in right order).
fn maps(n_left: usize, how: JoinType, matches: impl Fn(usize) -> Vec<u32>) -> (Vec<u32>, Vec<Option<u32>>) {
    let (mut li, mut ri) = (Vec::new(), Vec::new());
    for i in 0..n_left {
        let m = matches(i);
        match how {
            JoinType::Inner | JoinType::Left => {
                if m.is_empty() && how == JoinType::Left {
                    li.push(i as u32);
                    ri.push(None);
                }
                for j in m {
                    li.push(i as u32);
                    ri.push(Some(j));
                }
            }
            JoinType::Semi if !m.is_empty() => li.push(i as u32),
            JoinType::Anti if m.is_empty() => li.push(i as u32),
            _ => {}
        }
    }
    (li, ri)
}

/// The nested-loop oracle.
fn oracle(
    l: &RecordBatch,
    r: &RecordBatch,
    keys: &[&str],
    how: JoinType,
    nulls_equal: bool,
) -> (Vec<u32>, Vec<Option<u32>>) {
    maps(l.num_rows(), how, |i| {
        (0..r.num_rows()).filter(|&j| matches(l, r, keys, i, j, nulls_equal)).map(|j| j as u32).collect()
    })
}

test_device!(joins_match_the_oracle, |device: Device| {
    for &(nl, nr) in &[(0usize, 5usize), (5, 0), (1, 1), (33, 257), (257, 33), (300, 300)] {
        let (lb, rb) = (random_batch(nl, nl as u64 + 1), random_batch(nr, nr as u64 + 1000));
        let (l, r) = (
            DataFrame::from_record_batch(&lb).unwrap().to(device).unwrap(),
            DataFrame::from_record_batch(&rb).unwrap().to(device).unwrap(),
        );
        for keys in [&["a"][..], &["f", "t"][..], &["d"][..], &["u"][..], &["s"][..], &["s", "a"][..]] {
            for how in [JoinType::Inner, JoinType::Left, JoinType::Semi, JoinType::Anti] {
                for nulls_equal in [false, true] {
                    let mut args = JoinArgs::new(keys.iter().copied(), keys.iter().copied(), how);
                    args.nulls_equal = nulls_equal;
                    let (want_l, want_r) = oracle(&lb, &rb, keys, how, nulls_equal);
                    let out = join(&l, &r, &args).unwrap();
                    assert_eq!(out.device(), device);
                    let what = format!("{nl}x{nr} on {keys:?} {how:?} nulls_equal={nulls_equal} ({device})");
                    assert_eq!(out.num_rows(), want_l.len(), "{what}");
                    // The left columns are left rows in the oracle's order.
                    let idx = UInt32Array::from(want_l.clone());
                    let got = host(&out);
                    for c in 0..lb.num_columns() {
                        let want = arrow::compute::take(lb.column(c), &idx, None).unwrap();
                        assert_eq!(got.column(c).to_data(), want.to_data(), "left column {c}: {what}");
                    }
                    if matches!(how, JoinType::Inner | JoinType::Left) {
                        // Right's non-key columns follow, suffixed where they clash.
                        let ridx = UInt32Array::from(want_r.clone());
                        let b = rb.column_by_name("b").unwrap();
                        let want = arrow::compute::take(b, &ridx, None).unwrap();
                        let name = if keys.contains(&"b") { "b" } else { "b_right" };
                        let got_b = got.column_by_name(name).unwrap();
                        assert_eq!(got_b.to_data(), want.to_data(), "right b: {what}");
                    }
                }
            }
        }
    }
});

test_device!(join_errors_name_the_problem, |device: Device| {
    let l = frame(vec![("k", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef)], device);
    let r = frame(vec![("k", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef)], device);
    match join(&l, &r, &JoinArgs::new(["k"], ["k"], JoinType::Inner)) {
        Err(Error::Type { op, message }) => {
            assert!(op.contains("k = k") && message.contains("differ"), "{op}: {message}")
        }
        other => panic!("expected a type error on {device}, got {other:?}"),
    }
    match join(&l, &l, &JoinArgs::new(["k"], ["missing"], JoinType::Inner)) {
        Err(Error::ColumnNotFound { name, .. }) => assert_eq!(name, "missing"),
        other => panic!("expected ColumnNotFound on {device}, got {other:?}"),
    }
});

test_device!(a_lazy_join_feeds_a_group_by, |device: Device| {
    let l = frame(
        vec![
            ("k", Arc::new(Int64Array::from(vec![Some(1), Some(2), None, Some(2)])) as ArrayRef),
            ("v", Arc::new(Int64Array::from(vec![10, 20, 30, 40]))),
        ],
        device,
    );
    let r = frame(
        vec![
            ("k", Arc::new(Int64Array::from(vec![Some(2), Some(2), Some(1), None])) as ArrayRef),
            ("v", Arc::new(Int64Array::from(vec![1, 2, 3, 4]))),
        ],
        device,
    );
    let q =
        l.lazy()
            .join(r.lazy(), JoinArgs::new(["k"], ["k"], JoinType::Inner))
            .group_by([col("k")])
            .agg([(col("v") * col("v_right")).sum().alias("s")]);
    assert!(q.explain().unwrap().contains("JOIN Inner ON [k = k]"));
    let out = host(&q.collect().unwrap());
    // k=1: 10*3; k=2: 20*1 + 20*2 + 40*1 + 40*2 (the null keys never match).
    assert_eq!(out.column(0).as_primitive::<arrow::datatypes::Int64Type>().values().to_vec(), vec![1, 2]);
    assert_eq!(out.column(1).as_primitive::<arrow::datatypes::Int64Type>().values().to_vec(), vec![30, 180]);
});

test_device!(right_full_and_cross_joins_keep_every_row_in_the_documented_order, |device: Device| {
    let l = frame(
        vec![
            ("k", Arc::new(Int32Array::from(vec![Some(1), Some(2), None, Some(2)])) as ArrayRef),
            ("a", Arc::new(StringArray::from(vec!["l0", "l1", "l2", "l3"])) as ArrayRef),
        ],
        device,
    );
    let r = frame(
        vec![
            ("k", Arc::new(Int32Array::from(vec![Some(2), Some(3), None, Some(1)])) as ArrayRef),
            ("b", Arc::new(Int64Array::from(vec![20, 30, 99, 10])) as ArrayRef),
        ],
        device,
    );
    let run = |how: JoinType| host(&join(&l, &r, &JoinArgs::new(["k"], ["k"], how)).unwrap());
    let ints = |v: &[Option<i32>]| -> ArrayRef { Arc::new(Int32Array::from(v.to_vec())) };
    let strs = |v: &[Option<&str>]| -> Vec<Option<String>> { v.iter().map(|s| s.map(String::from)).collect() };
    let text = |a: &ArrayRef| -> Vec<Option<String>> {
        let a = arrow::compute::cast(a, &arrow::datatypes::DataType::Utf8).unwrap();
        a.as_any().downcast_ref::<StringArray>().unwrap().iter().map(|s| s.map(String::from)).collect()
    };
    let longs = |v: &[Option<i64>]| -> ArrayRef { Arc::new(Int64Array::from(v.to_vec())) };
    // right: right rows in order (k = 2, 3, null, 1), each with its left matches in order
    let right = run(JoinType::Right);
    assert_eq!(right.num_columns(), 3);
    assert_eq!(right.column(0).as_ref(), ints(&[Some(2), Some(2), Some(3), None, Some(1)]).as_ref());
    assert_eq!(text(right.column(1)), strs(&[Some("l1"), Some("l3"), None, None, Some("l0")]));
    assert_eq!(right.column(2).as_ref(), longs(&[Some(20), Some(20), Some(30), Some(99), Some(10)]).as_ref());
    // full: the left join's rows, then the right rows without a match (keys coalesced)
    let full = run(JoinType::Full);
    assert_eq!(full.column(0).as_ref(), ints(&[Some(1), Some(2), None, Some(2), Some(3), None]).as_ref());
    assert_eq!(text(full.column(1)), strs(&[Some("l0"), Some("l1"), Some("l2"), Some("l3"), None, None]));
    assert_eq!(full.column(2).as_ref(), longs(&[Some(10), Some(20), None, Some(20), Some(30), Some(99)]).as_ref());
    // cross: every pair, left major, the right key kept under a suffix
    let cross = host(&join(&l, &r, &JoinArgs::new(Vec::<String>::new(), Vec::new(), JoinType::Cross)).unwrap());
    assert_eq!(cross.num_rows(), 16);
    assert_eq!(cross.schema().field(2).name(), "k_right");
    assert_eq!(text(cross.column(1))[4..8].to_vec(), strs(&[Some("l1"); 4]));
    assert_eq!(cross.column(3).as_ref(), &Int64Array::from([20, 30, 99, 10].repeat(4)) as &dyn Array);
    // a cross join takes no keys; the others need them
    assert!(matches!(join(&l, &r, &JoinArgs::new(["k"], ["k"], JoinType::Cross)), Err(Error::InvalidArgument(_))));
    // empty sides
    let none = l.lazy().head(0).collect().unwrap();
    assert_eq!(join(&none, &r, &JoinArgs::new(["k"], ["k"], JoinType::Full)).unwrap().num_rows(), 4);
    assert_eq!(
        join(&none, &r, &JoinArgs::new(Vec::<String>::new(), Vec::new(), JoinType::Cross)).unwrap().num_rows(),
        0
    );
});

/// A hash-map oracle (arrow's row format as the key) for sides too large for the nested loop.
fn hash_oracle(l: &RecordBatch, r: &RecordBatch, keys: &[&str], how: JoinType) -> (Vec<u32>, Vec<Option<u32>>) {
    use arrow::row::{RowConverter, SortField};
    let cols = |b: &RecordBatch| keys.iter().map(|k| b.column_by_name(k).unwrap().clone()).collect::<Vec<_>>();
    let (lc, rc) = (cols(l), cols(r));
    let conv = RowConverter::new(lc.iter().map(|a| SortField::new(a.data_type().clone())).collect()).unwrap();
    let (lrows, rrows) = (conv.convert_columns(&lc).unwrap(), conv.convert_columns(&rc).unwrap());
    let valid = |cols: &[ArrayRef], i: usize| cols.iter().all(|a| a.is_valid(i));
    let mut table: std::collections::HashMap<Vec<u8>, Vec<u32>> = Default::default();
    for j in (0..r.num_rows()).filter(|&j| valid(&rc, j)) {
        table.entry(rrows.row(j).as_ref().to_vec()).or_default().push(j as u32);
    }
    maps(l.num_rows(), how, |i| {
        let m = if valid(&lc, i) { table.get(lrows.row(i).as_ref()) } else { None };
        m.cloned().unwrap_or_default()
    })
}

/// Sides past the CPU engine's parallel hash-table build (64Ki rows), sliced (offset arrays), on
/// one and two keys, either side the smaller: the gather maps equal the hash oracle's.
#[test]
fn large_sliced_joins_match_a_hash_oracle() {
    for (nl, nr) in [(150_000usize, 90_000usize), (70_000, 200_000)] {
        let (lb, rb) = (random_batch(nl + 7, 11).slice(7, nl), random_batch(nr + 3, 12).slice(3, nr));
        let (l, r) = (DataFrame::from_record_batch(&lb).unwrap(), DataFrame::from_record_batch(&rb).unwrap());
        for keys in [&["b"][..], &["t", "a"][..], &["d", "u"][..]] {
            for how in [JoinType::Inner, JoinType::Left, JoinType::Semi, JoinType::Anti] {
                let (want_l, want_r) = hash_oracle(&lb, &rb, keys, how);
                let (li, ri) =
                    ember::join::join_indices(&l, &r, &JoinArgs::new(keys.iter().copied(), keys.iter().copied(), how))
                        .unwrap();
                let what = format!("{nl}x{nr} on {keys:?} {how:?}");
                use ember::ops::executor::Indices;
                let Indices::Host(li) = li else { panic!("host indices") };
                assert_eq!(li.values().to_vec(), want_l, "left rows: {what}");
                if let Some(Indices::Host(ri)) = ri {
                    assert_eq!(ri.iter().collect::<Vec<_>>(), want_r, "right rows: {what}");
                }
            }
        }
    }
}

// A join of masked rows (a filter fused into the join on the CPU engine) equals the join of the
// filtered frames, for every join type, fixed-width and string keys, empty, sparse and full masks,
// and sides past the parallel build.
test_device!(a_join_of_selected_rows_equals_the_join_of_filtered_frames, |device: Device| {
    let mut bits = common::rng(7);
    for &(nl, nr) in &[(0usize, 9usize), (40, 0), (257, 33), (33, 257), (1000, 70_000)] {
        // The GPU path filters first: the large case is for the CPU engine's parallel build.
        if device != Device::Cpu && nr > 1000 {
            continue;
        }
        let (lb, rb) = (random_batch(nl, nl as u64 + 5), random_batch(nr, nr as u64 + 500));
        let (l, r) = (
            DataFrame::from_record_batch(&lb).unwrap().to(device).unwrap(),
            DataFrame::from_record_batch(&rb).unwrap().to(device).unwrap(),
        );
        // (Under 1/8 kept, the CPU engine joins a side's selected keys alone, gathered first.)
        for (lkeep, rkeep) in [(50, 50), (100, 10), (0, 100), (90, 100), (5, 100), (4, 6)] {
            let mut mask =
                |n: usize, keep: u64| BooleanArray::from((0..n).map(|_| bits() % 100 < keep).collect::<Vec<bool>>());
            let (lm, rm) = (mask(nl, lkeep), mask(nr, rkeep));
            let filtered = |b: &RecordBatch, m: &BooleanArray| {
                DataFrame::from_record_batch(&arrow::compute::filter_record_batch(b, m).unwrap())
                    .unwrap()
                    .to(device)
                    .unwrap()
            };
            let (fl, fr) = (filtered(&lb, &lm), filtered(&rb, &rm));
            for keys in [&["a"][..], &["f", "t"][..], &["s"][..]] {
                for how in
                    [JoinType::Inner, JoinType::Left, JoinType::Semi, JoinType::Anti, JoinType::Right, JoinType::Full]
                {
                    let args = JoinArgs::new(keys.iter().copied(), keys.iter().copied(), how);
                    let what = format!("{nl}x{nr} keep {lkeep}%/{rkeep}% on {keys:?} {how:?} ({device})");
                    let want = host(&join(&fl, &fr, &args).unwrap());
                    for sel in [[Some(&lm), Some(&rm)], [Some(&lm), None], [None, Some(&rm)]] {
                        let (wl, wr) =
                            (if sel[0].is_some() { &l } else { &fl }, if sel[1].is_some() { &r } else { &fr });
                        let got = ember::join::join_selected_in(None, wl, wr, &args, sel).unwrap();
                        assert_eq!(got.device(), device, "{what}");
                        assert_eq!(host(&got), want, "{what}, selections {:?}", sel.map(|s| s.is_some()));
                    }
                }
            }
        }
    }
    // A mask that is not one entry per row is refused.
    let l = DataFrame::from_record_batch(&random_batch(4, 1)).unwrap().to(device).unwrap();
    let short = BooleanArray::from(vec![true]);
    let args = JoinArgs::new(["a"], ["a"], JoinType::Inner);
    assert!(matches!(
        ember::join::join_selected_in(None, &l, &l, &args, [Some(&short), None]),
        Err(Error::InvalidArgument(_))
    ));
});

/// Semi and anti joins whose right keys span a small range test a bitmap of them on the CPU
/// engine (`bitmap_semi_join`): dense keys with nulls on both sides, left keys below and above
/// the right's range, sliced right sides (one of several parallel parts), fused selections, an all-null and an empty right
/// side, and a range too wide for a bitmap (the hash table), against the hash oracle.
#[test]
fn semi_and_anti_joins_on_dense_keys_equal_the_oracle() {
    let mut r = common::rng(41);
    let dense = |n: usize, lo: i64, span: u64, r: &mut dyn FnMut() -> u64| -> ArrayRef {
        Arc::new(Int64Array::from_iter((0..n).map(|_| (!r().is_multiple_of(10)).then(|| lo + (r() % span) as i64))))
    };
    let batch = |k: ArrayRef| RecordBatch::try_from_iter([("k", k)]).unwrap();
    let cases: Vec<(RecordBatch, RecordBatch)> = vec![
        // Left keys around the right's range (some below, some above), right 10x larger.
        (batch(dense(5000, 900, 1300, &mut r)), batch(dense(50_000, 1000, 1000, &mut r))),
        // Right smaller than left, sliced.
        (batch(dense(70_000, 0, 100_000, &mut r)), batch(dense(30_003, 0, 100_000, &mut r)).slice(3, 30_000)),
        // A right side of several probe chunks, sliced: each thread sets the bits of its part
        // in a bitmap of its own, then they are OR-ed.
        (batch(dense(20_000, 0, 60_000, &mut r)), batch(dense(200_003, 0, 50_000, &mut r)).slice(3, 200_000)),
        // All-null and empty right sides.
        (batch(dense(100, 0, 50, &mut r)), batch(Arc::new(Int64Array::from(vec![None::<i64>; 40])))),
        (batch(dense(100, 0, 50, &mut r)), batch(Arc::new(Int64Array::from(Vec::<i64>::new())))),
        // Too wide for a bitmap: the hash table.
        (batch(dense(2000, -(1 << 40), 1 << 41, &mut r)), batch(dense(3000, -(1 << 40), 1 << 41, &mut r))),
    ];
    for (i, (lb, rb)) in cases.iter().enumerate() {
        let (l, rt) = (DataFrame::from_record_batch(lb).unwrap(), DataFrame::from_record_batch(rb).unwrap());
        for how in [JoinType::Semi, JoinType::Anti] {
            let args = JoinArgs::new(["k"], ["k"], how);
            let (want, _) = hash_oracle(lb, rb, &["k"], how);
            let got = host(&join(&l, &rt, &args).unwrap());
            let want = arrow::compute::take(lb.column(0), &UInt32Array::from(want), None).unwrap();
            assert_eq!(got.column(0).as_ref(), want.as_ref(), "case {i} {how:?}");
            // Fused selections equal filtering first.
            let keep = |n: usize, m: u64| {
                BooleanArray::from((0..n).map(|j| !(j as u64 * 7919).is_multiple_of(m)).collect::<Vec<_>>())
            };
            let (lm, rm) = (keep(lb.num_rows(), 3), keep(rb.num_rows(), 5));
            let filtered = |b: &RecordBatch, m: &BooleanArray| {
                DataFrame::from_record_batch(&arrow::compute::filter_record_batch(b, m).unwrap()).unwrap()
            };
            let want = host(&join(&filtered(lb, &lm), &filtered(rb, &rm), &args).unwrap());
            let got = ember::join::join_selected_in(None, &l, &rt, &args, [Some(&lm), Some(&rm)]).unwrap();
            assert_eq!(host(&got), want, "case {i} {how:?} selected");
        }
    }
}
