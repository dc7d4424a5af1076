//! The CPU engine's join: a hash table from one side's keys to its rows in order, probed by the
//! other side in parallel chunks. Fixed-width keys that fit 128 bits are read in place and packed
//! per row into one `u64` or `u128` word (`keys.rs`; rows with a null key are skipped) and looked
//! up in a partitioned open-addressing table built in parallel (`table.rs`); the table goes on the
//! smaller side where the output order allows (see `packed_join`). Semi and anti joins whose
//! right keys span a small range test a bitmap of them instead (`bitmap_semi_join`). Other keys
//! (strings, wide decimals, `nulls_equal`) go through arrow-rs's row format (one converter, so
//! equal keys have equal bytes), built on the right. A filter below a join can be fused into it:
//! its mask selects the rows that take part, and the filtered frame is never materialised.
use super::keys::{KeyWord, Keys};
use super::table::{Table, NONE};
use super::{JoinArgs, JoinType};
use crate::executor::Indices;
use arrow::array::{Array, ArrayRef, UInt32Array};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::row::{Row, RowConverter, SortField};
use ember_core::{DataFrame, Result};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// The gather maps of `left ⋈ right` over the `selected` rows of each side (all when `None`): as
/// if the frames had been filtered first, but with row numbers into the unfiltered frames.
pub(crate) fn join_indices(
    left: &DataFrame,
    right: &DataFrame,
    args: &JoinArgs,
    selected: [Option<&BooleanBuffer>; 2],
) -> Result<(Indices, Option<Indices>)> {
    let arrays = |df: &DataFrame, names: &[String]| -> Result<Vec<ArrayRef>> {
        names.iter().map(|n| Ok(df.column(n)?.as_host()?.clone())).collect()
    };
    let (la, ra) = (arrays(left, &args.left_on)?, arrays(right, &args.right_on)?);
    let [lsel, rsel] = selected;
    // A side whose fused filter keeps few rows (Q14: 76K of 6M `lineitem` rows) joins on its
    // selected keys alone, gathered first: the hash table's per-row chain array and its
    // partition pass then cover those rows, not the whole input. Its row numbers map back.
    let (lc, rc) = (compact(&la, lsel)?, compact(&ra, rsel)?);
    if lc.is_some() || rc.is_some() {
        fn side<'a>(
            c: &Option<(Vec<ArrayRef>, Vec<u32>)>,
            a: &[ArrayRef],
            n: usize,
            sel: Option<&'a BooleanBuffer>,
        ) -> (Vec<ArrayRef>, usize, Option<&'a BooleanBuffer>) {
            match c {
                Some((keys, rows)) => (keys.clone(), rows.len(), None),
                None => (a.to_vec(), n, sel),
            }
        }
        let (la2, ln, lsel2) = side(&lc, &la, left.num_rows(), lsel);
        let (ra2, rn, rsel2) = side(&rc, &ra, right.num_rows(), rsel);
        let (li, ri) = join_arrays(&la2, ln, lsel2, &ra2, rn, rsel2, args)?;
        let back = |i: Indices, c: &Option<(Vec<ArrayRef>, Vec<u32>)>| match c {
            Some((_, rows)) => renumber(i, rows),
            None => i,
        };
        return Ok((back(li, &lc), ri.map(|r| back(r, &rc))));
    }
    join_arrays(&la, left.num_rows(), lsel, &ra, right.num_rows(), rsel, args)
}

/// A side joins on its selected rows alone (gathered) when a fused filter kept fewer than one
/// row in this many.
const COMPACT_BELOW: usize = 8;

