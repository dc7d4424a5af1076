//! ember's benchmarks against polars on the same data: the `ember-bench` runner's pieces and the
//! cases the criterion benches share.
//!
//! | module | what |
//! |---|---|
//! | [`tpch`] | `ember-bench tpch`: the 22 queries on both engines, answers checked |
//! | [`ops`] | `ember-bench ops`: single operations on both engines |
//! | [`polars_tpch`] | the 22 queries in polars' Rust API |
//! | [`duck`] | the optional duckdb baseline (`--features duckdb`): the 22 queries and the operations as SQL |
//! | [`data`] | tables in memory, or cached as Parquet / CSV and read by each engine's reader |
//! | [`answer`] | answers as rows, the equality rule, CSV output |
//! | [`measure`] | warm-up + timed runs, peak memory, device launches and copies |
//! | [`report`] | the markdown table, JSON lines, SVG chart |
//! | [`alloc`] | the counting global allocator behind peak host memory |
//!
//! Below: TPC-H `lineitem` as an ember frame and as a polars frame built from the same generated
//! data, and the benchmarked cases written for both libraries.
pub mod alloc;
pub mod answer;
pub mod data;
pub mod duck;
pub mod measure;
pub mod ops;
pub mod polars_tpch;
pub mod report;
pub mod tpch;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use ember::prelude::*;
use polars::prelude::{self as pl, IntoLazy};

/// `lineitem` at scale factor `sf`: the ember CPU frame and a polars frame with the same values
/// and types (decimal(15,2) stays decimal, dates stay dates; buffers shared, not copied).
pub fn lineitem_both(sf: f64) -> Result<(DataFrame, pl::DataFrame)> {
    both(ember::tpch::lineitem(sf)?)
}

/// `orders` at scale factor `sf`, as an ember CPU frame and a polars frame (as [`lineitem_both`]).
pub fn orders_both(sf: f64) -> Result<(DataFrame, pl::DataFrame)> {
    both(ember::tpch::orders(sf)?)
}

/// `customer` at scale factor `sf` (as [`lineitem_both`]).
pub fn customer_both(sf: f64) -> Result<(DataFrame, pl::DataFrame)> {
    both(ember::tpch::customer(sf)?)
}

/// `df` and a polars frame with the same values and types, sharing its buffers
/// (`ember::polars`: the Arrow C Data Interface).
pub(crate) fn both(df: DataFrame) -> Result<(DataFrame, pl::DataFrame)> {
    let pdf = ember::polars::to_polars(&df)?;
    Ok((df, pdf))
}

pub(crate) fn polars_err(e: pl::PolarsError) -> Error {
    Error::InvalidArgument(format!("polars: {e}"))
}

/// `l_quantity < 24` with all 16 columns materialised, in polars.
pub fn polars_filter(li: &pl::DataFrame) -> Result<pl::DataFrame> {
    li.clone().lazy().filter(pl::col("l_quantity").lt(polars_tpch::dec(2400))).collect().map_err(polars_err)
}

/// Waits until the GPU work that made `df` has finished (nothing on the CPU engine), so a timed
/// run ends when its result is ready, and the result stays where polars' does: in the engine's
/// memory, not downloaded.
pub fn settle(df: DataFrame) -> Result<DataFrame> {
    if let Some(gpu) = df.device().gpu()? {
        ember::gpu::ExecContext::new(gpu).synchronize()?;
    }
    Ok(df)
}

/// `l_quantity < 24` with all 16 columns materialised, in ember, on the frame's device.
pub fn ember_filter(li: &DataFrame) -> Result<DataFrame> {
    settle(li.filter(col("l_quantity").lt(lit(24)))?)
}

/// The same filter with arrow-rs alone: `lt` kernel + `filter_record_batch`.
pub fn arrow_filter(batch: &arrow::array::RecordBatch) -> Result<arrow::array::RecordBatch> {
    let q = batch.column_by_name("l_quantity").ok_or_else(|| Error::InvalidArgument("l_quantity".into()))?;
    let k = arrow::array::Decimal128Array::from(vec![2400]).with_precision_and_scale(15, 2)?;
    let mask = arrow::compute::kernels::cmp::lt(q, &arrow::array::Scalar::new(&k))?;
    Ok(arrow::compute::filter_record_batch(batch, &mask)?)
}

/// The number of rows and columns of a polars frame (to keep results alive in benches).
pub fn polars_shape(df: &pl::DataFrame) -> (usize, usize) {
    (df.height(), df.width())
}

/// `(rows, columns)` of an arrow batch.
pub fn arrow_shape(b: &arrow::array::RecordBatch) -> (usize, usize) {
    (b.num_rows(), b.num_columns())
}

