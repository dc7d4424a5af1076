//! Stream compaction: the indices of the rows a boolean mask keeps, in row order, and gathers of
//! fixed-width values, validity bitmaps and strings at those indices. Filter is
//! `compact_indices` followed by one gather per column; sort and join reuse the gathers.
use super::scan::{scan_with_total, ScanType};
use super::BLOCK;
use crate::{DeviceBuffer, ExecContext, GpuError, Kernel, KernelArg, LaunchConfig, Result};

/// Row indices (`u32`) of the rows where `mask` (a bitmap) is set and `mask_validity` (if any) is
/// set, in ascending order; returns the index buffer and how many there are (read back: the one
/// synchronisation, since the output is sized by it).
///
/// ```
/// use ember_gpu::{ExecContext, Gpu, primitives::compact::compact_indices};
/// # if !ember_gpu::sim::compiled() { return; }
/// let ctx = ExecContext::new(Gpu::sim().unwrap());
/// let mask = ctx.upload(&[0b1011_0110u32]).unwrap(); // rows 1, 2, 4, 5, 7
/// let valid = ctx.upload(&[0b0111_1111u32]).unwrap(); // row 7 is null: dropped
/// let (idx, m) = compact_indices(&ctx, &mask, Some(&valid), 8).unwrap();
/// assert_eq!(ctx.download::<u32>(&idx, m).unwrap(), vec![1, 2, 4, 5]);
/// ```
pub fn compact_indices(
    ctx: &ExecContext,
    mask: &DeviceBuffer,
    mask_validity: Option<&DeviceBuffer>,
    n: usize,
) -> Result<(DeviceBuffer, usize)> {
    let (out, m, _) = compact(ctx, mask, mask_validity, n, None)?;
    Ok((out, m))
}

/// [`compact_indices`] that also reads back the `u64` at the start of `word` (a predicate's
/// error key) in the same download as the count: one synchronisation for both.
///
/// ```
/// use ember_gpu::{ExecContext, Gpu, primitives::compact::compact_indices_and_word};
/// # if !ember_gpu::sim::compiled() { return; }
/// let ctx = ExecContext::new(Gpu::sim().unwrap());
/// let mask = ctx.upload(&[0b1011_0110u32]).unwrap();
/// let err = ctx.upload(&[42u64]).unwrap();
/// let (idx, m, word) = compact_indices_and_word(&ctx, &mask, None, 8, &err).unwrap();
/// assert_eq!((m, word, ctx.trace().syncs), (5, 42, 1));
/// assert_eq!(ctx.download::<u32>(&idx, m).unwrap(), vec![1, 2, 4, 5, 7]);
/// ```
pub fn compact_indices_and_word(
    ctx: &ExecContext,
    mask: &DeviceBuffer,
    mask_validity: Option<&DeviceBuffer>,
    n: usize,
    word: &DeviceBuffer,
) -> Result<(DeviceBuffer, usize, u64)> {
    compact(ctx, mask, mask_validity, n, Some(word))
}

fn compact(
    ctx: &ExecContext,
    mask: &DeviceBuffer,
    mask_validity: Option<&DeviceBuffer>,
    n: usize,
    word: Option<&DeviceBuffer>,
) -> Result<(DeviceBuffer, usize, u64)> {
    if n > u32::MAX as usize {
        return Err(GpuError::Size(format!("{n} rows: compaction indices are 32-bit")));
    }
    if n == 0 {
        let w = match word {
            Some(w) => ctx.download::<u64>(w, 1)?[0],
            None => 0,
        };
        return Ok((ctx.alloc(0)?, 0, w));
    }
    let tiles = n.div_ceil(BLOCK as usize);
    let counts = ctx.alloc(tiles * 4)?;
    let cfg = LaunchConfig::blocks(tiles as u32, BLOCK);
    ctx.launch(
        Kernel::new("compact", "compact_count"),
        cfg,
        &[mask.into(), mask_validity.into(), KernelArg::U64(n as u64), (&counts).into()],
    )?;
    let offsets = scan_with_total(ctx, &counts, tiles, ScanType::U32)?;
    // Size readback: the kept-row count sizes the indices (with the caller's word, if any).
    let (total, w) = match word {
        None => (ctx.download_range::<u32>(&offsets, tiles, 1)?[0], 0),
        Some(word) => {
            // [word: 8 bytes | count: 4 bytes]: one download of exactly the bytes written.
            let both = ctx.alloc(12)?;
            ctx.copy(word, 0, &both, 0, 8)?;
            ctx.copy(&offsets, tiles * 4, &both, 8, 4)?;
            let v = ctx.download::<u32>(&both, 3)?;
            (v[2], u64::from(v[0]) | (u64::from(v[1]) << 32))
        }
    };
    let out = ctx.alloc(total as usize * 4)?;
    if total > 0 {
        ctx.launch(
            Kernel::new("compact", "compact_write"),
            cfg,
            &[mask.into(), mask_validity.into(), KernelArg::U64(n as u64), (&offsets).into(), (&out).into()],
        )?;
    }
    Ok((out, total as usize, w))
}

/// `values[indices[i]]` for `i < m`, for values `width` bytes wide (1, 2, 4, 8 or 16).
pub fn gather_fixed(
    ctx: &ExecContext,
    values: &DeviceBuffer,
    width: usize,
    indices: &DeviceBuffer,
    m: usize,
) -> Result<DeviceBuffer> {
    let out = ctx.alloc(m * width)?;
    if m == 0 {
        return Ok(out);
    }
    let kernel = match width {
        1 => "gather_w1",
        2 => "gather_w2",
        4 => "gather_w4",
        8 => "gather_w8",
        16 => "gather_w16",
        w => return Err(GpuError::Size(format!("no gather for {w}-byte values"))),
    };
    ctx.launch(
        Kernel::new("compact", kernel),
        LaunchConfig::for_elems(m, BLOCK),
        &[values.into(), indices.into(), (&out).into(), KernelArg::U64(m as u64)],
    )?;
    Ok(out)
}

