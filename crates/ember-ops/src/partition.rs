//! Partitioning a frame's rows into pieces, for the shuffles of `ember.distributed`: by range
//! ([`range_partition`]: by sort order against splitters, for a distributed sort) or by hash.
//!
//! Hash partitioning: a frame's rows dealt into `n` frames by a hash of their key values, the
//! same hash in every process, on every machine and for every width of a key's type. This is the
//! shuffle of a distributed group-by or join (`ember.distributed`): two rows with equal keys, in
//! any partition of either input, land in the same output piece.
//!
//! The engine's own hashing ([`crate::hash`]) numbers keys per frame (dictionary numbers, packed
//! codes) and so differs between frames; here each value is hashed by what it is:
//!
//! | key type | hashed as |
//! |---|---|
//! | every integer type, dates, timestamps | the value as `i64` (so `Int32` 5 and `Int64` 5 agree) |
//! | booleans | 0 or 1 |
//! | floats | the value as `f64`, with `-0.0` as `0.0` and every NaN as one NaN |
//! | decimals | the unscaled `i128` |
//! | strings, binary (every offset width and the view types) | the bytes |
//! | null | a constant of its own |
//!
//! Rows keep their input order within each piece, so order-sensitive aggregations (`first`,
//! `last`, `maintain_order`) merge correctly when pieces are concatenated in input order. The
//! pieces are CPU frames: a shuffle sends them through host memory (Arrow IPC) in any case.
use arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use ember_core::{Column, DataFrame, Device, Error, Result};

const K: u64 = 0x9E37_79B9_7F4A_7C15;
const NULL_HASH: u64 = 0x6A09_E667_F3BC_C909;

/// MurmurHash3's 64-bit finaliser: every input bit reaches every output bit.
fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

fn word(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(K).rotate_left(29)
}

fn bytes_hash(b: &[u8]) -> u64 {
    let mut h = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        h = word(h, u64::from_le_bytes(c.try_into().expect("8 bytes")));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = word(h, u64::from_le_bytes(last));
    }
    fmix(h)
}

fn float_hash(v: f64) -> u64 {
    let v = if v == 0.0 {
        0.0
    } else if v.is_nan() {
        f64::NAN
    } else {
        v
    };
    fmix(v.to_bits())
}

/// Folds one key column's per-row hashes into `acc`.
fn fold_column(acc: &mut [u64], a: &ArrayRef) -> Result<()> {
    fn each(acc: &mut [u64], a: &dyn Array, value: impl Fn(usize) -> u64) {
        for (i, h) in acc.iter_mut().enumerate() {
            let v = if a.is_null(i) { NULL_HASH } else { value(i) };
            *h = word(*h, v);
        }
    }
    macro_rules! int {
        ($t:ty) => {{
            let p = a.as_primitive::<$t>();
            each(acc, a, |i| fmix(p.value(i) as i64 as u64))
        }};
    }
    match a.data_type() {
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Date32 => int!(Date32Type),
        DataType::Date64 => int!(Date64Type),
        DataType::Timestamp(..) => {
            let p = arrow::compute::cast(a, &DataType::Int64)?;
            let p = p.as_primitive::<Int64Type>();
            each(acc, a, |i| fmix(p.value(i) as u64))
        }
        DataType::Boolean => {
            let b = a.as_boolean();
            each(acc, a, |i| fmix(u64::from(b.value(i))))
        }
        DataType::Float32 => {
            let p = a.as_primitive::<Float32Type>();
            each(acc, a, |i| float_hash(f64::from(p.value(i))))
        }
        DataType::Float64 => {
            let p = a.as_primitive::<Float64Type>();
            each(acc, a, |i| float_hash(p.value(i)))
        }
        DataType::Decimal128(..) => {
            let p = a.as_primitive::<Decimal128Type>();
            each(acc, a, |i| {
                let v = p.value(i) as u128;
                fmix(word(v as u64, (v >> 64) as u64))
            })
        }
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            each(acc, a, |i| bytes_hash(s.value(i).as_bytes()))
        }
        DataType::LargeUtf8 => {
            let s = a.as_string::<i64>();
            each(acc, a, |i| bytes_hash(s.value(i).as_bytes()))
        }
        DataType::Utf8View => {
            let s = a.as_string_view();
            each(acc, a, |i| bytes_hash(s.value(i).as_bytes()))
        }
        DataType::Binary => {
            let s = a.as_binary::<i32>();
            each(acc, a, |i| bytes_hash(s.value(i)))
        }
        DataType::LargeBinary => {
            let s = a.as_binary::<i64>();
            each(acc, a, |i| bytes_hash(s.value(i)))
        }
        DataType::BinaryView => {
            let s = a.as_binary_view();
            each(acc, a, |i| bytes_hash(s.value(i)))
        }
        other => {
            return Err(Error::Unsupported(format!("hash partitioning on a key of type {other}")));
        }
    }
    Ok(())
}

