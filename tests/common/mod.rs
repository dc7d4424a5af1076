//! Shared test helpers: the devices every behaviour runs on, and `test_device!`.
#![allow(dead_code)]
use arrow::array::*;
use ember::prelude::*;
use std::sync::Arc;

/// Whether CUDA tests were requested (`EMBER_TEST_CUDA=1`). Requested CUDA tests fail, never
/// skip, when there is no GPU.
pub fn cuda_requested() -> bool {
    std::env::var("EMBER_TEST_CUDA").is_ok_and(|v| v == "1")
}

/// The GPU devices to compare against the CPU engine: Sim always, CUDA 0 when requested. On a
/// lent GPU, where time is short and Sim already ran in CI, `EMBER_TEST_CUDA_ONLY=1` leaves Sim out
/// (`scripts/gpu-check.sh` sets it).
pub fn gpu_devices() -> Vec<Device> {
    if !cuda_requested() {
        return vec![Device::Sim];
    }
    if std::env::var("EMBER_TEST_CUDA_ONLY").is_ok_and(|v| v == "1") {
        return vec![Device::Cuda(0)];
    }
    vec![Device::Sim, Device::Cuda(0)]
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

/// Deterministic pseudo-random numbers (xorshift), so failures reproduce.
pub fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

/// A random frame: ints, floats, decimals, strings, booleans and dates, each with ~15% nulls.
pub fn random_batch(n: usize, seed: u64) -> RecordBatch {
    let mut r = rng(seed);
    let null = |r: &mut dyn FnMut() -> u64| r() % 100 < 15;
    let a: Int32Array = (0..n).map(|_| if null(&mut r) { None } else { Some((r() % 200) as i32 - 100) }).collect();
    let b: Int64Array =
        (0..n).map(|_| if null(&mut r) { None } else { Some((r() % 1_000_000) as i64 - 500_000) }).collect();
    let c: Float64Array = (0..n)
        .map(|_| if null(&mut r) { None } else { Some(((r() % 2_000_001) as f64 - 1_000_000.0) / 1024.0) })
        .collect();
    let d = (0..n)
        .map(|_| if null(&mut r) { None } else { Some((r() % 1_000_000) as i128 - 200_000) })
        .collect::<Decimal128Array>()
        .with_precision_and_scale(15, 2)
        .unwrap();
    let words = ["", "a", "ab", "abc", "b", "ba", "SHIP", "MAIL", "AIR", "AIR REG", "é", "zz"];
    let s: StringViewArray =
        (0..n).map(|_| if null(&mut r) { None } else { Some(words[(r() % words.len() as u64) as usize]) }).collect();
    let f: BooleanArray = (0..n).map(|_| if null(&mut r) { None } else { Some(r().is_multiple_of(2)) }).collect();
    let t: Date32Array = (0..n).map(|_| if null(&mut r) { None } else { Some(8000 + (r() % 2000) as i32) }).collect();
    let u: UInt8Array = (0..n).map(|_| Some((r() % 256) as u8)).collect();
    batch(vec![
        ("a", Arc::new(a) as ArrayRef),
        ("b", Arc::new(b)),
        ("c", Arc::new(c)),
        ("d", Arc::new(d)),
        ("s", Arc::new(s)),
        ("f", Arc::new(f)),
        ("t", Arc::new(t)),
        ("u", Arc::new(u)),
    ])
}

/// The kind of an error, for comparing devices (the first failing row decides an arithmetic error's
/// kind on every device); `Internal` is always a bug.
pub fn error_class(e: &Error) -> &'static str {
    match e {
        Error::Overflow(_) => "overflow",
        Error::DivideByZero(_) => "division by zero",
        Error::Type { .. } => "type",
        Error::Internal(_) => "internal",
        _ => "other",
    }
}

/// A Python that imports `modules` (e.g. `"networkx, scipy"`): `EMBER_PYTHON`, the cache venv
/// (`EMBER_CACHE_DIR`, then `~/.cache/ember-dev`), or `python3`. The oracle tests run their
/// scripts with it.
pub fn python_with(modules: &str) -> Option<std::path::PathBuf> {
    use std::path::{Path, PathBuf};
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("EMBER_PYTHON") {
        candidates.push(p.into());
    }
    if let Ok(d) = std::env::var("EMBER_CACHE_DIR") {
        candidates.push(Path::new(&d).join("venv/bin/python"));
    }
    if let Ok(home) = std::env::var("HOME") {
        candidates.push(Path::new(&home).join(".cache/ember-dev/venv/bin/python"));
    }
    candidates.push("python3".into());
    let import = format!("import {modules}");
    candidates
        .into_iter()
        .find(|p| std::process::Command::new(p).args(["-c", &import]).output().is_ok_and(|o| o.status.success()))
}
