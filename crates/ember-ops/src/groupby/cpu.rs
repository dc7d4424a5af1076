//! The CPU engine's group-by: hash-based. Each row gets a dense group id from its keys
//! ([`crate::hash`]: packed key codes, one table or hash-map pass), every aggregation folds its
//! values into per-group accumulators, the aggregations run in parallel, and the groups are then
//! sorted by their keys (the documented output order), which costs only a sort of the groups.
//!
//! Sums, means and counts never materialise their expression: it is evaluated in row chunks of
//! [`CHUNK_ROWS`] that are folded as they come (Q1's `sum(l_extendedprice * (1 - l_discount) *
//! (1 + l_tax))` over 6M rows used to allocate four 96 MB decimal columns). With few groups each
//! chunk folds into its own accumulators, in parallel, merged in chunk order; with many, chunks
//! are folded one after the other in row order. Chunk boundaries depend only on the row count,
//! so float sums are the same whatever the number of threads. Other aggregations (order
//! statistics, `n_unique`, `min`/`max`, `first`/`last`) see their whole column.
//!
//! A filter under the group-by can be fused into it (`selected`): rows outside the mask get no
//! group and are skipped by every fold, so the filtered frame is never built.
//!
//! When every aggregation folds, the chunked group-by of `direct.rs` goes first: it numbers and
//! folds each chunk of rows in one go, and hands the frame back here when its chunks hold more
//! than a thousand groups.
use super::Aggregation;
use crate::expr::cpu::{evaluate, CHUNK_ROWS};
use crate::expr::Expr;
use crate::hash::{group_key_codes, key_codes, ChunkKeys, Codes, Groups, SKIPPED};
use crate::reduce::{
    state::{f64_stat, Sum},
    Agg,
};
use crate::sort::cpu::{ordered_column, sorted_rows, value_bits};
use arrow::array::*;
use arrow::compute::{cast, take, SortOptions};
use arrow::datatypes::*;
use ember_core::{Column, DType, DataFrame, Device, Error, Field, Result};
use rayon::prelude::*;
use std::sync::Arc;

/// Most groups for which each chunk of rows folds into accumulators of its own (a few
/// accumulators of 16 bytes per group per chunk, next to a chunk's own values).
const PARTIAL_MAX_GROUPS: usize = CHUNK_ROWS / 16;

/// The group-by of `df`'s rows, or of those `selected` sets (a fused filter: the same answer as
/// grouping the filtered frame, unless an expression fails on a row the filter drops; the caller
/// then groups the filtered frame).
pub(crate) fn group_by(
    df: &DataFrame,
    keys: &[Expr],
    aggs: &[Aggregation],
    fields: &[Field],
    maintain_order: bool,
    selected: Option<&BooleanArray>,
) -> Result<DataFrame> {
    let n = df.num_rows();
    let key_arrays = keys.iter().map(|k| evaluate(df, k)).collect::<Result<Vec<ArrayRef>>>()?;
    let codes = key_codes(&key_arrays, !maintain_order)?;
    let codes = match ChunkKeys::new(codes) {
        Ok(chunked) if super::direct::applies(aggs, n) => {
            match super::direct::group_by(df, &key_arrays, &chunked, aggs, fields, maintain_order, selected)? {
                Some(out) => return Ok(out),
                None => chunked.into_codes(),
            }
        }
        Ok(chunked) => chunked.into_codes(),
        Err(codes) => codes,
    };
    let (groups, packed_order) = group_key_codes(codes, n, selected.map(BooleanArray::values), !maintain_order)?;
    let g = groups.first_rows.len();
    let firsts = UInt32Array::from(groups.first_rows.clone());
    let group_keys = key_arrays.iter().map(|a| Ok(take(a, &firsts, None)?)).collect::<Result<Vec<_>>>()?;
    drop(key_arrays);
    // The output lists the groups sorted by key (the grouping may have numbered them so), or by
    // first row.
    let order = if maintain_order {
        let mut by_first: Vec<u32> = (0..g as u32).collect();
        by_first.sort_unstable_by_key(|&k| groups.first_rows[k as usize]);
        Some(UInt32Array::from(by_first))
    } else if groups.sorted {
        None
    } else if let Some(order) = packed_order {
        Some(UInt32Array::from(order))
    } else {
        Some(by_key_order(&group_keys, g)?)
    };
    let results = aggs
        .par_iter()
        .zip(&fields[keys.len()..])
        .map(|(a, f)| aggregation(a, df, &groups, f))
        .collect::<Result<Vec<ArrayRef>>>()?;
    assemble(&group_keys, &results, order.as_ref(), fields)
}

