//! `LazyFrame`: builds a plan, optimizes it on `collect()`; and the eager `DataFrame` methods
//! written as `lazy()…collect()`.
use crate::plan::{AggExpr, LogicalPlan, NamedExpr, Source};
use crate::{execute, optimize};
use ember_core::{DataFrame, Device, Error, Result, Scalar};
use ember_gpu::ExecContext;
use ember_ops::join::JoinArgs;
use ember_ops::sort::SortKey;
use ember_ops::unique::Keep;
use ember_ops::{Agg, Expr};

/// A query over frames, run on `collect()` after optimization.
#[derive(Debug, Clone)]
pub struct LazyFrame {
    plan: LogicalPlan,
    optimize: bool,
}

impl LazyFrame {
    /// A query that reads `df` (shown as `name` in plans).
    pub fn scan(name: &str, df: &DataFrame) -> LazyFrame {
        LazyFrame::from_plan(LogicalPlan::Scan { source: Source::frame(name, df.clone()), projection: None })
    }

    /// A query that reads a CSV file when it runs, onto `device` (see [`ember_io::read_csv`]);
    /// only the columns the query uses are decoded.
    ///
    /// ```
    /// use ember_plan::{LazyFrame, AggregateExt};
    /// use ember_io::CsvReadOptions;
    /// use ember_core::Device;
    /// use ember_ops::{col, lit};
    /// let path = std::env::temp_dir().join(format!("ember-scan-doc-{}.csv", std::process::id()));
    /// std::fs::write(&path, "k,v,unused\na,1,x\nb,2,y\na,3,z\n")?;
    /// let q = LazyFrame::scan_csv(&path, CsvReadOptions::default(), Device::Cpu)?
    ///     .filter(col("v").gt(lit(1i64)))
    ///     .aggregate([col("v").sum().alias("total")]);
    /// assert!(q.explain()?.contains("[v]"));
    /// assert_eq!(q.collect()?.num_rows(), 1);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scan_csv(
        path: impl AsRef<std::path::Path>,
        options: ember_io::CsvReadOptions,
        device: Device,
    ) -> Result<LazyFrame> {
        Ok(LazyFrame::from_plan(LogicalPlan::Scan { source: Source::csv(path, options, device)?, projection: None }))
    }

    /// A query that reads a Parquet file or directory when it runs, onto `device` (see
    /// [`ember_io::read_parquet`]): only the columns the query uses are decoded, and row groups
    /// whose statistics exclude the query's filter are skipped.
    pub fn scan_parquet(
        path: impl AsRef<std::path::Path>,
        options: ember_io::ParquetReadOptions,
        device: Device,
    ) -> Result<LazyFrame> {
        Ok(LazyFrame::from_plan(LogicalPlan::Scan {
            source: Source::parquet(path, options, device)?,
            projection: None,
        }))
    }

    /// A query from a plan (e.g. a deserialised one, bound with [`LogicalPlan::bind`]).
    pub fn from_plan(plan: LogicalPlan) -> LazyFrame {
        LazyFrame { plan, optimize: true }
    }

    /// The plan as built.
    pub fn logical_plan(&self) -> &LogicalPlan {
        &self.plan
    }

    /// Turns the optimizer off (`false`) or on; results are the same either way.
    pub fn with_optimizations(mut self, on: bool) -> LazyFrame {
        self.optimize = on;
        self
    }

    fn then(self, f: impl FnOnce(Box<LogicalPlan>) -> LogicalPlan) -> LazyFrame {
        LazyFrame { plan: f(Box::new(self.plan)), optimize: self.optimize }
    }

    /// Rows where `predicate` is true.
    pub fn filter(self, predicate: Expr) -> LazyFrame {
        self.then(|input| LogicalPlan::Filter { input, predicate })
    }

    /// Exactly these output columns.
    pub fn select<E: Into<NamedExpr>>(self, exprs: impl IntoIterator<Item = E>) -> LazyFrame {
        let exprs = exprs.into_iter().map(Into::into).collect();
        self.then(|input| LogicalPlan::Select { input, exprs })
    }

    /// The input's columns plus these (a column of the same name is replaced in place).
    pub fn with_columns<E: Into<NamedExpr>>(self, exprs: impl IntoIterator<Item = E>) -> Result<LazyFrame> {
        let mut out: Vec<NamedExpr> =
            self.plan.schema()?.into_iter().map(|f| NamedExpr::from(Expr::Column(f.name))).collect();
        for e in exprs.into_iter().map(Into::into) {
            match out.iter_mut().find(|o| o.name == e.name) {
                Some(slot) => *slot = e,
                None => out.push(e),
            }
        }
        Ok(self.select(out))
    }

    /// One row of whole-frame aggregations (a CPU frame: see [`LogicalPlan::Aggregate`]).
    pub fn aggregate(self, aggs: impl IntoIterator<Item = AggExpr>) -> LazyFrame {
        let aggs = aggs.into_iter().collect();
        self.then(|input| LogicalPlan::Aggregate { input, predicate: None, aggs })
    }

    /// Rows `offset..offset + len`, clamped.
    pub fn slice(self, offset: usize, len: usize) -> LazyFrame {
        self.then(|input| LogicalPlan::Slice { input, offset, len })
    }

    /// An equi-join with `right` (see [`ember_ops::join`]):
    /// `orders.join(lineitem, JoinArgs::new(["o_orderkey"], ["l_orderkey"], JoinType::Inner))`.
    pub fn join(self, right: LazyFrame, args: JoinArgs) -> LazyFrame {
        let right = Box::new(right.plan);
        self.then(|left| LogicalPlan::Join { left, right, args })
    }

    /// Groups by `keys`; finish with [`LazyGroupBy::agg`]:
    /// `lf.group_by([col("k")]).agg([col("v").sum(), col("v").mean().alias("avg")])`.
    pub fn group_by(self, keys: impl IntoIterator<Item = Expr>) -> LazyGroupBy {
        LazyGroupBy { input: self, keys: keys.into_iter().collect(), maintain_order: false }
    }

    /// Rows ordered by `keys` (stable; see [`ember_ops::sort`]): `["a", "b"]`, or
    /// `[SortKey::new(col("a")).descending().nulls_last()]`.
    pub fn sort<K: Into<SortKey>>(self, keys: impl IntoIterator<Item = K>) -> LazyFrame {
        let keys = keys.into_iter().map(Into::into).collect();
        self.then(|input| LogicalPlan::Sort { input, keys })
    }

    /// One row per distinct combination of `subset` (all columns when `None`), the `keep`
    /// duplicate, in input order (see [`ember_ops::unique`]).
    pub fn unique(self, subset: Option<&[&str]>, keep: Keep) -> LazyFrame {
        let subset = subset.map(|s| s.iter().map(|c| c.to_string()).collect());
        self.then(|input| LogicalPlan::Unique { input, subset, keep })
    }

    /// The rows of `frames` one after the other (same columns and types; see
    /// [`ember_ops::concat`]).
    pub fn concat(frames: impl IntoIterator<Item = LazyFrame>) -> LazyFrame {
        let inputs = frames.into_iter().map(|f| f.plan).collect();
        LazyFrame::from_plan(LogicalPlan::Concat { inputs })
    }

    /// The first `k` rows by `keys`: `sort(keys).head(k)`, which the optimizer runs as one top-k.
    pub fn top_k<K: Into<SortKey>>(self, k: usize, keys: impl IntoIterator<Item = K>) -> LazyFrame {
        self.sort(keys).head(k)
    }

    /// The first `n` rows.
    pub fn head(self, n: usize) -> LazyFrame {
        self.slice(0, n)
    }

    /// The plan that `collect` runs (optimized unless turned off), as an indented tree.
    pub fn explain(&self) -> Result<String> {
        Ok(self.final_plan()?.to_string())
    }

    fn final_plan(&self) -> Result<LogicalPlan> {
        self.plan.schema()?; // type-check the whole plan before anything runs
        if self.optimize {
            optimize(&self.plan)
        } else {
            Ok(self.plan.clone())
        }
    }

    /// Runs the query. On a GPU the whole query runs in one execution context, whose trace is
    /// logged (target `ember::trace`) when it finishes.
    pub fn collect(self) -> Result<DataFrame> {
        let plan = self.final_plan()?;
        match scan_device(&plan)?.gpu()? {
            None => execute(&plan, None),
            Some(gpu) => {
                let ctx = ExecContext::new(gpu);
                let out = execute(&plan, Some(&ctx))?;
                ctx.log_trace("query");
                Ok(out)
            }
        }
    }

    /// Runs the query with its GPU work in `ctx` (read `ctx.trace()` after).
    pub fn collect_in(self, ctx: &ExecContext) -> Result<DataFrame> {
        execute(&self.final_plan()?, Some(ctx))
    }
}

