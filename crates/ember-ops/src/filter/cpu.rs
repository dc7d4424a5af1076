//! Filter on the CPU engine: evaluate the predicate (in parallel row chunks, see
//! [`crate::expr::cpu`]), turn nulls into false, and filter every column in parallel with rayon;
//! one arrow-rs [`FilterPredicate`] is built, when a column needs it, for the rest.
//!
//! Fixed-width columns (integers, floats, dates, decimals) and the views of Utf8View strings are
//! compressed by a plain loop over the mask's set bits, 64 rows a word, into buffers from
//! [`ember_core::pool`] (session 29: before, a loop over an array of the kept row numbers, which
//! every column read again), instead of arrow-rs's `filter`: arrow-rs 60 takes ~21 ms per 16-byte column at TPC-H SF1 (46%
//! kept) against ~5 ms for the loop, and its outputs of the 4- and 8-byte columns came fresh from
//! the allocator, so every call faulted in (and the kernel zeroed) ~45 MB of new pages: 11-16K
//! page faults per call, a third of the filter's time. Large 16-byte outputs are written with
//! non-temporal stores (see [`compress`]). Booleans, variable-width arrays and null bits go
//! through the `FilterPredicate`.
use crate::expr::Expr;
use arrow::array::{make_array, Array, ArrayData, ArrayRef, AsArray, BooleanArray, StringViewArray};
use arrow::buffer::{NullBuffer, ScalarBuffer};
use arrow::compute::{prep_null_mask_filter, FilterBuilder, FilterPredicate};
use arrow::datatypes::DataType;
use ember_core::{type_bail, Column, DataFrame, Result};
use rayon::prelude::*;
use std::sync::{Arc, OnceLock};

/// Rows of `df` (a CPU frame) where `predicate` is true, order kept; a null predicate drops the
/// row. Keeping every row returns the columns unchanged (no copy); keeping none returns an empty
/// frame with the same schema.
///
/// # Example
/// ```
/// use arrow::array::{Int32Array, RecordBatch};
/// use ember_core::DataFrame;
/// use ember_ops::{col, lit};
/// use std::sync::Arc;
/// let a = Int32Array::from(vec![Some(5), None, Some(1)]);
/// let batch = RecordBatch::try_from_iter([("a", Arc::new(a) as _)]).unwrap();
/// let df = DataFrame::from_record_batch(&batch).unwrap();
/// let kept = ember_ops::filter::cpu::filter(&df, &col("a").gt(lit(2))).unwrap();
/// assert_eq!(kept.to_record_batch().unwrap().column(0).as_ref(), &Int32Array::from(vec![5]));
/// ```
pub fn filter(df: &DataFrame, predicate: &Expr) -> Result<DataFrame> {
    filter_by_mask(df, &mask(df, predicate)?)
}

/// The rows of `df` (a CPU frame) where `predicate` is true, as a mask without nulls (a null
/// predicate is false): what [`filter`] keeps, for an op that fuses the filter (a join).
pub fn mask(df: &DataFrame, predicate: &Expr) -> Result<BooleanArray> {
    let mask = crate::expr::cpu::evaluate(df, predicate)?;
    let Some(mask) = mask.as_boolean_opt() else {
        type_bail!(format!("filter({predicate})"), "the predicate must be boolean, got {}", mask.data_type());
    };
    Ok(if mask.null_count() > 0 { prep_null_mask_filter(mask) } else { mask.clone() })
}

/// Rows of `df` (a CPU frame) where `mask` (no nulls, `df.num_rows()` long) is set.
pub(crate) fn filter_by_mask(df: &DataFrame, mask: &BooleanArray) -> Result<DataFrame> {
    debug_assert_eq!(mask.null_count(), 0, "a mask without nulls");
    let kept = Kept::new(mask.values());
    if kept.count == df.num_rows() {
        return Ok(df.clone());
    }
    if kept.count == 0 {
        return df.slice(0, 0);
    }
    // Built only when a column needs it (nulls, booleans, variable-width values): building it
    // writes every kept row number (22 MB at SF1's 46% of `lineitem`), a sixth of the filter's
    // time where every column is compressed by [`compress`] alone.
    let pred = OnceLock::new();
    let pred = || pred.get_or_init(|| FilterBuilder::new(mask).optimize().build());
    let columns = df
        .columns()
        .par_iter()
        .map(|c| Ok(Column::Host(filter_array(c.as_host()?, &kept, &pred)?)))
        .collect::<Result<Vec<_>>>()?;
    df.with_columns(columns, kept.count)
}