/// The order of `g` groups sorted by their keys `group_keys` (ascending, nulls first).
pub(super) fn by_key_order(group_keys: &[ArrayRef], g: usize) -> Result<UInt32Array> {
    let opts = vec![SortOptions { descending: false, nulls_first: true }; group_keys.len()];
    Ok(UInt32Array::from(sorted_rows(group_keys, &opts, g)?))
}

/// The output frame of `fields`: the groups' keys then the aggregations' results, each taken in
/// `order` (`None`: as they are).
pub(super) fn assemble(
    group_keys: &[ArrayRef],
    results: &[ArrayRef],
    order: Option<&UInt32Array>,
    fields: &[Field],
) -> Result<DataFrame> {
    let mut columns: Vec<(String, Column)> = Vec::with_capacity(fields.len());
    for (a, f) in group_keys.iter().chain(results).zip(fields) {
        let a = match order {
            Some(order) => take(a, order, None)?,
            None => a.clone(),
        };
        columns.push((f.name.clone(), Column::Host(a)));
    }
    DataFrame::from_columns(columns, Device::Cpu)
}

/// One aggregation of `df`'s grouped rows, as an array of `out`'s type (groups in id order).
fn aggregation(a: &Aggregation, df: &DataFrame, groups: &Groups, out: &Field) -> Result<ArrayRef> {
    let expr = value_expr(a);
    if !matches!(a.agg, Agg::Sum | Agg::Mean | Agg::Count | Agg::Len) {
        return aggregate(a.agg, &evaluate(df, &expr)?, groups, out);
    }
    let (ids, g) = (&groups.ids, groups.first_rows.len());
    if a.agg == Agg::Len {
        let mut counts = vec![0u64; g];
        for &id in ids.iter().filter(|&&id| id != SKIPPED) {
            counts[id as usize] += 1;
        }
        return Ok(Arc::new(UInt64Array::from(counts)));
    }
    let n = df.num_rows();
    let chunks = n.div_ceil(CHUNK_ROWS);
    // Chunk `c`'s values; an evaluation error is the whole frame's (it names the first failing
    // row of the frame, not of the chunk).
    let chunk = |c: usize| -> Result<(usize, ArrayRef)> {
        let offset = c * CHUNK_ROWS;
        let len = CHUNK_ROWS.min(n - offset);
        let values = df.slice(offset, len).and_then(|part| evaluate(&part, &expr));
        Ok((offset, values.map_err(|e| evaluate(df, &expr).err().unwrap_or(e))?))
    };
    let fold = |(offset, values): (usize, ArrayRef)| -> Result<Fold> {
        let mut acc = Fold::new(a.agg, values.data_type(), g)?;
        acc.add(&values, &ids[offset..offset + values.len()])?;
        Ok(acc)
    };
    let acc = if chunks <= 1 {
        fold((0, evaluate(df, &expr)?))?
    } else if g <= PARTIAL_MAX_GROUPS {
        let parts = (0..chunks).into_par_iter().map(|c| fold(chunk(c)?)).collect::<Result<Vec<_>>>()?;
        let mut parts = parts.into_iter();
        let mut acc = parts.next().ok_or_else(|| Error::Internal("no chunks".into()))?;
        for p in parts {
            acc.merge(p)?;
        }
        acc
    } else {
        // Many groups: a window of chunks evaluated in parallel, then folded in row order.
        let window = rayon::current_num_threads().max(1);
        let mut acc: Option<Fold> = None;
        for w in (0..chunks).step_by(window) {
            let values = (w..(w + window).min(chunks)).into_par_iter().map(chunk).collect::<Result<Vec<_>>>()?;
            for (offset, v) in values {
                match &mut acc {
                    Some(acc) => acc.add(&v, &ids[offset..offset + v.len()])?,
                    None => acc = Some(fold((offset, v))?),
                }
            }
        }
        acc.ok_or_else(|| Error::Internal("no chunks".into()))?
    };
    acc.finish(a.agg, out)
}

