//! ember's relational operations. Each op has a CPU-engine implementation (`cpu.rs`, arrow-rs
//! compute + rayon) and a GPU implementation (`gpu.rs`, kernels in `kernels/*.cu`) that runs
//! unchanged on CUDA and on the simulated device; each op's `mod.rs` dispatches on the frame's
//! device. Plans, `LazyFrame` and the `DataFrame` methods are in `ember-plan`, above this crate.
#![warn(missing_docs)]

pub mod concat;
pub mod executor;
pub mod expr;
pub mod filter;
pub mod groupby;
pub(crate) mod hash;
pub mod join;
pub mod partition;
pub(crate) mod prefetch;
pub mod reduce;
pub mod slice;
pub mod sort;
pub mod unique;

pub use expr::{coalesce, col, date, dec, lit, when, BinaryOp, DatePart, Expr, StrOp};

use ember_core::{DataFrame, Device, Error, Result};
use ember_gpu::ExecContext;

/// Runs an op where `df` lives: the CPU engine (`cpu`) for a CPU frame; otherwise the GPU path
/// (`gpu`) in `ctx`, or in a fresh context on the frame's device whose trace is logged as `what`
/// (target `ember::trace`) when it finishes.
pub(crate) fn dispatch<T>(
    df: &DataFrame,
    ctx: Option<&ExecContext>,
    what: &str,
    gpu: impl FnOnce(&ExecContext) -> Result<T>,
    cpu: impl FnOnce() -> Result<T>,
) -> Result<T> {
    if !df.device().is_gpu() {
        return cpu();
    }
    match ctx {
        Some(ctx) => {
            if Device::of_gpu(ctx.gpu()) != df.device() {
                return Err(Error::DeviceMismatch(format!(
                    "the frame is on {}, the execution context on {}",
                    df.device(),
                    Device::of_gpu(ctx.gpu())
                )));
            }
            gpu(ctx)
        }
        None => {
            let ctx = expr::gpu::context_of(df)?;
            let out = gpu(&ctx)?;
            ctx.log_trace(what);
            Ok(out)
        }
    }
}
pub use reduce::Agg;

/// A seeded xorshift64 generator for the unit tests' random data (reproducible, no dependency).
#[cfg(test)]
pub(crate) fn test_rng(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
