//! The CPU engine's sort order: every key column encoded with arrow-rs's row format (which
//! orders each type, direction and null placement as the module documents), then a stable
//! parallel merge sort of the row numbers by those encodings.
use super::SortKey;
use crate::expr::evaluate;
use arrow::array::{ArrayRef, UInt32Array};
use arrow::compute::SortOptions;
use arrow::row::{RowConverter, Rows, SortField};
use ember_core::{DataFrame, Error, Result};
use rayon::prelude::*;

/// Row numbers of `df` in `keys` order (stable).
pub(crate) fn sort_indices(df: &DataFrame, keys: &[SortKey]) -> Result<UInt32Array> {
    let arrays =
        keys.iter().map(|k| Ok(evaluate(df, &k.expr)?.as_host()?.clone())).collect::<Result<Vec<ArrayRef>>>()?;
    let opts: Vec<SortOptions> =
        keys.iter().map(|k| SortOptions { descending: k.descending, nulls_first: !k.nulls_last }).collect();
    Ok(UInt32Array::from(sorted_rows(&arrays, &opts, df.num_rows())?.0))
}

/// The stable order of rows `0..n` by the key `arrays`, and the row-format encoding of the keys
/// (`None` when there is nothing to compare: no keys or fewer than two rows).
pub(crate) fn sorted_rows(arrays: &[ArrayRef], opts: &[SortOptions], n: usize) -> Result<(Vec<u32>, Option<Rows>)> {
    if n > u32::MAX as usize {
        return Err(Error::InvalidArgument(format!("sort of {n} rows: row numbers are 32-bit")));
    }
    let mut idx: Vec<u32> = (0..n as u32).collect();
    if arrays.is_empty() || n < 2 {
        return Ok((idx, None));
    }
    let fields = arrays.iter().zip(opts).map(|(a, o)| SortField::new_with_options(a.data_type().clone(), *o)).collect();
    let rows = RowConverter::new(fields)?.convert_columns(arrays)?;
    // `par_sort_by` is a stable merge sort.
    idx.par_sort_by(|&a, &b| rows.row(a as usize).cmp(&rows.row(b as usize)));
    Ok((idx, Some(rows)))
}
