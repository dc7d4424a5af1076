//! Grouping rows by equal keys with a device hash table (`kernels/hash_table.cu`): the rows'
//! keys are given as parts ([`KeyPart`]: order-preserving key words, u32 / u64 arrays as a radix
//! sort takes them, or whole utf8 columns hashed and compared by their bytes), a table of row
//! numbers with open addressing is built by compare-and-swap, and every row gets a dense group
//! number. One pass over the rows, one over the table, and one
//! readback (the group count) — against a radix sort's pass per key byte.
//!
//! Hand-written: the hash table is the core of the GPU group-by and join (libcudf's
//! `cuco::static_map`), and CUB/cuCollections are not available to NVRTC-compiled kernels here.
use super::compact::gather_fixed;
use super::radix_sort::{argsort, KeyWidth, KeyWord};
use super::scan::{exclusive_scan, scan_into, ScanType};
use super::BLOCK;
use crate::{abi, DeviceBuffer, ExecContext, GpuError, Kernel, KernelArg, LaunchConfig, Result};

/// Key parts one launch takes (`EMBER_ABI_KEY_MAX_WORDS`).
pub const MAX_KEY_WORDS: usize = abi::KEY_MAX_WORDS as usize;

/// One part of a row key.
#[derive(Debug, Clone, Copy)]
pub enum KeyPart<'a> {
    /// An array of words, compared as unsigned integers (`bits` is not used).
    Word(KeyWord<'a>),
    /// A utf8 column (i64 offsets, `n + 1` of them, and its bytes), compared bytewise (a prefix
    /// first) and hashed by its bytes.
    Utf8 {
        /// The offsets.
        offsets: &'a DeviceBuffer,
        /// The bytes.
        bytes: &'a DeviceBuffer,
    },
}

impl<'a> From<KeyWord<'a>> for KeyPart<'a> {
    fn from(w: KeyWord<'a>) -> Self {
        KeyPart::Word(w)
    }
}

/// Rows a table can group: row numbers are u32 and `u32::MAX` marks a free slot, and the table
/// has at least twice as many slots as rows.
pub const MAX_ROWS: usize = 1 << 30;

