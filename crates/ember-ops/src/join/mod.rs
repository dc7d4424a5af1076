//! Equi-joins: `inner`, `left`, `right`, `full` (outer), `semi` and `anti`, and `cross`, on one or more key columns of integer, date, decimal,
//! bool, float or (CPU engine) utf8 type. Keys pair up by position (`left_on[k]` with
//! `right_on[k]`) and must have the same type.
//!
//! Null keys never match (SQL) unless `nulls_equal`. Output order, on every device: left rows in
//! their order; for each, its matching right rows in their order (a `left` join's unmatched left
//! row once, with null right columns). `inner` and `left` return the left columns, then the right
//! columns except keys that share their left key's name (as polars' `on`); other clashing right
//! names get `suffix` (default `_right`). `semi` / `anti` return the left rows with at least one /
//! no match. `right`, `full` and `cross` are composed from these (see `outer.rs` for their order).
//!
//! [`join_indices`] is the low-level form (libcudf's gather maps): the matching left and right
//! row numbers.
//!
//! ```
//! use arrow::array::{Int32Array, RecordBatch};
//! use ember_core::DataFrame;
//! use ember_ops::join::{join, JoinArgs, JoinType};
//! use std::sync::Arc;
//! let l = RecordBatch::try_from_iter([("k", Arc::new(Int32Array::from(vec![1, 2, 3])) as _)]).unwrap();
//! let r = RecordBatch::try_from_iter([
//!     ("k", Arc::new(Int32Array::from(vec![3, 1, 1])) as _),
//!     ("v", Arc::new(Int32Array::from(vec![30, 10, 11])) as _),
//! ]).unwrap();
//! let (l, r) = (DataFrame::from_record_batch(&l).unwrap(), DataFrame::from_record_batch(&r).unwrap());
//! let out = join(&l, &r, &JoinArgs::new(["k"], ["k"], JoinType::Inner)).unwrap();
//! let v = out.to_record_batch().unwrap().column(1).as_any().downcast_ref::<Int32Array>().unwrap().clone();
//! assert_eq!(v.values().to_vec(), vec![10, 11, 30]);
//! ```
pub(crate) mod cpu;
pub(crate) mod gpu;
mod keys;
mod outer;
mod table;

use crate::executor::{CpuExecutor, Executor, GpuExecutor, Indices};
use arrow::array::{Array, BooleanArray};
use ember_core::{DataFrame, Device, Error, Field, Result};
use ember_gpu::ExecContext;
use serde::{Deserialize, Serialize};

/// Which rows a join returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinType {
    /// Every matching (left, right) pair.
    Inner,
    /// Every matching pair, and each left row without a match once, its right columns null.
    Left,
    /// Left rows with at least one match (left columns only).
    Semi,
    /// Left rows with no match (left columns only).
    Anti,
    /// Every matching pair in right order, and each right row without a match once, its left
    /// columns null (a shared key comes from the right).
    Right,
    /// The left join's rows, then each right row without a match, its left columns null (a
    /// shared key is the first non-null of the two).
    Full,
    /// Every (left, right) pair, left major; takes no keys.
    Cross,
}

/// How to join: key columns, type, null rule and the suffix for clashing right names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinArgs {
    /// Left key columns.
    pub left_on: Vec<String>,
    /// Right key columns, paired with `left_on` by position.
    pub right_on: Vec<String>,
    /// Which rows.
    pub how: JoinType,
    /// Null keys match each other.
    pub nulls_equal: bool,
    /// Appended to right column names that clash with left ones.
    pub suffix: String,
}

impl JoinArgs {
    /// A join on these keys, nulls never matching, suffix `_right`.
    pub fn new<S: Into<String>>(
        left_on: impl IntoIterator<Item = S>,
        right_on: impl IntoIterator<Item = S>,
        how: JoinType,
    ) -> Self {
        JoinArgs {
            left_on: left_on.into_iter().map(Into::into).collect(),
            right_on: right_on.into_iter().map(Into::into).collect(),
            how,
            nulls_equal: false,
            suffix: "_right".into(),
        }
    }
    /// Null keys match each other.
    pub fn nulls_equal(mut self) -> Self {
        self.nulls_equal = true;
        self
    }
}

