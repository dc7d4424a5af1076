//! The CPU engine's primitives (arrow-rs), with its own filter and slice.
use super::{Executor, Indices};
use crate::sort::SortKey;
use crate::Expr;
use arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use arrow::buffer::Buffer;
use ember_core::{type_bail, Column, DataFrame, Result};
use rayon::prelude::*;

/// The CPU engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuExecutor;

impl Executor for CpuExecutor {
    fn select_rows(&self, df: &DataFrame, predicate: &Expr) -> Result<Indices> {
        let mask = crate::expr::cpu::evaluate(df, predicate)?;
        let Some(mask) = mask.as_boolean_opt() else {
            type_bail!(format!("filter({predicate})"), "the predicate must be boolean, got {}", mask.data_type());
        };
        let rows: Vec<u32> = match mask.nulls() {
            None => crate::filter::set_rows(mask.values()),
            Some(n) => crate::filter::set_rows(&(mask.values() & n.inner())),
        };
        Ok(Indices::Host(UInt32Array::from(rows)))
    }

    fn range(&self, offset: usize, len: usize) -> Result<Indices> {
        Ok(Indices::Host(UInt32Array::from_iter_values((offset..offset + len).map(|i| i as u32))))
    }

    fn sort_indices(&self, df: &DataFrame, keys: &[SortKey]) -> Result<Indices> {
        Ok(Indices::Host(crate::sort::cpu::sort_indices(df, keys)?))
    }

    /// arrow-rs's `take` per column, in parallel (large fixed-width gathers split further, see
    /// [`take_column`]). Every row in order (a join whose side matches
    /// each row once, in order: `lineitem ⋈ orders` on the order key) is the frame itself, shared.
    fn gather(&self, df: &DataFrame, rows: &Indices) -> Result<DataFrame> {
        let Indices::Host(idx) = rows else {
            return Err(ember_core::Error::DeviceMismatch("CPU gather of device row indices".into()));
        };
        if is_identity(idx, df.num_rows()) {
            return Ok(df.clone());
        }
        let columns = df
            .columns()
            .par_iter()
            .map(|c| Ok(Column::Host(take_column(c.as_host()?, idx)?)))
            .collect::<Result<Vec<_>>>()?;
        df.with_columns(columns, idx.len())
    }

    /// arrow-rs's `FilterPredicate` and ember's 16-byte gathers (see [`crate::filter::cpu`]).
    fn filter(&self, df: &DataFrame, predicate: &Expr) -> Result<DataFrame> {
        crate::filter::cpu::filter(df, predicate)
    }

    /// A zero-copy view.
    fn slice(&self, df: &DataFrame, offset: usize, len: usize) -> Result<DataFrame> {
        let offset = offset.min(df.num_rows());
        df.slice(offset, len.min(df.num_rows() - offset))
    }
}

/// Rows per part of a parallel gather.
const GATHER_PART: usize = 1 << 15;

/// `take` of one column. arrow-rs's `take` is one thread per column, so a gather of a few
/// columns uses a few cores; a large gather of a fixed-width column without nulls (a join's
/// output: Q14's 76K decimal rows scattered over 6M `lineitem` rows, nearly every one a cache
/// miss) is split into parts gathered in parallel into one buffer. Anything else: `take`.
pub(crate) fn take_column(a: &ArrayRef, idx: &UInt32Array) -> Result<ArrayRef> {
    let width = a.data_type().primitive_width().filter(|_| idx.len() >= 2 * GATHER_PART);
    let (Some(width), None, None) = (width, a.logical_nulls().filter(|n| n.null_count() > 0), idx.nulls()) else {
        return Ok(arrow::compute::take(a.as_ref(), idx, None)?);
    };
    let data = a.to_data();
    let bytes = &data.buffers()[0].as_slice()[data.offset() * width..(data.offset() + data.len()) * width];
    let values = match width {
        1 => par_gather::<i8>(bytes, idx.values()),
        2 => par_gather::<i16>(bytes, idx.values()),
        4 => par_gather::<i32>(bytes, idx.values()),
        8 => par_gather::<i64>(bytes, idx.values()),
        16 => par_gather::<i128>(bytes, idx.values()),
        _ => None,
    };
    let Some(values) = values else { return Ok(arrow::compute::take(a.as_ref(), idx, None)?) };
    let out = arrow::array::ArrayData::builder(a.data_type().clone()).len(idx.len()).add_buffer(values).build()?;
    Ok(arrow::array::make_array(out))
}

