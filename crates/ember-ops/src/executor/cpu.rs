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

    fn gather(&self, df: &DataFrame, rows: &Indices) -> Result<DataFrame> {
        let Indices::Host(idx) = rows else {
            return Err(ember_core::Error::DeviceMismatch("CPU gather of device row indices".into()));
        };
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
