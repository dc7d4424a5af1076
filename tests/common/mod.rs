//! Shared test helpers: the devices every behaviour runs on, and `test_device!`.
#![allow(dead_code)]
use ember::prelude::*;

/// Whether CUDA tests were requested (`EMBER_TEST_CUDA=1`). Requested CUDA tests fail, never
/// skip, when there is no GPU.
pub fn cuda_requested() -> bool {
    std::env::var("EMBER_TEST_CUDA").is_ok_and(|v| v == "1")
}

/// The GPU devices to compare against the CPU engine: Sim always, CUDA 0 when requested.
pub fn gpu_devices() -> Vec<Device> {
    let mut v = vec![Device::Sim];
    if cuda_requested() {
        v.push(Device::Cuda(0));
    }
    v
}

/// Writes one test body and instantiates it for `cpu`, `sim` and `cuda` (the last runs only with
/// `EMBER_TEST_CUDA=1`, and says so when skipped).
#[macro_export]
macro_rules! test_device {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn cpu() {
                ($body)(Device::Cpu)
            }
            #[test]
            fn sim() {
                ($body)(Device::Sim)
            }
            #[test]
            fn cuda() {
                if $crate::common::cuda_requested() {
                    ($body)(Device::Cuda(0))
                } else {
                    eprintln!("SKIPPED on CUDA: set EMBER_TEST_CUDA=1 on a GPU machine");
                }
            }
        }
    };
}

/// A record batch from named arrays.
pub fn batch(cols: Vec<(&str, arrow::array::ArrayRef)>) -> arrow::array::RecordBatch {
    arrow::array::RecordBatch::try_from_iter(cols).expect("valid batch")
}

/// A frame on `device` from named arrays.
pub fn frame(cols: Vec<(&str, arrow::array::ArrayRef)>, device: Device) -> DataFrame {
    DataFrame::from_record_batch(&batch(cols)).unwrap().to(device).unwrap()
}

/// The frame's data on the host.
pub fn host(df: &DataFrame) -> arrow::array::RecordBatch {
    df.to_record_batch().unwrap()
}
