//! The GPU's join (CUDA and Sim), hash-based: both sides' keys as hash-table parts (a null word
//! per key column, so the sides line up, then the sort's value words, or a utf8 column whole,
//! compared by its bytes: no longest-string readback). The smaller side's rows go into the
//! device hash table (`primitives::hash_table::group_rows_bounded`: a dense group number per
//! distinct key, their count bounded by the side's rows rather than read back: a join's table
//! side is usually a primary key, all distinct, so the bound costs no radix pass). Right side
//! smaller: the right rows are stably sorted by their group number (ceil(log2 bound) radix bits)
//! and each left row probes the table for its key's range.
//! Left side smaller: each right row probes for the left group its key hits, the right rows are
//! stably sorted by that group (misses last), and each left row reads its group's range. Either
//! way each left row's matches are one range of right rows in right row order, so the documented
//! output order (left rows in order, each one's matches in right row order) holds on both
//! paths; a scan of the counts sizes the output (the one readback) and the pair write follows
//! (`kernels/join.cu`).
use super::{JoinArgs, JoinType};
use crate::executor::Indices;
use crate::executor::{Executor, GpuExecutor};
use crate::sort::gpu::{as_key_parts, key_parts, Part};
use ember_core::{Column, DataFrame, DeviceColumn, Error, Result};
use ember_gpu::primitives::compact::compact_indices;
use ember_gpu::primitives::hash_table::{group_rows_bounded, sort_by_group, word_table, MAX_KEY_WORDS};
use ember_gpu::primitives::scan::{exclusive_scan, ScanType};
use ember_gpu::primitives::BLOCK;
use ember_gpu::{DeviceBuffer, ExecContext, Kernel, KernelArg, LaunchConfig};
use std::sync::Arc;

/// The hash-table parts of `names` in `df` (always with a null word, so both sides' parts line
/// up whatever their validity), and the mask of which parts are null words.
fn parts_of<'a>(df: &'a DataFrame, ctx: &ExecContext, names: &[String]) -> Result<(Vec<Part<'a>>, u32)> {
    let mut parts = Vec::new();
    let mut null_words = 0u32;
    for n in names {
        null_words |= 1 << parts.len().min(31); // `key_parts` pushes the null word first
        key_parts(ctx, df.column(n)?.as_device()?, true, &mut parts)?;
    }
    if parts.len() > MAX_KEY_WORDS {
        return Err(Error::Unsupported(format!(
            "a GPU join key of {} parts (at most {MAX_KEY_WORDS}: a null word and one or two value parts per \
             column, about six columns)",
            parts.len()
        )));
    }
    Ok((parts, null_words))
}