/// The piece (`0..n`) of every row of `df`: the keys' stable hash mapped onto `0..n`.
///
/// # Errors
/// A missing key column, a key type without a stable hash (nested types), `n == 0`, or a
/// failed download of a GPU frame.
pub fn partition_ids(df: &DataFrame, keys: &[&str], n: usize) -> Result<Vec<u32>> {
    if n == 0 || n > u32::MAX as usize {
        return Err(Error::InvalidArgument(format!("cannot hash-partition into {n} pieces")));
    }
    let mut acc = vec![0u64; df.num_rows()];
    for k in keys {
        fold_column(&mut acc, &df.column(k)?.to_arrow()?)?;
    }
    // Fast range reduction of the finalised hash: the high half of hash × n.
    Ok(acc.into_iter().map(|h| ((u128::from(fmix(h)) * n as u128) >> 64) as u32).collect())
}

/// `df`'s rows dealt into `n` CPU frames by [`partition_ids`], each piece keeping input order.
///
/// ```
/// use ember_core::{Column, DataFrame, Device};
/// use std::sync::Arc;
/// let k = arrow::array::Int64Array::from(vec![1, 2, 3, 1, 2, 3]);
/// let df = DataFrame::from_columns(vec![("k".into(), Column::Host(Arc::new(k)))], Device::Cpu).unwrap();
/// let pieces = ember_ops::partition::hash_partition(&df, &["k"], 4).unwrap();
/// assert_eq!(pieces.iter().map(|p| p.num_rows()).sum::<usize>(), 6);
/// ```
///
/// # Errors
/// As [`partition_ids`].
pub fn hash_partition(df: &DataFrame, keys: &[&str], n: usize) -> Result<Vec<DataFrame>> {
    deal(df, &partition_ids(df, keys, n)?, n)
}