/// What an aggregation folds: its expression, cast to f64 for `var`, `std` and `median` (the
/// same cast on every device).
pub(crate) fn value_expr(a: &Aggregation) -> Expr {
    if a.agg.over_f64() {
        a.expr.clone().cast(DType::Float64)
    } else {
        a.expr.clone()
    }
}

/// A CPU frame with `fields` and no rows.
pub(crate) fn empty(fields: &[Field]) -> Result<DataFrame> {
    let columns = fields.iter().map(|f| (f.name.clone(), Column::Host(new_empty_array(&f.dtype.to_arrow())))).collect();
    DataFrame::from_columns(columns, Device::Cpu)
}

/// `agg` of `values` per group (groups in id order), as an array of `out`'s type: the
/// aggregations that see their whole column (sums, means and counts fold chunks: [`Fold`]).
fn aggregate(agg: Agg, values: &ArrayRef, groups: &Groups, out: &Field) -> Result<ArrayRef> {
    let (ids, g) = (&groups.ids, groups.first_rows.len());
    Ok(match agg {
        Agg::First => take(values, &UInt32Array::from(groups.first_rows.clone()), None)?,
        Agg::Last => take(values, &UInt32Array::from(groups.last_rows()), None)?,
        Agg::NUnique => Arc::new(UInt64Array::from(distinct_counts(values, ids, g)?)),
        Agg::Var | Agg::Std | Agg::Median | Agg::Quantile(_) => {
            let v = values
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(|| Error::Internal(format!("{agg:?} of {}", values.data_type())))?;
            let (offsets, mut placed) = place_by_group(v, ids, g);
            let out: Float64Array = offsets.windows(2).map(|w| f64_stat(agg, &mut placed[w[0]..w[1]])).collect();
            Arc::new(out)
        }
        Agg::Min | Agg::Max => extremes(agg == Agg::Min, values, ids, g)?,
        Agg::Sum | Agg::Mean | Agg::Count | Agg::Len => {
            return Err(Error::Internal(format!("{agg:?} into {} is folded by chunks", out.dtype)))
        }
    })
}

/// The valid values of each group, group after group, each group's in row order (a counting sort
/// by group), with the groups' offsets.
fn place_by_group(values: &Float64Array, ids: &[u32], g: usize) -> (Vec<usize>, Vec<f64>) {
    let mut offsets = vec![0usize; g + 1];
    for (i, &id) in ids.iter().enumerate() {
        if id != SKIPPED && values.is_valid(i) {
            offsets[id as usize + 1] += 1;
        }
    }
    for k in 0..g {
        offsets[k + 1] += offsets[k];
    }
    let mut next = offsets.clone();
    let mut placed = vec![0f64; offsets[g]];
    for (i, &id) in ids.iter().enumerate() {
        if id != SKIPPED && values.is_valid(i) {
            placed[next[id as usize]] = values.value(i);
            next[id as usize] += 1;
        }
    }
    (offsets, placed)
}