/// Bit `indices[i]` of the bitmap `bits` for `i < m`, as a new bitmap.
pub fn gather_bits(ctx: &ExecContext, bits: &DeviceBuffer, indices: &DeviceBuffer, m: usize) -> Result<DeviceBuffer> {
    let out = ctx.alloc(m.div_ceil(32) * 4)?;
    if m == 0 {
        return Ok(out);
    }
    ctx.launch(
        Kernel::new("compact", "gather_bits"),
        LaunchConfig::for_elems(m, BLOCK),
        &[bits.into(), indices.into(), (&out).into(), KernelArg::U64(m as u64)],
    )?;
    Ok(out)
}

/// Strings at `indices` from `(offsets: i64, bytes)`: returns the new `(offsets, bytes)`, with
/// `m + 1` offsets starting at 0. One read-back (the byte total sizes the bytes).
pub fn gather_utf8(
    ctx: &ExecContext,
    offsets: &DeviceBuffer,
    bytes: &DeviceBuffer,
    indices: &DeviceBuffer,
    m: usize,
) -> Result<(DeviceBuffer, DeviceBuffer)> {
    let mut out = gather_utf8_columns(ctx, &[(offsets, bytes)], indices, m)?;
    Ok(out.pop().expect("one column in, one out"))
}

/// [`gather_utf8`] of several string columns at the same `indices` (a frame's gather): every
/// column's lengths and offsets first, then **one** read-back of all their byte totals, then the
/// byte copies. A join's output with six string columns synchronises once, not six times.
///
/// ```
/// use ember_gpu::{ExecContext, Gpu, primitives::compact::gather_utf8_columns};
/// # if !ember_gpu::sim::compiled() { return; }
/// let ctx = ExecContext::new(Gpu::sim().unwrap());
/// let (oa, ba) = (ctx.upload(&[0i64, 1, 3, 6]).unwrap(), ctx.upload_bytes(b"abbccc").unwrap());
/// let (ob, bb) = (ctx.upload(&[0i64, 2, 2, 3]).unwrap(), ctx.upload_bytes(b"xyz").unwrap());
/// let idx = ctx.upload(&[2u32, 0]).unwrap();
/// let out = gather_utf8_columns(&ctx, &[(&oa, &ba), (&ob, &bb)], &idx, 2).unwrap();
/// assert_eq!(ctx.download::<u8>(&out[0].1, 4).unwrap(), b"ccca");
/// assert_eq!(ctx.download::<u8>(&out[1].1, 3).unwrap(), b"zxy");
/// assert_eq!(ctx.download::<i64>(&out[1].0, 3).unwrap(), vec![0, 1, 3]);
/// ```
pub fn gather_utf8_columns(
    ctx: &ExecContext,
    columns: &[(&DeviceBuffer, &DeviceBuffer)],
    indices: &DeviceBuffer,
    m: usize,
) -> Result<Vec<(DeviceBuffer, DeviceBuffer)>> {
    if m == 0 {
        return columns.iter().map(|_| Ok((ctx.upload(&[0i64])?, ctx.alloc(0)?))).collect();
    }
    if columns.is_empty() {
        return Ok(Vec::new()); // nothing to size: no read-back
    }
    let cfg = LaunchConfig::for_elems(m, BLOCK);
    let mut out_offsets = Vec::with_capacity(columns.len());
    for (offsets, _) in columns {
        let lengths = ctx.alloc(m * 8)?;
        ctx.launch(
            Kernel::new("compact", "gather_str_lengths"),
            cfg,
            &[(*offsets).into(), indices.into(), (&lengths).into(), KernelArg::U64(m as u64)],
        )?;
        out_offsets.push(scan_with_total(ctx, &lengths, m, ScanType::U64)?);
    }
    // Size readback: every column's byte total (the last offset) in one download.
    let totals: Vec<u64> = if let [only] = &out_offsets[..] {
        ctx.download_range::<u64>(only, m, 1)?
    } else {
        let totals = ctx.alloc(columns.len() * 8)?;
        for (k, o) in out_offsets.iter().enumerate() {
            ctx.copy(o, m * 8, &totals, k * 8, 8)?;
        }
        ctx.download::<u64>(&totals, columns.len())?
    };
    let mut out = Vec::with_capacity(columns.len());
    for (((offsets, bytes), o), total) in columns.iter().zip(out_offsets).zip(totals) {
        let out_bytes = ctx.alloc(total as usize)?;
        ctx.launch(
            Kernel::new("compact", "gather_str_bytes"),
            cfg,
            &[
                (*offsets).into(),
                (*bytes).into(),
                indices.into(),
                (&o).into(),
                (&out_bytes).into(),
                KernelArg::U64(m as u64),
            ],
        )?;
        out.push((o, out_bytes));
    }
    Ok(out)
}

/// The `u32` row indices `start..start + n` (a slice, gathered like a filter's kept rows).
pub fn iota(ctx: &ExecContext, start: usize, n: usize) -> Result<DeviceBuffer> {
    if start.checked_add(n).is_none_or(|end| end > u32::MAX as usize) {
        return Err(GpuError::Size(format!("rows {start}..+{n}: row indices are 32-bit")));
    }
    let out = ctx.alloc(n * 4)?;
    if n > 0 {
        ctx.launch(
            Kernel::new("compact", "iota_u32"),
            LaunchConfig::for_elems(n, BLOCK),
            &[(&out).into(), KernelArg::U32(start as u32), KernelArg::U64(n as u64)],
        )?;
    }
    Ok(out)
}
