//! Sort: the rows of a frame ordered by one or more keys, each ascending or descending with its
//! nulls first or last; stable (rows with equal keys keep their order), so every device returns
//! the same frame.
//!
//! | type | order |
//! |---|---|
//! | integers, dates, decimals | numeric |
//! | floats | IEEE total order: `-NaN < -inf < … < -0.0 < +0.0 < … < +inf < NaN` (as `min`/`max`) |
//! | bool | `false < true` |
//! | utf8 | bytewise (a prefix sorts first) |
//!
//! Nulls go first by default (polars' default); `nulls_last()` puts them last, in either direction.
//!
//! ```
//! use arrow::array::{Int32Array, RecordBatch};
//! use ember_core::DataFrame;
//! use ember_ops::{col, sort::{sort, SortKey}};
//! use std::sync::Arc;
//! let batch = RecordBatch::try_from_iter([
//!     ("a", Arc::new(Int32Array::from(vec![Some(2), None, Some(1), Some(2)])) as _),
//!     ("b", Arc::new(Int32Array::from(vec![1, 2, 3, 4])) as _),
//! ]).unwrap();
//! let df = DataFrame::from_record_batch(&batch).unwrap();
//! let out = sort(&df, &[SortKey::new(col("a")).descending().nulls_last(), SortKey::new(col("b"))]).unwrap();
//! let b = out.to_record_batch().unwrap().column(1).as_any().downcast_ref::<Int32Array>().unwrap().clone();
//! assert_eq!(b.values().to_vec(), vec![1, 4, 3, 2]);
//! ```
pub(crate) mod cpu;
pub(crate) mod gpu;

use crate::executor::{CpuExecutor, Executor, GpuExecutor, Indices};
use crate::expr::Expr;
use ember_core::{DataFrame, Result};
use ember_gpu::ExecContext;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One sort key: an expression (usually a column) and its direction and null placement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SortKey {
    /// What to sort by.
    pub expr: Expr,
    /// Largest first.
    pub descending: bool,
    /// Nulls after the values (default: before, as polars).
    pub nulls_last: bool,
}

impl SortKey {
    /// Ascending, nulls first.
    pub fn new(expr: Expr) -> Self {
        SortKey { expr, descending: false, nulls_last: false }
    }
    /// Largest first.
    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }
    /// Nulls after the values.
    pub fn nulls_last(mut self) -> Self {
        self.nulls_last = true;
        self
    }
}

impl From<Expr> for SortKey {
    fn from(expr: Expr) -> Self {
        SortKey::new(expr)
    }
}

impl From<&str> for SortKey {
    fn from(name: &str) -> Self {
        SortKey::new(crate::col(name))
    }
}

impl fmt::Display for SortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        if self.descending {
            f.write_str(" DESC")?;
        }
        if self.nulls_last {
            f.write_str(" NULLS LAST")?;
        }
        Ok(())
    }
}

/// `df` sorted by `keys` (the first key decides, the next breaks its ties, …), on `df`'s device.
pub fn sort(df: &DataFrame, keys: &[SortKey]) -> Result<DataFrame> {
    sort_in(None, df, keys)
}

/// [`sort`] in the execution context `ctx` (GPU frames; `None`: a fresh one).
pub fn sort_in(ctx: Option<&ExecContext>, df: &DataFrame, keys: &[SortKey]) -> Result<DataFrame> {
    crate::dispatch(df, ctx, "sort", |ctx| GpuExecutor::new(ctx).sort(df, keys), || CpuExecutor.sort(df, keys))
}

/// The first `k` rows of `df` sorted by `keys` (sort + head, as one operation). The CPU engine
/// selects the `k` smallest keys and sorts only those when `k` is well below the row count; a GPU
/// sorts every row and keeps the first `k`.
pub fn top_k_in(ctx: Option<&ExecContext>, df: &DataFrame, keys: &[SortKey], k: usize) -> Result<DataFrame> {
    crate::dispatch(
        df,
        ctx,
        "top_k",
        |ctx| {
            let gpu = GpuExecutor::new(ctx);
            gpu.slice(&gpu.sort(df, keys)?, 0, k)
        },
        || CpuExecutor.gather(df, &Indices::Host(cpu::top_indices(df, keys, k)?)),
    )
}

/// The row order [`sort`] applies (`arg_sort`): `rows[i]` is the row that goes to position `i`.
pub fn arg_sort_in(ctx: Option<&ExecContext>, df: &DataFrame, keys: &[SortKey]) -> Result<Indices> {
    crate::dispatch(
        df,
        ctx,
        "arg_sort",
        |ctx| GpuExecutor::new(ctx).sort_indices(df, keys),
        || CpuExecutor.sort_indices(df, keys),
    )
}
