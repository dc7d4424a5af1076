//! The CPU engine's join: a hash map from the right keys to their rows in order, then one probe
//! per left row in order. Fixed-width keys that fit 128 bits are packed per row into one `u128`
//! (the sort's packing, without null bits: rows with a null key are skipped) and hashed with a
//! multiplicative hash, the right rows chained in an array; other keys (strings, wide decimals,
//! `nulls_equal`) go through arrow-rs's row format (one converter, so equal keys have equal bytes).
use super::{JoinArgs, JoinType};
use crate::executor::Indices;
use crate::hash::BuildMul;
use crate::sort::cpu::packed_keys;
use arrow::array::{Array, ArrayRef, UInt32Array};
use arrow::compute::SortOptions;
use arrow::row::{Row, RowConverter, SortField};
use ember_core::{DataFrame, Result};
use std::collections::HashMap;

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

/// The join of packed keys (`None` for rows with a null key, which never match).
fn packed_join(
    lk: &[u128],
    rk: &[u128],
    la: &[ArrayRef],
    ra: &[ArrayRef],
    how: JoinType,
) -> (Indices, Option<Indices>) {
    const NONE: u32 = u32::MAX;
    let has_null = |arrays: &[ArrayRef], i: usize| arrays.iter().any(|a| a.is_null(i));
    // key -> first right row; next[j] -> the following right row with j's key (in row order).
    let mut head: HashMap<u128, u32, BuildMul> = HashMap::with_capacity_and_hasher(rk.len(), BuildMul);
    let mut next = vec![NONE; rk.len()];
    for j in (0..rk.len()).rev() {
        if has_null(ra, j) {
            continue;
        }
        if let Some(h) = head.insert(rk[j], j as u32) {
            next[j] = h;
        }
    }
    let first = |i: usize| if has_null(la, i) { NONE } else { head.get(&lk[i]).copied().unwrap_or(NONE) };
    let (mut out_l, mut out_r) = (Vec::new(), Vec::new());
    for i in 0..lk.len() {
        let mut j = first(i);
        match how {
            JoinType::Inner | JoinType::Left => {
                if j == NONE && how == JoinType::Left {
                    out_l.push(i as u32);
                    out_r.push(None);
                }
                while j != NONE {
                    out_l.push(i as u32);
                    out_r.push(Some(j));
                    j = next[j as usize];
                }
            }
            JoinType::Semi if j != NONE => out_l.push(i as u32),
            JoinType::Anti if j == NONE => out_l.push(i as u32),
            _ => {}
        }
    }
    gather_maps(out_l, out_r, how)
}

/// The left rows, and for joins that return right columns the right rows (nulls: no row).
fn gather_maps(out_l: Vec<u32>, out_r: Vec<Option<u32>>, how: JoinType) -> (Indices, Option<Indices>) {
    let right = matches!(how, JoinType::Inner | JoinType::Left).then(|| Indices::Host(UInt32Array::from(out_r)));
    (Indices::Host(UInt32Array::from(out_l)), right)
}
