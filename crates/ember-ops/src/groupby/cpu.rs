//! The CPU engine's group-by: hash-based. Each row gets a dense group id from its keys
//! ([`crate::hash`]: packed key codes, one table or hash-map pass), every aggregation folds its
//! values into per-group accumulators in row order (so a group's fold sees its rows in input
//! order, as the GPU's does), the aggregations run in parallel, and the groups are then sorted by
//! their keys (the documented output order), which costs only a sort of the groups.
use super::Aggregation;
use crate::expr::{evaluate, Expr};
use crate::hash::{group_rows, Codes, Groups};
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

pub(crate) fn group_by(
    df: &DataFrame,
    keys: &[Expr],
    aggs: &[Aggregation],
    fields: &[Field],
    maintain_order: bool,
) -> Result<DataFrame> {
    let n = df.num_rows();
    let key_arrays = keys.iter().map(|k| Ok(evaluate(df, k)?.as_host()?.clone())).collect::<Result<Vec<ArrayRef>>>()?;
    let groups = group_rows(&key_arrays, n)?;
    let g = groups.first_rows.len();
    let firsts = UInt32Array::from(groups.first_rows.clone());
    let group_keys = key_arrays.iter().map(|a| Ok(take(a, &firsts, None)?)).collect::<Result<Vec<_>>>()?;
    // Groups are numbered by first appearance per hash partition; the output lists them sorted by
    // key, or by first row.
    let opts = vec![SortOptions { descending: false, nulls_first: true }; keys.len()];
    let order = if maintain_order {
        let mut by_first: Vec<u32> = (0..g as u32).collect();
        by_first.sort_unstable_by_key(|&k| groups.first_rows[k as usize]);
        UInt32Array::from(by_first)
    } else {
        UInt32Array::from(sorted_rows(&group_keys, &opts, g)?)
    };
    let values =
        aggs.iter().map(|a| Ok(evaluate(df, &value_expr(a))?.as_host()?.clone())).collect::<Result<Vec<_>>>()?;
    let results = aggs
        .par_iter()
        .zip(values)
        .zip(&fields[keys.len()..])
        .map(|((a, v), f)| aggregate(a.agg, &v, &groups, f))
        .collect::<Result<Vec<ArrayRef>>>()?;
    let mut columns: Vec<(String, Column)> = Vec::with_capacity(fields.len());
    for (a, f) in group_keys.iter().chain(&results).zip(fields) {
        columns.push((f.name.clone(), Column::Host(take(a, &order, None)?)));
    }
    DataFrame::from_columns(columns, Device::Cpu)
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

/// `agg` of `values` per group (groups in first-appearance order), as an array of `out`'s type.
fn aggregate(agg: Agg, values: &ArrayRef, groups: &Groups, out: &Field) -> Result<ArrayRef> {
    let (ids, g) = (&groups.ids, groups.first_rows.len());
    // The validity once, not a dynamic call per row.
    let nulls = values.logical_nulls();
    let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
    Ok(match agg {
        Agg::Len | Agg::Count => {
            let mut counts = vec![0u64; g];
            for (i, &id) in ids.iter().enumerate() {
                if agg == Agg::Len || valid(i) {
                    counts[id as usize] += 1;
                }
            }
            Arc::new(UInt64Array::from(counts))
        }
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
        Agg::Sum | Agg::Mean => {
            let (sums, counts) = sums(values, ids, g)?;
            if agg == Agg::Mean {
                let means: Float64Array =
                    (0..g).map(|k| (counts[k] > 0).then(|| sums.get(k).as_f64() / counts[k] as f64)).collect();
                return Ok(Arc::new(means));
            }
            sums.into_array(&out.dtype)?
        }
    })
}

/// The valid values of each group, group after group, each group's in row order (a counting sort
/// by group), with the groups' offsets.
fn place_by_group(values: &Float64Array, ids: &[u32], g: usize) -> (Vec<usize>, Vec<f64>) {
    let mut offsets = vec![0usize; g + 1];
    for (i, &id) in ids.iter().enumerate() {
        if values.is_valid(i) {
            offsets[id as usize + 1] += 1;
        }
    }
    for k in 0..g {
        offsets[k + 1] += offsets[k];
    }
    let mut next = offsets.clone();
    let mut placed = vec![0f64; offsets[g]];
    for (i, &id) in ids.iter().enumerate() {
        if values.is_valid(i) {
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
    for &id in ids {
        offsets[id as usize + 1] += 1;
    }
    for k in 0..g {
        offsets[k + 1] += offsets[k];
    }
    let mut next = offsets.clone();
    let mut placed = vec![0u128; ids.len()];
    for (i, &id) in ids.iter().enumerate() {
        placed[next[id as usize]] = codes.get(i);
        next[id as usize] += 1;
    }
    Ok(offsets
        .windows(2)
        .map(|w| {
            let s = &mut placed[w[0]..w[1]];
            if s.len() > 1 << 16 {
                s.par_sort_unstable();
            } else {
                s.sort_unstable();
            }
            (s.len() - s.windows(2).filter(|p| p[0] == p[1]).count()) as u64
        })
        .collect())
}

/// Per-group sums in the accumulator type of [`crate::reduce`], with the non-null counts.
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
                a.validate_decimal_precision(38).map_err(|_| {
                    Error::Overflow("sum of decimals in group_by: a group's total exceeds 38 digits".into())
                })?;
                Arc::new(a)
            }
        })
    }
}

