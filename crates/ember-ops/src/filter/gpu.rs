//! Filter on a GPU: the predicate program writes the keep-mask (one launch), compaction turns it
//! into kept row indices (`ember_gpu::primitives::compact`: its count is the one size readback),
//! and every column is gathered at those indices.
use crate::expr::gpu::{check_err, predicate_mask};
use crate::expr::typed::TypedExpr;
use ember_core::{Column, DType, DataFrame, DeviceColumn, Error, Result};
use ember_gpu::primitives::compact::{compact_indices, gather_bits, gather_fixed, gather_utf8};
use ember_gpu::{DeviceBuffer, ExecContext};
use std::sync::Arc;

/// Rows of `df` (on a GPU) where `predicate` (resolved against `df`) is true, order kept; the
/// result stays on the device.
pub fn filter(ctx: &ExecContext, df: &DataFrame, predicate: &TypedExpr) -> Result<DataFrame> {
    let err = ctx.alloc_zeroed(4)?;
    let mask = predicate_mask(ctx, df, predicate, &err)?;
    let (idx, m) = compact_indices(ctx, &mask, None, df.num_rows())?;
    // The predicate's error word, read after the count (the stream is idle by then).
    check_err(ctx.download::<u32>(&err, 1)?[0], &|| format!("filter({predicate:?})"))?;
    let columns = df
        .columns()
        .iter()
        .map(|c| Ok(Column::Device(gather_column(ctx, c.as_device()?, &idx, m)?)))
        .collect::<Result<Vec<_>>>()?;
    df.with_columns(columns, m)
}

/// Rows `indices[..m]` of a device column.
pub(crate) fn gather_column(
    ctx: &ExecContext,
    c: &DeviceColumn,
    indices: &DeviceBuffer,
    m: usize,
) -> Result<DeviceColumn> {
    let (values, offsets) = match c.dtype() {
        DType::Bool => (gather_bits(ctx, c.values(), indices, m)?, None),
        DType::Utf8 => {
            let (o, b) = gather_utf8(ctx, c.utf8_offsets()?, c.values(), indices, m)?;
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
    DeviceColumn::try_new(ctx.gpu().clone(), c.dtype(), c.arrow_type().clone(), m, Arc::new(values), offsets, validity)
}