/// `arrays` at the rows `selected` keeps, and those rows, when it keeps few of them.
fn compact(arrays: &[ArrayRef], selected: Option<&BooleanBuffer>) -> Result<Option<(Vec<ArrayRef>, Vec<u32>)>> {
    let Some(sel) = selected.filter(|s| s.count_set_bits() * COMPACT_BELOW < s.len()) else { return Ok(None) };
    let rows = crate::filter::set_rows(sel);
    let idx = UInt32Array::from(rows.clone());
    // The row numbers checked once for every key column.
    let gather = crate::executor::cpu_gather::RowNumbers::new(&idx, sel.len());
    let keys = arrays.iter().map(|a| gather.take(a)).collect::<Result<Vec<_>>>()?;
    Ok(Some((keys, rows)))
}

/// Row numbers into a compacted side made row numbers into the whole side (`NONE`, a left
/// join's missing right row, stays).
fn renumber(i: Indices, rows: &[u32]) -> Indices {
    let Indices::Host(a) = i else { return i };
    let values: Vec<u32> = a.values().iter().map(|&v| if v == NONE { NONE } else { rows[v as usize] }).collect();
    Indices::Host(UInt32Array::new(values.into(), a.nulls().cloned()))
}

/// [`join_indices`] over key arrays of `ln` and `rn` rows.
#[allow(clippy::too_many_arguments)]
fn join_arrays(
    la: &[ArrayRef],
    ln: usize,
    lsel: Option<&BooleanBuffer>,
    ra: &[ArrayRef],
    rn: usize,
    rsel: Option<&BooleanBuffer>,
    args: &JoinArgs,
) -> Result<(Indices, Option<Indices>)> {
    if !args.nulls_equal {
        if let (Some(lk), Some(rk)) = (Keys::new(la, ln, lsel), Keys::new(ra, rn, rsel)) {
            return Ok(fixed_width_join(&lk, &rk, args.how));
        }
    }
    let is_selected = |sel: Option<&BooleanBuffer>, i: usize| sel.is_none_or(|s| s.value(i));
    let converter = RowConverter::new(la.iter().map(|a| SortField::new(a.data_type().clone())).collect())?;
    let (lrows, rrows) = (converter.convert_columns(la)?, converter.convert_columns(ra)?);
    let has_null = |arrays: &[ArrayRef], i: usize| arrays.iter().any(|a| a.is_null(i));

    let mut build: HashMap<Row<'_>, Vec<u32>> = HashMap::with_capacity(rn);
    for j in (0..rn).filter(|&j| is_selected(rsel, j)) {
        if args.nulls_equal || !has_null(ra, j) {
            build.entry(rrows.row(j)).or_default().push(j as u32);
        }
    }
    let mut out_l = Vec::new();
    let mut out_r: Vec<u32> = Vec::new();
    for i in (0..ln).filter(|&i| is_selected(lsel, i)) {
        let matches = if !args.nulls_equal && has_null(la, i) { None } else { build.get(&lrows.row(i)) };
        match args.how {
            JoinType::Inner | JoinType::Left => {
                for &j in matches.into_iter().flatten() {
                    out_l.push(i as u32);
                    out_r.push(j);
                }
                if matches.is_none() && args.how == JoinType::Left {
                    out_l.push(i as u32);
                    out_r.push(NONE);
                }
            }
            JoinType::Semi if matches.is_some() => out_l.push(i as u32),
            JoinType::Anti if matches.is_none() => out_l.push(i as u32),
            _ => {}
        }
    }
    Ok(gather_maps(out_l, Some(out_r), args.how))
}

/// Rows per parallel probe chunk.
const PROBE_CHUNK: usize = 1 << 16;

/// The row ranges of `keys`' parallel probe chunks.
fn probe_chunks(keys: &Keys<'_>) -> impl IndexedParallelIterator<Item = std::ops::Range<usize>> {
    let n = keys.len();
    (0..n.div_ceil(PROBE_CHUNK)).into_par_iter().map(move |c| c * PROBE_CHUNK..((c + 1) * PROBE_CHUNK).min(n))
}

