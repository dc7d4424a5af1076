//! ember's logical plans. A [`LazyFrame`] builds a [`LogicalPlan`]; [`optimize`] rewrites it
//! (constant folding, predicate pushdown, filter + aggregate fusion, projection pushdown);
//! [`execute`] runs it with the ops of `ember-ops` on the frame's device. The eager
//! [`DataFrameOps`] methods are `lazy()…collect()`.
//!
//! ```
//! use arrow::array::{Int64Array, RecordBatch};
//! use ember_core::{DataFrame, Scalar};
//! use ember_ops::{col, lit};
//! use ember_plan::{AggregateExt, DataFrameOps};
//! use std::sync::Arc;
//! let batch = RecordBatch::try_from_iter([
//!     ("a", Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as _),
//!     ("b", Arc::new(Int64Array::from(vec![10, 20, 30, 40])) as _),
//! ]).unwrap();
//! let df = DataFrame::from_record_batch(&batch).unwrap();
//! let q = df.lazy().filter(col("a").gt(lit(2i64))).aggregate([col("b").sum().alias("total")]);
//! assert_eq!(q.explain().unwrap(), "AGGREGATE [sum(b) AS total] WHERE (a > 2)\n  SCAN df [a, b]\n");
//! let out = q.collect().unwrap();
//! assert_eq!(Scalar::from_array(out.column("total").unwrap().to_arrow().unwrap().as_ref(), 0).unwrap(), Scalar::Int64(70));
//! ```
#![warn(missing_docs)]

mod execute;
mod lazy;
mod optimize;
mod plan;

pub use execute::execute;
pub use lazy::{DataFrameOps, LazyFrame, LazyGroupBy};
pub use optimize::optimize;
pub use plan::{AggExpr, AggregateExt, LogicalPlan, NamedExpr, Source, SourceKind};
