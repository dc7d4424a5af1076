//! The GPU's sort order: each key column becomes one or two order-preserving unsigned key words
//! (plus a 1-bit null word where it has nulls; `kernels/sort_keys.cu`), and the device radix
//! sort orders the row numbers by them, least significant word first, each pass stable.
//! Passes per key: 1 for a null word or bool, 1 / 2 / 4 / 8 for 8 / 16 / 32 / 64-bit values,
//! 8 for decimals of precision <= 18 (they fit an i64), 16 for wider ones; each pass is a
//! histogram, a scan and a scatter, with no host synchronisation.
//!
//! A utf8 sort key becomes one rank word: the strings are hashed into the device hash table (one
//! readback, the distinct count), the distinct strings ranked (up to 2048 by comparing every
//! pair in one launch; more by a radix sort of the distinct strings' byte words), and each row
//! takes its string's rank: ceil(log2 distinct) bits, so `p_brand`'s 25 brands take one pass
//! where their byte words took 9 (an 8-byte word and the length's). The group-by ranks its
//! representatives' utf8 keys the same way when they are more than 2048; its fallback for keys
//! of many parts and its second sorts (`n_unique`, medians) use the byte words of `key_words`.
use super::SortKey;
use crate::expr::evaluate_in;
use crate::groupby::gpu::{bits_below, group_ranks, RankBy};
use ember_core::{DType, DataFrame, DeviceColumn, Error, Result};
use ember_gpu::primitives::compact::iota;
use ember_gpu::primitives::hash_table::{self, group_rows, KeyPart};
use ember_gpu::primitives::radix_sort::{argsort, KeyWidth, KeyWord};
use ember_gpu::primitives::BLOCK;
use ember_gpu::{DeviceBuffer, ExecContext, Kernel, KernelArg, LaunchConfig};

/// Row numbers of `df` in `keys` order (stable), in device memory.
pub(crate) fn sort_indices(ctx: &ExecContext, df: &DataFrame, keys: &[SortKey]) -> Result<DeviceBuffer> {
    let n = df.num_rows();
    if n > u32::MAX as usize {
        return Err(Error::InvalidArgument(format!("sort of {n} rows: row numbers are 32-bit")));
    }
    let columns = keys.iter().map(|k| evaluate_in(Some(ctx), df, &k.expr)).collect::<Result<Vec<_>>>()?;
    if keys.is_empty() || n < 2 {
        return Ok(iota(ctx, 0, n)?);
    }
    let mut words: Vec<(DeviceBuffer, KeyWidth, u32)> = Vec::new();
    for (key, column) in keys.iter().zip(&columns) {
        let c = column.as_device()?;
        if c.dtype() == DType::Utf8 && n <= hash_table::MAX_ROWS {
            str_rank_words(ctx, c, key, &mut words)?;
        } else {
            key_words(ctx, c, key, false, &mut words)?;
        }
    }
    let words: Vec<KeyWord> =
        words.iter().map(|(keys, width, bits)| KeyWord { keys, width: *width, bits: *bits }).collect();
    Ok(argsort(ctx, &words, n)?)
}

/// Appends a utf8 key's words: its null word where it has nulls, then each row's rank among the
/// column's distinct strings (one readback: their count).
pub(crate) fn str_rank_words(
    ctx: &ExecContext,
    c: &DeviceColumn,
    key: &SortKey,
    out: &mut Vec<(DeviceBuffer, KeyWidth, u32)>,
) -> Result<()> {
    let n = c.len();
    if c.validity().is_some() {
        out.push((null_word(ctx, c, key.nulls_last)?, KeyWidth::U32, 1));
    }
    let parts = [Part::Utf8(c)];
    let h = group_rows(ctx, &as_key_parts(&parts)?, n)?;
    let rank =
        group_ranks(ctx, RankBy::Key { parts: &parts, keys: &[c], reps: &h.reps, strings_by_rank: false }, h.groups)?;
    let word = ctx.alloc(n * 4)?;
    ctx.launch(
        Kernel::new("sort_keys", "sort_key_rank"),
        LaunchConfig::for_elems(n, BLOCK),
        &[
            (&h.group_of_row).into(),
            (&rank).into(),
            KernelArg::from(c.validity().map(|v| &**v)),
            KernelArg::U64(n as u64),
            KernelArg::U32(h.groups as u32),
            KernelArg::U32(key.descending as u32),
            (&word).into(),
        ],
    )?;
    out.push((word, KeyWidth::U32, bits_below(h.groups)));
    Ok(())
}

/// The longest string of a utf8 column, in bytes (one launch and one readback).
fn str_max_len(ctx: &ExecContext, c: &DeviceColumn) -> Result<usize> {
    let n = c.len();
    if n == 0 {
        return Ok(0);
    }
    let max = ctx.alloc_zeroed(8)?;
    ctx.launch(
        Kernel::new("sort_keys", "str_max_len"),
        LaunchConfig::for_elems(n, BLOCK),
        &[(&**c.utf8_offsets()?).into(), KernelArg::U64(n as u64), (&max).into()],
    )?;
    // Size readback: the number of key words depends on the longest string.
    Ok(ctx.download::<u64>(&max, 1)?[0] as usize)
}

