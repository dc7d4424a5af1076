//! Joins on every device against a nested-loop oracle: random frames with nulls (keys with
//! duplicates, nulls, empty sides), one and two keys, inner / left / semi / anti, nulls equal or
//! not;
//! output order as documented (left rows in order, each one's matches in right order).
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

fn oracle(
    l: &RecordBatch,
    r: &RecordBatch,
    keys: &[&str],
    how: JoinType,
    nulls_equal: bool,
) -> (Vec<u32>, Vec<Option<u32>>) {
    let (mut li, mut ri) = (Vec::new(), Vec::new());
    for i in 0..l.num_rows() {
        let m: Vec<usize> = (0..r.num_rows()).filter(|&j| matches(l, r, keys, i, j, nulls_equal)).collect();
        match how {
            JoinType::Inner | JoinType::Left => {
                if m.is_empty() && how == JoinType::Left {
                    li.push(i as u32);
                    ri.push(None);
                }
                for j in m {
                    li.push(i as u32);
                    ri.push(Some(j as u32));
                }
            }
            JoinType::Semi if !m.is_empty() => li.push(i as u32),
            JoinType::Anti if m.is_empty() => li.push(i as u32),
            _ => {}
        }
    }
    (li, ri)
}

test_device!(joins_match_the_oracle, |device: Device| {
    for &(nl, nr) in &[(0usize, 5usize), (5, 0), (1, 1), (33, 257), (257, 33), (300, 300)] {
        let (lb, rb) = (random_batch(nl, nl as u64 + 1), random_batch(nr, nr as u64 + 1000));
        let (l, r) = (
            DataFrame::from_record_batch(&lb).unwrap().to(device).unwrap(),
            DataFrame::from_record_batch(&rb).unwrap().to(device).unwrap(),
        );
        for keys in [&["a"][..], &["f", "t"][..], &["d"][..], &["u"][..]] {
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