/// `df`'s rows dealt into `bounds.num_rows() + 1` CPU frames by sort order: `bounds` holds the
/// key columns of some rows in sort order (splitters, as a distributed sort samples them), and a
/// row goes to the piece after every splitter that sorts before it or equal to it. So the pieces
/// in order hold the rows in order; equal keys always share a piece; each piece keeps input
/// order (a stable sort of each piece is the stable sort of all). `keys` name the key columns
/// with their (descending, nulls last) options, in ember's sort order (arrow's row format:
/// the order the CPU sort uses).
///
/// ```
/// use ember_core::{Column, DataFrame, Device};
/// use std::sync::Arc;
/// let frame = |v: Vec<i64>| {
///     let a = arrow::array::Int64Array::from(v);
///     DataFrame::from_columns(vec![("k".into(), Column::Host(Arc::new(a)))], Device::Cpu).unwrap()
/// };
/// let pieces = ember_ops::partition::range_partition(&frame(vec![5, 1, 9, 3]), &frame(vec![3, 6]), &[("k", false, false)])?;
/// assert_eq!(pieces.iter().map(|p| p.num_rows()).collect::<Vec<_>>(), vec![1, 2, 1]); // [1] [5, 3] [9]
/// # Ok::<(), ember_core::Error>(())
/// ```
///
/// # Errors
/// A missing key column, or key types the two frames cannot share.
pub fn range_partition(df: &DataFrame, bounds: &DataFrame, keys: &[(&str, bool, bool)]) -> Result<Vec<DataFrame>> {
    use arrow::compute::SortOptions;
    use arrow::row::{RowConverter, SortField};
    let n = bounds.num_rows() + 1;
    if keys.is_empty() || n == 1 {
        return deal(df, &vec![0; df.num_rows()], n);
    }
    let mut rows_of = Vec::with_capacity(keys.len());
    let mut bounds_of = Vec::with_capacity(keys.len());
    for (name, _, _) in keys {
        let a = df.column(name)?.to_arrow()?;
        // The splitters travelled apart from the rows (and may have another string layout).
        let b = arrow::compute::cast(&bounds.column(name)?.to_arrow()?, a.data_type())?;
        rows_of.push(a);
        bounds_of.push(b);
    }
    let fields = rows_of
        .iter()
        .zip(keys)
        .map(|(a, (_, descending, nulls_last))| {
            let o = SortOptions { descending: *descending, nulls_first: !*nulls_last };
            SortField::new_with_options(a.data_type().clone(), o)
        })
        .collect();
    let conv = RowConverter::new(fields)?;
    let rows = conv.convert_columns(&rows_of)?;
    let splitters = conv.convert_columns(&bounds_of)?;
    let splitters: Vec<_> = splitters.iter().collect();
    let ids: Vec<u32> = rows.iter().map(|r| splitters.partition_point(|s| *s <= r) as u32).collect();
    deal(df, &ids, n)
}

