//! The GPU's group-by (CUDA and Sim). The keys become hash-table parts (null words, the sort's
//! order-preserving value words, utf8 columns whole); a device hash table over them gives every
//! row a dense group number (one readback: the group count). Keys of more parts than a table
//! takes (more than about twelve columns) are grouped by a stable radix sort of their sort words
//! instead. Then (`kernels/groupby.cu` says more):
//! - at most `GROUPBY_FEW` groups and aggregations that fold (sum, mean, min, max, count, len,
//!   first, last): warp-cooperative folds with no sort at all ([`super::few`]);
//! - otherwise the rows are stably sorted by their group's rank (the groups ordered by key, a
//!   sort of `groups` representatives), which takes ceil(log2 groups) bits instead of every key
//!   byte, and one thread per group folds its rows.
//!
//! Results stay on the device; decimal overflow is flagged in one error word read at the end.
use super::Aggregation;
use crate::executor::gpu::{gather_column, gather_columns};
use crate::expr::{evaluate_in, Expr};
use crate::reduce::{output_type, Agg};
use crate::sort::gpu::{as_key_parts, key_parts, key_words, str_rank_words, Part};
use crate::sort::SortKey;
use ember_core::{Column, DType, DataFrame, DeviceColumn, Error, Field, Result};
use ember_gpu::primitives::compact::{gather_bits, gather_fixed};
use ember_gpu::primitives::hash_table::{self, group_rows, sort_by_group, word_table, RowGroups, MAX_KEY_WORDS};
use ember_gpu::primitives::radix_sort::{argsort, KeyWidth, KeyWord};
use ember_gpu::primitives::scan::{exclusive_scan, ScanType};
use ember_gpu::primitives::{Prim, BLOCK};
use ember_gpu::{abi, DeviceBuffer, ExecContext, Kernel, KernelArg, LaunchConfig};
use std::sync::Arc;

