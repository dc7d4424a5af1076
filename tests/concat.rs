//! `concat` on every device against arrow-rs' concat of the host batches: random frames with nulls
//! of every column type, part sizes that do not line up with 32-bit bitmap words, empty parts.
mod common;
use common::{host, random_batch};
use ember::prelude::*;

test_device!(concat_equals_arrows_on_random_parts, |device: Device| {
    let sizes = [33usize, 7, 0, 40, 1, 256];
    let batches: Vec<_> = sizes.iter().enumerate().map(|(i, &n)| random_batch(n, i as u64 + 5)).collect();
    let frames: Vec<DataFrame> =
        batches.iter().map(|b| DataFrame::from_record_batch(b).unwrap().to(device).unwrap()).collect();
    let got = host(&ember::concat(&frames).unwrap());
    let want = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    assert_eq!(got.num_rows(), sizes.iter().sum::<usize>());
    for (g, w) in got.columns().iter().zip(want.columns()) {
        let g = arrow::compute::cast(g, w.data_type()).unwrap();
        assert_eq!(g.as_ref(), w.as_ref(), "column of {} on {device}", w.data_type());
    }
    // mismatched schemas are an error naming both
    let other = frames[0].lazy().select([col("a")]).collect().unwrap();
    let err = ember::concat(&[frames[0].clone(), other]).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(ref m) if m.contains("same columns")), "{err}");
    assert!(ember::concat(&[]).is_err());
});

test_device!(head_and_tail_clamp_to_the_frame, |device: Device| {
    let batch = random_batch(40, 3);
    let df = DataFrame::from_record_batch(&batch).unwrap().to(device).unwrap();
    let b = |d: &DataFrame| host(d).column_by_name("b").unwrap().clone();
    assert_eq!(b(&df.head(3).unwrap()).as_ref(), batch.column_by_name("b").unwrap().slice(0, 3).as_ref());
    assert_eq!(b(&df.tail(5).unwrap()).as_ref(), batch.column_by_name("b").unwrap().slice(35, 5).as_ref());
    assert_eq!(df.tail(100).unwrap().num_rows(), 40);
    assert_eq!(df.head(0).unwrap().num_rows(), 0);
});

test_device!(lazy_concat_feeds_the_rest_of_a_query, |device: Device| {
    let parts: Vec<DataFrame> = (0..3)
        .map(|i| DataFrame::from_record_batch(&random_batch(50 + i, i as u64)).unwrap().to(device).unwrap())
        .collect();
    let q = LazyFrame::concat(parts.iter().map(|p| p.lazy())).filter(col("a").gt(lit(0))).select([col("a"), col("b")]);
    assert!(q.explain().unwrap().contains("CONCAT 3 inputs"));
    let got = host(&q.collect().unwrap());
    let eager = ember::concat(&parts)
        .unwrap()
        .lazy()
        .filter(col("a").gt(lit(0)))
        .select([col("a"), col("b")])
        .collect()
        .unwrap();
    assert_eq!(got.columns(), host(&eager).columns());
    assert!(got.num_rows() > 0);
});

#[test]
fn utf8_held_as_views_and_as_offsets_concatenates() {
    // tpchgen makes Utf8View columns; frames from Python or IPC hold Utf8: one ember type.
    use arrow::array::{StringArray, StringViewArray};
    use std::sync::Arc;
    let frame =
        |a: arrow::array::ArrayRef| DataFrame::from_columns(vec![("s".into(), ember::Column::Host(a))], Device::Cpu);
    let views = frame(Arc::new(StringViewArray::from(vec![Some("a-long-string-over-12"), None]))).unwrap();
    let plain = frame(Arc::new(StringArray::from(vec![Some("b")]))).unwrap();
    let got = host(&ember::concat(&[views, plain]).unwrap());
    let s = arrow::compute::cast(got.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
    assert_eq!(
        s.as_ref(),
        &StringArray::from(vec![Some("a-long-string-over-12"), None, Some("b")]) as &dyn arrow::array::Array
    );
}