/// [`packed_join`] with keys packed into the narrowest word that holds them; semi and anti
/// joins on keys of a small range test a bitmap of the right side's keys instead.
fn fixed_width_join(lk: &Keys<'_>, rk: &Keys<'_>, how: JoinType) -> (Indices, Option<Indices>) {
    if matches!(how, JoinType::Semi | JoinType::Anti) && lk.bits() <= 64 {
        if let Some(out) = bitmap_semi_join(lk, rk, how) {
            return out;
        }
    }
    if lk.bits() <= 64 {
        packed_join::<u64>(lk, rk, how)
    } else {
        packed_join::<u128>(lk, rk, how)
    }
}

/// The join of fixed-width keys (rows with a null key never match). The hash table is built on
/// the smaller side where the output order allows it cheaply: `semi`/`anti` with a smaller left
/// side build on the left and mark its rows matched while probing the right; `inner` with a
/// smaller left side builds on the left and sorts the (few) output pairs back into left order;
/// `left` with a smaller left side builds on the left and places the pairs in left order by a
/// counting sort. Probes run in parallel chunks whose outputs concatenate in order.
fn packed_join<K: KeyWord>(lk: &Keys<'_>, rk: &Keys<'_>, how: JoinType) -> (Indices, Option<Indices>) {
    let small_left = lk.count() < rk.count();
    match how {
        JoinType::Semi | JoinType::Anti if small_left => {
            let table = Table::<K>::build(lk);
            let matched: Vec<AtomicBool> = (0..lk.len()).map(|_| AtomicBool::new(false)).collect();
            probe_chunks(rk).for_each(|rows| {
                for j in rows {
                    if !rk.is_valid(j) {
                        continue;
                    }
                    let mut i = table.first(rk.get(j));
                    // The chain's rows were all marked by an earlier right row if its head was
                    // (or are being marked by the thread that marked it). A plain load first:
                    // most hits find their row marked already, and an atomic swap on every hit
                    // (a locked instruction) was half of Q22's anti join.
                    while i != NONE && !matched[i as usize].load(Ordering::Relaxed) {
                        matched[i as usize].store(true, Ordering::Relaxed);
                        i = table.next(i);
                    }
                }
            });
            let want = how == JoinType::Semi;
            let out_l = (0..lk.len())
                .filter(|&i| lk.is_selected(i) && matched[i].load(Ordering::Relaxed) == want)
                .map(|i| i as u32)
                .collect();
            gather_maps(out_l, None, how)
        }
        JoinType::Inner if small_left => {
            // Few pairs, usually (a selective filter fused into the left side): sorted back
            // into left order, not counted over every left row.
            let mut pairs = probe_left_table::<K>(lk, rk);
            pairs.par_sort_unstable();
            let out_l = pairs.par_iter().map(|p| (p >> 32) as u32).collect();
            let out_r = pairs.par_iter().map(|&p| p as u32).collect();
            gather_maps(out_l, Some(out_r), how)
        }
        JoinType::Left if small_left => {
            // Every selected left row is in the output anyway: the pairs are placed in left order
            // by a counting sort on the left row (linear; pairs arrive in right order, so each
            // left row keeps its matches in right order), with one row for each selected left
            // row that matched nothing: the same maps as probing a table on the right, without
            // walking the right side's chains in random order (Q13: 150K customers, 1.5M orders).
            let pairs = probe_left_table::<K>(lk, rk);
            let mut next = vec![0usize; lk.len()];
            for &p in &pairs {
                next[(p >> 32) as usize] += 1;
            }
            // Each selected left row's first output row; unmatched ones get their (i, NONE) now.
            let mut total = 0usize;
            let mut out_l = Vec::new();
            for (i, start) in next.iter_mut().enumerate() {
                let matches = std::mem::replace(start, total);
                if lk.is_selected(i) {
                    total += matches.max(1);
                    out_l.resize(total, i as u32);
                }
            }
            let mut out_r = vec![NONE; total];
            for &p in &pairs {
                let at = &mut next[(p >> 32) as usize];
                out_r[*at] = p as u32;
                *at += 1;
            }
            gather_maps(out_l, Some(out_r), how)
        }
        JoinType::Semi | JoinType::Anti => {
            let table = Table::<K>::build(rk);
            let want = how == JoinType::Semi;
            let parts: Vec<Vec<u32>> = probe_chunks(lk)
                .map(|rows| {
                    kept_rows(rows, |i| lk.is_selected(i) && (lk.is_valid(i) && table.first(lk.get(i)) != NONE) == want)
                })
                .collect();
            gather_maps(concat(parts.iter()), None, how)
        }
        _ => {
            // Inner and left joins probing a table on the right.
            let table = Table::<K>::build(rk);
            let parts: Vec<(Vec<u32>, Vec<u32>)> = probe_chunks(lk)
                .map(|rows| {
                    let (mut out_l, mut out_r) = (Vec::new(), Vec::new());
                    for i in rows {
                        if !lk.is_selected(i) {
                            continue;
                        }
                        let mut j = if lk.is_valid(i) { table.first(lk.get(i)) } else { NONE };
                        if j == NONE && how == JoinType::Left {
                            out_l.push(i as u32);
                            out_r.push(NONE);
                        }
                        while j != NONE {
                            out_l.push(i as u32);
                            out_r.push(j);
                            j = table.next(j);
                        }
                    }
                    (out_l, out_r)
                })
                .collect();
            let out_l = concat(parts.iter().map(|p| &p.0));
            let out_r = concat(parts.iter().map(|p| &p.1));
            gather_maps(out_l, Some(out_r), how)
        }
    }
}