/// The output columns of `left ⋈ right` and, for each right column kept, its index in `right`;
/// a typed error for unknown or mismatched keys.
pub fn output_fields(left: &[Field], right: &[Field], args: &JoinArgs) -> Result<(Vec<Field>, Vec<usize>)> {
    let cross = args.how == JoinType::Cross;
    if args.left_on.is_empty() != cross || args.left_on.len() != args.right_on.len() {
        return Err(Error::InvalidArgument(format!(
            "a join needs as many left keys as right keys, at least one (a cross join: none): {:?} and {:?}",
            args.left_on, args.right_on
        )));
    }
    let find = |fields: &[Field], name: &str| {
        fields.iter().position(|f| f.name == name).ok_or_else(|| Error::ColumnNotFound {
            name: name.into(),
            available: fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
        })
    };
    for (l, r) in args.left_on.iter().zip(&args.right_on) {
        let (lt, rt) = (left[find(left, l)?].dtype, right[find(right, r)?].dtype);
        if lt != rt {
            return Err(Error::Type {
                op: format!("join on {l} = {r}"),
                message: format!("the keys' types differ: {lt} and {rt}"),
            });
        }
    }
    let mut fields = left.to_vec();
    let mut kept = Vec::new();
    if !matches!(args.how, JoinType::Semi | JoinType::Anti) {
        for (i, f) in right.iter().enumerate() {
            let is_shared_key = args.right_on.iter().zip(&args.left_on).any(|(r, l)| *r == f.name && l == r);
            if is_shared_key {
                continue;
            }
            let mut f = f.clone();
            if fields.iter().any(|g| g.name == f.name) {
                f.name = format!("{}{}", f.name, args.suffix);
                if fields.iter().any(|g| g.name == f.name) {
                    return Err(Error::InvalidArgument(format!("join output column {:?} twice", f.name)));
                }
            }
            fields.push(f);
            kept.push(i);
        }
    }
    Ok((fields, kept))
}

/// [`output_fields`] of two frames on one device (a `DeviceMismatch` otherwise).
fn check(left: &DataFrame, right: &DataFrame, args: &JoinArgs) -> Result<(Vec<Field>, Vec<usize>)> {
    if left.device() != right.device() {
        return Err(Error::DeviceMismatch(format!(
            "join of a {} frame with a {} frame",
            left.device(),
            right.device()
        )));
    }
    output_fields(left.fields(), right.fields(), args)
}

/// The matching row numbers (libcudf's gather maps): for `Inner` and `Left`, left and right rows
/// of every pair (for `Left`, no right row is a null on the CPU engine and `u32::MAX` on the GPU);
/// for `Semi` / `Anti`, the left rows (`None` for the right). Right, full and cross joins have
/// their frame form only ([`join`]).
pub fn join_indices_in(
    ctx: Option<&ExecContext>,
    left: &DataFrame,
    right: &DataFrame,
    args: &JoinArgs,
) -> Result<(Indices, Option<Indices>)> {
    check(left, right, args)?;
    if matches!(args.how, JoinType::Right | JoinType::Full | JoinType::Cross) {
        return Err(Error::Unsupported(format!("join_indices of a {:?} join: use join", args.how)));
    }
    crate::dispatch(
        left,
        ctx,
        "join",
        |ctx| gpu::join_indices(ctx, left, right, args),
        || cpu::join_indices(left, right, args, [None, None]),
    )
}

/// [`join_indices_in`] in a fresh context.
pub fn join_indices(left: &DataFrame, right: &DataFrame, args: &JoinArgs) -> Result<(Indices, Option<Indices>)> {
    join_indices_in(None, left, right, args)
}

/// `left ⋈ right` on `left`'s device (both frames must be on it).
pub fn join(left: &DataFrame, right: &DataFrame, args: &JoinArgs) -> Result<DataFrame> {
    join_in(None, left, right, args)
}

