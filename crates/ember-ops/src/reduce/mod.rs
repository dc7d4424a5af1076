//! Whole-column reductions: `sum`, `min`, `max`, `mean`, `count` ignore nulls (as polars);
//! `len`, `n_unique`, `first` and `last` see them (as polars):
//!
//! | values | sum | min | max | mean | count | len | n_unique | first | last |
//! |---|---|---|---|---|---|---|---|---|---|
//! | `[1, null, 3, 1]` | 5 | 1 | 3 | 1.67 | 3 | 4 | 3 | 1 | 1 |
//! | `[null, 2]` | 2 | 2 | 2 | 2.0 | 1 | 2 | 2 | null | 2 |
//! | `[]` | 0 | null | null | null | 0 | 0 | 0 | null | null |
//!
//! `len`, `n_unique` (a null counts as one value) and `count` are `u64`; `first`/`last` keep the
//! type and take any type. `var` and `std` (sample, ddof 1) and `median` are f64, computed over the
//! values cast to f64; fewer than two values give a null `var`/`std`.
//!
//! Result types: `sum` of signed integers is `i64`, of unsigned `u64`, of floats the float type,
//! of `decimal(p, s)` `decimal(38, s)` (checked: overflow is an error); `min`/`max` keep the type
//! (floats in IEEE total order, as arrow-rs); `mean` is `f64`; `count` is `u64`. Reductions take
//! numeric, decimal and temporal inputs (min/max/count also on those; sum/mean on numbers only).
//!
//! Float sums are deterministic per executor (fixed reduction order) but the CPU engine and the
//! GPU add in different orders, so they agree to a relative 1e-12 (f64) / 1e-5 (f32), not bit for bit.
pub mod cpu;
pub mod gpu;
pub mod state;

use crate::expr::{typed::resolve, types::dtype_of, Expr};
use ember_core::{type_bail, DType, DataFrame, Result, Scalar};
use ember_gpu::ExecContext;
use state::AggState;

/// A whole-column aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Agg {
    /// Sum of the non-null values (0 when there are none).
    Sum,
    /// Smallest non-null value.
    Min,
    /// Largest non-null value.
    Max,
    /// Mean of the non-null values, as f64.
    Mean,
    /// Number of non-null values.
    Count,
    /// Number of values, nulls included.
    Len,
    /// Number of distinct values, null counted as one (polars' `n_unique`).
    NUnique,
    /// The first value (null if it is null).
    First,
    /// The last value (null if it is null).
    Last,
    /// Sample variance (ddof 1) of the non-null values as f64; null below two values.
    Var,
    /// Sample standard deviation (ddof 1), the square root of [`Agg::Var`].
    Std,
    /// The median of the non-null values as f64 (the mean of the two middle ones for an even
    /// count; floats in IEEE total order); null when there are none.
    Median,
}

impl Agg {
    /// Aggregations computed over the value cast to f64 (on every device, by the same cast).
    pub fn over_f64(self) -> bool {
        matches!(self, Agg::Var | Agg::Std | Agg::Median)
    }
}

/// The result type of `agg` over `input`, or a type error.
pub fn output_type(agg: Agg, input: DType) -> Result<DType> {
    let name = format!("{agg:?}").to_lowercase();
    Ok(match agg {
        Agg::Count | Agg::Len | Agg::NUnique => DType::UInt64,
        Agg::First | Agg::Last => input,
        Agg::Min | Agg::Max => {
            if !(input.is_numeric() || input.is_temporal()) {
                type_bail!(name, "needs a numeric, decimal or temporal column, got {input}");
            }
            input
        }
        Agg::Var | Agg::Std | Agg::Median => {
            if !input.is_numeric() {
                type_bail!(name, "needs a numeric or decimal column, got {input}");
            }
            DType::Float64
        }
        Agg::Sum | Agg::Mean => {
            if !input.is_numeric() {
                type_bail!(name, "needs a numeric or decimal column, got {input}");
            }
            match (agg, input) {
                (Agg::Mean, _) => DType::Float64,
                (_, DType::Decimal128 { scale, .. }) => DType::Decimal128 { precision: 38, scale },
                (_, t) if t.is_signed_integer() => DType::Int64,
                (_, t) if t.is_integer() => DType::UInt64,
                (_, t) => t,
            }
        }
    })
}

/// `agg(expr)` over all rows of `df`, computed on `df`'s device.
pub fn reduce(df: &DataFrame, expr: &Expr, agg: Agg) -> Result<Scalar> {
    reduce_where(df, None, expr, agg)
}

/// `agg(expr)` over the rows of `df` where `predicate` is true (all rows when `None`), computed
/// on `df`'s device without materialising the filtered rows: filter followed by aggregate, fused.
pub fn reduce_where(df: &DataFrame, predicate: Option<&Expr>, expr: &Expr, agg: Agg) -> Result<Scalar> {
    reduce_where_in(None, df, predicate, expr, agg)
}

/// [`reduce_where`] in the execution context `ctx` (GPU frames; `None`: a fresh one).
pub fn reduce_where_in(
    ctx: Option<&ExecContext>,
    df: &DataFrame,
    predicate: Option<&Expr>,
    expr: &Expr,
    agg: Agg,
) -> Result<Scalar> {
    // An untyped null literal reduces like an all-null i32 column.
    let input = dtype_of(expr, df.fields())?.unwrap_or(DType::Int32);
    output_type(agg, input)?;
    if let Some(p) = predicate {
        match dtype_of(p, df.fields())? {
            Some(DType::Bool) | None => {}
            Some(t) => type_bail!(format!("filter({p})"), "the predicate must be boolean, got {t}"),
        }
    }
    crate::dispatch(
        df,
        ctx,
        "reduce",
        |ctx| {
            if matches!(agg, Agg::Len | Agg::NUnique | Agg::First | Agg::Last) || agg.over_f64() {
                return one_group(ctx, df, predicate, expr, agg);
            }
            let pred = predicate.map(|p| resolve(p, df.fields(), DType::Bool)).transpose()?;
            let value = resolve(expr, df.fields(), DType::Int32)?;
            gpu::reduce(ctx, df, pred.as_ref(), &value, agg)
        },
        || cpu::reduce_where(df, predicate, expr, agg),
    )
}

/// `len`, `n_unique`, `first` and `last` on a GPU: the (filtered) rows as one group of
/// [`crate::groupby`], whose kernels already compute them.
fn one_group(ctx: &ExecContext, df: &DataFrame, predicate: Option<&Expr>, expr: &Expr, agg: Agg) -> Result<Scalar> {
    let kept;
    let rows = match predicate {
        Some(p) => {
            kept = crate::filter::filter_in(Some(ctx), df, p)?;
            &kept
        }
        None => df,
    };
    if rows.num_rows() == 0 {
        return AggState::new(agg, dtype_of(expr, df.fields())?.unwrap_or(DType::Int32))?.finish();
    }
    let key = crate::expr::lit(0i32).alias("__group");
    let out = crate::groupby::group_by_in(
        Some(ctx),
        rows,
        &[key],
        &[crate::groupby::Aggregation::new(agg, expr.clone(), "v")],
    )?;
    let host = out.column("v")?.to_arrow()?;
    Scalar::from_array(host.as_ref(), 0)
}
