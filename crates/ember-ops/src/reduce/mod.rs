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
    /// A quantile of the non-null values as f64 (floats in IEEE total order); null when there
    /// are none. See [`Quantile`].
    Quantile(Quantile),
}

impl Agg {
    /// Aggregations computed over the value cast to f64 (on every device, by the same cast).
    pub fn over_f64(self) -> bool {
        matches!(self, Agg::Var | Agg::Std | Agg::Median | Agg::Quantile(_))
    }

    /// The name in plans and messages: `sum`, `n_unique`, `quantile(0.9, linear)`, ...
    pub fn name(self) -> String {
        match self {
            Agg::NUnique => "n_unique".into(),
            Agg::Quantile(q) => format!("quantile({}, {})", q.q(), q.interpolation.name()),
            other => format!("{other:?}").to_lowercase(),
        }
    }
}

/// How a quantile between two values is chosen (polars' and numpy's names). With the sorted
/// non-null values `v[0..n]` and `pos = q * (n - 1)`, `lo = floor(pos)`, `hi = ceil(pos)`:
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Interpolation {
    /// `v[round(pos)]`, halves away from zero (polars' default).
    Nearest,
    /// `v[lo]`.
    Lower,
    /// `v[hi]`.
    Higher,
    /// `(v[lo] + v[hi]) / 2`.
    Midpoint,
    /// `v[lo] + (pos - lo) * (v[hi] - v[lo])`.
    Linear,
}

impl Interpolation {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Interpolation::Nearest => "nearest",
            Interpolation::Lower => "lower",
            Interpolation::Higher => "higher",
            Interpolation::Midpoint => "midpoint",
            Interpolation::Linear => "linear",
        }
    }

    /// The code the GPU kernel takes (`seg_quantile_f64`).
    pub fn code(self) -> u32 {
        self as u32
    }
}

impl std::str::FromStr for Interpolation {
    type Err = ember_core::Error;
    fn from_str(s: &str) -> Result<Interpolation> {
        Ok(match s {
            "nearest" => Interpolation::Nearest,
            "lower" => Interpolation::Lower,
            "higher" => Interpolation::Higher,
            "midpoint" => Interpolation::Midpoint,
            "linear" => Interpolation::Linear,
            other => {
                return Err(ember_core::Error::InvalidArgument(format!(
                    "unknown interpolation {other:?}; expected nearest, lower, higher, midpoint or linear"
                )))
            }
        })
    }
}

/// A quantile `q` in `[0, 1]` and its [`Interpolation`] (kept as the bits of `q`, so that [`Agg`]
/// stays `Eq` and `Hash`).
///
/// ```
/// use ember_ops::reduce::{Interpolation, Quantile};
/// let p90 = Quantile::new(0.9, Interpolation::Linear).unwrap();
/// assert_eq!(p90.pick(&[1.0, 2.0, 3.0, 4.0, 5.0]), Some(4.6));
/// assert!(Quantile::new(1.5, Interpolation::Linear).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Quantile {
    bits: u64,
    /// Between two values.
    pub interpolation: Interpolation,
}

impl Quantile {
    /// `q` in `[0, 1]`, else an invalid-argument error.
    pub fn new(q: f64, interpolation: Interpolation) -> Result<Quantile> {
        if !(0.0..=1.0).contains(&q) {
            return Err(ember_core::Error::InvalidArgument(format!("a quantile must lie in [0, 1], got {q}")));
        }
        Ok(Quantile { bits: q.to_bits(), interpolation })
    }

    /// The quantile.
    pub fn q(self) -> f64 {
        f64::from_bits(self.bits)
    }

    /// The quantile of `sorted` (ascending, non-null), `None` if empty: the CPU engine's rule, the
    /// same arithmetic as the GPU's `seg_quantile_f64`.
    pub fn pick(self, sorted: &[f64]) -> Option<f64> {
        let n = sorted.len();
        if n == 0 {
            return None;
        }
        let pos = self.q() * (n - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        Some(match self.interpolation {
            Interpolation::Nearest => sorted[pos.round() as usize],
            Interpolation::Lower => sorted[lo],
            Interpolation::Higher => sorted[hi],
            Interpolation::Midpoint => (sorted[lo] + sorted[hi]) / 2.0,
            Interpolation::Linear => sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo]),
        })
    }
}

/// The result type of `agg` over `input`, or a type error.
pub fn output_type(agg: Agg, input: DType) -> Result<DType> {
    let name = agg.name();
    Ok(match agg {
        Agg::Count | Agg::Len | Agg::NUnique => DType::UInt64,
        Agg::First | Agg::Last => input,
        Agg::Min | Agg::Max => {
            if !(input.is_numeric() || input.is_temporal()) {
                type_bail!(name, "needs a numeric, decimal or temporal column, got {input}");
            }
            input
        }
        Agg::Var | Agg::Std | Agg::Median | Agg::Quantile(_) => {
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
