//! The primitives relational ops are written over, implemented once for the CPU engine
//! ([`CpuExecutor`]) and once for the GPU ([`GpuExecutor`], CUDA and Sim alike). An op written on
//! the trait runs on both; an executor overrides an op where it has a faster algorithm of its own
//! (the CPU engine's filter uses arrow-rs's `FilterPredicate`, its slice is a zero-copy view).
//!
//! | primitive | CPU engine | GPU |
//! |---|---|---|
//! | [`Executor::select_rows`] | predicate chunks → kept row numbers | predicate program → keep-mask → compaction |
//! | [`Executor::range`] | `offset..offset + len` | `iota` kernel |
//! | [`Executor::gather`] | per column and in parts of each column, in parallel (`cpu_gather.rs`) | fixed-width, bitmap and string gathers |
//! | [`Executor::sort_indices`] | row-format keys, stable parallel merge sort | order-preserving key words, LSD radix sort |
//!
//! Join and group-by add hash build / probe and segmented reduce here.
//!
//! ```
//! use arrow::array::{Int32Array, RecordBatch};
//! use ember_core::DataFrame;
//! use ember_ops::{col, lit, executor::{CpuExecutor, Executor}};
//! use std::sync::Arc;
//! let batch = RecordBatch::try_from_iter([("a", Arc::new(Int32Array::from(vec![5, 1, 7])) as _)]).unwrap();
//! let df = DataFrame::from_record_batch(&batch).unwrap();
//! let rows = CpuExecutor.select_rows(&df, &col("a").gt(lit(2))).unwrap();
//! assert_eq!(CpuExecutor.gather(&df, &rows).unwrap().num_rows(), 2);
//! ```
pub(crate) mod cpu;
pub(crate) mod cpu_gather;
pub(crate) mod gpu;

pub use cpu::CpuExecutor;
pub use gpu::GpuExecutor;

use crate::sort::SortKey;
use crate::Expr;
use ember_core::{DataFrame, Result};
use ember_gpu::DeviceBuffer;

/// Row numbers of a frame, where the executor keeps them.
#[derive(Debug)]
pub enum Indices {
    /// On the host.
    Host(arrow::array::UInt32Array),
    /// In device memory: `len` `u32` values.
    Device {
        /// The values.
        buf: DeviceBuffer,
        /// How many.
        len: usize,
    },
}

impl Indices {
    /// How many rows.
    pub fn len(&self) -> usize {
        match self {
            Indices::Host(a) => arrow::array::Array::len(a),
            Indices::Device { len, .. } => *len,
        }
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The primitives, and the ops written once on top of them.
pub trait Executor {
    /// The rows of `df` where `predicate` is true (null counts as false), ascending.
    fn select_rows(&self, df: &DataFrame, predicate: &Expr) -> Result<Indices>;
    /// The rows `offset..offset + len` (already clamped by the caller).
    fn range(&self, offset: usize, len: usize) -> Result<Indices>;
    /// Rows `rows` of every column of `df`, in that order.
    fn gather(&self, df: &DataFrame, rows: &Indices) -> Result<DataFrame>;

    /// The rows of `df` in the order of `keys` (stable; see [`crate::sort`]).
    fn sort_indices(&self, df: &DataFrame, keys: &[SortKey]) -> Result<Indices>;

    /// Rows of `df` where `predicate` is true, order kept.
    fn filter(&self, df: &DataFrame, predicate: &Expr) -> Result<DataFrame> {
        let rows = self.select_rows(df, predicate)?;
        self.gather(df, &rows)
    }
    /// `df` sorted by `keys`.
    fn sort(&self, df: &DataFrame, keys: &[SortKey]) -> Result<DataFrame> {
        let rows = self.sort_indices(df, keys)?;
        self.gather(df, &rows)
    }
    /// Rows `offset..offset + len` of `df`, clamped to the frame.
    fn slice(&self, df: &DataFrame, offset: usize, len: usize) -> Result<DataFrame> {
        let offset = offset.min(df.num_rows());
        let rows = self.range(offset, len.min(df.num_rows() - offset))?;
        self.gather(df, &rows)
    }
}