/// Distinct values per group (a null is one value): the rows' value codes placed group by group
/// (a counting sort by group, linear), then each group's slice sorted and its changes counted.
/// Not another hash grouping of (group, value): those pairs are nearly all distinct when groups
/// are many (Q21: 6M rows, 1.5M groups), where a hash map or a global sort of them costs several
/// times more.
fn distinct_counts(values: &ArrayRef, ids: &[u32], g: usize) -> Result<Vec<u64>> {
    let codes = Codes::of(values)?;
    let mut offsets = vec![0usize; g + 1];
    for &id in ids.iter().filter(|&&id| id != SKIPPED) {
        offsets[id as usize + 1] += 1;
    }
    for k in 0..g {
        offsets[k + 1] += offsets[k];
    }
    let mut next = offsets.clone();
    let mut placed = vec![0u128; offsets[g]];
    for (i, &id) in ids.iter().enumerate() {
        if id != SKIPPED {
            placed[next[id as usize]] = codes.get(i);
            next[id as usize] += 1;
        }
    }
    // Each group's values sorted and their runs counted, the groups in parallel (Q21's 72K
    // groups of ~5 order lines each were one thread's loop: the query's least parallel step).
    let mut groups: Vec<&mut [u128]> = Vec::with_capacity(g);
    let mut rest = placed.as_mut_slice();
    for w in offsets.windows(2) {
        let (group, tail) = rest.split_at_mut(w[1] - w[0]);
        groups.push(group);
        rest = tail;
    }
    Ok(groups
        .into_par_iter()
        .with_min_len(1 << 10)
        .map(|s| {
            if s.len() > 1 << 16 {
                s.par_sort_unstable();
            } else {
                s.sort_unstable();
            }
            (s.len() - s.windows(2).filter(|p| p[0] == p[1]).count()) as u64
        })
        .collect())
}

/// Per-group non-null counts and, for `sum` and `mean`, sums in the accumulator type of
/// [`crate::reduce`], folded chunk by chunk.
#[derive(Clone)]
pub(super) struct Fold {
    sums: Option<Sums>,
    counts: Vec<u64>,
}

impl Fold {
    /// Empty accumulators of `agg` (`sum`, `mean` or `count`) over values of type `t`.
    pub(super) fn new(agg: Agg, t: &DataType, g: usize) -> Result<Fold> {
        let sums = match agg {
            Agg::Count => None,
            _ => Some(match t {
                DataType::Float32 => Sums::F32(vec![0.0; g]),
                DataType::Float64 => Sums::F64(vec![0.0; g]),
                DataType::Decimal128(_, scale) => Sums::Dec(vec![0; g], *scale),
                t if t.is_signed_integer() => Sums::I64(vec![0; g]),
                t if t.is_unsigned_integer() => Sums::U64(vec![0; g]),
                t => return Err(Error::Internal(format!("group sum of {t}"))),
            }),
        };
        Ok(Fold { sums, counts: vec![0; g] })
    }

    /// Counts only, already counted.
    pub(super) fn counted(counts: Vec<u64>) -> Fold {
        Fold { sums: None, counts }
    }

    /// Folds `values` (one per id; rows with [`SKIPPED`] ids are left out) in row order.
    pub(super) fn add(&mut self, values: &ArrayRef, ids: &[u32]) -> Result<()> {
        let nulls = values.logical_nulls();
        let nulls = nulls.as_ref();
        let counts = &mut self.counts;
        match &mut self.sums {
            None => {
                for (i, &id) in ids.iter().enumerate() {
                    if id != SKIPPED && nulls.is_none_or(|n| n.is_valid(i)) {
                        counts[id as usize] += 1;
                    }
                }
            }
            Some(Sums::F32(acc)) => {
                fold(values.as_primitive::<Float32Type>().values(), nulls, ids, acc, counts, |a, v| Some(a + v))?
            }
            Some(Sums::F64(acc)) => {
                fold(values.as_primitive::<Float64Type>().values(), nulls, ids, acc, counts, |a, v| Some(a + v))?
            }
            Some(Sums::Dec(acc, _)) => {
                let v = values.as_primitive::<Decimal128Type>().values();
                fold(v, nulls, ids, acc, counts, |a: i128, v| a.checked_add(v))?
            }
            Some(Sums::I64(acc)) => {
                let wide = cast(values, &DataType::Int64)?;
                let v = wide.as_primitive::<Int64Type>().values();
                fold(v, nulls, ids, acc, counts, |a: i64, v| Some(a.wrapping_add(v)))?
            }
            Some(Sums::U64(acc)) => {
                let wide = cast(values, &DataType::UInt64)?;
                let v = wide.as_primitive::<UInt64Type>().values();
                fold(v, nulls, ids, acc, counts, |a: u64, v| Some(a.wrapping_add(v)))?
            }
        }
        Ok(())
    }

