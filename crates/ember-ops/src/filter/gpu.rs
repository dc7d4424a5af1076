//! Filter on a GPU: evaluate the predicate to a bitmap, compact it to the kept row indices
//! (`ember_gpu::primitives::compact`), gather every column at those indices.
use crate::expr::{gpu::gpu_of, Expr};
use ember_core::{Column, DType, DataFrame, DeviceColumn, Error, Result};
use ember_gpu::primitives::compact::{compact_indices, gather_bits, gather_fixed, gather_utf8};
use ember_gpu::{DeviceBuffer, Gpu};
use std::sync::Arc;

/// Rows of `df` (on a GPU) where `predicate` is true, order kept; the result stays on the device.
pub fn filter(df: &DataFrame, predicate: &Expr) -> Result<DataFrame> {
    let gpu = gpu_of(df)?;
    let mask = crate::expr::gpu::evaluate(df, predicate)?;
    let (idx, m) = compact_indices(&gpu, &mask.values, mask.validity.as_deref(), df.num_rows())?;
    let columns = df
        .columns()
        .iter()
        .map(|c| Ok(Column::Device(gather_column(&gpu, c.as_device()?, &idx, m)?)))
        .collect::<Result<Vec<_>>>()?;
    df.with_columns(columns, m)
}

/// Rows `indices[..m]` of a device column.
pub(crate) fn gather_column(
    gpu: &Arc<Gpu>,
    c: &DeviceColumn,
    indices: &DeviceBuffer,
    m: usize,
) -> Result<DeviceColumn> {
    let (values, offsets) = match c.dtype {
        DType::Bool => (gather_bits(gpu, &c.values, indices, m)?, None),
        DType::Utf8 => {
            let offs = c.offsets.as_ref().ok_or_else(|| Error::Internal("utf8 column without offsets".into()))?;
            let (o, b) = gather_utf8(gpu, offs, &c.values, indices, m)?;
            (b, Some(Arc::new(o)))
        }
        t => {
            let w = t.prim().ok_or_else(|| Error::Internal(format!("gather of {t}")))?.width();
            (gather_fixed(gpu, &c.values, w, indices, m)?, None)
        }
    };
    let validity = match &c.validity {
        Some(v) => Some(Arc::new(gather_bits(gpu, v, indices, m)?)),
        None => None,
    };
    Ok(DeviceColumn {
        gpu: gpu.clone(),
        dtype: c.dtype,
        arrow_type: c.arrow_type.clone(),
        len: m,
        values: Arc::new(values),
        offsets,
        validity,
    })
}
