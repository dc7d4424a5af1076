//! Group-by aggregate: one output row per distinct combination of the key values, with the
//! aggregations of [`crate::reduce`] (`sum`, `min`, `max`, `mean`, `count`, same types and null
//! rules) over each group's rows. A null key is a group of its own (as polars).
//!
//! Output order: groups sorted by their keys (ascending, nulls first), so every device returns the
//! same frame; with `maintain_order` ([`group_by_ordered_in`]), in order of each group's first
//! row. Both engines group by hashing: the CPU engine by integer codes of the keys (`cpu.rs`), the
//! GPU by a device hash table over the keys' parts, then warp-cooperative folds for few groups
//! or a sort by group rank for many (`gpu.rs`, `few.rs`). Integer and decimal results are exact
//! everywhere; float sums agree to rounding, as [`crate::reduce`] says.
//!
//! ```
//! use arrow::array::{Int32Array, Int64Array, RecordBatch};
//! use ember_core::DataFrame;
//! use ember_ops::{col, groupby::{group_by, Aggregation}, Agg};
//! use std::sync::Arc;
//! let batch = RecordBatch::try_from_iter([
//!     ("k", Arc::new(Int32Array::from(vec![Some(2), None, Some(1), Some(2)])) as _),
//!     ("v", Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as _),
//! ]).unwrap();
//! let df = DataFrame::from_record_batch(&batch).unwrap();
//! let out = group_by(&df, &[col("k")], &[Aggregation::new(Agg::Sum, col("v"), "total")]).unwrap();
//! let b = out.to_record_batch().unwrap();
//! let total = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
//! assert_eq!(total.values().to_vec(), vec![2, 3, 5]); // keys null, 1, 2
//! ```
pub(crate) mod cpu;
mod direct;
mod few;
pub(crate) mod gpu;

use crate::expr::{types::dtype_of, Expr};
use crate::reduce::{output_type, Agg};
use arrow::array::{Array, BooleanArray};
use ember_core::{DType, DataFrame, Error, Field, Result};
use ember_gpu::ExecContext;
use serde::{Deserialize, Serialize};

/// One aggregation of a group-by: `agg(expr) AS name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregation {
    /// Which.
    pub agg: Agg,
    /// Over what.
    pub expr: Expr,
    /// The output column's name.
    pub name: String,
}

impl Aggregation {
    /// `agg(expr) AS name`.
    pub fn new(agg: Agg, expr: Expr, name: impl Into<String>) -> Self {
        Aggregation { agg, expr, name: name.into() }
    }
    /// Renames the output column.
    pub fn alias(mut self, name: &str) -> Aggregation {
        self.name = name.into();
        self
    }
}

/// The output columns of grouping `input` by `keys` with `aggs`: the keys (named by
/// [`Expr::output_name`]), then the aggregations; a type error if an aggregation does not apply.
pub fn output_fields(input: &[Field], keys: &[Expr], aggs: &[Aggregation]) -> Result<Vec<Field>> {
    if keys.is_empty() {
        return Err(Error::InvalidArgument("group_by needs at least one key".into()));
    }
    let mut out = Vec::with_capacity(keys.len() + aggs.len());
    for k in keys {
        let dtype = dtype_of(k, input)?.unwrap_or(DType::Bool);
        out.push(Field { name: k.output_name(), dtype, nullable: true });
    }
    for a in aggs {
        let t = dtype_of(&a.expr, input)?.unwrap_or(DType::Int32);
        let dtype = output_type(a.agg, t).map_err(|e| match e {
            Error::Type { message, .. } => {
                Error::Type { op: format!("{:?}({}) AS {}", a.agg, a.expr, a.name), message }
            }
            e => e,
        })?;
        out.push(Field { name: a.name.clone(), dtype, nullable: true });
    }
    for (i, f) in out.iter().enumerate() {
        if out[..i].iter().any(|g| g.name == f.name) {
            return Err(Error::InvalidArgument(format!("duplicate output column {:?} in group_by", f.name)));
        }
    }
    Ok(out)
}

/// `df` grouped by `keys`, one row per group with `aggs`, on `df`'s device.
pub fn group_by(df: &DataFrame, keys: &[Expr], aggs: &[Aggregation]) -> Result<DataFrame> {
    group_by_in(None, df, keys, aggs)
}

/// [`group_by`] in the execution context `ctx` (GPU frames; `None`: a fresh one).
pub fn group_by_in(
    ctx: Option<&ExecContext>,
    df: &DataFrame,
    keys: &[Expr],
    aggs: &[Aggregation],
) -> Result<DataFrame> {
    group_by_ordered_in(ctx, df, keys, aggs, false)
}