    /// Adds the accumulators of a later chunk.
    fn merge(&mut self, other: Fold) -> Result<()> {
        let identity: Vec<u32> = (0..other.counts.len() as u32).collect();
        self.absorb(&other, &identity)
    }

    /// Adds group `k`'s accumulators of `other` (a later chunk) into group `into[k]`'s, growing
    /// to groups that appear for the first time.
    pub(super) fn absorb(&mut self, other: &Fold, into: &[u32]) -> Result<()> {
        fn each<T: Copy + Default>(
            a: &mut Vec<T>,
            b: &[T],
            into: &[u32],
            add: impl Fn(T, T) -> Option<T>,
        ) -> Result<()> {
            for (&k, &y) in into.iter().zip(b) {
                let k = k as usize;
                if k >= a.len() {
                    a.resize(k + 1, T::default());
                }
                a[k] = add(a[k], y).ok_or_else(decimal_overflow)?;
            }
            Ok(())
        }
        each(&mut self.counts, &other.counts, into, |x, y| Some(x + y))?;
        match (&mut self.sums, &other.sums) {
            (None, None) => Ok(()),
            (Some(Sums::F32(a)), Some(Sums::F32(b))) => each(a, b, into, |x, y| Some(x + y)),
            (Some(Sums::F64(a)), Some(Sums::F64(b))) => each(a, b, into, |x, y| Some(x + y)),
            (Some(Sums::Dec(a, _)), Some(Sums::Dec(b, _))) => each(a, b, into, i128::checked_add),
            (Some(Sums::I64(a)), Some(Sums::I64(b))) => each(a, b, into, |x, y| Some(x.wrapping_add(y))),
            (Some(Sums::U64(a)), Some(Sums::U64(b))) => each(a, b, into, |x, y| Some(x.wrapping_add(y))),
            _ => Err(Error::Internal("group_by: chunks folded into different accumulators".into())),
        }
    }

    /// The per-group result of `agg`, of `out`'s type.
    pub(super) fn finish(self, agg: Agg, out: &Field) -> Result<ArrayRef> {
        let Fold { sums, counts } = self;
        match (agg, sums) {
            (Agg::Count, _) => Ok(Arc::new(UInt64Array::from(counts))),
            (Agg::Mean, Some(sums)) => {
                let means: Float64Array = (0..counts.len())
                    .map(|k| (counts[k] > 0).then(|| sums.get(k).as_f64() / counts[k] as f64))
                    .collect();
                Ok(Arc::new(means))
            }
            (Agg::Sum, Some(sums)) => sums.into_array(&out.dtype),
            (agg, _) => Err(Error::Internal(format!("{agg:?} from folded sums"))),
        }
    }
}

fn decimal_overflow() -> Error {
    Error::Overflow("sum of decimals in group_by: a group's total exceeds 38 digits".into())
}

/// Per-group sums in the accumulator type of [`crate::reduce`].
#[derive(Clone)]
enum Sums {
    I64(Vec<i64>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Dec(Vec<i128>, i8),
}

impl Sums {
    fn get(&self, k: usize) -> Sum {
        match self {
            Sums::I64(v) => Sum::I64(v[k]),
            Sums::U64(v) => Sum::U64(v[k]),
            Sums::F32(v) => Sum::F32(v[k]),
            Sums::F64(v) => Sum::F64(v[k]),
            Sums::Dec(v, scale) => Sum::Dec { value: v[k], scale: *scale },
        }
    }