/// Sort all 16 columns of `lineitem` by `l_extendedprice` with polars, stable
/// (`maintain_order`, as ember's sort always is, so both return the same frame).
pub fn polars_sort(li: &pl::DataFrame) -> Result<pl::DataFrame> {
    let opts = pl::SortMultipleOptions::default().with_maintain_order(true);
    li.clone().lazy().sort(["l_extendedprice"], opts).collect().map_err(polars_err)
}

/// The same sort with ember.
pub fn ember_sort(li: &DataFrame) -> Result<DataFrame> {
    settle(li.sort(["l_extendedprice"])?)
}

/// `l_orderkey` at rows 0, n/2 and n-1 of a sorted polars frame (the answer check).
pub fn polars_orderkeys(df: &pl::DataFrame) -> Result<Vec<i64>> {
    let c = df.column("l_orderkey").map_err(polars_err)?.i64().map_err(polars_err)?.clone();
    let n = c.len();
    Ok([0, n / 2, n.saturating_sub(1)].iter().map(|&i| c.get(i).unwrap_or_default()).collect())
}

/// `l_orderkey` at rows 0, n/2 and n-1 of a sorted ember frame.
pub fn ember_orderkeys(df: &DataFrame) -> Result<Vec<i64>> {
    batch_orderkeys(&df.to_record_batch()?)
}

/// `l_orderkey` at rows 0, n/2 and n-1 of a sorted Arrow batch.
pub fn batch_orderkeys(b: &arrow::array::RecordBatch) -> Result<Vec<i64>> {
    let c = b.column_by_name("l_orderkey").ok_or_else(|| Error::Internal("l_orderkey".into()))?;
    let c = c.as_primitive::<Int64Type>();
    let n = c.len();
    Ok([0, n / 2, n.saturating_sub(1)].iter().map(|&i| c.value(i)).collect())
}

/// The joins the benchmarks time, each on a pair of TPC-H tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchJoin {
    /// `lineitem ⋈ orders` on the order key (inner, every column of both).
    LineitemOrders,
    /// `customer ▷ orders` on the customer key: the customers without orders (anti, the shape of
    /// Q13's and Q22's subqueries).
    CustomersWithoutOrders,
}

impl BenchJoin {
    /// The left key, the right key, and whether the join is an anti join (else inner).
    fn spec(self) -> (&'static str, &'static str, bool) {
        match self {
            BenchJoin::LineitemOrders => ("l_orderkey", "o_orderkey", false),
            BenchJoin::CustomersWithoutOrders => ("c_custkey", "o_custkey", true),
        }
    }
}

/// `join` of `left` and `right` in polars; the row count.
pub fn polars_join(left: &pl::DataFrame, right: &pl::DataFrame, join: BenchJoin) -> Result<usize> {
    let (l, r, anti) = join.spec();
    let how = if anti { pl::JoinType::Anti } else { pl::JoinType::Inner };
    let out = left
        .clone()
        .lazy()
        .join(right.clone().lazy(), [pl::col(l)], [pl::col(r)], pl::JoinArgs::new(how))
        .collect()
        .map_err(polars_err)?;
    Ok(out.height())
}

/// The same join with ember; the row count.
pub fn ember_join(left: &DataFrame, right: &DataFrame, join: BenchJoin) -> Result<usize> {
    use ember::join::{JoinArgs, JoinType};
    let (l, r, anti) = join.spec();
    let how = if anti { JoinType::Anti } else { JoinType::Inner };
    Ok(settle(left.join(right, JoinArgs::new([l], [r], how))?)?.num_rows())
}

/// Group `lineitem` with polars: by the two flags (`few`: 4 groups; sum and count of
/// `l_extendedprice` as `sum`, `n`), else by the order key (sf × 1.5M groups; sum of `l_quantity`
/// as `qty`).
pub fn polars_group_by(li: &pl::DataFrame, few: bool) -> Result<pl::DataFrame> {
    let lf = li.clone().lazy();
    let out = if few {
        lf.group_by([pl::col("l_returnflag"), pl::col("l_linestatus")])
            .agg([pl::col("l_extendedprice").sum().alias("sum"), pl::len().alias("n")])
    } else {
        lf.group_by([pl::col("l_orderkey")]).agg([pl::col("l_quantity").sum().alias("qty")])
    };
    out.collect().map_err(polars_err)
}

/// The same group-by with ember.
pub fn ember_group_by(li: &DataFrame, few: bool) -> Result<DataFrame> {
    let lf = li.lazy();
    if few {
        lf.group_by([col("l_returnflag"), col("l_linestatus")])
            .agg([col("l_extendedprice").sum().alias("sum"), col("l_extendedprice").len().alias("n")])
            .collect()
    } else {
        lf.group_by([col("l_orderkey")]).agg([col("l_quantity").sum().alias("qty")]).collect()
    }
}
