//! The CPU engine's join: a hash map from one side's keys to its rows in order, probed by the
//! other side in parallel chunks. Fixed-width keys that fit 128 bits are packed per row into one
//! `u128` (the sort's packing, without null bits: rows with a null key are skipped) and hashed
//! with a multiplicative hash, the rows of a key chained in an array; the table goes on the
//! smaller side where the output order allows (see `packed_join`). Other keys (strings, wide
//! decimals, `nulls_equal`) go through arrow-rs's row format (one converter, so equal keys have
//! equal bytes), built on the right.
use super::{JoinArgs, JoinType};
use crate::executor::Indices;
use crate::hash::BuildMul;
use crate::sort::cpu::packed_keys;
use arrow::array::{Array, ArrayRef, UInt32Array};
use arrow::compute::SortOptions;
use arrow::row::{Row, RowConverter, SortField};
use ember_core::{DataFrame, Result};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) fn join_indices(left: &DataFrame, right: &DataFrame, args: &JoinArgs) -> Result<(Indices, Option<Indices>)> {
    let arrays = |df: &DataFrame, names: &[String]| -> Result<Vec<ArrayRef>> {
        names.iter().map(|n| Ok(df.column(n)?.as_host()?.clone())).collect()
    };
    let (la, ra) = (arrays(left, &args.left_on)?, arrays(right, &args.right_on)?);
    if !args.nulls_equal {
        let opts = vec![SortOptions::default(); la.len()];
        let packed = |a: &[ArrayRef], n| packed_keys(a, &opts, n, false);
        if let (Some(lk), Some(rk)) = (packed(&la, left.num_rows()), packed(&ra, right.num_rows())) {
            return Ok(packed_join(&lk, &rk, &la, &ra, args.how));
        }
    }
    let converter = RowConverter::new(la.iter().map(|a| SortField::new(a.data_type().clone())).collect())?;
    let (lrows, rrows) = (converter.convert_columns(&la)?, converter.convert_columns(&ra)?);
    let has_null = |arrays: &[ArrayRef], i: usize| arrays.iter().any(|a| a.is_null(i));

    let mut build: HashMap<Row<'_>, Vec<u32>> = HashMap::with_capacity(right.num_rows());
    for j in 0..right.num_rows() {
        if args.nulls_equal || !has_null(&ra, j) {
            build.entry(rrows.row(j)).or_default().push(j as u32);
        }
    }
    let mut out_l = Vec::new();
    let mut out_r: Vec<Option<u32>> = Vec::new();
    for i in 0..left.num_rows() {
        let matches = if !args.nulls_equal && has_null(&la, i) { None } else { build.get(&lrows.row(i)) };
        match args.how {
            JoinType::Inner | JoinType::Left => {
                for &j in matches.into_iter().flatten() {
                    out_l.push(i as u32);
                    out_r.push(Some(j));
                }
                if matches.is_none() && args.how == JoinType::Left {
                    out_l.push(i as u32);
                    out_r.push(None);
                }
            }
            JoinType::Semi if matches.is_some() => out_l.push(i as u32),
            JoinType::Anti if matches.is_none() => out_l.push(i as u32),
            _ => {}
        }
    }
    Ok(gather_maps(out_l, out_r, args.how))
}

/// Rows per parallel probe chunk.
const PROBE_CHUNK: usize = 1 << 16;

/// Rows whose keys are all valid (`None`: every row).
fn valid_rows(arrays: &[ArrayRef]) -> Option<arrow::buffer::BooleanBuffer> {
    let nulls = arrays.iter().filter_map(|a| a.logical_nulls()).filter(|n| n.null_count() > 0);
    nulls.map(|n| n.into_inner()).reduce(|a, b| &a & &b)
}

/// A hash table over packed keys: key -> first row with it, `next[row]` -> the following row with
/// the same key (in row order). Rows with a null key are left out.
struct Chains {
    head: HashMap<u128, u32, BuildMul>,
    next: Vec<u32>,
}

const NONE: u32 = u32::MAX;

impl Chains {
    fn build(keys: &[u128], valid: Option<&arrow::buffer::BooleanBuffer>) -> Chains {
        let mut head: HashMap<u128, u32, BuildMul> = HashMap::with_capacity_and_hasher(keys.len(), BuildMul);
        let mut next = vec![NONE; keys.len()];
        for j in (0..keys.len()).rev() {
            if valid.is_some_and(|v| !v.value(j)) {
                continue;
            }
            if let Some(h) = head.insert(keys[j], j as u32) {
                next[j] = h;
            }
        }
        Chains { head, next }
    }

    /// The first row with `key` (NONE if none).
    fn first(&self, key: u128) -> u32 {
        self.head.get(&key).copied().unwrap_or(NONE)
    }
}

