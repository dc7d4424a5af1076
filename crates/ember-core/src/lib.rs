//! ember's data model: [`DType`], [`Scalar`], [`Column`], [`DataFrame`], [`Device`] and [`Error`],
//! on arrow-rs memory. Host frames are arrow-rs arrays; GPU frames hold the same Arrow layout in
//! device memory (see [`DeviceColumn`]).
#![warn(missing_docs)]

mod column;
mod device;
mod dtype;
mod error;
mod frame;
pub mod pool;
mod scalar;

pub use column::{Column, DeviceColumn};
pub use device::Device;
pub use dtype::DType;
pub use error::{Error, Result};
pub use frame::{DataFrame, Field};
pub use scalar::{format_decimal, Scalar};

pub use arrow;
pub use ember_gpu as gpu;
