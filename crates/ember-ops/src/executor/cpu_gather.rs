//! The CPU engine's gather: the rows of each column at a list of row numbers.
//!
//! A gather of scattered row numbers waits on memory (nearly every value a cache miss), so the
//! work is split for the cores twice: across columns and, for a large gather, into parts of
//! [`GATHER_PART`] rows of each column, written into one pooled buffer. The row numbers are
//! checked once per gather ([`RowNumbers::new`]), not once per column. Fixed-width values and the
//! 16-byte views of Utf8View / BinaryView columns (their data buffers shared, not copied) go this
//! way, nulls gathered beside the values; anything else, small gathers and row numbers with nulls
//! go through arrow-rs's `take`.
//!
//! Tried and not kept (session 32, docs/perf.md): software prefetches a few rows ahead (no
//! change), and reading the source region by region (row numbers bucketed by 64K-row region,
//! then scattered to their output positions): 25% faster on 4 KiB pages, 25% slower on the
//! transparent huge pages the benchmark's allocator gives large columns, where a page walk per
//! value is no longer the cost it removes.
use arrow::array::{make_array, Array, ArrayData, ArrayRef, BooleanArray, UInt32Array};
use arrow::buffer::{Buffer, NullBuffer};
use arrow::datatypes::{ArrowNativeType, DataType};
use ember_core::Result;
use rayon::prelude::*;

/// Rows per part of a large gather.
const GATHER_PART: usize = 1 << 15;
/// Gathers of fewer rows use arrow-rs's `take` (one thread per column is enough).
const MIN_PARALLEL_ROWS: usize = 2 * GATHER_PART;

/// Row numbers to gather, checked once for every column of a frame.
pub(crate) struct RowNumbers<'a> {
    idx: &'a UInt32Array,
    /// Every row number valid (no nulls, in range) and enough of them for parallel parts;
    /// otherwise each column goes through arrow-rs's `take`.
    parallel: bool,
}

