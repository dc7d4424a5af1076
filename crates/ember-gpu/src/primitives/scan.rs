//! Device-wide exclusive scan (prefix sum) of `u32` or `u64` values.
//!
//! Three phases (see `kernels/scan.cu`): scan tiles of 1024 values and write tile totals, scan the
//! totals (recursively), add each tile's offset. The order of additions depends only on `n`.
use super::BLOCK;
use crate::{DeviceBuffer, ExecContext, Kernel, KernelArg, LaunchConfig, Result};

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
/// last element is the total, and the total itself (read back: one synchronisation, because the
/// callers size their outputs by it).
///
/// ```
/// use ember_gpu::{ExecContext, Gpu, primitives::scan::{exclusive_scan, ScanType}};
/// # if !ember_gpu::sim::compiled() { return; }
/// let ctx = ExecContext::new(Gpu::sim().unwrap());
/// let input = ctx.upload(&[3u32, 1, 4, 1, 5]).unwrap();
/// let (out, total) = exclusive_scan(&ctx, &input, 5, ScanType::U32).unwrap();
/// assert_eq!(ctx.download::<u32>(&out, 6).unwrap(), vec![0, 3, 4, 8, 9, 14]);
/// assert_eq!(total, 14);
/// ```
pub fn exclusive_scan(ctx: &ExecContext, input: &DeviceBuffer, n: usize, ty: ScanType) -> Result<(DeviceBuffer, u64)> {
    let out = scan_with_total(ctx, input, n, ty)?;
    if n == 0 {
        return Ok((out, 0));
    }
    // Size readback: the caller allocates its output by this total.
    let total = match ty {
        ScanType::U32 => read_at::<u32>(ctx, &out, n)? as u64,
        ScanType::U64 => read_at::<u64>(ctx, &out, n)?,
    };
    Ok((out, total))
}

/// [`exclusive_scan`] without the read-back: the `n + 1` values, the total last, stay on the
/// device (for a caller that reads several totals at once).
///
/// ```
/// use ember_gpu::{ExecContext, Gpu, primitives::scan::{scan_with_total, ScanType}};
/// # if !ember_gpu::sim::compiled() { return; }
/// let ctx = ExecContext::new(Gpu::sim().unwrap());
/// let input = ctx.upload(&[3u64, 1, 4]).unwrap();
/// let out = scan_with_total(&ctx, &input, 3, ScanType::U64).unwrap();
/// assert_eq!(ctx.download::<u64>(&out, 4).unwrap(), vec![0, 3, 4, 8]);
/// ```
pub fn scan_with_total(ctx: &ExecContext, input: &DeviceBuffer, n: usize, ty: ScanType) -> Result<DeviceBuffer> {
    let out = ctx.alloc((n + 1) * ty.width())?;
    scan_into(ctx, input, &out, n, ty)?;
    if n == 0 {
        ctx.write_bytes(&out, 0, &0u64.to_le_bytes()[..ty.width()])?;
        return Ok(out);
    }
    ctx.launch(
        Kernel::named("scan", &format!("scan_total_{}", ty.suffix())),
        LaunchConfig::blocks(1, 32),
        &[input.into(), (&out).into(), KernelArg::U64(n as u64)],
    )?;
    Ok(out)
}

/// Value `i` of `buf` (one download, one synchronisation).
fn read_at<T: bytemuck::Pod>(ctx: &ExecContext, buf: &DeviceBuffer, i: usize) -> Result<T> {
    Ok(ctx.download_range::<T>(buf, i, 1)?[0])
}

/// Exclusive scan of the first `n` values of `input` into the first `n` values of `out`: no
/// total and no read-back (for callers that do not size anything by it, so the stream keeps
/// running).
///
/// ```
/// use ember_gpu::{ExecContext, Gpu, primitives::scan::{scan_into, ScanType}};
/// # if !ember_gpu::sim::compiled() { return; }
/// let ctx = ExecContext::new(Gpu::sim().unwrap());
/// let input = ctx.upload(&[3u64, 1, 4]).unwrap();
/// let out = ctx.alloc(3 * 8).unwrap();
/// scan_into(&ctx, &input, &out, 3, ScanType::U64).unwrap();
/// assert_eq!(ctx.download::<u64>(&out, 3).unwrap(), vec![0, 3, 4]);
/// ```
pub fn scan_into(ctx: &ExecContext, input: &DeviceBuffer, out: &DeviceBuffer, n: usize, ty: ScanType) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let tiles = n.div_ceil(TILE);
    let sums = ctx.alloc(tiles * ty.width())?;
    ctx.launch(
        Kernel::named("scan", &format!("scan_tiles_{}", ty.suffix())),
        LaunchConfig::blocks(tiles as u32, BLOCK),
        &[input.into(), out.into(), (&sums).into(), KernelArg::U64(n as u64)],
    )?;
    if tiles == 1 {
        return Ok(());
    }
    let offsets = ctx.alloc(tiles * ty.width())?;
    scan_into(ctx, &sums, &offsets, tiles, ty)?;
    ctx.launch(
        Kernel::named("scan", &format!("scan_add_{}", ty.suffix())),
        LaunchConfig::for_elems(n, BLOCK),
        &[out.into(), (&offsets).into(), KernelArg::U64(n as u64)],
    )
}
