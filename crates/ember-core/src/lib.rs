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
pub use error::{Error, ReadLocation, Result};
pub use frame::{DataFrame, Field};
pub use scalar::{format_decimal, Scalar};

pub use arrow;

/// Serde for arrow's `TimeUnit` (plans carry timestamps in their types and literals).
mod serde_time_unit {
    use arrow::datatypes::TimeUnit;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(remote = "TimeUnit")]
    enum Def {
        Second,
        Millisecond,
        Microsecond,
        Nanosecond,
    }

    pub fn serialize<S: Serializer>(u: &TimeUnit, s: S) -> Result<S::Ok, S::Error> {
        Def::serialize(u, s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimeUnit, D::Error> {
        Def::deserialize(d)
    }
}
pub use ember_gpu as gpu;
