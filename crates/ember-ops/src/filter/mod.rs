//! Filter: keep the rows where a boolean predicate is true, in their original order. A null
//! predicate drops the row (SQL `WHERE`).
//!
//! | `a` | `a > 1` | kept? |
//! |---|---|---|
//! | 1 | false | no |
//! | 2 | true | yes |
//! | null | null | no |
pub mod cpu;

use crate::executor::{CpuExecutor, Executor, GpuExecutor, Indices};
use crate::expr::{types::dtype_of, Expr};
use arrow::array::BooleanArray;
use ember_core::{type_bail, DType, DataFrame, Error, Result};
use ember_gpu::ExecContext;

/// Rows of `df` where `predicate` is true, on `df`'s device.
pub fn filter(df: &DataFrame, predicate: &Expr) -> Result<DataFrame> {
    filter_in(None, df, predicate)
}

/// [`filter`] in the execution context `ctx` (GPU frames; `None`: a fresh one).
pub fn filter_in(ctx: Option<&ExecContext>, df: &DataFrame, predicate: &Expr) -> Result<DataFrame> {
    match dtype_of(predicate, df.fields())? {
        Some(DType::Bool) | None => {}
        Some(t) => type_bail!(format!("filter({predicate})"), "the predicate must be boolean, got {t}"),
    }
    crate::dispatch(
        df,
        ctx,
        "filter",
        |ctx| GpuExecutor::new(ctx).filter(df, predicate),
        || CpuExecutor.filter(df, predicate),
    )
}

/// Rows of `df` that `mask` (no nulls, one entry per row, on the host) sets, on `df`'s device:
/// the fallback of the ops that fuse a filter (join, group-by) where they cannot.
pub(crate) fn filter_by_mask_in(ctx: Option<&ExecContext>, df: &DataFrame, mask: &BooleanArray) -> Result<DataFrame> {
    crate::dispatch(
        df,
        ctx,
        "filter",
        |ctx| {
            let rows: Vec<u32> = mask.values().set_indices().map(|i| i as u32).collect();
            let idx = Indices::Device { buf: ctx.upload(&rows).map_err(Error::from)?, len: rows.len() };
            GpuExecutor::new(ctx).gather(df, &idx)
        },
        || cpu::filter_by_mask(df, mask),
    )
}