/// Adds each valid value into its group's slot, in row order.
fn fold<T: Copy, A: Copy>(
    values: &[T],
    nulls: Option<&arrow::buffer::NullBuffer>,
    ids: &[u32],
    acc: &mut [A],
    counts: &mut [u64],
    add: impl Fn(A, T) -> Option<A>,
) -> Result<()> {
    for (i, (&v, &id)) in values.iter().zip(ids).enumerate() {
        if nulls.is_some_and(|n| n.is_null(i)) {
            continue;
        }
        let slot = &mut acc[id as usize];
        *slot = add(*slot, v)
            .ok_or_else(|| Error::Overflow("sum of decimals in group_by: a group's total exceeds 38 digits".into()))?;
        counts[id as usize] += 1;
    }
    Ok(())
}

fn sums(values: &ArrayRef, ids: &[u32], g: usize) -> Result<(Sums, Vec<u64>)> {
    let mut counts = vec![0u64; g];
    let nulls = values.logical_nulls();
    let nulls = nulls.as_ref();
    let t = values.data_type();
    let sums = match t {
        DataType::Float32 => {
            let mut acc = vec![0f32; g];
            fold(values.as_primitive::<Float32Type>().values(), nulls, ids, &mut acc, &mut counts, |a, v| Some(a + v))?;
            Sums::F32(acc)
        }
        DataType::Float64 => {
            let mut acc = vec![0f64; g];
            fold(values.as_primitive::<Float64Type>().values(), nulls, ids, &mut acc, &mut counts, |a, v| Some(a + v))?;
            Sums::F64(acc)
        }
        DataType::Decimal128(_, scale) => {
            let mut acc = vec![0i128; g];
            let v = values.as_primitive::<Decimal128Type>().values();
            fold(v, nulls, ids, &mut acc, &mut counts, |a: i128, v| a.checked_add(v))?;
            Sums::Dec(acc, *scale)
        }
        t if t.is_signed_integer() => {
            let wide = cast(values, &DataType::Int64)?;
            let mut acc = vec![0i64; g];
            let v = wide.as_primitive::<Int64Type>().values();
            fold(v, nulls, ids, &mut acc, &mut counts, |a: i64, v| Some(a.wrapping_add(v)))?;
            Sums::I64(acc)
        }
        t if t.is_unsigned_integer() => {
            let wide = cast(values, &DataType::UInt64)?;
            let mut acc = vec![0u64; g];
            let v = wide.as_primitive::<UInt64Type>().values();
            fold(v, nulls, ids, &mut acc, &mut counts, |a: u64, v| Some(a.wrapping_add(v)))?;
            Sums::U64(acc)
        }
        t => return Err(Error::Internal(format!("group sum of {t}"))),
    };
    Ok((sums, counts))
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
        if nulls.is_some_and(|n| n.is_null(i)) {
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
