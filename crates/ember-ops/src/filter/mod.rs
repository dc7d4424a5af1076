//! Filter: keep the rows where a boolean predicate is true, in their original order. A null
//! predicate drops the row (SQL `WHERE`).
//!
//! | `a` | `a > 1` | kept? |
//! |---|---|---|
//! | 1 | false | no |
//! | 2 | true | yes |
//! | null | null | no |
pub mod cpu;
pub mod gpu;

use crate::expr::{typed::resolve, types::dtype_of, Expr};
use ember_core::{type_bail, DType, DataFrame, Result};

/// Rows of `df` where `predicate` is true, on `df`'s device.
pub fn filter(df: &DataFrame, predicate: &Expr) -> Result<DataFrame> {
    match dtype_of(predicate, df.fields())? {
        Some(DType::Bool) | None => {}
        Some(t) => type_bail!(format!("filter({predicate})"), "the predicate must be boolean, got {t}"),
    }
    if df.device().is_gpu() {
        let ctx = crate::expr::gpu::context_of(df)?;
        let out = gpu::filter(&ctx, df, &resolve(predicate, df.fields(), DType::Bool)?)?;
        ctx.log_trace("filter");
        Ok(out)
    } else {
        cpu::filter(df, predicate)
    }
}
