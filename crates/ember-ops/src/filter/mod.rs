//! Filter: keep the rows where a boolean predicate is true, in their original order. A null
//! predicate drops the row (SQL `WHERE`).
//!
//! | `a` | `a > 1` | kept? |
//! |---|---|---|
//! | 1 | false | no |
//! | 2 | true | yes |
//! | null | null | no |
pub mod cpu;

use crate::executor::{CpuExecutor, Executor, GpuExecutor};
use crate::expr::{types::dtype_of, Expr};
use ember_core::{type_bail, DType, DataFrame, Result};
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