/// The kept rows of one array.
fn filter_array<'p>(a: &ArrayRef, kept: &Kept, pred: &impl Fn() -> &'p FilterPredicate) -> Result<ArrayRef> {
    let nulls = |n: Option<&NullBuffer>| -> Result<Option<NullBuffer>> {
        Ok(match n {
            Some(n) if n.null_count() > 0 => {
                let kept = pred().filter(&BooleanArray::new(n.inner().clone(), None))?;
                Some(NullBuffer::new(kept.as_boolean().values().clone()))
            }
            _ => None,
        })
    };
    Ok(match a.data_type() {
        t if t.is_primitive() => {
            let data = a.to_data();
            let (buf, offset, len) = (data.buffers()[0].clone(), data.offset(), data.len());
            let values = match t.primitive_width() {
                Some(1) => compress(&ScalarBuffer::<u8>::new(buf, offset, len), kept).into_inner(),
                Some(2) => compress(&ScalarBuffer::<u16>::new(buf, offset, len), kept).into_inner(),
                Some(4) => compress(&ScalarBuffer::<u32>::new(buf, offset, len), kept).into_inner(),
                Some(8) => compress(&ScalarBuffer::<u64>::new(buf, offset, len), kept).into_inner(),
                Some(16) => compress(&ScalarBuffer::<i128>::new(buf, offset, len), kept).into_inner(),
                _ => return Ok(pred().filter(a.as_ref())?),
            };
            let out = ArrayData::builder(t.clone()).len(kept.count).add_buffer(values).nulls(nulls(a.nulls())?);
            // SAFETY: a primitive array is one buffer of `len` values of the type's width; `values`
            // holds exactly the mask's set bits of them, and the null buffer (if any) one bit per value.
            make_array(unsafe { out.build_unchecked() })
        }
        DataType::Utf8View => {
            let v = a.as_string_view();
            let views = compress(v.views(), kept);
            let nulls = nulls(v.nulls())?;
            // SAFETY: every kept view is a valid view of `v` into `v`'s own data buffers, which are
            // carried over unchanged, and the null buffer has one bit per kept view.
            Arc::new(unsafe { StringViewArray::new_unchecked(views, v.data_buffers().to_vec().into(), nulls) })
        }
        _ => pred().filter(a.as_ref())?,
    })
}

/// `values[i]` for each row `i` that `kept` (`values.len()` rows) sets, in order: the
/// mask read 64 rows a word, each set bit's value copied (no array of row numbers is written
/// and read back once per column).
///
/// Large outputs come from [`ember_core::pool`]: see there why reusing their memory matters.
/// Large outputs of 16-byte values (decimals, string views) are written with non-temporal
/// stores on x86-64: the filter is bound by memory traffic, and an ordinary store first reads
/// each output line it misses (SF1's 16-column `lineitem` filter: 44 MB of such reads per
/// 16-byte column; 8 x 16-byte columns 42 -> 38 ms on 2 cores; no gain for 8-byte values).
fn compress<T: arrow::datatypes::ArrowNativeType + bytemuck::Pod>(
    values: &ScalarBuffer<T>,
    kept: &Kept,
) -> ScalarBuffer<T> {
    assert_eq!(kept.bits.len(), values.len(), "a mask of every row");
    ember_core::pool::filled_with(kept.count, |out| {
        #[cfg(target_arch = "x86_64")]
        if std::mem::size_of_val(out) >= STREAM_MIN_BYTES {
            let wide = (bytemuck::try_cast_slice::<T, u128>(values), bytemuck::try_cast_slice_mut::<T, u128>(out));
            if let (Ok(values), Ok(out)) = wide {
                if out.as_ptr().align_offset(16) == 0 {
                    let out = out.as_mut_ptr();
                    // SAFETY: `k < out.len()` and `i < values.len()` (see [`Kept::for_each`]); `out`
                    // is 16-byte aligned, so every `out.add(k)` is, as `_mm_stream_si128` needs.
                    kept.for_each(values, |k, i| unsafe {
                        let v = std::arch::x86_64::_mm_loadu_si128(values.as_ptr().add(i).cast());
                        std::arch::x86_64::_mm_stream_si128(out.add(k).cast(), v)
                    });
                    // Non-temporal stores are weakly ordered: fence them before the buffer is shared.
                    // SAFETY: `sfence` has no preconditions (SSE, part of x86-64).
                    unsafe { std::arch::x86_64::_mm_sfence() };
                    return;
                }
            }
        }
        // SAFETY: `k < out.len()` and `i < values.len()` (see [`Kept::for_each`]).
        kept.for_each(values, |k, i| unsafe { *out.get_unchecked_mut(k) = *values.get_unchecked(i) });
    })
}