pub(crate) fn join_indices(
    ctx: &ExecContext,
    left: &DataFrame,
    right: &DataFrame,
    args: &JoinArgs,
) -> Result<(Indices, Option<Indices>)> {
    let (nl, nr) = (left.num_rows(), right.num_rows());
    let (lp, null_words) = parts_of(left, ctx, &args.left_on)?;
    let (rp, _) = parts_of(right, ctx, &args.right_on)?;
    let (left_words, right_words) = (as_key_parts(&lp)?, as_key_parts(&rp)?);
    let (lt, wide) = word_table(&left_words)?;
    let (rt, _) = word_table(&right_words)?;
    let skip_nulls = KernelArg::U32(u32::from(!args.nulls_equal));
    let (lo, count) = (ctx.alloc(nl * 4)?, ctx.alloc(nl * 4)?);
    let rows = LaunchConfig::for_elems(nl, BLOCK);
    // Each left row's matches end up as one range (`lo`, `count`) of the right rows sorted by a
    // group number (`right_perm`), whichever side the table holds.
    let right_perm = if nl < nr {
        // The table holds the smaller left side (fewer slots to claim, a table more likely to
        // stay in cache while the right rows probe it); each right row finds its left group.
        let table = group_rows_bounded(ctx, &left_words, nl)?;
        let right_group = ctx.alloc(nr * 4)?;
        if nl > 0 {
            ctx.launch(
                Kernel::new("join", "join_probe_group"),
                LaunchConfig::for_elems(nr, BLOCK),
                &[
                    KernelArg::Struct(&rt),
                    KernelArg::Struct(&lt),
                    KernelArg::U32(rp.len() as u32),
                    KernelArg::U32(wide),
                    KernelArg::U32(null_words),
                    skip_nulls,
                    KernelArg::U64(nr as u64),
                    (&table.table).into(),
                    KernelArg::U64(table.slots as u64 - 1),
                    (&table.group_of_row).into(),
                    KernelArg::U32(table.groups as u32),
                    (&right_group).into(),
                ],
            )?;
        } else {
            ctx.fill_bytes(&right_group, 0)?; // no left rows: every right row misses (group 0 of 0)
        }
        // One more group than the table has: right rows that hit no left row sort last.
        let (right_perm, starts) = sort_by_group(ctx, &right_group, table.groups + 1, nr)?;
        if nl > 0 {
            ctx.launch(
                Kernel::new("join", "join_group_ranges"),
                rows,
                &[
                    (&table.group_of_row).into(),
                    (&starts).into(),
                    KernelArg::U64(nl as u64),
                    (&lo).into(),
                    (&count).into(),
                ],
            )?;
        }
        right_perm
    } else {
        let table = group_rows_bounded(ctx, &right_words, nr)?;
        let (right_perm, starts) = sort_by_group(ctx, &table.group_of_row, table.groups, nr)?;
        if nl > 0 {
            ctx.launch(
                Kernel::new("join", "join_probe"),
                rows,
                &[
                    KernelArg::Struct(&lt),
                    KernelArg::Struct(&rt),
                    KernelArg::U32(lp.len() as u32),
                    KernelArg::U32(wide),
                    KernelArg::U32(null_words),
                    skip_nulls,
                    KernelArg::U64(nl as u64),
                    (&table.table).into(),
                    KernelArg::U64(table.slots as u64 - 1),
                    (&table.group_of_row).into(),
                    (&starts).into(),
                    (&lo).into(),
                    (&count).into(),
                ],
            )?;
        }
        right_perm
    };
    match args.how {
        JoinType::Inner | JoinType::Left => {
            let outer = args.how == JoinType::Left;
            let outer_sizes;
            let sizes = if outer {
                outer_sizes = ctx.alloc(nl * 4)?;
                if nl > 0 {
                    ctx.launch(
                        Kernel::new("join", "join_outer_counts"),
                        rows,
                        &[(&count).into(), KernelArg::U64(nl as u64), (&outer_sizes).into()],
                    )?;
                }
                &outer_sizes
            } else {
                &count
            };
            // Size readback: the number of pairs sizes both gather maps.
            let (offsets, total) = exclusive_scan(ctx, sizes, nl, ScanType::U32)?;
            let total = total as usize;
            let (out_l, out_r) = (ctx.alloc(total * 4)?, ctx.alloc(total * 4)?);
            if nl > 0 {
                ctx.launch(
                    Kernel::new("join", "join_write"),
                    rows,
                    &[
                        (&lo).into(),
                        (&count).into(),
                        (&offsets).into(),
                        (&right_perm).into(),
                        KernelArg::U64(nl as u64),
                        KernelArg::U32(u32::from(outer)),
                        (&out_l).into(),
                        (&out_r).into(),
                    ],
                )?;
            }
            Ok((Indices::Device { buf: out_l, len: total }, Some(Indices::Device { buf: out_r, len: total })))
        }
        JoinType::Semi | JoinType::Anti => {
            let mask = ctx.alloc_zeroed(nl.div_ceil(32).max(1) * 4)?;
            if nl > 0 {
                ctx.launch(
                    Kernel::new("join", "join_keep_mask"),
                    rows,
                    &[
                        (&count).into(),
                        KernelArg::U64(nl as u64),
                        KernelArg::U32(u32::from(args.how == JoinType::Anti)),
                        (&mask).into(),
                    ],
                )?;
            }
            let (buf, len) = compact_indices(ctx, &mask, None, nl)?;
            Ok((Indices::Device { buf, len }, None))
        }
        JoinType::Right | JoinType::Full | JoinType::Cross => {
            Err(Error::Internal(format!("{:?} joins are composed in join/outer.rs", args.how)))
        }
    }
}

/// The right columns of a left outer join's pairs: `idx` holds `u32::MAX` where a left row has no
/// match; those rows come out null (the gathered validity ANDed with the matched bitmap).
pub(crate) fn gather_outer(ctx: &ExecContext, right: &DataFrame, idx: &DeviceBuffer, m: usize) -> Result<DataFrame> {
    if right.num_rows() == 0 {
        // Nothing to gather from: every right value is null.
        let named = right
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), Column::Host(arrow::array::new_null_array(f.data_type(), m))))
            .collect();
        return DataFrame::from_columns(named, ember_core::Device::Cpu)?.to(right.device());
    }
    let words = m.div_ceil(32).max(1);
    let safe = ctx.alloc(m * 4)?;
    let matched = Arc::new(ctx.alloc_zeroed(words * 4)?);
    if m > 0 {
        ctx.launch(
            Kernel::new("join", "join_null_map"),
            LaunchConfig::for_elems(m, BLOCK),
            &[idx.into(), KernelArg::U64(m as u64), (&safe).into(), (&*matched).into()],
        )?;
    }
    let gathered = GpuExecutor::new(ctx).gather(right, &Indices::Device { buf: safe, len: m })?;
    let columns = gathered
        .columns()
        .iter()
        .map(|c| {
            let c = c.as_device()?;
            let validity = match c.validity() {
                None => matched.clone(),
                Some(v) => {
                    let out = ctx.alloc(words * 4)?;
                    ctx.launch(
                        Kernel::new("join", "join_and_bits"),
                        LaunchConfig::for_elems(words, BLOCK),
                        &[(&**v).into(), (&*matched).into(), KernelArg::U64(words as u64), (&out).into()],
                    )?;
                    Arc::new(out)
                }
            };
            let col = DeviceColumn::try_new(
                ctx.gpu().clone(),
                c.dtype(),
                c.arrow_type().clone(),
                m,
                c.values().clone(),
                c.offsets().cloned(),
                Some(validity),
            )?;
            Ok(Column::Device(col))
        })
        .collect::<Result<Vec<_>>>()?;
    gathered.with_columns(columns, m)
}
