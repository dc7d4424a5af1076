//! ember's relational operations. Each op has a CPU-engine implementation (`cpu.rs`, arrow-rs
//! compute + rayon) and a GPU implementation (`gpu.rs`, kernels in `kernels/*.cu`) that runs
//! unchanged on CUDA and on the simulated device; [`DataFrameOps`] dispatches on the frame's device.
#![warn(missing_docs)]

pub mod expr;
pub mod filter;
mod frame_ops;
pub mod reduce;

pub use expr::{col, date, dec, lit, BinaryOp, Expr, StrOp};
pub use frame_ops::DataFrameOps;
pub use reduce::Agg;