pub(crate) fn group_by(
    ctx: &ExecContext,
    df: &DataFrame,
    keys: &[Expr],
    aggs: &[Aggregation],
    fields: &[Field],
    maintain_order: bool,
) -> Result<DataFrame> {
    let n = df.num_rows();
    let key_cols = keys.iter().map(|k| evaluate_in(Some(ctx), df, k)).collect::<Result<Vec<_>>>()?;
    let value_cols =
        aggs.iter().map(|a| evaluate_in(Some(ctx), df, &super::cpu::value_expr(a))).collect::<Result<Vec<_>>>()?;
    if n == 0 {
        return super::cpu::empty(fields)?.to(df.device());
    }
    let key_devs = key_cols.iter().map(|c| c.as_device()).collect::<Result<Vec<_>>>()?;
    let parts = group_parts(ctx, &key_devs)?;
    let hashed = hash_groups(ctx, &parts, n)?;
    if let Some(h) = &hashed {
        if h.groups <= abi::GROUPBY_FEW as usize && super::few::folds(aggs, &value_cols) {
            let args = super::few::FewArgs { parts: &parts, keys: &key_cols, values: &value_cols, aggs, fields };
            return super::few::group_by(ctx, h, &args, maintain_order, df.device());
        }
    }
    let SortedGroups { words, perm, starts, groups } = match hashed {
        Some(h) => ranked_groups(ctx, &parts, &key_devs, &h, n)?,
        None => sorted_by_words(ctx, group_words(ctx, &key_devs)?, n)?,
    };
    let firsts = gather_fixed(ctx, &perm, 4, &starts, groups)?;

    let mut columns: Vec<(String, Column)> = Vec::with_capacity(fields.len());
    for (c, f) in gather_columns(ctx, &key_devs, &firsts, groups)?.into_iter().zip(fields) {
        columns.push((f.name.clone(), Column::Device(c)));
    }
    let err = ctx.alloc_zeroed(4)?;
    let seg = Segments { ctx, starts: &starts, groups, err: &err };
    for ((a, c), f) in aggs.iter().zip(&value_cols).zip(&fields[keys.len()..]) {
        let c = c.as_device()?;
        let col = match a.agg {
            Agg::First => Some(gather_column(ctx, c, &firsts, groups)?),
            Agg::Last => Some(gather_column(ctx, c, &last_rows(ctx, &perm, &starts, groups)?, groups)?),
            Agg::NUnique => Some(seg.distinct_counts(&words, c, n, f)?),
            Agg::Median => Some(seg.order_statistic(&words, c, n, f, Kernel::new("groupby", "seg_median_f64"), &[])?),
            Agg::Quantile(q) => Some(seg.order_statistic(
                &words,
                c,
                n,
                f,
                Kernel::new("groupby", "seg_quantile_f64"),
                &[KernelArg::F64(q.q()), KernelArg::U32(q.interpolation.code())],
            )?),
            _ => None,
        };
        if let Some(col) = col {
            columns.push((f.name.clone(), Column::Device(col)));
            continue;
        }
        if matches!(a.agg, Agg::Count | Agg::Len) {
            // Counts read only validity (no values gather; any type, utf8 included).
            let valid = match (a.agg, c.validity()) {
                (Agg::Count, Some(v)) => Some(gather_bits(ctx, v, &perm, n)?),
                _ => None,
            };
            let counts = seg.counts(a.agg, valid.as_ref())?;
            columns.push((f.name.clone(), Column::Device(seg.column(f, counts, None)?)));
            continue;
        }
        let prim = c.dtype().prim().ok_or_else(|| {
            Error::Unsupported(format!("{:?} of a {} column in a GPU group_by", a.agg, c.dtype()).to_lowercase())
        })?;
        let values = gather_fixed(ctx, c.values(), prim.width(), &perm, n)?;
        let valid = c.validity().map(|v| gather_bits(ctx, v, &perm, n)).transpose()?;
        let (out, validity) = seg.fold(a.agg, c.dtype(), prim, &values, valid.as_ref(), f)?;
        columns.push((f.name.clone(), Column::Device(seg.column(f, out, validity)?)));
    }
    check_overflow(ctx, &err)?;
    if maintain_order {
        // Groups by their first row: sort the first rows' numbers, reorder every column.
        let order = argsort(ctx, &[KeyWord { keys: &firsts, width: KeyWidth::U32, bits: bits_below(n) }], groups)?;
        let devs = columns.iter().map(|(_, c)| c.as_device()).collect::<Result<Vec<_>>>()?;
        let reordered = gather_columns(ctx, &devs, &order, groups)?;
        for ((_, c), r) in columns.iter_mut().zip(reordered) {
            *c = Column::Device(r);
        }
    }
    DataFrame::from_columns(columns, df.device())
}

/// Rows grouped on the GPU: their stable order by the key words, each group's first position in
/// that order (and `n` after the last), the group count, and the key words (for second sorts).
pub(crate) struct SortedGroups {
    pub words: KeyWords,
    pub perm: DeviceBuffer,
    pub starts: DeviceBuffer,
    pub groups: usize,
}

/// Groups rows `0..n` (n > 0) by the values of `keys`, in key order: hashed, then sorted by
/// group rank; or, for keys of many parts, sorted by their words.
pub(crate) fn sorted_groups(ctx: &ExecContext, keys: &[&DeviceColumn], n: usize) -> Result<SortedGroups> {
    let parts = group_parts(ctx, keys)?;
    match hash_groups(ctx, &parts, n)? {
        Some(h) => ranked_groups(ctx, &parts, keys, &h, n),
        None => sorted_by_words(ctx, group_words(ctx, keys)?, n),
    }
}

/// The order-preserving sort words of `keys` (ascending, nulls first): equal words, equal keys.
fn group_words(ctx: &ExecContext, keys: &[&DeviceColumn]) -> Result<KeyWords> {
    let mut words = Vec::new();
    for c in keys {
        key_words(ctx, c, &SortKey::new(crate::expr::col("key")), false, &mut words)?;
    }
    Ok(words)
}

/// The hash-table parts of `keys` (ascending, nulls first).
fn group_parts<'a>(ctx: &ExecContext, keys: &[&'a DeviceColumn]) -> Result<Vec<Part<'a>>> {
    let mut parts = Vec::new();
    for c in keys {
        key_parts(ctx, c, false, &mut parts)?;
    }
    Ok(parts)
}