/// Appends the key words of one key column, most significant first (as `(keys, width, bits)`);
/// the null word only where the column has nulls, unless `force_null_word` (two columns' words
/// then line up whatever their validity).
pub(crate) fn key_words(
    ctx: &ExecContext,
    c: &DeviceColumn,
    key: &SortKey,
    force_null_word: bool,
    out: &mut Vec<(DeviceBuffer, KeyWidth, u32)>,
) -> Result<()> {
    let n = c.len();
    let cfg = LaunchConfig::for_elems(n, BLOCK);
    let valid = KernelArg::from(c.validity().map(|v| &**v));
    let desc = KernelArg::U32(key.descending as u32);
    if c.validity().is_some() || force_null_word {
        out.push((null_word(ctx, c, key.nulls_last)?, KeyWidth::U32, 1));
    }
    let values: &DeviceBuffer = c.values();
    match c.dtype() {
        DType::Utf8 => {
            let offsets: &DeviceBuffer = c.utf8_offsets()?;
            let max_len = str_max_len(ctx, c)?;
            for word in 0..max_len.div_ceil(8) {
                let w = ctx.alloc(n * 8)?;
                ctx.launch(
                    Kernel::new("sort_keys", "sort_key_str_word"),
                    cfg,
                    &[
                        offsets.into(),
                        values.into(),
                        valid,
                        KernelArg::U64(n as u64),
                        KernelArg::U32(word as u32),
                        desc,
                        (&w).into(),
                    ],
                )?;
                out.push((w, KeyWidth::U64, 64));
            }
            let w = ctx.alloc(n * 8)?;
            ctx.launch(
                Kernel::new("sort_keys", "sort_key_str_len"),
                cfg,
                &[offsets.into(), valid, KernelArg::U64(n as u64), desc, (&w).into()],
            )?;
            let bits = if key.descending { 64 } else { 64 - (max_len as u64).leading_zeros() };
            out.push((w, KeyWidth::U64, bits));
        }
        DType::Bool => {
            let word = ctx.alloc(n * 4)?;
            ctx.launch(
                Kernel::new("sort_keys", "sort_key_bool"),
                cfg,
                &[values.into(), valid, KernelArg::U64(n as u64), desc, (&word).into()],
            )?;
            out.push((word, KeyWidth::U32, 1));
        }
        DType::Decimal128 { precision, .. } if precision <= 18 => {
            let word = ctx.alloc(n * 8)?;
            ctx.launch(
                Kernel::new("sort_keys", "sort_key_dec18"),
                cfg,
                &[values.into(), valid, KernelArg::U64(n as u64), desc, (&word).into()],
            )?;
            out.push((word, KeyWidth::U64, 64));
        }
        DType::Decimal128 { .. } => {
            let (hi, lo) = (ctx.alloc(n * 8)?, ctx.alloc(n * 8)?);
            ctx.launch(
                Kernel::new("sort_keys", "sort_key_dec"),
                cfg,
                &[values.into(), valid, KernelArg::U64(n as u64), desc, (&hi).into(), (&lo).into()],
            )?;
            out.push((hi, KeyWidth::U64, 64));
            out.push((lo, KeyWidth::U64, 64));
        }
        t => {
            let prim = t.prim().ok_or_else(|| Error::Internal(format!("sort key of type {t}")))?;
            let width = if prim.width() <= 4 { KeyWidth::U32 } else { KeyWidth::U64 };
            let word = ctx.alloc(n * width.bytes())?;
            ctx.launch(
                Kernel::named("sort_keys", &format!("sort_key_{}", prim.suffix())),
                cfg,
                &[values.into(), valid, KernelArg::U64(n as u64), desc, (&word).into()],
            )?;
            out.push((word, width, 8 * prim.width() as u32));
        }
    }
    Ok(())
}

/// A column's 1-bit null word (0 for null with nulls first, 1 with `nulls_last`).
fn null_word(ctx: &ExecContext, c: &DeviceColumn, nulls_last: bool) -> Result<DeviceBuffer> {
    let n = c.len();
    let word = ctx.alloc(n * 4)?;
    ctx.launch(
        Kernel::new("sort_keys", "sort_null_key"),
        LaunchConfig::for_elems(n, BLOCK),
        &[
            KernelArg::from(c.validity().map(|v| &**v)),
            KernelArg::U64(n as u64),
            KernelArg::U32(nulls_last as u32),
            (&word).into(),
        ],
    )?;
    Ok(word)
}

/// One part of a row key for the device hash table ([`KeyPart`]): a key word it owns, or a
/// utf8 column hashed and compared by its bytes.
pub(crate) enum Part<'a> {
    Word(DeviceBuffer, KeyWidth),
    Utf8(&'a DeviceColumn),
}

/// Appends the hash-table parts of one key column (ascending, nulls first): the null word where
/// the column has nulls (always with `force_null_word`), then a utf8 column itself (one part
/// whatever its length, no longest-string readback) or the sort's value words of other types.
pub(crate) fn key_parts<'a>(
    ctx: &ExecContext,
    c: &'a DeviceColumn,
    force_null_word: bool,
    out: &mut Vec<Part<'a>>,
) -> Result<()> {
    if c.dtype() != DType::Utf8 {
        let mut words = Vec::new();
        key_words(ctx, c, &SortKey::new(crate::expr::col("key")), force_null_word, &mut words)?;
        out.extend(words.into_iter().map(|(w, width, _)| Part::Word(w, width)));
        return Ok(());
    }
    if c.validity().is_some() || force_null_word {
        out.push(Part::Word(null_word(ctx, c, false)?, KeyWidth::U32));
    }
    out.push(Part::Utf8(c));
    Ok(())
}

/// The parts as the hash table's [`KeyPart`]s.
pub(crate) fn as_key_parts<'b>(parts: &'b [Part<'_>]) -> Result<Vec<KeyPart<'b>>> {
    parts
        .iter()
        .map(|p| {
            Ok(match p {
                Part::Word(keys, width) => KeyPart::Word(KeyWord::full(keys, *width)),
                Part::Utf8(c) => KeyPart::Utf8 { offsets: c.utf8_offsets()?, bytes: c.values() },
            })
        })
        .collect()
}