/// The join of packed keys (rows with a null key never match). The hash table is built on the
/// smaller side where the output order allows it cheaply: `semi`/`anti` with a smaller left side
/// build on the left and mark its rows matched while probing the right; `inner` with a smaller
/// left side builds on the left and sorts the (few) output pairs back into left order. Probes run
/// in parallel chunks whose outputs concatenate in order.
fn packed_join(
    lk: &[u128],
    rk: &[u128],
    la: &[ArrayRef],
    ra: &[ArrayRef],
    how: JoinType,
) -> (Indices, Option<Indices>) {
    let (lvalid, rvalid) = (valid_rows(la), valid_rows(ra));
    let l_ok = |i: usize| lvalid.as_ref().is_none_or(|v| v.value(i));
    let r_ok = |j: usize| rvalid.as_ref().is_none_or(|v| v.value(j));
    let small_left = lk.len() < rk.len();
    match how {
        JoinType::Semi | JoinType::Anti if small_left => {
            let table = Chains::build(lk, lvalid.as_ref());
            let matched: Vec<AtomicBool> = (0..lk.len()).map(|_| AtomicBool::new(false)).collect();
            rk.par_chunks(PROBE_CHUNK).enumerate().for_each(|(c, chunk)| {
                for (k, key) in chunk.iter().enumerate() {
                    if !r_ok(c * PROBE_CHUNK + k) {
                        continue;
                    }
                    let mut i = table.first(*key);
                    // The chain's rows were all marked by an earlier right row if its head was.
                    while i != NONE && !matched[i as usize].swap(true, Ordering::Relaxed) {
                        i = table.next[i as usize];
                    }
                }
            });
            let want = how == JoinType::Semi;
            let out_l = (0..lk.len() as u32).filter(|&i| matched[i as usize].load(Ordering::Relaxed) == want).collect();
            gather_maps(out_l, Vec::new(), how)
        }
        JoinType::Inner if small_left => {
            let table = Chains::build(lk, lvalid.as_ref());
            let mut pairs: Vec<u64> = rk
                .par_chunks(PROBE_CHUNK)
                .enumerate()
                .flat_map_iter(|(c, chunk)| {
                    let mut out = Vec::new();
                    for (k, key) in chunk.iter().enumerate() {
                        let j = (c * PROBE_CHUNK + k) as u64;
                        if !r_ok(j as usize) {
                            continue;
                        }
                        let mut i = table.first(*key);
                        while i != NONE {
                            out.push(((i as u64) << 32) | j);
                            i = table.next[i as usize];
                        }
                    }
                    out
                })
                .collect();
            pairs.par_sort_unstable();
            let out_l = pairs.iter().map(|p| (p >> 32) as u32).collect();
            let out_r = pairs.iter().map(|&p| Some(p as u32)).collect();
            gather_maps(out_l, out_r, how)
        }
        _ => {
            let table = Chains::build(rk, rvalid.as_ref());
            let parts: Vec<(Vec<u32>, Vec<Option<u32>>)> = lk
                .par_chunks(PROBE_CHUNK)
                .enumerate()
                .map(|(c, chunk)| {
                    let (mut out_l, mut out_r) = (Vec::new(), Vec::new());
                    for (k, key) in chunk.iter().enumerate() {
                        let i = c * PROBE_CHUNK + k;
                        let mut j = if l_ok(i) { table.first(*key) } else { NONE };
                        match how {
                            JoinType::Inner | JoinType::Left => {
                                if j == NONE && how == JoinType::Left {
                                    out_l.push(i as u32);
                                    out_r.push(None);
                                }
                                while j != NONE {
                                    out_l.push(i as u32);
                                    out_r.push(Some(j));
                                    j = table.next[j as usize];
                                }
                            }
                            JoinType::Semi if j != NONE => out_l.push(i as u32),
                            JoinType::Anti if j == NONE => out_l.push(i as u32),
                            _ => {}
                        }
                    }
                    (out_l, out_r)
                })
                .collect();
            let (mut out_l, mut out_r) = (Vec::new(), Vec::new());
            for (l, r) in parts {
                out_l.extend(l);
                out_r.extend(r);
            }
            gather_maps(out_l, out_r, how)
        }
    }
}

/// The left rows, and for joins that return right columns the right rows (nulls: no row).
fn gather_maps(out_l: Vec<u32>, out_r: Vec<Option<u32>>, how: JoinType) -> (Indices, Option<Indices>) {
    let right = matches!(how, JoinType::Inner | JoinType::Left).then(|| Indices::Host(UInt32Array::from(out_r)));
    (Indices::Host(UInt32Array::from(out_l)), right)
}
