//! Slice: rows `offset..offset + len`, clamped to the frame (as polars: a slice past the end is
//! empty, `len` past the end stops at the end). On the CPU engine a zero-copy view; on a GPU a
//! gather of the row range (device columns have no offset yet, so a slice copies).
use ember_core::{Column, DataFrame, Result};
use ember_gpu::primitives::compact::iota;
use ember_gpu::ExecContext;

/// Rows `offset..offset + len` of `df`, clamped, on `df`'s device.
pub fn slice(df: &DataFrame, offset: usize, len: usize) -> Result<DataFrame> {
    slice_in(None, df, offset, len)
}

/// [`slice`] in the execution context `ctx` (GPU frames; `None`: a fresh one).
pub fn slice_in(ctx: Option<&ExecContext>, df: &DataFrame, offset: usize, len: usize) -> Result<DataFrame> {
    let n = df.num_rows();
    let offset = offset.min(n);
    let len = len.min(n - offset);
    crate::dispatch(
        df,
        ctx,
        "slice",
        |ctx| {
            let idx = iota(ctx, offset, len)?;
            let columns = df
                .columns()
                .iter()
                .map(|c| Ok(Column::Device(crate::filter::gpu::gather_column(ctx, c.as_device()?, &idx, len)?)))
                .collect::<Result<Vec<_>>>()?;
            df.with_columns(columns, len)
        },
        || df.slice(offset, len),
    )
}
