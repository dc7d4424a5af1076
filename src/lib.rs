//! # ember
//!
//! GPU-accelerated dataframes on Arrow memory, in the spirit of RAPIDS cuDF, with a fast CPU
//! engine for machines without a GPU. A [`DataFrame`] lives on one [`Device`]: the CPU engine
//! (arrow-rs compute + rayon), a CUDA GPU (kernels compiled by NVRTC at first use), or the
//! simulated CUDA device (the same kernels run on the CPU; feature `sim`).
//!
//! ```
//! use ember::prelude::*;
//! use arrow::array::{Int64Array, RecordBatch};
//! use std::sync::Arc;
//!
//! let batch = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as _)])?;
//! let df = DataFrame::from_record_batch(&batch)?;       // zero-copy, on the CPU
//! let df = df.to(Device::Cpu)?;                         // or Device::default(), Device::Sim, Device::Cuda(0)
//! let big = df.filter(col("x").gt(lit(2i64)))?;
//! assert_eq!(big.sum(col("x"))?, Scalar::Int64(7));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub use arrow;
pub use ember_ann as ann;
pub use ember_core::{format_decimal, Column, DType, DataFrame, Device, DeviceColumn, Error, Field, Result, Scalar};
pub use ember_gbdt as gbdt;
pub use ember_gpu as gpu;
pub use ember_graph as graph;
pub use ember_io as io;
pub use ember_io::{
    read_csv, read_parquet, write_csv, write_parquet, CsvReadOptions, CsvWriteOptions, ParquetReadOptions,
    ParquetWriteOptions,
};
pub use ember_ops as ops;
pub use ember_ops::concat::concat;
pub use ember_ops::{expr, filter, groupby, join, reduce, sort, unique};
pub use ember_plan as plan;
pub use ember_plan::{LazyFrame, LogicalPlan};

#[cfg(feature = "polars")]
pub mod polars;
#[cfg(feature = "tpch")]
pub mod tpch;
pub mod trace;

/// Everything a query needs: `use ember::prelude::*;`.
pub mod prelude {
    pub use ember_core::{DType, DataFrame, Device, Error, Result, Scalar};
    pub use ember_io::{read_csv, read_parquet, write_csv, write_parquet, CsvReadOptions, ParquetReadOptions};
    pub use ember_ops::join::{JoinArgs, JoinType};
    pub use ember_ops::sort::SortKey;
    pub use ember_ops::unique::Keep;
    pub use ember_ops::{coalesce, col, date, dec, lit, when, Agg, DatePart, Expr};
    pub use ember_plan::{AggregateExt, DataFrameOps, LazyFrame};
}
