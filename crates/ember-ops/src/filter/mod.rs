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

use crate::expr::{types::dtype_of, Expr};
use ember_core::{type_bail, DType, DataFrame, Result};

/// Rows of `df` where `predicate` is true, on `df`'s device.
pub fn filter(df: &DataFrame, predicate: &Expr) -> Result<DataFrame> {
    match dtype_of(predicate, df.fields())? {
        Some(DType::Bool) | None => {}
        Some(t) => type_bail!(format!("filter({predicate})"), "the predicate must be boolean, got {t}"),
    }
    if df.device().is_gpu() {
        gpu::filter(df, predicate)
    } else {
        cpu::filter(df, predicate)
    }
}
