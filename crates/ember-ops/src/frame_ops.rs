//! The operations as methods on [`DataFrame`] (bring them in with `use ember::prelude::*`).
use crate::expr::Expr;
use crate::reduce::Agg;
use ember_core::{Column, DType, DataFrame, Result, Scalar};

/// Relational operations on a [`DataFrame`], run on the frame's device.
///
/// # Example
/// ```
/// use arrow::array::{Int64Array, RecordBatch};
/// use ember_core::{DataFrame, Scalar};
/// use ember_ops::{col, lit, DataFrameOps};
/// use std::sync::Arc;
/// let batch = RecordBatch::try_from_iter([("a", Arc::new(Int64Array::from(vec![Some(1), None, Some(5)])) as _)]).unwrap();
/// let df = DataFrame::from_record_batch(&batch).unwrap();
/// let kept = df.filter(col("a").gt(lit(2i64))).unwrap();
/// assert_eq!(kept.num_rows(), 1);
/// assert_eq!(df.sum(col("a")).unwrap(), Scalar::Int64(6));
/// ```
pub trait DataFrameOps {
    /// Rows where `predicate` is true (nulls drop the row), order kept.
    fn filter(&self, predicate: Expr) -> Result<DataFrame>;
    /// Evaluates `expr` to a column on the frame's device.
    fn evaluate(&self, expr: &Expr) -> Result<Column>;
    /// `agg(expr)` over all rows.
    fn agg(&self, expr: Expr, agg: Agg) -> Result<Scalar>;
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
    fn filter(&self, predicate: Expr) -> Result<DataFrame> {
        crate::filter::filter(self, &predicate)
    }
    fn evaluate(&self, expr: &Expr) -> Result<Column> {
        let typed = crate::expr::typed::resolve(expr, self.fields(), DType::Bool)?;
        if self.device().is_gpu() {
            let ctx = crate::expr::gpu::context_of(self)?;
            let out = crate::expr::gpu::evaluate(&ctx, self, &typed)?;
            ctx.log_trace("evaluate");
            Ok(Column::Device(out))
        } else {
            Ok(Column::Host(crate::expr::cpu::evaluate(self, expr)?))
        }
    }
    fn agg(&self, expr: Expr, agg: Agg) -> Result<Scalar> {
        crate::reduce::reduce(self, &expr, agg)
    }
}
