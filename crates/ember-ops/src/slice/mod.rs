//! Slice: rows `offset..offset + len`, clamped to the frame (as polars: a slice past the end is
//! empty, `len` past the end stops at the end). On the CPU engine a zero-copy view; on a GPU a
//! gather of the row range (device columns have no offset yet, so a slice copies).
use crate::executor::{CpuExecutor, Executor, GpuExecutor};
use ember_core::{DataFrame, Result};
use ember_gpu::ExecContext;

/// Rows `offset..offset + len` of `df`, clamped, on `df`'s device.
pub fn slice(df: &DataFrame, offset: usize, len: usize) -> Result<DataFrame> {
    slice_in(None, df, offset, len)
}

/// [`slice()`] in the execution context `ctx` (GPU frames; `None`: a fresh one).
pub fn slice_in(ctx: Option<&ExecContext>, df: &DataFrame, offset: usize, len: usize) -> Result<DataFrame> {
    crate::dispatch(
        df,
        ctx,
        "slice",
        |ctx| GpuExecutor::new(ctx).slice(df, offset, len),
        || CpuExecutor.slice(df, offset, len),
    )
}