/// Outputs of at least this many bytes are written with non-temporal stores (see [`compress`]);
/// smaller ones are likely read again while still in cache.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const STREAM_MIN_BYTES: usize = 8 << 20;

/// The rows a filter keeps: a mask's bits (no nulls) and how many are set, counted once for
/// every column.
struct Kept<'a> {
    bits: &'a arrow::buffer::BooleanBuffer,
    count: usize,
}

impl<'a> Kept<'a> {
    fn new(bits: &'a arrow::buffer::BooleanBuffer) -> Kept<'a> {
        Kept { bits, count: bits.count_set_bits() }
    }

    /// `f(k, i)` for each set bit `i`, `k` counting them from 0 (so `k < self.count` and
    /// `i < self.bits.len()`), 64 rows a word.
    ///
    /// `values` (the rows read) are prefetched ahead when at least one row per cache line is
    /// kept on average: most lines are read then, while a selective filter's prefetches would
    /// fetch the lines it skips (Q15's 4% filter took 0.014 s with them, 0.008 s without).
    #[inline(always)]
    fn for_each<T>(&self, values: &[T], mut f: impl FnMut(usize, usize)) {
        let bits = self.bits;
        let dense = self.count * (64 / size_of::<T>().max(1)) >= bits.len();
        let mut k = 0;
        let chunks = bits.inner().bit_chunks(bits.offset(), bits.len());
        let words = chunks.iter().chain(std::iter::once(chunks.remainder_bits()));
        for (w, mut word) in words.enumerate() {
            let base = w * 64;
            if dense {
                crate::prefetch::ahead_lines(values, base, 64);
            }
            while word != 0 {
                f(k, base + word.trailing_zeros() as usize);
                k += 1;
                word &= word - 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, date, lit};
    use arrow::array::*;
    use ember_core::{Device, Error, Scalar};

    fn frame(cols: Vec<(&str, ArrayRef)>) -> DataFrame {
        let named = cols.into_iter().map(|(n, a)| (n.to_string(), Column::Host(a))).collect();
        DataFrame::from_columns(named, Device::Cpu).unwrap()
    }

    fn host(df: &DataFrame, name: &str) -> ArrayRef {
        df.column(name).unwrap().as_host().unwrap().clone()
    }

    /// One column of every layout, with nulls in each.
    fn mixed() -> DataFrame {
        frame(vec![
            ("a", Arc::new(Int32Array::from(vec![Some(5), None, Some(1), Some(7), Some(2), Some(9)])) as ArrayRef),
            (
                "v",
                Arc::new(StringViewArray::from(vec![
                    Some("a string longer than twelve bytes"),
                    Some("n"),
                    None,
                    Some("g"),
                    Some("b"),
                    None,
                ])),
            ),
            ("s", Arc::new(StringArray::from(vec![Some("e"), Some("n"), None, Some("g"), Some("b"), Some("z")]))),
            (
                "d",
                Arc::new(
                    Decimal128Array::from(vec![Some(1), Some(2), Some(3), None, Some(5), Some(6)])
                        .with_precision_and_scale(15, 2)
                        .unwrap(),
                ),
            ),
            ("f", Arc::new(BooleanArray::from(vec![Some(true), None, Some(false), Some(true), Some(false), None]))),
            ("t", Arc::new(Date32Array::from(vec![Some(8766), Some(1), None, Some(9131), Some(3), Some(4)]))),
        ])
    }

    #[test]
    fn null_predicate_rows_are_dropped_and_order_is_kept() {
        let df = mixed();
        let out = filter(&df, &col("a").gt(lit(1))).unwrap(); // rows 0, 3, 4, 5 (row 1 is null)
        assert_eq!(out.num_rows(), 4);
        assert_eq!(out.schema(), df.schema());
        assert_eq!(host(&out, "a").as_ref(), &Int32Array::from(vec![5, 7, 2, 9]) as &dyn Array);
        let v = StringViewArray::from(vec![Some("a string longer than twelve bytes"), Some("g"), Some("b"), None]);
        assert_eq!(host(&out, "v").as_ref(), &v as &dyn Array);
        let s = StringArray::from(vec!["e", "g", "b", "z"]);
        assert_eq!(host(&out, "s").as_ref(), &s as &dyn Array);
        let d = Decimal128Array::from(vec![Some(1), None, Some(5), Some(6)]).with_precision_and_scale(15, 2).unwrap();
        assert_eq!(host(&out, "d").as_ref(), &d as &dyn Array);
        let f = BooleanArray::from(vec![Some(true), Some(true), Some(false), None]);
        assert_eq!(host(&out, "f").as_ref(), &f as &dyn Array);
        let t = Date32Array::from(vec![Some(8766), Some(9131), Some(3), Some(4)]);
        assert_eq!(host(&out, "t").as_ref(), &t as &dyn Array);
        // a boolean column as the predicate: nulls drop the row
        let out = filter(&df, &col("f")).unwrap();
        assert_eq!(host(&out, "a").as_ref(), &Int32Array::from(vec![5, 7]) as &dyn Array);
        let out = filter(&df, &col("f").or(lit(Scalar::Null))).unwrap();
        assert_eq!(out.num_rows(), 2);
        let out = filter(&df, &col("t").gt_eq(date("1994-01-01").unwrap())).unwrap();
        assert_eq!(host(&out, "a").as_ref(), &Int32Array::from(vec![5, 7]) as &dyn Array);
    }

    #[test]
    fn literal_predicates() {
        let df = mixed();
        let all = filter(&df, &lit(true)).unwrap();
        assert_eq!(all.num_rows(), 6);
        assert!(Arc::ptr_eq(&host(&all, "d"), &host(&df, "d")), "keeping every row copies nothing");
        for p in [lit(false), lit(Scalar::Null), lit(1).gt(lit(2)), lit(Scalar::Null).and(lit(true))] {
            let none = filter(&df, &p).unwrap();
            assert_eq!((none.num_rows(), none.schema()), (0, df.schema()), "{p}");
        }
        assert_eq!(filter(&df, &lit(Scalar::Null).or(lit(true))).unwrap().num_rows(), 6);
    }

    #[test]
    fn empty_frames_and_sliced_inputs() {
        let df = mixed();
        let empty = df.slice(0, 0).unwrap();
        let out = filter(&empty, &col("a").lt(lit(3)).and(col("v").starts_with("x"))).unwrap();
        assert_eq!((out.num_rows(), out.schema()), (0, df.schema()));
        // inputs that start at an offset (16-byte gathers index the slice, not the buffer)
        let tail = df.slice(2, 4).unwrap();
        let out = filter(&tail, &col("a").gt_eq(lit(2))).unwrap(); // rows 3, 4, 5 of `df`
        let d = Decimal128Array::from(vec![None, Some(5), Some(6)]).with_precision_and_scale(15, 2).unwrap();
        assert_eq!(host(&out, "d").as_ref(), &d as &dyn Array);
        let v = StringViewArray::from(vec![Some("g"), Some("b"), None]);
        assert_eq!(host(&out, "v").as_ref(), &v as &dyn Array);
    }

    #[test]
    fn large_frames_match_arrow_filter() {
        let n = 3 * crate::expr::cpu::CHUNK_ROWS + 11;
        let a: Int64Array = (0..n as i64).map(|i| (i % 7 != 0).then_some(i * 31 % 101)).collect();
        let d = (0..n as i128)
            .map(|i| (i % 5 != 0).then_some(i * 7))
            .collect::<Decimal128Array>()
            .with_precision_and_scale(20, 3)
            .unwrap();
        let words = ["", "AIR", "a string longer than twelve bytes", "MAIL"];
        let v: StringViewArray = (0..n).map(|i| (i % 3 != 0).then_some(words[i % 4])).collect();
        let df = frame(vec![("a", Arc::new(a) as ArrayRef), ("d", Arc::new(d)), ("v", Arc::new(v))]);
        let pred = col("a").lt(lit(40i64));
        let out = filter(&df, &pred).unwrap();
        let mask = crate::expr::cpu::evaluate(&df, &pred).unwrap();
        let want = arrow::compute::filter_record_batch(&df.to_record_batch().unwrap(), mask.as_boolean()).unwrap();
        assert_eq!(out.to_record_batch().unwrap(), want);
        assert!(out.num_rows() > 0 && out.num_rows() < n);
    }

    #[test]
    fn large_16_byte_outputs_written_by_streaming_stores_match_arrow_filter() {
        // Over 8 MiB of kept 16-byte values per column: the non-temporal store path on x86-64.
        let n = 1_300_007;
        let d = (0..n as i128)
            .map(|i| (i % 9 != 0).then_some(i * 1_000_000_007 - 3))
            .collect::<Decimal128Array>()
            .with_precision_and_scale(38, 2)
            .unwrap();
        let words = ["", "AIR", "a string longer than twelve bytes", "MAIL"];
        let v: StringViewArray = (0..n).map(|i| (i % 3 != 0).then_some(words[i % 4])).collect();
        let k: Int64Array = (0..n as i64).map(|i| Some(i * 7919 % 1000)).collect();
        let df = frame(vec![("k", Arc::new(k) as ArrayRef), ("d", Arc::new(d)), ("v", Arc::new(v))]);
        for df in [df.clone(), df.slice(5, n - 9).unwrap()] {
            let pred = col("k").lt(lit(900i64));
            let out = filter(&df, &pred).unwrap();
            assert!(out.num_rows() * 16 > STREAM_MIN_BYTES);
            let mask = crate::expr::cpu::evaluate(&df, &pred).unwrap();
            let want = arrow::compute::filter_record_batch(&df.to_record_batch().unwrap(), mask.as_boolean()).unwrap();
            assert_eq!(out.to_record_batch().unwrap(), want);
        }
    }

    #[test]
    fn every_primitive_width_sliced_with_nulls_matches_arrow_filter() {
        let n = 200;
        let valid = |i: usize| i % 7 != 3;
        let arrays: Vec<ArrayRef> = vec![
            Arc::new((0..n).map(|i| valid(i).then_some(i as i8)).collect::<Int8Array>()),
            Arc::new((0..n).map(|i| valid(i).then_some(i as u16 * 300)).collect::<UInt16Array>()),
            Arc::new((0..n).map(|i| valid(i).then_some(i as f32 - 0.5)).collect::<Float32Array>()),
            Arc::new((0..n).map(|i| valid(i).then_some(i as u64 * u32::MAX as u64)).collect::<UInt64Array>()),
            Arc::new((0..n).map(|i| valid(i).then_some(-(i as f64))).collect::<Float64Array>()),
            Arc::new((0..n).map(|i| valid(i).then_some(i as i64 * 1_000_007)).collect::<TimestampMicrosecondArray>()),
            Arc::new(
                (0..n)
                    .map(|i| valid(i).then_some(i as i128 * 10i128.pow(30)))
                    .collect::<Decimal128Array>()
                    .with_precision_and_scale(38, 4)
                    .unwrap(),
            ),
            Arc::new((0..n).map(|i| valid(i).then_some(i as i32 * 13)).collect::<Date32Array>()),
        ];
        let keep =
            Int32Array::from((0..n as i32).map(|i| if i % 5 == 0 { None } else { Some(i % 3) }).collect::<Vec<_>>());
        let mut cols = vec![("k", Arc::new(keep) as ArrayRef)];
        let names: Vec<String> = (0..arrays.len()).map(|i| format!("c{i}")).collect();
        cols.extend(names.iter().map(|s| s.as_str()).zip(arrays));
        // Offsets into the buffers: the gathers must index the slice.
        let df = frame(cols).slice(13, 170).unwrap();
        let pred = col("k").gt(lit(0));
        let out = filter(&df, &pred).unwrap();
        let mask = crate::expr::cpu::evaluate(&df, &pred).unwrap();
        let mask = prep_null_mask_filter(mask.as_boolean());
        let want = arrow::compute::filter_record_batch(&df.to_record_batch().unwrap(), &mask).unwrap();
        assert_eq!(out.to_record_batch().unwrap(), want);
        assert!(out.num_rows() > 50 && out.num_rows() < 170);
    }

    #[test]
    fn a_non_boolean_predicate_is_a_type_error() {
        let df = mixed();
        assert!(matches!(filter(&df, &(col("a") + lit(1))), Err(Error::Type { .. })));
        assert!(matches!(filter(&df, &col("nope")), Err(Error::ColumnNotFound { .. })));
    }
}
