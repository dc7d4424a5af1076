//! The CPU engine's sort order: every key column encoded with arrow-rs's row format (which
//! orders each type, direction and null placement as the module documents), then a stable
//! parallel merge sort of the row numbers by those encodings.
use super::SortKey;
use crate::expr::evaluate;
use arrow::array::{ArrayRef, UInt32Array};
use arrow::compute::SortOptions;
use arrow::row::{RowConverter, SortField};
use ember_core::{DataFrame, Error, Result};
use rayon::prelude::*;

/// Row numbers of `df` in `keys` order (stable).
pub(crate) fn sort_indices(df: &DataFrame, keys: &[SortKey]) -> Result<UInt32Array> {
    let n = df.num_rows();
    if n > u32::MAX as usize {
        return Err(Error::InvalidArgument(format!("sort of {n} rows: row numbers are 32-bit")));
    }
    let arrays =
        keys.iter().map(|k| Ok(evaluate(df, &k.expr)?.as_host()?.clone())).collect::<Result<Vec<ArrayRef>>>()?;
    let mut idx: Vec<u32> = (0..n as u32).collect();
    if keys.is_empty() || n < 2 {
        return Ok(UInt32Array::from(idx));
    }
    let fields = arrays
        .iter()
        .zip(keys)
        .map(|(a, k)| {
            let opts = SortOptions { descending: k.descending, nulls_first: !k.nulls_last };
            SortField::new_with_options(a.data_type().clone(), opts)
        })
        .collect();
    let rows = RowConverter::new(fields)?.convert_columns(&arrays)?;
    // `par_sort_by` is a stable merge sort.
    idx.par_sort_by(|&a, &b| rows.row(a as usize).cmp(&rows.row(b as usize)));
    Ok(UInt32Array::from(idx))
}
