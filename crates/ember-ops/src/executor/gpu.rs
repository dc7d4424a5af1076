//! The GPU's primitives (CUDA and Sim): the predicate program writes the keep-mask (one launch),
//! compaction turns it into kept row indices (its count is the one size readback), and every
//! column is gathered at those indices.
use super::{Executor, Indices};
use crate::expr::gpu::{check_key, error_key, predicate_mask};
use crate::expr::typed::{resolve, TypedExpr};
use crate::sort::SortKey;
use crate::Expr;
use ember_core::{Column, DType, DataFrame, DeviceColumn, Error, Result};
use ember_gpu::primitives::compact::{compact_indices_and_word, gather_bits, gather_fixed, gather_utf8_columns, iota};
use ember_gpu::{DeviceBuffer, ExecContext};
use std::sync::Arc;

/// The GPU path, running in an execution context.
#[derive(Debug, Clone, Copy)]
pub struct GpuExecutor<'a> {
    ctx: &'a ExecContext,
}

impl<'a> GpuExecutor<'a> {
    /// The GPU path in `ctx`.
    pub fn new(ctx: &'a ExecContext) -> Self {
        Self { ctx }
    }
}

impl GpuExecutor<'_> {
    /// [`Executor::select_rows`] of a predicate already resolved against `df`.
    pub(crate) fn select_rows_typed(&self, df: &DataFrame, predicate: &TypedExpr) -> Result<Indices> {
        let ctx = self.ctx;
        let err = error_key(ctx)?;
        let mask = predicate_mask(ctx, df, predicate, &err)?;
        // The predicate's error key comes back in the count's download (one sync for both).
        let (buf, len, key) = compact_indices_and_word(ctx, &mask, None, df.num_rows(), &err)?;
        check_key(key, &|| format!("filter({predicate:?})"))?;
        Ok(Indices::Device { buf, len })
    }
}

impl Executor for GpuExecutor<'_> {
    fn select_rows(&self, df: &DataFrame, predicate: &Expr) -> Result<Indices> {
        self.select_rows_typed(df, &resolve(predicate, df.fields(), DType::Bool)?)
    }

    fn range(&self, offset: usize, len: usize) -> Result<Indices> {
        Ok(Indices::Device { buf: iota(self.ctx, offset, len)?, len })
    }

    fn sort_indices(&self, df: &DataFrame, keys: &[SortKey]) -> Result<Indices> {
        Ok(Indices::Device { buf: crate::sort::gpu::sort_indices(self.ctx, df, keys)?, len: df.num_rows() })
    }

    fn gather(&self, df: &DataFrame, rows: &Indices) -> Result<DataFrame> {
        let Indices::Device { buf, len } = rows else {
            return Err(Error::DeviceMismatch("GPU gather of host row indices".into()));
        };
        let devs = df.columns().iter().map(|c| c.as_device()).collect::<Result<Vec<_>>>()?;
        let columns = gather_columns(self.ctx, &devs, buf, *len)?.into_iter().map(Column::Device).collect();
        df.with_columns(columns, *len)
    }
}

/// Rows `indices[..m]` of a device column.
pub(crate) fn gather_column(
    ctx: &ExecContext,
    c: &DeviceColumn,
    indices: &DeviceBuffer,
    m: usize,
) -> Result<DeviceColumn> {
    Ok(gather_columns(ctx, &[c], indices, m)?.pop().expect("one column in, one out"))
}

/// Rows `indices[..m]` of several device columns (a frame's): the string columns' byte totals
/// are read back together, one synchronisation for all of them (`gather_utf8_columns`).
pub(crate) fn gather_columns(
    ctx: &ExecContext,
    columns: &[&DeviceColumn],
    indices: &DeviceBuffer,
    m: usize,
) -> Result<Vec<DeviceColumn>> {
    let strings = columns
        .iter()
        .filter(|c| c.dtype() == DType::Utf8)
        .map(|c| Ok((&**c.utf8_offsets()?, &**c.values())))
        .collect::<Result<Vec<(&DeviceBuffer, &DeviceBuffer)>>>()?;
    let mut strings = gather_utf8_columns(ctx, &strings, indices, m)?.into_iter();
    columns
        .iter()
        .map(|c| {
            let (values, offsets) = match c.dtype() {
                DType::Bool => (gather_bits(ctx, c.values(), indices, m)?, None),
                DType::Utf8 => {
                    let (o, b) =
                        strings.next().ok_or_else(|| Error::Internal("a string gather went missing".into()))?;
                    (b, Some(Arc::new(o)))
                }
                t => {
                    let w = t.prim().ok_or_else(|| Error::Internal(format!("gather of {t}")))?.width();
                    (gather_fixed(ctx, c.values(), w, indices, m)?, None)
                }
            };
            let validity = match c.validity() {
                Some(v) => Some(Arc::new(gather_bits(ctx, v, indices, m)?)),
                None => None,
            };
            DeviceColumn::try_new(
                ctx.gpu().clone(),
                c.dtype(),
                c.arrow_type().clone(),
                m,
                Arc::new(values),
                offsets,
                validity,
            )
        })
        .collect()
}