    fn into_array(self, dtype: &DType) -> Result<ArrayRef> {
        Ok(match self {
            Sums::I64(v) => Arc::new(Int64Array::from(v)),
            Sums::U64(v) => Arc::new(UInt64Array::from(v)),
            Sums::F32(v) => Arc::new(Float32Array::from(v)),
            Sums::F64(v) => Arc::new(Float64Array::from(v)),
            Sums::Dec(v, _) => {
                let DType::Decimal128 { precision, scale } = *dtype else {
                    return Err(Error::Internal(format!("decimal sum into {dtype}")));
                };
                let a = Decimal128Array::from(v).with_precision_and_scale(precision, scale)?;
                // A group's total past 38 digits is an error, as everywhere.
                a.validate_decimal_precision(38).map_err(|_| decimal_overflow())?;
                Arc::new(a)
            }
        })
    }
}

/// Groups up to which [`fold`] keeps one accumulator per group per row lane.
const LANES_MAX_GROUPS: usize = 64;

/// Adds each valid value into its group's slot (rows with [`SKIPPED`] ids left out). With few
/// groups, four accumulators per group, one per row lane (`i % 4`), added together at the end:
/// consecutive rows of one group (Q1's four groups over 6M rows) then do not each wait for the
/// previous row's store to the same slot. Lanes depend only on the row number, so the result
/// does not depend on threads.
fn fold<T: Copy + Default>(
    values: &[T],
    nulls: Option<&arrow::buffer::NullBuffer>,
    ids: &[u32],
    acc: &mut [T],
    counts: &mut [u64],
    add: impl Fn(T, T) -> Option<T>,
) -> Result<()> {
    let g = acc.len();
    if g == 0 {
        return Ok(()); // no groups: every row was skipped
    }
    let skip = |i: usize, id: u32| id == SKIPPED || nulls.is_some_and(|n| n.is_null(i));
    if g > LANES_MAX_GROUPS {
        for (i, (&v, &id)) in values.iter().zip(ids).enumerate() {
            if !skip(i, id) {
                acc[id as usize] = add(acc[id as usize], v).ok_or_else(decimal_overflow)?;
                counts[id as usize] += 1;
            }
        }
        return Ok(());
    }
    let (mut lanes, mut lane_counts) = (vec![T::default(); 4 * g], vec![0u64; 4 * g]);
    for (i, (&v, &id)) in values.iter().zip(ids).enumerate() {
        crate::prefetch::ahead(values, i);
        if !skip(i, id) {
            let k = (i & 3) * g + id as usize;
            lanes[k] = add(lanes[k], v).ok_or_else(decimal_overflow)?;
            lane_counts[k] += 1;
        }
    }
    for (lane, lane_count) in lanes.chunks(g).zip(lane_counts.chunks(g)) {
        for k in 0..g {
            acc[k] = add(acc[k], lane[k]).ok_or_else(decimal_overflow)?;
            counts[k] += lane_count[k];
        }
    }
    Ok(())
}

/// Per-group min / max: the row of each group's best valid value (in the type's order, floats
/// by IEEE total order; the first such row on ties), then one gather.
fn extremes(is_min: bool, values: &ArrayRef, ids: &[u32], g: usize) -> Result<ArrayRef> {
    let nulls = values.logical_nulls();
    let best = if value_bits(values.data_type()).is_some() {
        best_rows(&ordered_column(values), nulls.as_ref(), ids, g, is_min)
    } else if let Some(d) = values.as_primitive_opt::<Decimal128Type>() {
        best_rows(d.values(), nulls.as_ref(), ids, g, is_min)
    } else {
        return Err(Error::Internal(format!("group min/max of {}", values.data_type())));
    };
    Ok(take(values, &UInt32Array::from(best), None)?)
}

/// Per group, the first valid row with the smallest (`is_min`) or largest key.
fn best_rows<T: Ord>(
    keys: &[T],
    nulls: Option<&arrow::buffer::NullBuffer>,
    ids: &[u32],
    g: usize,
    is_min: bool,
) -> Vec<Option<u32>> {
    let mut best: Vec<Option<u32>> = vec![None; g];
    for (i, &id) in ids.iter().enumerate() {
        if id == SKIPPED || nulls.is_some_and(|n| n.is_null(i)) {
            continue;
        }
        let slot = &mut best[id as usize];
        let better = match *slot {
            None => true,
            Some(b) if is_min => keys[i] < keys[b as usize],
            Some(b) => keys[i] > keys[b as usize],
        };
        if better {
            *slot = Some(i as u32);
        }
    }
    best
}