/// `df`'s rows dealt into `n` CPU frames by `ids` (each `< n`), each keeping input order.
fn deal(df: &DataFrame, ids: &[u32], n: usize) -> Result<Vec<DataFrame>> {
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (row, &p) in ids.iter().enumerate() {
        rows[p as usize].push(row as u32);
    }
    let columns: Vec<ArrayRef> = df.columns().iter().map(Column::to_arrow).collect::<Result<_>>()?;
    rows.into_iter()
        .map(|r| {
            let len = r.len();
            let idx = UInt32Array::from(r);
            let cols = columns
                .iter()
                .map(|c| Ok(Column::Host(arrow::compute::take(c.as_ref(), &idx, None)?)))
                .collect::<Result<Vec<_>>>()?;
            DataFrame::try_new(df.schema().clone(), cols, len, Device::Cpu)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, Int64Array, StringArray, StringViewArray};
    use std::sync::Arc;

    fn frame(name: &str, a: ArrayRef) -> DataFrame {
        DataFrame::from_columns(vec![(name.into(), Column::Host(a))], Device::Cpu).unwrap()
    }

    #[test]
    fn equal_values_of_different_widths_go_to_the_same_piece() {
        let a = frame("k", Arc::new(Int32Array::from(vec![Some(5), None, Some(-7), Some(1 << 20)])));
        let b = frame("k", Arc::new(Int64Array::from(vec![Some(5), None, Some(-7), Some(1 << 20)])));
        assert_eq!(partition_ids(&a, &["k"], 7).unwrap(), partition_ids(&b, &["k"], 7).unwrap());
        let s = frame("s", Arc::new(StringArray::from(vec!["", "abcdefghij", "x"])));
        let v = frame("s", Arc::new(StringViewArray::from(vec!["", "abcdefghij", "x"])));
        assert_eq!(partition_ids(&s, &["s"], 5).unwrap(), partition_ids(&v, &["s"], 5).unwrap());
    }

    #[test]
    fn range_pieces_sorted_and_concatenated_are_the_sort_of_all() {
        use crate::sort::{sort, SortKey};
        let n = 3000usize;
        let mut state = 7u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 33
        };
        let a: Vec<Option<i64>> = (0..n).map(|_| (next() % 10 != 0).then(|| (next() % 50) as i64)).collect();
        let b: Vec<Option<&str>> = (0..n).map(|_| ["x", "yy", "", "zzz"].get(next() as usize % 5).copied()).collect();
        let row: Vec<i64> = (0..n as i64).collect();
        let df = DataFrame::from_columns(
            vec![
                ("a".into(), Column::Host(Arc::new(Int64Array::from(a)))),
                ("b".into(), Column::Host(Arc::new(StringArray::from(b)))),
                ("row".into(), Column::Host(Arc::new(Int64Array::from(row)))),
            ],
            Device::Cpu,
        )
        .unwrap();
        for (da, nb) in [(false, false), (true, true), (true, false)] {
            let keys = [SortKey::from("a"), SortKey::from("b")];
            let keys = [SortKey { descending: da, ..keys[0].clone() }, SortKey { nulls_last: nb, ..keys[1].clone() }];
            let all = sort(&df, &keys).unwrap();
            // Splitters: every 400th row of the sorted keys (duplicates among them included).
            let idx = UInt32Array::from((1..7).map(|i| i * 400).collect::<Vec<u32>>());
            let bounds = DataFrame::from_columns(
                ["a", "b"]
                    .iter()
                    .map(|c| {
                        let col = all.column(c).unwrap().to_arrow().unwrap();
                        ((*c).into(), Column::Host(arrow::compute::take(col.as_ref(), &idx, None).unwrap()))
                    })
                    .collect(),
                Device::Cpu,
            )
            .unwrap();
            let pieces = range_partition(&df, &bounds, &[("a", da, false), ("b", false, nb)]).unwrap();
            assert_eq!(pieces.len(), 7);
            let sorted: Vec<DataFrame> = pieces.iter().map(|p| sort(p, &keys).unwrap()).collect();
            let rows: Vec<i64> = sorted
                .iter()
                .flat_map(|p| {
                    p.column("row").unwrap().to_arrow().unwrap().as_primitive::<Int64Type>().values().to_vec()
                })
                .collect();
            let want = all.column("row").unwrap().to_arrow().unwrap().as_primitive::<Int64Type>().values().to_vec();
            assert_eq!(rows, want, "descending a {da}, nulls last b {nb}");
        }
    }

    #[test]
    fn the_hash_is_fixed_so_processes_agree() {
        // Pinned values: a change to the hash would split a shuffle between two builds.
        let a = frame("k", Arc::new(Int64Array::from(vec![0, 1, 2, 3, 4, 5, 6, 7])));
        assert_eq!(partition_ids(&a, &["k"], 4).unwrap(), PINNED.to_vec());
    }
    const PINNED: [u32; 8] = [0, 3, 3, 0, 3, 2, 0, 2];

    #[test]
    fn pieces_keep_every_row_once_in_input_order_and_spread() {
        let n = 10_000;
        let k = Int64Array::from((0..n).map(|i| (i * 7919) % 1000).collect::<Vec<i64>>());
        let df = frame("k", Arc::new(k));
        let pieces = hash_partition(&df, &["k"], 8).unwrap();
        assert_eq!(pieces.iter().map(DataFrame::num_rows).sum::<usize>(), n as usize);
        let mut seen = std::collections::HashMap::new();
        for (p, piece) in pieces.iter().enumerate() {
            assert!(piece.num_rows() > n as usize / 16, "piece {p} has {} rows", piece.num_rows());
            let a = piece.columns()[0].to_arrow().unwrap();
            for &v in a.as_primitive::<Int64Type>().values() {
                assert_eq!(*seen.entry(v).or_insert(p), p, "key {v} in two pieces");
            }
        }
        assert!(hash_partition(&df, &["k"], 0).is_err());
        assert!(hash_partition(&df, &["nope"], 2).is_err());
    }
}
