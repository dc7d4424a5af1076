//! `unique` on every device: hand-written answers (nulls equal each other, first/last kept, input
//! order), and a plain-Rust oracle on random frames with nulls at block-boundary sizes.
mod common;
use arrow::array::*;
use common::{frame, host, random_batch};
use ember::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

test_device!(unique_keeps_the_first_or_last_duplicate_in_input_order, |device: Device| {
    let k: ArrayRef = Arc::new(Int32Array::from(vec![Some(3), None, Some(3), Some(1), None, Some(1)]));
    let s: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "a", "c", "b", "d"]));
    let v: ArrayRef = Arc::new(Int64Array::from(vec![0, 1, 2, 3, 4, 5]));
    let df = frame(vec![("k", k), ("s", s), ("v", v)], device);
    let vs = |out: &DataFrame| host(out).column(2).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec();
    assert_eq!(vs(&df.unique(Some(&["k"]), Keep::First).unwrap()), vec![0, 1, 3]);
    assert_eq!(vs(&df.unique(Some(&["k"]), Keep::Last).unwrap()), vec![2, 4, 5]);
    assert_eq!(vs(&df.unique(Some(&["k", "s"]), Keep::First).unwrap()), vec![0, 1, 3, 5]);
    assert_eq!(vs(&df.unique(None, Keep::First).unwrap()), vec![0, 1, 2, 3, 4, 5]);
    assert!(matches!(df.unique(Some(&["nope"]), Keep::First), Err(Error::ColumnNotFound { .. })));
    let empty = df.lazy().head(0).collect().unwrap();
    assert_eq!(empty.unique(Some(&["k"]), Keep::First).unwrap().num_rows(), 0);
});

test_device!(unique_matches_the_oracle_on_random_frames, |device: Device| {
    for n in [1usize, 33, 256, 257, 1025, 4099].into_iter().filter(|&n| !ember::gpu::sim::TSAN || n <= 1025) {
        let batch = random_batch(n, n as u64 + 11);
        let df = DataFrame::from_record_batch(&batch).unwrap().to(device).unwrap();
        for (subset, keep) in
            [(vec!["a"], Keep::First), (vec!["s", "f"], Keep::Last), (vec!["t", "u", "a"], Keep::First)]
        {
            let got = host(&df.unique(Some(&subset), keep).unwrap());
            // The oracle: each key tuple (as text) to its kept row, rows ascending.
            let cols: Vec<&ArrayRef> = subset.iter().map(|c| batch.column_by_name(c).unwrap()).collect();
            let key = |i: usize| -> Vec<String> {
                cols.iter()
                    .map(|c| {
                        if c.is_null(i) {
                            "∅".into()
                        } else {
                            arrow::util::display::array_value_to_string(c, i).unwrap()
                        }
                    })
                    .collect()
            };
            let mut kept: HashMap<Vec<String>, usize> = HashMap::new();
            for i in 0..n {
                if keep == Keep::Last || !kept.contains_key(&key(i)) {
                    kept.insert(key(i), i);
                }
            }
            let mut rows: Vec<usize> = kept.into_values().collect();
            rows.sort_unstable();
            let b = batch.column_by_name("b").unwrap();
            let want: Vec<Option<i64>> =
                rows.iter().map(|&i| b.as_any().downcast_ref::<Int64Array>().unwrap().iter().nth(i).unwrap()).collect();
            let have: Vec<Option<i64>> =
                got.column_by_name("b").unwrap().as_any().downcast_ref::<Int64Array>().unwrap().iter().collect();
            assert_eq!(have, want, "n={n} subset={subset:?} keep={keep:?} on {device}");
        }
    }
});
