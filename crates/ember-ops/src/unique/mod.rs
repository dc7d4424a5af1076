//! Unique rows: one row per distinct combination of the `subset` columns (all columns when
//! `None`), the first or the last of its duplicates, in input order (polars' `unique` with
//! `maintain_order=True`; a null equals a null). On the CPU engine the rows are grouped by hash
//! ([`crate::hash`]); on a GPU by the group-by's stable radix sort, the kept row numbers sorted
//! back into input order. Then one gather.
//!
//! ```
//! use arrow::array::{Int32Array, RecordBatch};
//! use ember_core::DataFrame;
//! use ember_ops::unique::{unique, Keep};
//! use std::sync::Arc;
//! let b = RecordBatch::try_from_iter([("k", Arc::new(Int32Array::from(vec![3, 1, 3, 2, 1])) as _)]).unwrap();
//! let df = DataFrame::from_record_batch(&b).unwrap();
//! let out = unique(&df, None, Keep::Last).unwrap().to_record_batch().unwrap();
//! assert_eq!(out.column(0).as_ref(), &Int32Array::from(vec![3, 2, 1]));
//! ```
use crate::executor::{CpuExecutor, Executor, GpuExecutor, Indices};
use crate::groupby::gpu::{last_rows, sorted_groups};
use arrow::array::{ArrayRef, UInt32Array};
use ember_core::{DataFrame, Error, Result};
use ember_gpu::primitives::compact::gather_fixed;
use ember_gpu::primitives::radix_sort::{argsort, KeyWidth, KeyWord};
use ember_gpu::ExecContext;
use serde::{Deserialize, Serialize};

/// Which of a set of duplicate rows `unique` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Keep {
    /// The first in input order (also polars' `any`).
    First,
    /// The last in input order.
    Last,
}

/// The distinct rows of `df` by `subset` (all columns when `None`), on `df`'s device.
pub fn unique(df: &DataFrame, subset: Option<&[String]>, keep: Keep) -> Result<DataFrame> {
    unique_in(None, df, subset, keep)
}

/// [`unique`] in the execution context `ctx` (GPU frames; `None`: a fresh one).
pub fn unique_in(
    ctx: Option<&ExecContext>,
    df: &DataFrame,
    subset: Option<&[String]>,
    keep: Keep,
) -> Result<DataFrame> {
    let names: Vec<String> = match subset {
        Some(s) => s.to_vec(),
        None => df.fields().iter().map(|f| f.name.clone()).collect(),
    };
    if names.is_empty() {
        return Err(Error::InvalidArgument("unique needs at least one column".into()));
    }
    let keys = names.iter().map(|n| df.column(n).cloned()).collect::<Result<Vec<_>>>()?;
    if df.num_rows() == 0 {
        return Ok(df.clone());
    }
    crate::dispatch(
        df,
        ctx,
        "unique",
        |ctx| {
            let devs = keys.iter().map(|c| c.as_device()).collect::<Result<Vec<_>>>()?;
            let n = df.num_rows();
            let g = sorted_groups(ctx, &devs, n)?;
            let rows = match keep {
                Keep::First => gather_fixed(ctx, &g.perm, 4, &g.starts, g.groups)?,
                Keep::Last => last_rows(ctx, &g.perm, &g.starts, g.groups)?,
            };
            // Back into input order: sort the kept row numbers.
            let bits = (u32::BITS - (n as u32).leading_zeros()).max(1);
            let order = argsort(ctx, &[KeyWord { keys: &rows, width: KeyWidth::U32, bits }], g.groups)?;
            let rows = gather_fixed(ctx, &rows, 4, &order, g.groups)?;
            GpuExecutor::new(ctx).gather(df, &Indices::Device { buf: rows, len: g.groups })
        },
        || {
            let arrays = keys.iter().map(|c| Ok(c.as_host()?.clone())).collect::<Result<Vec<ArrayRef>>>()?;
            let groups = crate::hash::group_rows(&arrays, df.num_rows(), None)?;
            let mut rows = match keep {
                Keep::First => groups.first_rows,
                Keep::Last => groups.last_rows(),
            };
            rows.sort_unstable();
            CpuExecutor.gather(df, &Indices::Host(UInt32Array::from(rows)))
        },
    )
}
