//! Device-wide exclusive scan (prefix sum) of `u32` or `u64` values.
//!
//! Three phases (see `kernels/scan.cu`): scan tiles of 1024 values and write tile totals, scan the
//! totals (recursively), add each tile's offset. The order of additions depends only on `n`.
use super::BLOCK;
use crate::{DeviceBuffer, Gpu, KernelArg, LaunchConfig, Result};

const ITEMS: usize = 4;
const TILE: usize = BLOCK as usize * ITEMS;

/// Element type of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanType {
    /// 32-bit unsigned (wrapping).
    U32,
    /// 64-bit unsigned (wrapping).
    U64,
}

impl ScanType {
    fn width(self) -> usize {
        match self {
            ScanType::U32 => 4,
            ScanType::U64 => 8,
        }
    }
    fn suffix(self) -> &'static str {
        match self {
            ScanType::U32 => "u32",
            ScanType::U64 => "u64",
        }
    }
}

/// Exclusive scan of the first `n` values of `input`: returns a buffer of `n + 1` values whose
/// last element is the total, and the total itself.
///
/// ```
/// use ember_gpu::{Gpu, primitives::scan::{exclusive_scan, ScanType}};
/// # if !ember_gpu::sim::compiled() { return; }
/// let gpu = Gpu::sim().unwrap();
/// let input = gpu.upload(&[3u32, 1, 4, 1, 5]).unwrap();
/// let (out, total) = exclusive_scan(&gpu, &input, 5, ScanType::U32).unwrap();
/// assert_eq!(gpu.download::<u32>(&out).unwrap(), vec![0, 3, 4, 8, 9, 14]);
/// assert_eq!(total, 14);
/// ```
pub fn exclusive_scan(gpu: &Gpu, input: &DeviceBuffer, n: usize, ty: ScanType) -> Result<(DeviceBuffer, u64)> {
    let out = gpu.alloc((n + 1) * ty.width())?;
    let total = scan_into(gpu, input, &out, n, ty)?;
    let total_bytes = total.to_le_bytes();
    let tail = gpu.upload_bytes(&total_bytes[..ty.width()])?;
    gpu.copy(&tail, 0, &out, n * ty.width(), ty.width())?;
    Ok((out, total))
}

fn scan_into(gpu: &Gpu, input: &DeviceBuffer, out: &DeviceBuffer, n: usize, ty: ScanType) -> Result<u64> {
    if n == 0 {
        return Ok(0);
    }
    let tiles = n.div_ceil(TILE);
    let sums = gpu.alloc(tiles * ty.width())?;
    gpu.launch(
        "scan",
        &format!("scan_tiles_{}", ty.suffix()),
        LaunchConfig::blocks(tiles as u32, BLOCK),
        &[input.into(), out.into(), (&sums).into(), KernelArg::U64(n as u64)],
    )?;
    if tiles == 1 {
        return read_total(gpu, &sums, ty);
    }
    let offsets = gpu.alloc(tiles * ty.width())?;
    let total = scan_into(gpu, &sums, &offsets, tiles, ty)?;
    gpu.launch(
        "scan",
        &format!("scan_add_{}", ty.suffix()),
        LaunchConfig::for_elems(n, BLOCK),
        &[out.into(), (&offsets).into(), KernelArg::U64(n as u64)],
    )?;
    Ok(total)
}

fn read_total(gpu: &Gpu, one: &DeviceBuffer, ty: ScanType) -> Result<u64> {
    Ok(match ty {
        ScanType::U32 => gpu.download_prefix::<u32>(one, 1)?[0] as u64,
        ScanType::U64 => gpu.download_prefix::<u64>(one, 1)?[0],
    })
}
