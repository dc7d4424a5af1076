//! The CPU engine's primitives (arrow-rs), with its own filter and slice.
use super::cpu_gather::{is_identity, RowNumbers};
use super::{Executor, Indices};
use crate::sort::SortKey;
use crate::Expr;
use arrow::array::{Array, AsArray, UInt32Array};
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

    /// Every column in parallel, and a large gather of each in parallel parts (the row numbers
    /// checked once for all columns: [`RowNumbers`]). Every row in order (a join whose side matches
    /// each row once, in order: `lineitem ⋈ orders` on the order key) is the frame itself, shared.
    fn gather(&self, df: &DataFrame, rows: &Indices) -> Result<DataFrame> {
        let Indices::Host(idx) = rows else {
            return Err(ember_core::Error::DeviceMismatch("CPU gather of device row indices".into()));
        };
        if is_identity(idx, df.num_rows()) {
            return Ok(df.clone());
        }
        let rows = RowNumbers::new(idx, df.num_rows());
        let columns =
            df.columns().par_iter().map(|c| Ok(Column::Host(rows.take(c.as_host()?)?))).collect::<Result<Vec<_>>>()?;
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
        // A row number out of range is an error, not a panic.
        assert!(CpuExecutor.gather(&df, &Indices::Host(UInt32Array::from(vec![3, 200]))).is_err());
    }
}
