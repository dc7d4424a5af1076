//! Stable LSD radix sort of `(key, u32 value)` pairs on the device, and a stable arg-sort by
//! several key words (the building block of multi-column `sort`).
//!
//! Each pass sorts by 8 bits (see `kernels/radix_sort.cu`): a per-tile digit histogram, an
//! exclusive scan of it (digit-major, so it yields every tile's output offset per digit), and a
//! stable scatter. Keys are unsigned: callers map their values to order-preserving unsigned
//! words first (`ember-ops` does, for signed integers, floats, decimals, dates, nulls and
//! descending order). Hand-written rather than CUB: ember compiles its kernels with NVRTC and
//! runs the same source on the simulated device, where CUB does not exist.
use super::compact::{gather_fixed, iota};
use super::scan::{scan_into, ScanType};
use super::BLOCK;
use crate::{DeviceBuffer, ExecContext, GpuError, Kernel, KernelArg, LaunchConfig, Result};

/// Width of a key word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyWidth {
    /// `u32` keys.
    U32,
    /// `u64` keys.
    U64,
}

impl KeyWidth {
    /// Bytes per key.
    pub fn bytes(self) -> usize {
        match self {
            KeyWidth::U32 => 4,
            KeyWidth::U64 => 8,
        }
    }
    fn suffix(self) -> &'static str {
        match self {
            KeyWidth::U32 => "u32",
            KeyWidth::U64 => "u64",
        }
    }
}

/// One key word of an arg-sort: `n` unsigned keys, of which only the low `bits` can differ
/// (a caller that knows the range saves passes; `bits` = the full width is always right).
#[derive(Debug, Clone, Copy)]
pub struct KeyWord<'a> {
    /// The keys, in row order.
    pub keys: &'a DeviceBuffer,
    /// Their width.
    pub width: KeyWidth,
    /// The low bits that take part in the order.
    pub bits: u32,
}

impl<'a> KeyWord<'a> {
    /// A key word whose every bit counts.
    pub fn full(keys: &'a DeviceBuffer, width: KeyWidth) -> Self {
        KeyWord { keys, width, bits: 8 * width.bytes() as u32 }
    }
}

/// Sorts the first `n` pairs `(keys[i], values[i])` by key, stably, in `ceil(bits / 8)` passes:
/// the caller promises that the keys agree above their low `bits` (pass the full width if unsure).
/// Returns the sorted keys and the values in the same order. Launches per 8-bit pass: a
/// histogram, the scan (2–4 launches) and a scatter; no host synchronisation.
///
/// ```
/// use ember_gpu::{ExecContext, Gpu, primitives::radix_sort::{sort_pairs, KeyWidth}};
/// # if !ember_gpu::sim::compiled() { return; }
/// let ctx = ExecContext::new(Gpu::sim().unwrap());
/// let keys = ctx.upload(&[3u32, 1, 3, 0]).unwrap();
/// let vals = ctx.upload(&[0u32, 1, 2, 3]).unwrap();
/// let (k, v) = sort_pairs(&ctx, &keys, &vals, 4, KeyWidth::U32, 32).unwrap();
/// assert_eq!(ctx.download::<u32>(&k, 4).unwrap(), vec![0, 1, 3, 3]);
/// assert_eq!(ctx.download::<u32>(&v, 4).unwrap(), vec![3, 1, 0, 2]); // equal keys keep their order
/// ```
pub fn sort_pairs(
    ctx: &ExecContext,
    keys: &DeviceBuffer,
    values: &DeviceBuffer,
    n: usize,
    width: KeyWidth,
    bits: u32,
) -> Result<(DeviceBuffer, DeviceBuffer)> {
    if n > u32::MAX as usize {
        return Err(GpuError::Size(format!("{n} rows: the radix sort's positions are 32-bit")));
    }
    let max_bits = 8 * width.bytes() as u32;
    if bits > max_bits {
        return Err(GpuError::Size(format!("{bits} key bits in a {max_bits}-bit key")));
    }
    let mut k_out = ctx.alloc(n * width.bytes())?;
    let mut v_out = ctx.alloc(n * 4)?;
    if n == 0 {
        return Ok((k_out, v_out));
    }
    let passes = bits.div_ceil(8);
    if passes == 0 {
        ctx.copy(keys, 0, &k_out, 0, n * width.bytes())?;
        ctx.copy(values, 0, &v_out, 0, n * 4)?;
        return Ok((k_out, v_out));
    }
    let tiles = n.div_ceil(BLOCK as usize);
    let hist = ctx.alloc(256 * tiles * 4)?;
    let offsets = ctx.alloc(256 * tiles * 4)?;
    let mut k_tmp = ctx.alloc(n * width.bytes())?;
    let mut v_tmp = ctx.alloc(n * 4)?;
    let hist_k = Kernel::named("radix_sort", &format!("radix_hist_{}", width.suffix()));
    let scatter_k = Kernel::named("radix_sort", &format!("radix_scatter_{}", width.suffix()));
    let cfg = LaunchConfig::blocks(tiles as u32, BLOCK);
    for pass in 0..passes {
        let (k_in, v_in) = if pass == 0 { (keys, values) } else { (&k_tmp, &v_tmp) };
        let shift = KernelArg::U32(8 * pass);
        ctx.launch(hist_k, cfg, &[k_in.into(), KernelArg::U64(n as u64), shift, (&hist).into()])?;
        scan_into(ctx, &hist, &offsets, 256 * tiles, ScanType::U32)?;
        ctx.launch(
            scatter_k,
            cfg,
            &[
                k_in.into(),
                v_in.into(),
                KernelArg::U64(n as u64),
                shift,
                (&offsets).into(),
                (&k_out).into(),
                (&v_out).into(),
            ],
        )?;
        // The output of this pass is the input of the next.
        std::mem::swap(&mut k_out, &mut k_tmp);
        std::mem::swap(&mut v_out, &mut v_tmp);
    }
    Ok((k_tmp, v_tmp))
}

/// The stable order of rows `0..n` by `words`, most significant first: `perm[i]` is the row that
/// goes to position `i`. Equal rows keep their order.
///
/// ```
/// use ember_gpu::{ExecContext, Gpu, primitives::radix_sort::{argsort, KeyWidth, KeyWord}};
/// # if !ember_gpu::sim::compiled() { return; }
/// let ctx = ExecContext::new(Gpu::sim().unwrap());
/// let major = ctx.upload(&[1u32, 0, 1, 0]).unwrap();
/// let minor = ctx.upload(&[5u64, 9, 2, 9]).unwrap();
/// let words = [KeyWord::full(&major, KeyWidth::U32), KeyWord::full(&minor, KeyWidth::U64)];
/// let perm = argsort(&ctx, &words, 4).unwrap();
/// assert_eq!(ctx.download::<u32>(&perm, 4).unwrap(), vec![1, 3, 2, 0]);
/// ```
pub fn argsort(ctx: &ExecContext, words: &[KeyWord<'_>], n: usize) -> Result<DeviceBuffer> {
    let mut perm = iota(ctx, 0, n)?;
    for (k, w) in words.iter().rev().enumerate() {
        // LSD over words: sort by the least significant word first; each later (stable) sort
        // keeps the order of the rows it finds equal.
        let gathered;
        let keys = if k == 0 {
            w.keys
        } else {
            gathered = gather_fixed(ctx, w.keys, w.width.bytes(), &perm, n)?;
            &gathered
        };
        perm = sort_pairs(ctx, keys, &perm, n, w.width, w.bits)?.1;
    }
    Ok(perm)
}