/// `values[i]` for each index, in parallel parts; `None` where the bytes are not aligned for `T`
/// (a slice of a buffer that is) or an index is out of range.
fn par_gather<T: arrow::datatypes::ArrowNativeType + bytemuck::Pod>(bytes: &[u8], idx: &[u32]) -> Option<Buffer> {
    let values: &[T] = bytemuck::try_cast_slice(bytes).ok()?;
    if idx.par_iter().any(|&i| i as usize >= values.len()) {
        return None;
    }
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

/// Whether `idx` is `0, 1, .., n - 1` without nulls (checked 64 rows at a time; stops at the
/// first block that differs, so a gather that is not the identity pays almost nothing).
fn is_identity(idx: &UInt32Array, n: usize) -> bool {
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
    use arrow::array::{ArrayRef, Int64Array};
    use std::sync::Arc;

    #[test]
    fn an_identity_gather_shares_the_columns_and_any_other_copies() {
        let a: ArrayRef = Arc::new(Int64Array::from_iter_values((0..200).map(|i| i * 3)));
        let df = DataFrame::from_columns(vec![("a".into(), Column::Host(a.clone()))], ember_core::Device::Cpu).unwrap();
        let gather = |idx: UInt32Array| CpuExecutor.gather(&df, &Indices::Host(idx)).unwrap();
        let same = gather(UInt32Array::from_iter_values(0..200));
        assert!(Arc::ptr_eq(same.column("a").unwrap().as_host().unwrap(), &a));
        let mut swapped: Vec<u32> = (0..200).collect();
        swapped.swap(130, 131); // differs only in the third block of 64
        for idx in [
            UInt32Array::from(swapped),
            UInt32Array::from_iter_values(0..199),
            UInt32Array::from_iter((0..200).map(|i| (i != 70).then_some(i))),
        ] {
            let want = arrow::compute::take(a.as_ref(), &idx, None).unwrap();
            let got = gather(idx);
            assert_eq!(got.column("a").unwrap().as_host().unwrap().to_data(), want.to_data());
        }
        assert!(is_identity(&UInt32Array::from(Vec::<u32>::new()), 0));
    }

    #[test]
    fn large_gathers_split_into_parallel_parts_equal_take() {
        use arrow::array::{Decimal128Array, Int32Array, Int8Array, StringArray};
        let n = 200_003usize;
        let idx = UInt32Array::from_iter_values((0..3 * GATHER_PART as u32 + 5).map(|i| (i * 7919) % 200_000));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values((0..n as i64).map(|i| i * 3 - 7))),
            Arc::new(Int32Array::from_iter_values((0..n as i32).map(|i| i ^ 0x55))),
            Arc::new(Int8Array::from_iter_values((0..n).map(|i| i as i8))),
            Arc::new(
                Decimal128Array::from_iter_values((0..n as i128).map(|i| i * 1_000_003 - 5))
                    .with_precision_and_scale(15, 2)
                    .unwrap(),
            ),
            // Sliced (the offset is applied), with nulls (take), and strings (take).
            Arc::new(Int64Array::from_iter_values(0..n as i64 + 3).slice(3, n)),
            Arc::new(Int64Array::from_iter((0..n as i64).map(|i| (i % 5 != 0).then_some(i)))),
            Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("s{i}")))),
        ];
        for a in &columns {
            let want = arrow::compute::take(a.as_ref(), &idx, None).unwrap();
            let got = take_column(a, &idx).unwrap();
            assert_eq!(got.to_data(), want.to_data(), "{}", a.data_type());
        }
    }
}