/// [`join`] in the execution context `ctx` (GPU frames; `None`: a fresh one).
pub fn join_in(ctx: Option<&ExecContext>, left: &DataFrame, right: &DataFrame, args: &JoinArgs) -> Result<DataFrame> {
    join_selected_in(ctx, left, right, args, [None, None])
}

/// The join of the `selected` rows of `left` and of `right` (a mask per side, `None`: every
/// row; as long as its frame, no nulls): the same frame as joining the two frames filtered by
/// their masks, but on the CPU engine the filtered frames are never materialised — the join
/// skips unselected rows and gathers its output straight from the unfiltered columns (a filter
/// below a join, fused: TPC-H Q3's 3.2M `lineitem` rows are never copied before the probe
/// drops all but 30K of them). Elsewhere (GPU frames; right, full and cross joins) the frames
/// are filtered first.
pub fn join_selected_in(
    ctx: Option<&ExecContext>,
    left: &DataFrame,
    right: &DataFrame,
    args: &JoinArgs,
    selected: [Option<&BooleanArray>; 2],
) -> Result<DataFrame> {
    let (fields, kept) = check(left, right, args)?;
    for (df, sel) in [(left, selected[0]), (right, selected[1])] {
        if sel.is_some_and(|s| s.len() != df.num_rows() || s.null_count() > 0) {
            return Err(Error::InvalidArgument(format!(
                "a join's row selection must be a mask without nulls, one entry per row ({} rows)",
                df.num_rows()
            )));
        }
    }
    let fused = left.device() == Device::Cpu && !matches!(args.how, JoinType::Right | JoinType::Full | JoinType::Cross);
    if !fused && selected.iter().any(Option::is_some) {
        let filtered = |df: &DataFrame, sel: Option<&BooleanArray>| match sel {
            Some(mask) => crate::filter::filter_by_mask_in(ctx, df, mask),
            None => Ok(df.clone()),
        };
        let (l, r) = (filtered(left, selected[0])?, filtered(right, selected[1])?);
        return join_selected_in(ctx, &l, &r, args, [None, None]);
    }
    if matches!(args.how, JoinType::Right | JoinType::Full | JoinType::Cross) {
        return outer::join(ctx, left, right, args, &fields, &kept);
    }
    // The right columns kept, all nullable (a left join's unmatched rows are null there).
    let right_kept = || {
        let named = kept.iter().map(|&i| (right.fields()[i].name.clone(), right.columns()[i].clone())).collect();
        DataFrame::from_columns(named, right.device())
    };
    let run = |ex: &dyn Executor, gpu: Option<&ExecContext>, li: Indices, ri: Option<Indices>| -> Result<DataFrame> {
        let l = ex.gather(left, &li)?;
        drop(li); // the left map is not needed while the right side gathers (peak memory)
        let Some(ri) = ri else { return Ok(l) };
        let r = match (&ri, gpu, args.how) {
            (Indices::Device { buf, len }, Some(ctx), JoinType::Left) => {
                gpu::gather_outer(ctx, &right_kept()?, buf, *len)?
            }
            _ => ex.gather(&right_kept()?, &ri)?,
        };
        let mut columns: Vec<(String, ember_core::Column)> = Vec::with_capacity(fields.len());
        for (f, c) in fields.iter().zip(l.columns().iter().chain(r.columns())) {
            columns.push((f.name.clone(), c.clone()));
        }
        DataFrame::from_columns(columns, left.device())
    };
    crate::dispatch(
        left,
        ctx,
        "join",
        |ctx| {
            let (li, ri) = gpu::join_indices(ctx, left, right, args)?;
            run(&GpuExecutor::new(ctx), Some(ctx), li, ri)
        },
        || {
            let (li, ri) = cpu::join_indices(left, right, args, selected.map(|s| s.map(|s| s.values())))?;
            run(&CpuExecutor, None, li, ri)
        },
    )
}