/// Most bits of [`bitmap_semi_join`]'s bitmap (256 KiB, to stay in a core's L2 cache: Q4's
/// 6M-key bitmap of `lineitem`'s order keys, set at random by 3.8M rows, cost more than the
/// hash table on its 57K orders).
const BITMAP_MAX_BITS: u64 = 1 << 21;

/// A semi or anti join whose right keys span a small range (TPC-H's dense integer keys: Q22's
/// 1.5M orders cover customer keys 1..150,000, 19 KiB of bits): one bit per key of the range,
/// set for each right key, then each selected left row tests its key's bit. No hash table, and a
/// probe is one load from a bitmap that stays in cache. `None` when the range needs more bits
/// than [`BITMAP_MAX_BITS`] or than 64 per right row (a hash table then costs less memory).
fn bitmap_semi_join(lk: &Keys<'_>, rk: &Keys<'_>, how: JoinType) -> Option<(Indices, Option<Indices>)> {
    // A strided sample first: a range too wide shows in it, and costs no pass over the right side.
    if rk.span((rk.len() / 4096).max(2)).1 > BITMAP_MAX_BITS {
        return None;
    }
    // No valid right key: an empty range, every probe misses.
    let (lo, span) = rk.span(1);
    if span > BITMAP_MAX_BITS || span > 64 * rk.count().max(1) as u64 {
        return None;
    }
    let bits = right_key_bits(rk, lo, span);
    let found = |i: usize| {
        let k = lk.get::<u64>(i).wrapping_sub(lo);
        k < span && bits[(k / 64) as usize] & (1 << (k % 64)) != 0
    };
    let want = how == JoinType::Semi;
    let parts: Vec<Vec<u32>> = probe_chunks(lk)
        .map(|rows| kept_rows(rows, |i| lk.is_selected(i) && (lk.is_valid(i) && found(i)) == want))
        .collect();
    Some(gather_maps(concat(parts.iter()), None, how))
}

