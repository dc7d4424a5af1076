//! The CPU engine's primitives (arrow-rs), with its own filter and slice.
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
            None => mask.values().set_indices().map(|i| i as u32).collect(),
            Some(n) => (mask.values() & n.inner()).set_indices().map(|i| i as u32).collect(),
        };
        Ok(Indices::Host(UInt32Array::from(rows)))
    }

    fn range(&self, offset: usize, len: usize) -> Result<Indices> {
        Ok(Indices::Host(UInt32Array::from_iter_values((offset..offset + len).map(|i| i as u32))))
    }

    fn sort_indices(&self, df: &DataFrame, keys: &[SortKey]) -> Result<Indices> {
        Ok(Indices::Host(crate::sort::cpu::sort_indices(df, keys)?))
    }

    /// arrow-rs's `take` per column, in parallel. Every row in order (a join whose side matches
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
            .map(|c| Ok(Column::Host(arrow::compute::take(c.as_host()?.as_ref(), idx, None)?)))
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
}