impl<'a> RowNumbers<'a> {
    /// `idx`, to gather from columns of `source_rows` rows.
    pub(crate) fn new(idx: &'a UInt32Array, source_rows: usize) -> RowNumbers<'a> {
        let rows = idx.values();
        let parallel = rows.len() >= MIN_PARALLEL_ROWS
            && idx.null_count() == 0
            && rows.par_iter().all(|&i| (i as usize) < source_rows);
        RowNumbers { idx, parallel }
    }

    /// The rows of `a` (`source_rows` long) at the row numbers, in their order.
    pub(crate) fn take(&self, a: &ArrayRef) -> Result<ArrayRef> {
        if !self.parallel {
            // Bounds checked: a row number out of range is an error, not a panic.
            let checked = arrow::compute::TakeOptions { check_bounds: true };
            return Ok(arrow::compute::take(a.as_ref(), self.idx, Some(checked))?);
        }
        let data = a.to_data();
        let (offset, len) = (data.offset(), data.len());
        let values = match a.data_type() {
            DataType::Utf8View | DataType::BinaryView => self.values::<u128>(&data.buffers()[0], offset, len),
            t => match t.primitive_width() {
                Some(1) => self.values::<u8>(&data.buffers()[0], offset, len),
                Some(2) => self.values::<u16>(&data.buffers()[0], offset, len),
                Some(4) => self.values::<u32>(&data.buffers()[0], offset, len),
                Some(8) => self.values::<u64>(&data.buffers()[0], offset, len),
                Some(16) => self.values::<u128>(&data.buffers()[0], offset, len),
                _ => None,
            },
        };
        let Some(values) = values else { return Ok(arrow::compute::take(a.as_ref(), self.idx, None)?) };
        let nulls = match a.nulls().filter(|n| n.null_count() > 0) {
            // The validity bits (a 6M-row column's fit in 750 KB of cache): arrow-rs's boolean take.
            Some(n) => {
                let bits = arrow::compute::take(&BooleanArray::new(n.inner().clone(), None), self.idx, None)?;
                Some(NullBuffer::new(arrow::array::AsArray::as_boolean(&bits).values().clone()))
            }
            None => None,
        };
        let mut out = ArrayData::builder(a.data_type().clone()).len(self.idx.len()).add_buffer(values).nulls(nulls);
        // A view array keeps its data buffers: every gathered view points into them, unchanged.
        for b in &data.buffers()[1..] {
            out = out.add_buffer(b.clone());
        }
        // SAFETY: the values buffer holds `idx.len()` values of the type's width (views for the view
        // types), each copied from a valid row of `a`; the null buffer (if any) has one bit per row;
        // a view array's data buffers are `a`'s own, which its views index.
        Ok(make_array(unsafe { out.build_unchecked() }))
    }

    /// `values[i]` for each row number (`values` the `len` values of type `T` from `offset` in
    /// `buf`); `None` where `buf` is not aligned for `T`.
    fn values<T: ArrowNativeType + bytemuck::Pod>(&self, buf: &Buffer, offset: usize, len: usize) -> Option<Buffer> {
        let bytes = &buf.as_slice()[offset * size_of::<T>()..(offset + len) * size_of::<T>()];
        let values: &[T] = bytemuck::try_cast_slice(bytes).ok()?;
        let idx = self.idx.values();
        // Into a pooled buffer: a fresh one is new pages the kernel faults in and zeroes on every call.
        let out = ember_core::pool::filled_with(idx.len(), |out: &mut [T]| {
            out.par_chunks_mut(GATHER_PART).zip(idx.par_chunks(GATHER_PART)).for_each(|(out, idx)| {
                for (o, &i) in out.iter_mut().zip(idx) {
                    *o = values[i as usize];
                }
            })
        });
        Some(out.into_inner())
    }
}

/// Whether `idx` is `0, 1, .., n - 1` without nulls (checked 64 rows at a time; stops at the
/// first block that differs, so a gather that is not the identity pays almost nothing).
pub(crate) fn is_identity(idx: &UInt32Array, n: usize) -> bool {
    if idx.len() != n || idx.null_count() > 0 {
        return false;
    }
    let v = idx.values();
    v.chunks(64).enumerate().all(|(c, block)| {
        let base = (c * 64) as u32;
        block.iter().enumerate().fold(true, |same, (k, &x)| same & (x == base + k as u32))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::*;
    use std::sync::Arc;

    fn random_rows(n: usize, count: usize, seed: u64) -> Vec<u32> {
        let mut s = seed;
        (0..count)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 33) % n as u64) as u32
            })
            .collect()
    }

    fn columns(n: usize) -> Vec<ArrayRef> {
        vec![
            Arc::new(Int64Array::from_iter_values((0..n as i64).map(|i| i * 3 - 7))),
            Arc::new(Int32Array::from_iter_values((0..n as i32).map(|i| i ^ 0x55))),
            Arc::new(Int8Array::from_iter_values((0..n).map(|i| i as i8))),
            Arc::new(UInt16Array::from_iter_values((0..n).map(|i| (i * 7) as u16))),
            Arc::new(
                Decimal128Array::from_iter_values((0..n as i128).map(|i| i * 1_000_003 - 5))
                    .with_precision_and_scale(15, 2)
                    .unwrap(),
            ),
            // Sliced (the offset is applied), with nulls (gathered beside the values).
            Arc::new(Int64Array::from_iter_values(0..n as i64 + 3).slice(3, n)),
            Arc::new(Int64Array::from_iter((0..n as i64).map(|i| (i % 5 != 0).then_some(i)))),
            Arc::new(Float64Array::from_iter((0..n).map(|i| (i % 3 != 0).then_some(i as f64 / 3.0)))),
            // Views, short and long, with nulls; offsets and plain strings (arrow-rs's take).
            Arc::new(StringViewArray::from_iter((0..n).map(|i| {
                (i % 7 != 0).then(|| if i % 2 == 0 { format!("s{i}") } else { format!("a string longer than 12: {i}") })
            }))),
            Arc::new(
                StringViewArray::from_iter_values((0..n + 9).map(|i| format!("a long string, sliced: {i}")))
                    .slice(9, n),
            ),
            Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("s{i}")))),
            Arc::new(BooleanArray::from_iter((0..n).map(|i| (i % 11 != 0).then_some(i % 3 == 0)))),
        ]
    }

    fn check(cols: &[ArrayRef], idx: &UInt32Array, parallel: bool) {
        let rows = RowNumbers::new(idx, cols[0].len());
        assert_eq!(rows.parallel, parallel);
        for a in cols {
            let want = arrow::compute::take(a.as_ref(), idx, None).unwrap();
            let got = rows.take(a).unwrap();
            assert_eq!(got.to_data(), want.to_data(), "{} (parallel: {parallel})", a.data_type());
            got.to_data().validate_full().unwrap();
        }
    }

    #[test]
    fn parallel_gathers_equal_take() {
        let n = 200_003;
        let cols = columns(n);
        // Random row numbers, and ascending ones with repeats and gaps (a join's probe side),
        // over parts of uneven length.
        check(&cols, &UInt32Array::from(random_rows(n, 3 * GATHER_PART + 5, 1)), true);
        let ascending: Vec<u32> = (0..3 * GATHER_PART as u32 + 5).map(|i| i * 5 / 3).collect();
        check(&cols, &UInt32Array::from(ascending), true);
        // Small gathers, and row numbers with a null (a null row): arrow-rs's take.
        check(&cols, &UInt32Array::from(random_rows(n, 1000, 2)), false);
        let mut with_null: Vec<Option<u32>> = random_rows(n, 3 * GATHER_PART, 3).into_iter().map(Some).collect();
        with_null[77] = None;
        check(&cols, &UInt32Array::from(with_null), false);
    }

    #[test]
    fn out_of_range_rows_are_an_error() {
        let cols = columns(1000);
        for len in [100, 3 * GATHER_PART] {
            let mut rows = random_rows(1000, len, 5);
            rows[len / 2] = 1000;
            let idx = UInt32Array::from(rows);
            let rows = RowNumbers::new(&idx, 1000);
            assert!(!rows.parallel);
            assert!(rows.take(&cols[0]).is_err() && rows.take(&cols[8]).is_err());
        }
    }
}
