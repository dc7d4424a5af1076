//! Whole-column reductions: `sum`, `min`, `max`, `mean`, `count`. Nulls are ignored (as polars):
//!
//! | values | sum | min | max | mean | count |
//! |---|---|---|---|---|---|
//! | `[1, null, 3]` | 4 | 1 | 3 | 2.0 | 2 |
//! | `[]` or all null | 0 | null | null | null | 0 |
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
}

/// The result type of `agg` over `input`, or a type error.
pub fn output_type(agg: Agg, input: DType) -> Result<DType> {
    let name = format!("{agg:?}").to_lowercase();
    Ok(match agg {
        Agg::Count => DType::UInt64,
        Agg::Min | Agg::Max => {
            if !(input.is_numeric() || input.is_temporal()) {
                type_bail!(name, "needs a numeric, decimal or temporal column, got {input}");
            }
            input
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
            let pred = predicate.map(|p| resolve(p, df.fields(), DType::Bool)).transpose()?;
            let value = resolve(expr, df.fields(), DType::Int32)?;
            gpu::reduce(ctx, df, pred.as_ref(), &value, agg)
        },
        || cpu::reduce_where(df, predicate, expr, agg),
    )
}