/// One bit per key of `lo..lo + span`, set for each valid key of `rk`. Each thread sets the bits
/// of a contiguous part of the rows in a bitmap of its own, and the bitmaps are OR-ed together:
/// with one shared bitmap of atomic words, every first sighting of a key is a locked write that
/// takes the cache line from every other core reading it, and on 16 cores that ping-pong, not
/// the work, was the time. (At most `BITMAP_MAX_BITS` bits: 256 KiB a thread.)
fn right_key_bits(rk: &Keys<'_>, lo: u64, span: u64) -> Vec<u64> {
    let words = span.div_ceil(64) as usize;
    let n = rk.len();
    let parts = rayon::current_num_threads().min(n.div_ceil(PROBE_CHUNK)).max(1);
    let per = n.div_ceil(parts).max(1);
    let mut locals: Vec<Vec<u64>> = (0..parts)
        .into_par_iter()
        .map(|p| {
            let mut bits = vec![0u64; words];
            for j in p * per..((p + 1) * per).min(n) {
                if rk.is_valid(j) {
                    let k = rk.get::<u64>(j) - lo;
                    bits[(k / 64) as usize] |= 1 << (k % 64);
                }
            }
            bits
        })
        .collect();
    let mut bits = locals.swap_remove(0);
    if !locals.is_empty() {
        bits.par_chunks_mut(4096).enumerate().for_each(|(c, out)| {
            for local in &locals {
                let part = &local[c * 4096..c * 4096 + out.len()];
                out.iter_mut().zip(part).for_each(|(o, l)| *o |= l);
            }
        });
    }
    bits
}

/// Every matching `(left row, right row)` pair as `left << 32 | right`, in right row order: a
/// table built on the left side, probed by the right side's rows in parallel chunks.
fn probe_left_table<K: KeyWord>(lk: &Keys<'_>, rk: &Keys<'_>) -> Vec<u64> {
    let chunk = PROBE_CHUNK;
    let table = Table::<K>::build(lk);
    let n = rk.len();
    (0..n.div_ceil(chunk))
        .into_par_iter()
        .flat_map_iter(|c| {
            let mut out = Vec::new();
            for j in c * chunk..((c + 1) * chunk).min(n) {
                if !rk.is_valid(j) {
                    continue;
                }
                let mut i = table.first(rk.get(j));
                while i != NONE {
                    out.push(((i as u64) << 32) | j as u64);
                    i = table.next(i);
                }
            }
            out
        })
        .collect()
}

/// The rows of `rows` that `keep` keeps. A plain loop around an inlined test: as an iterator
/// `filter`, the test was a function call per row (40% of Q11's time).
#[inline(always)]
fn kept_rows(rows: std::ops::Range<usize>, keep: impl Fn(usize) -> bool) -> Vec<u32> {
    let mut out = Vec::new();
    for i in rows {
        if keep(i) {
            out.push(i as u32);
        }
    }
    out
}

/// The parts one after another, copied in parallel.
fn concat<'a>(parts: impl Iterator<Item = &'a Vec<u32>>) -> Vec<u32> {
    let parts: Vec<&Vec<u32>> = parts.collect();
    let mut out = vec![0u32; parts.iter().map(|p| p.len()).sum()];
    let mut rest = out.as_mut_slice();
    let mut pieces = Vec::with_capacity(parts.len());
    for p in &parts {
        let (head, tail) = rest.split_at_mut(p.len());
        pieces.push(head);
        rest = tail;
    }
    pieces.into_par_iter().zip(parts).for_each(|(dst, src)| dst.copy_from_slice(src));
    out
}

/// The left rows, and for joins that return right columns the right rows (`NONE`: no row, a
/// null in the gather map).
fn gather_maps(out_l: Vec<u32>, out_r: Option<Vec<u32>>, how: JoinType) -> (Indices, Option<Indices>) {
    let right = out_r.filter(|_| matches!(how, JoinType::Inner | JoinType::Left)).map(|r| {
        let nulls = (how == JoinType::Left).then(|| NullBuffer::from_iter(r.iter().map(|&j| j != NONE)));
        Indices::Host(UInt32Array::new(r.into(), nulls.filter(|n| n.null_count() > 0)))
    });
    (Indices::Host(UInt32Array::from(out_l)), right)
}