/// The device of the frames the plan scans (the first scan's; execution checks the rest).
fn scan_device(plan: &LogicalPlan) -> Result<Device> {
    match plan {
        LogicalPlan::Scan { source, .. } => source.device(),
        other => scan_device(other.inputs()[0]),
    }
}

/// A [`LazyFrame`] being grouped (from [`LazyFrame::group_by`]).
#[derive(Debug, Clone)]
pub struct LazyGroupBy {
    input: LazyFrame,
    keys: Vec<Expr>,
    maintain_order: bool,
}

impl LazyGroupBy {
    /// Lists the groups in order of their first row instead of sorted by key (polars'
    /// `maintain_order=True`).
    pub fn maintain_order(mut self) -> LazyGroupBy {
        self.maintain_order = true;
        self
    }

    /// One row per group: the keys, then `aggs` over the group's rows (see [`ember_ops::groupby`]).
    pub fn agg(self, aggs: impl IntoIterator<Item = AggExpr>) -> LazyFrame {
        let (keys, aggs, maintain_order) = (self.keys, aggs.into_iter().collect(), self.maintain_order);
        self.input.then(|input| LogicalPlan::GroupBy { input, keys, aggs, maintain_order })
    }
}

/// Relational operations on a [`DataFrame`], run on the frame's device. Each is
/// `self.lazy()…collect()` (bring them in with `use ember::prelude::*`).
///
/// # Example
/// ```
/// use arrow::array::{Int64Array, RecordBatch};
/// use ember_core::{DataFrame, Scalar};
/// use ember_ops::{col, lit};
/// use ember_plan::DataFrameOps;
/// use std::sync::Arc;
/// let batch = RecordBatch::try_from_iter([("a", Arc::new(Int64Array::from(vec![Some(1), None, Some(5)])) as _)]).unwrap();
/// let df = DataFrame::from_record_batch(&batch).unwrap();
/// let kept = df.filter(col("a").gt(lit(2i64))).unwrap();
/// assert_eq!(kept.num_rows(), 1);
/// assert_eq!(df.sum(col("a")).unwrap(), Scalar::Int64(6));
/// ```
pub trait DataFrameOps {
    /// A lazy query over this frame.
    fn lazy(&self) -> LazyFrame;
    /// Rows where `predicate` is true (nulls drop the row), order kept.
    fn filter(&self, predicate: Expr) -> Result<DataFrame> {
        self.lazy().filter(predicate).collect()
    }
    /// An equi-join with `right` (see [`ember_ops::join`]).
    fn join(&self, right: &DataFrame, args: JoinArgs) -> Result<DataFrame> {
        self.lazy().join(right.lazy(), args).collect()
    }
    /// Rows ordered by `keys` (stable; see [`ember_ops::sort`]).
    fn sort<K: Into<SortKey>>(&self, keys: impl IntoIterator<Item = K>) -> Result<DataFrame> {
        self.lazy().sort(keys).collect()
    }
    /// Distinct rows by `subset` (see [`LazyFrame::unique`]).
    fn unique(&self, subset: Option<&[&str]>, keep: Keep) -> Result<DataFrame> {
        self.lazy().unique(subset, keep).collect()
    }
    /// Evaluates `expr` to a column on the frame's device.
    fn evaluate(&self, expr: &Expr) -> Result<ember_core::Column>;
    /// The first `n` rows (all of them if fewer).
    fn head(&self, n: usize) -> Result<DataFrame> {
        self.lazy().head(n).collect()
    }
    /// The last `n` rows (all of them if fewer).
    fn tail(&self, n: usize) -> Result<DataFrame>;
    /// `agg(expr)` over all rows.
    fn agg(&self, expr: Expr, agg: Agg) -> Result<Scalar> {
        let out = self.lazy().aggregate([AggExpr { agg, expr, name: "agg".into() }]).collect()?;
        let arr = out.columns().first().ok_or_else(|| Error::Internal("empty aggregate".into()))?.to_arrow()?;
        Scalar::from_array(arr.as_ref(), 0)
    }
    /// Sum of non-null values.
    fn sum(&self, expr: Expr) -> Result<Scalar> {
        self.agg(expr, Agg::Sum)
    }
    /// Smallest non-null value (null if none).
    fn min(&self, expr: Expr) -> Result<Scalar> {
        self.agg(expr, Agg::Min)
    }
    /// Largest non-null value (null if none).
    fn max(&self, expr: Expr) -> Result<Scalar> {
        self.agg(expr, Agg::Max)
    }
    /// Mean of non-null values as f64 (null if none).
    fn mean(&self, expr: Expr) -> Result<Scalar> {
        self.agg(expr, Agg::Mean)
    }
    /// Number of non-null values.
    fn count(&self, expr: Expr) -> Result<Scalar> {
        self.agg(expr, Agg::Count)
    }
}

impl DataFrameOps for DataFrame {
    fn lazy(&self) -> LazyFrame {
        LazyFrame::scan("df", self)
    }
    fn evaluate(&self, expr: &Expr) -> Result<ember_core::Column> {
        ember_ops::expr::evaluate(self, expr)
    }
    fn tail(&self, n: usize) -> Result<DataFrame> {
        let len = self.num_rows();
        self.lazy().slice(len.saturating_sub(n), n).collect()
    }
}