/// The device addresses of `parts` as the kernels' by-value `EmberKeyWords` table (words or
/// bytes, then offsets; unused entries null), and the mask of which words are u64.
pub fn word_table(parts: &[KeyPart<'_>]) -> Result<(Vec<u8>, u32)> {
    if parts.len() > MAX_KEY_WORDS {
        return Err(GpuError::Size(format!("{} key parts (a kernel takes at most {MAX_KEY_WORDS})", parts.len())));
    }
    let mut table = vec![0u8; 2 * MAX_KEY_WORDS * 8];
    let mut wide = 0u32;
    let mut put =
        |at: usize, b: &DeviceBuffer| table[at * 8..at * 8 + 8].copy_from_slice(&b.device_ptr().to_le_bytes());
    for (k, p) in parts.iter().enumerate() {
        match p {
            KeyPart::Word(w) => {
                put(k, w.keys);
                wide |= u32::from(w.width == KeyWidth::U64) << k;
            }
            KeyPart::Utf8 { offsets, bytes } => {
                put(k, bytes);
                put(MAX_KEY_WORDS + k, offsets);
            }
        }
    }
    Ok((table, wide))
}

/// Rows grouped by equal keys.
#[derive(Debug)]
pub struct RowGroups {
    /// Per row (u32): its group, `0..groups`, numbered in hash-table order (not key order).
    pub group_of_row: DeviceBuffer,
    /// Per group (u32): one of its rows (the one whose insert claimed the slot; not
    /// necessarily the first).
    pub reps: DeviceBuffer,
    /// The number of distinct keys; from [`group_rows_bounded`], `n`: an upper bound (the group
    /// numbers are still dense from 0, and the numbers past the real count have no rows).
    pub groups: usize,
    /// The table itself (u32 row numbers, `u32::MAX` where free; a power-of-two number of
    /// slots), for probes by other rows (`ember_ht_find` in `kernels/common.cuh`).
    pub table: DeviceBuffer,
    /// Its number of slots.
    pub slots: usize,
}

/// Groups rows `0..n` by equal keys (every part of two rows equal). Up to [`MAX_KEY_WORDS`]
/// parts and [`MAX_ROWS`] rows.
///
/// ```
/// use ember_gpu::{ExecContext, Gpu, primitives::{hash_table::group_rows, radix_sort::{KeyWidth, KeyWord}}};
/// # if !ember_gpu::sim::compiled() { return; }
/// let ctx = ExecContext::new(Gpu::sim().unwrap());
/// let a = ctx.upload(&[7u32, 1, 7, 1, 7]).unwrap();
/// let b = ctx.upload(&[2u64, 5, 2, 6, 2]).unwrap();
/// let words = [KeyWord::full(&a, KeyWidth::U32).into(), KeyWord::full(&b, KeyWidth::U64).into()];
/// let g = group_rows(&ctx, &words, 5).unwrap();
/// assert_eq!(g.groups, 3);
/// let ids = ctx.download::<u32>(&g.group_of_row, 5).unwrap();
/// assert!(ids[0] == ids[2] && ids[2] == ids[4] && ids[1] != ids[3] && ids[0] != ids[1]);
/// ```
pub fn group_rows(ctx: &ExecContext, words: &[KeyPart<'_>], n: usize) -> Result<RowGroups> {
    group_rows_counted(ctx, words, n, true)
}

/// [`group_rows`] without its one read-back: `groups` is `n` (an upper bound) and `reps` has `n`
/// entries, the first (real count) of them set. For a caller that can size by the row count (a
/// join's table side, whose keys are usually all distinct) and would rather not wait for the
/// stream.
///
/// ```
/// use ember_gpu::{ExecContext, Gpu, primitives::{hash_table::group_rows_bounded, radix_sort::{KeyWidth, KeyWord}}};
/// # if !ember_gpu::sim::compiled() { return; }
/// let ctx = ExecContext::new(Gpu::sim().unwrap());
/// let a = ctx.upload(&[7u32, 1, 7]).unwrap();
/// let g = group_rows_bounded(&ctx, &[KeyWord::full(&a, KeyWidth::U32).into()], 3).unwrap();
/// assert_eq!((g.groups, ctx.trace().syncs), (3, 0));
/// let ids = ctx.download::<u32>(&g.group_of_row, 3).unwrap();
/// assert!(ids[0] == ids[2] && ids[0] != ids[1] && ids.iter().all(|&g| g < 2));
/// ```
pub fn group_rows_bounded(ctx: &ExecContext, words: &[KeyPart<'_>], n: usize) -> Result<RowGroups> {
    group_rows_counted(ctx, words, n, false)
}

fn group_rows_counted(ctx: &ExecContext, words: &[KeyPart<'_>], n: usize, count: bool) -> Result<RowGroups> {
    if n > MAX_ROWS {
        return Err(GpuError::Size(format!("{n} rows in one hash table (at most {MAX_ROWS})")));
    }
    let (table_words, wide) = word_table(words)?;
    let cap = (2 * n).next_power_of_two().max(64);
    let table = ctx.alloc(cap * 4)?;
    ctx.fill_bytes(&table, 0xff)?;
    let slot_of_row = ctx.alloc(n.max(1) * 4)?;
    let rows = LaunchConfig::for_elems(n, BLOCK);
    let slots = LaunchConfig::for_elems(cap, BLOCK);
    if n > 0 {
        ctx.launch(
            Kernel::new("hash_table", "ht_insert_rows"),
            rows,
            &[
                KernelArg::Struct(&table_words),
                KernelArg::U32(words.len() as u32),
                KernelArg::U32(wide),
                KernelArg::U64(n as u64),
                (&table).into(),
                KernelArg::U64(cap as u64 - 1),
                (&slot_of_row).into(),
            ],
        )?;
    }
    let flags = ctx.alloc(cap * 4)?;
    ctx.launch(
        Kernel::new("hash_table", "ht_mark_slots"),
        slots,
        &[(&table).into(), KernelArg::U64(cap as u64), (&flags).into()],
    )?;
    let (scan, groups) = if count {
        // Size readback: the group count sizes every per-group output.
        exclusive_scan(ctx, &flags, cap, ScanType::U32)?
    } else {
        let scan = ctx.alloc(cap * 4)?;
        scan_into(ctx, &flags, &scan, cap, ScanType::U32)?;
        (scan, n as u64)
    };
    drop(flags);
    let group_of_row = ctx.alloc(n.max(1) * 4)?;
    let reps = ctx.alloc((groups as usize).max(1) * 4)?;
    if n > 0 {
        ctx.launch(
            Kernel::new("hash_table", "ht_group_ids"),
            rows,
            &[(&slot_of_row).into(), (&scan).into(), KernelArg::U64(n as u64), (&group_of_row).into()],
        )?;
    }
    ctx.launch(
        Kernel::new("hash_table", "ht_group_reps"),
        slots,
        &[(&table).into(), (&scan).into(), KernelArg::U64(cap as u64), (&reps).into()],
    )?;
    Ok(RowGroups { group_of_row, reps, groups: groups as usize, table, slots: cap })
}

/// Rows `0..n` stably sorted by a dense group number (`ids[i]` in `0..groups`; a group may have
/// no rows, and then starts where the next one does), in ceil(log2 groups) bits of radix passes,
/// and where each group's rows start in that order (`groups + 1` u32s, the last `n`). No
/// readback.
///
/// ```
/// use ember_gpu::{ExecContext, Gpu, primitives::hash_table::sort_by_group};
/// # if !ember_gpu::sim::compiled() { return; }
/// let ctx = ExecContext::new(Gpu::sim().unwrap());
/// let ids = ctx.upload(&[3u32, 0, 3, 1, 0]).unwrap();
/// let (perm, starts) = sort_by_group(&ctx, &ids, 5, 5).unwrap();
/// assert_eq!(ctx.download::<u32>(&perm, 5).unwrap(), vec![1, 4, 3, 0, 2]);
/// // groups 2 and 4 have no rows: they start where the next group does
/// assert_eq!(ctx.download::<u32>(&starts, 6).unwrap(), vec![0, 2, 3, 3, 5, 5]);
/// ```
pub fn sort_by_group(
    ctx: &ExecContext,
    ids: &DeviceBuffer,
    groups: usize,
    n: usize,
) -> Result<(DeviceBuffer, DeviceBuffer)> {
    let bits = (usize::BITS - groups.saturating_sub(1).leading_zeros()).max(1);
    let perm = argsort(ctx, &[KeyWord { keys: ids, width: KeyWidth::U32, bits }], n)?;
    let starts = ctx.alloc((groups + 1) * 4)?;
    if n == 0 {
        ctx.fill_bytes(&starts, 0)?;
        return Ok((perm, starts));
    }
    let sorted = gather_fixed(ctx, ids, 4, &perm, n)?;
    ctx.launch(
        Kernel::new("hash_table", "ht_group_starts"),
        LaunchConfig::for_elems(groups + 1, BLOCK),
        &[(&sorted).into(), KernelArg::U64(n as u64), KernelArg::U64(groups as u64), (&starts).into()],
    )?;
    Ok((perm, starts))
}