/// [`group_by_in`], with the groups in order of their first row when `maintain_order` (polars'
/// `maintain_order=True`) instead of sorted by key.
pub fn group_by_ordered_in(
    ctx: Option<&ExecContext>,
    df: &DataFrame,
    keys: &[Expr],
    aggs: &[Aggregation],
    maintain_order: bool,
) -> Result<DataFrame> {
    group_by_selected_in(ctx, df, keys, aggs, maintain_order, None)
}

/// [`group_by_ordered_in`] of the rows `selected` sets (a mask without nulls, one entry per
/// row; `None`: every row): the same frame as grouping `filter_by(df, selected)`. On the CPU
/// engine, when the mask keeps at least half the rows, the filtered frame is never built — rows
/// outside the mask get no group and every aggregation skips them (TPC-H Q1's filter keeps 98%
/// of `lineitem`: a copy of 5.9M rows of eight columns saved). Sparser masks, and GPU frames,
/// are filtered first.
///
/// ```
/// use arrow::array::{BooleanArray, Int32Array, Int64Array, RecordBatch, UInt64Array};
/// use ember_core::DataFrame;
/// use ember_ops::{col, groupby::{group_by_selected_in, Aggregation}, Agg};
/// use std::sync::Arc;
/// let batch = RecordBatch::try_from_iter([
///     ("k", Arc::new(Int32Array::from(vec![1, 2, 1, 2])) as _),
///     ("v", Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as _),
/// ]).unwrap();
/// let df = DataFrame::from_record_batch(&batch).unwrap();
/// let keep = BooleanArray::from(vec![true, false, true, true]);
/// let aggs = [Aggregation::new(Agg::Sum, col("v"), "total"), Aggregation::new(Agg::Len, col("v"), "rows")];
/// let out = group_by_selected_in(None, &df, &[col("k")], &aggs, false, Some(&keep)).unwrap();
/// let b = out.to_record_batch().unwrap();
/// assert_eq!(b.column(1).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec(), vec![4, 4]);
/// assert_eq!(b.column(2).as_any().downcast_ref::<UInt64Array>().unwrap().values().to_vec(), vec![2, 1]);
/// ```
pub fn group_by_selected_in(
    ctx: Option<&ExecContext>,
    df: &DataFrame,
    keys: &[Expr],
    aggs: &[Aggregation],
    maintain_order: bool,
    selected: Option<&BooleanArray>,
) -> Result<DataFrame> {
    let fields = output_fields(df.fields(), keys, aggs)?;
    if selected.is_some_and(|s| s.len() != df.num_rows() || s.null_count() > 0) {
        return Err(Error::InvalidArgument(format!(
            "a group_by's row selection must be a mask without nulls, one entry per row ({} rows)",
            df.num_rows()
        )));
    }
    // Fused only where most rows are kept: an unselected row still costs its keys' codes and
    // its share of every expression, so a selective filter (Q15's 4% of `lineitem`) is cheaper
    // run first, copying the few rows it keeps.
    let kept = selected.map(|s| s.true_count());
    let selected = match (selected, kept) {
        (Some(s), Some(k)) if k < s.len() && 2 * k < s.len() && df.device() == ember_core::Device::Cpu => {
            let df = crate::filter::filter_by_mask_in(ctx, df, s)?;
            return group_by_selected_in(ctx, &df, keys, aggs, maintain_order, None);
        }
        (Some(s), Some(k)) if k < s.len() => Some(s),
        _ => None,
    };
    crate::dispatch(
        df,
        ctx,
        "group_by",
        |ctx| match selected {
            Some(mask) => {
                let df = crate::filter::filter_by_mask_in(Some(ctx), df, mask)?;
                gpu::group_by(ctx, &df, keys, aggs, &fields, maintain_order)
            }
            None => gpu::group_by(ctx, df, keys, aggs, &fields, maintain_order),
        },
        || {
            cpu::group_by(df, keys, aggs, &fields, maintain_order, selected).or_else(|e| match selected {
                // The fused run evaluates expressions on rows the filter drops, where they may
                // fail (a division the filter guards against): those rows never reach the
                // aggregation, so the unfused run decides whether there is an error.
                Some(mask) => {
                    let df = crate::filter::cpu::filter_by_mask(df, mask)?;
                    cpu::group_by(&df, keys, aggs, &fields, maintain_order, None)
                }
                None => Err(e),
            })
        },
    )
}