/// The words as a radix sort's key words.
fn as_key_words(words: &KeyWords) -> Vec<KeyWord<'_>> {
    words.iter().map(|(keys, width, bits)| KeyWord { keys, width: *width, bits: *bits }).collect()
}

/// The rows grouped by a device hash table over their key parts; `None` where the parts are
/// more than a table takes (or the rows more than it holds).
fn hash_groups(ctx: &ExecContext, parts: &[Part<'_>], n: usize) -> Result<Option<RowGroups>> {
    if parts.len() > MAX_KEY_WORDS || n > hash_table::MAX_ROWS {
        return Ok(None);
    }
    Ok(Some(group_rows(ctx, &as_key_parts(parts)?, n)?))
}

/// How [`group_ranks`] orders the hashed groups.
pub(crate) enum RankBy<'a, 'c> {
    /// By key (ascending, nulls first): the key parts and columns of the rows, and each group's
    /// representative row.
    ///
    /// `strings_by_rank`: more groups than one launch ranks sort their representatives' utf8
    /// keys by each string's rank among the distinct strings (`sort::gpu`'s rank words: TPC-H
    /// Q16's 18K groups of 25 brands and 150 types take 2 radix passes per string key, not 8 per
    /// 8 bytes); false where the caller is that ranking of one string column itself.
    Key { parts: &'a [Part<'c>], keys: &'a [&'c DeviceColumn], reps: &'a DeviceBuffer, strings_by_rank: bool },
    /// By each group's first row.
    FirstRow(&'a DeviceBuffer),
}

/// Each hashed group's rank. Up to `GROUPBY_SMALL_RANK` groups, one launch compares every pair
/// (by their representatives' key parts, or their first rows); more groups (key order only)
/// radix-sort their representatives' sort words.
pub(crate) fn group_ranks(ctx: &ExecContext, by: RankBy<'_, '_>, groups: usize) -> Result<DeviceBuffer> {
    let rank = ctx.alloc(groups.max(1) * 4)?;
    if groups <= abi::GROUPBY_SMALL_RANK as usize {
        let (parts, rows) = match by {
            RankBy::Key { parts, reps, .. } => (as_key_parts(parts)?, reps),
            RankBy::FirstRow(first) => (Vec::new(), first),
        };
        let (table, wide) = word_table(&parts)?;
        ctx.launch(
            Kernel::new("groupby", "gb_rank_small"),
            LaunchConfig::for_elems(groups, BLOCK),
            &[
                KernelArg::Struct(&table),
                KernelArg::U32(parts.len() as u32),
                KernelArg::U32(wide),
                rows.into(),
                KernelArg::U64(groups as u64),
                (&rank).into(),
            ],
        )?;
        return Ok(rank);
    }
    let RankBy::Key { keys, reps, strings_by_rank, .. } = by else {
        return Err(Error::Internal(format!("first-row order of {groups} hashed groups")));
    };
    let rep_keys = gather_columns(ctx, keys, reps, groups)?;
    let mut words = Vec::new();
    for c in &rep_keys {
        let asc = SortKey::new(crate::expr::col("key"));
        if strings_by_rank && c.dtype() == DType::Utf8 {
            str_rank_words(ctx, c, &asc, &mut words)?;
        } else {
            key_words(ctx, c, &asc, false, &mut words)?;
        }
    }
    let order = argsort(ctx, &as_key_words(&words), groups)?;
    invert(ctx, &order, groups, &rank)?;
    Ok(rank)
}

/// `out[perm[j]] = j` for a permutation of `0..groups` (rank from order, and order from rank).
pub(crate) fn invert(ctx: &ExecContext, perm: &DeviceBuffer, groups: usize, out: &DeviceBuffer) -> Result<()> {
    ctx.launch(
        Kernel::new("groupby", "gb_invert"),
        LaunchConfig::for_elems(groups, BLOCK),
        &[perm.into(), KernelArg::U64(groups as u64), out.into()],
    )?;
    Ok(())
}

/// Reads the group-by's decimal-overflow word (one readback): an `Overflow` error if any
/// kernel set it.
pub(crate) fn check_overflow(ctx: &ExecContext, err: &DeviceBuffer) -> Result<()> {
    if ctx.download::<u32>(err, 1)?[0] != 0 {
        return Err(Error::Overflow("sum of decimals in group_by: a group's total exceeds 38 digits".into()));
    }
    Ok(())
}

/// Means from per-group sums (of `acc` type, over an `input` column) and valid-row counts, as
/// the CPU engine finishes them: the sum / 10^scale / count, null where a group has no valid
/// row. Returns the f64 means and their validity.
pub(crate) fn finish_means(
    ctx: &ExecContext,
    input: DType,
    acc: Prim,
    sums: &DeviceBuffer,
    counts: &DeviceBuffer,
    groups: usize,
) -> Result<(DeviceBuffer, Option<DeviceBuffer>)> {
    let p10 = match input {
        DType::Decimal128 { scale, .. } => 10f64.powi(scale as i32),
        _ => 1.0,
    };
    let means = ctx.alloc(groups.max(1) * 8)?;
    let bits = ctx.alloc_zeroed(groups.div_ceil(32).max(1) * 4)?;
    ctx.launch(
        Kernel::named("groupby", &format!("seg_mean_{}", acc.suffix())),
        LaunchConfig::for_elems(groups, BLOCK),
        &[
            sums.into(),
            counts.into(),
            KernelArg::U64(groups as u64),
            KernelArg::F64(p10),
            (&means).into(),
            (&bits).into(),
        ],
    )?;
    Ok((means, Some(bits)))
}

/// Bits that hold every number below `n`.
pub(crate) fn bits_below(n: usize) -> u32 {
    (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1)
}

/// The hashed groups as sorted segments: each row's rank (its group's position in key order),
/// the rows stably sorted by rank (ceil(log2 groups) bits), and where each rank starts. No
/// readback: the group count is known.
fn ranked_groups(
    ctx: &ExecContext,
    parts: &[Part<'_>],
    keys: &[&DeviceColumn],
    h: &RowGroups,
    n: usize,
) -> Result<SortedGroups> {
    let groups = h.groups;
    let rank = group_ranks(ctx, RankBy::Key { parts, keys, reps: &h.reps, strings_by_rank: true }, groups)?;
    let row_rank = gather_fixed(ctx, &rank, 4, &h.group_of_row, n)?;
    let (perm, starts) = sort_by_group(ctx, &row_rank, groups, n)?;
    let bits = bits_below(groups);
    Ok(SortedGroups { words: vec![(row_rank, KeyWidth::U32, bits)], perm, starts, groups })
}

/// Groups rows `0..n` (n > 0) by `words`: a stable radix sort by them, boundaries where a word
/// changes, and a scan for the group count (the one size readback).
fn sorted_by_words(ctx: &ExecContext, words: KeyWords, n: usize) -> Result<SortedGroups> {
    let perm = argsort(ctx, &as_key_words(&words), n)?;
    let flags = ctx.alloc_zeroed(n * 4)?;
    let rows = LaunchConfig::for_elems(n, BLOCK);
    mark_changes(ctx, &words, &perm, n, &flags)?;
    // Size readback: the number of groups sizes every output.
    let (scan, groups) = exclusive_scan(ctx, &flags, n, ScanType::U32)?;
    let groups = groups as usize;
    let starts = ctx.alloc((groups + 1) * 4)?;
    ctx.launch(
        Kernel::new("groupby", "segment_starts"),
        rows,
        &[(&flags).into(), (&scan).into(), KernelArg::U64(n as u64), (&starts).into()],
    )?;
    Ok(SortedGroups { words, perm, starts, groups })
}

/// Sets `flags[i]` where any of `words`, in `perm` order, differs from the row before (and at 0).
fn mark_changes(
    ctx: &ExecContext,
    words: &KeyWords,
    perm: &DeviceBuffer,
    n: usize,
    flags: &DeviceBuffer,
) -> Result<()> {
    for (buf, width, _) in words {
        let sorted = gather_fixed(ctx, buf, width.bytes(), perm, n)?;
        let k = if *width == KeyWidth::U32 { "mark_changes_u32" } else { "mark_changes_u64" };
        ctx.launch(
            Kernel::new("groupby", k),
            LaunchConfig::for_elems(n, BLOCK),
            &[(&sorted).into(), KernelArg::U64(n as u64), flags.into()],
        )?;
    }
    Ok(())
}

/// The last sorted row of each group, as an input row number.
pub(crate) fn last_rows(
    ctx: &ExecContext,
    perm: &DeviceBuffer,
    starts: &DeviceBuffer,
    groups: usize,
) -> Result<DeviceBuffer> {
    let last = ctx.alloc(groups.max(1) * 4)?;
    ctx.launch(
        Kernel::new("groupby", "segment_lasts"),
        LaunchConfig::for_elems(groups, BLOCK),
        &[perm.into(), starts.into(), KernelArg::U64(groups as u64), (&last).into()],
    )?;
    Ok(last)
}

/// The groups of the sorted rows, and where their kernels report decimal overflow.
struct Segments<'a> {
    ctx: &'a ExecContext,
    starts: &'a DeviceBuffer,
    groups: usize,
    err: &'a DeviceBuffer,
}

type KeyWords = Vec<(DeviceBuffer, KeyWidth, u32)>;

impl Segments<'_> {
    fn cfg(&self) -> LaunchConfig {
        LaunchConfig::for_elems(self.groups, BLOCK)
    }

    /// `median` per group (of an f64 column): a second stable radix sort by the keys' words and
    /// then the value's (nulls first within a group) puts each group's values in order; the
    /// kernel reads the middle of the valid ones.
    /// A statistic of each group's sorted valid values (median, quantile): the rows sorted by
    /// (keys, value), the values gathered, then `kernel(sorted, valid, starts, groups, params...,
    /// out, out_valid)`.
    fn order_statistic(
        &self,
        group_words: &KeyWords,
        c: &DeviceColumn,
        n: usize,
        out: &Field,
        kernel: Kernel,
        params: &[KernelArg<'_>],
    ) -> Result<DeviceColumn> {
        let ctx = self.ctx;
        let (perm, _) = self.sort_within_groups(group_words, c, true, n)?;
        let values = gather_fixed(ctx, c.values(), 8, &perm, n)?;
        let valid = c.validity().map(|v| gather_bits(ctx, v, &perm, n)).transpose()?;
        let res = ctx.alloc(self.groups * 8)?;
        let bits = self.bitmap()?;
        let mut args: Vec<KernelArg<'_>> =
            vec![(&values).into(), valid.as_ref().into(), self.starts.into(), KernelArg::U64(self.groups as u64)];
        args.extend(params.iter().cloned());
        args.push((&res).into());
        args.push((&bits).into());
        ctx.launch(kernel, self.cfg(), &args)?;
        self.column(out, res, Some(bits))
    }

    /// A stable radix sort by the group keys' words and then `c`'s: each group's rows keep their
    /// positions (the keys sort the same way) and come in value order. Returns the order and
    /// `c`'s words.
    fn sort_within_groups(
        &self,
        group_words: &KeyWords,
        c: &DeviceColumn,
        null_word: bool,
        n: usize,
    ) -> Result<(DeviceBuffer, KeyWords)> {
        let mut value_words = Vec::new();
        key_words(self.ctx, c, &SortKey::new(crate::expr::col("value")), null_word, &mut value_words)?;
        let all: Vec<KeyWord> = group_words
            .iter()
            .chain(&value_words)
            .map(|(keys, width, bits)| KeyWord { keys, width: *width, bits: *bits })
            .collect();
        Ok((argsort(self.ctx, &all, n)?, value_words))
    }

    /// An output column of the groups.
    fn column(&self, out: &Field, values: DeviceBuffer, validity: Option<DeviceBuffer>) -> Result<DeviceColumn> {
        let (gpu, t) = (self.ctx.gpu().clone(), out.dtype);
        DeviceColumn::try_new(gpu, t, t.to_arrow(), self.groups, Arc::new(values), None, validity.map(Arc::new))
    }

    /// `n_unique` per group: a second stable radix sort by the group keys' words and then the
    /// value's puts each group's rows (at the same positions, the keys sorting the same way) in
    /// value order; a row whose value words differ from the previous row's starts a new value.
    fn distinct_counts(&self, group_words: &KeyWords, c: &DeviceColumn, n: usize, out: &Field) -> Result<DeviceColumn> {
        let ctx = self.ctx;
        let (perm, value_words) = self.sort_within_groups(group_words, c, false, n)?;
        let flags = ctx.alloc_zeroed(n * 4)?;
        mark_changes(ctx, &value_words, &perm, n, &flags)?;
        let counts = ctx.alloc(self.groups * 8)?;
        ctx.launch(
            Kernel::new("groupby", "seg_count_changes"),
            self.cfg(),
            &[(&flags).into(), self.starts.into(), KernelArg::U64(self.groups as u64), (&counts).into()],
        )?;
        self.column(out, counts, None)
    }

    /// A zeroed validity bitmap for the groups.
    fn bitmap(&self) -> Result<DeviceBuffer> {
        Ok(self.ctx.alloc_zeroed(self.groups.div_ceil(32).max(1) * 4)?)
    }

    /// `agg` of each group's sorted `values`: the output values and validity (None: no nulls).
    /// Rows per group (`len`) or valid rows per group (`count`, from the gathered validity): the
    /// values themselves are not needed, so any column type works.
    fn counts(&self, agg: Agg, valid: Option<&DeviceBuffer>) -> Result<DeviceBuffer> {
        let valid = if agg == Agg::Len { None } else { valid };
        let counts = self.ctx.alloc(self.groups * 8)?;
        self.ctx.launch(
            Kernel::named("groupby", "seg_count"),
            self.cfg(),
            &[valid.into(), self.starts.into(), KernelArg::U64(self.groups as u64), (&counts).into()],
        )?;
        Ok(counts)
    }

    fn fold(
        &self,
        agg: Agg,
        input: DType,
        prim: Prim,
        values: &DeviceBuffer,
        valid: Option<&DeviceBuffer>,
        out: &Field,
    ) -> Result<(DeviceBuffer, Option<DeviceBuffer>)> {
        let (ctx, g) = (self.ctx, KernelArg::U64(self.groups as u64));
        let k = |name: String| Kernel::named("groupby", &name);
        match agg {
            Agg::Count | Agg::Len => Ok((self.counts(agg, valid)?, None)),
            Agg::Var | Agg::Std => {
                let res = ctx.alloc(self.groups * 8)?;
                let bits = self.bitmap()?;
                ctx.launch(
                    k("seg_var_f64".into()),
                    self.cfg(),
                    &[
                        values.into(),
                        valid.into(),
                        self.starts.into(),
                        g,
                        KernelArg::U32((agg == Agg::Std) as u32),
                        (&res).into(),
                        (&bits).into(),
                    ],
                )?;
                Ok((res, Some(bits)))
            }
            Agg::NUnique | Agg::First | Agg::Last | Agg::Median | Agg::Quantile(_) => {
                Err(Error::Internal(format!("{agg:?} folded per segment")))
            }
            Agg::Min | Agg::Max => {
                let res = ctx.alloc(self.groups * prim.width())?;
                let bits = self.bitmap()?;
                let name = format!("seg_{}_{}", if agg == Agg::Min { "min" } else { "max" }, prim.suffix());
                ctx.launch(
                    k(name),
                    self.cfg(),
                    &[values.into(), valid.into(), self.starts.into(), g, (&res).into(), (&bits).into()],
                )?;
                Ok((res, Some(bits)))
            }
            Agg::Sum | Agg::Mean => {
                let acc = if agg == Agg::Sum { out.dtype } else { output_type(Agg::Sum, input)? };
                let acc_prim = acc.prim().ok_or_else(|| Error::Internal(format!("sum into {acc}")))?;
                let sums = ctx.alloc(self.groups * acc_prim.width())?;
                let counts = if agg == Agg::Mean { Some(ctx.alloc(self.groups * 8)?) } else { None };
                ctx.launch(
                    k(format!("seg_sum_{}", prim.suffix())),
                    self.cfg(),
                    &[
                        values.into(),
                        valid.into(),
                        self.starts.into(),
                        g,
                        (&sums).into(),
                        counts.as_ref().into(),
                        self.err.into(),
                    ],
                )?;
                let Some(counts) = counts else { return Ok((sums, None)) };
                finish_means(ctx, input, acc_prim, &sums, &counts, self.groups)
            }
        }
    }
}
