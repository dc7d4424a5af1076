//! Filter on the CPU engine: evaluate the predicate (in parallel chunks), turn nulls into false,
//! build one arrow-rs `FilterPredicate` and apply it to every column in parallel with rayon.
use crate::expr::Expr;
use arrow::array::{Array, AsArray};
use arrow::compute::{prep_null_mask_filter, FilterBuilder};
use ember_core::{Column, DataFrame, Result};
use rayon::prelude::*;

/// Rows of `df` (a CPU frame) where `predicate` is true, order kept.
pub fn filter(df: &DataFrame, predicate: &Expr) -> Result<DataFrame> {
    let mask = crate::expr::cpu::evaluate(df, predicate)?;
    let mask = mask.as_boolean();
    let mask = if mask.null_count() > 0 { prep_null_mask_filter(mask) } else { mask.clone() };
    let pred = FilterBuilder::new(&mask).optimize().build();
    let kept = pred.count();
    let columns = df
        .columns()
        .par_iter()
        .map(|c| Ok(Column::Host(pred.filter(c.as_host()?.as_ref())?)))
        .collect::<Result<Vec<_>>>()?;
    df.with_columns(columns, kept)
}
