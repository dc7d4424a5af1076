//! The CPU engine's group-by: the keys' row-format encoding and stable order (as sort), group
//! boundaries where the encoding changes, then one [`AggState`] per group over its rows' slice.
use super::Aggregation;
use crate::expr::{evaluate, Expr};
use crate::reduce::{state::AggState, Agg};
use crate::sort::cpu::sorted_rows;
use arrow::array::*;
use arrow::compute::{take, SortOptions};
use ember_core::{Column, DType, DataFrame, Device, Field, Result, Scalar};
use std::sync::Arc;

pub(crate) fn group_by(df: &DataFrame, keys: &[Expr], aggs: &[Aggregation], fields: &[Field]) -> Result<DataFrame> {
    let n = df.num_rows();
    let key_arrays = keys.iter().map(|k| Ok(evaluate(df, k)?.as_host()?.clone())).collect::<Result<Vec<ArrayRef>>>()?;
    let opts = vec![SortOptions { descending: false, nulls_first: true }; keys.len()];
    let (perm, rows) = sorted_rows(&key_arrays, &opts, n)?;
    // Group g is sorted rows starts[g]..starts[g + 1].
    let mut starts: Vec<usize> = Vec::new();
    for i in 0..n {
        if i == 0 || !rows.same(perm[i] as usize, perm[i - 1] as usize) {
            starts.push(i);
        }
    }
    let groups = starts.len();
    starts.push(n);
    let perm = UInt32Array::from(perm);
    let firsts = UInt32Array::from_iter_values(starts[..groups].iter().map(|&s| perm.value(s)));
    let mut columns: Vec<(String, Column)> = Vec::with_capacity(fields.len());
    for (a, f) in key_arrays.iter().zip(fields) {
        columns.push((f.name.clone(), Column::Host(take(a, &firsts, None)?)));
    }
    for (a, f) in aggs.iter().zip(&fields[keys.len()..]) {
        let values = evaluate(df, &a.expr)?.as_host()?.clone();
        if a.agg == Agg::NUnique {
            let counts = distinct_counts(&key_arrays, values, &starts, n)?;
            columns.push((f.name.clone(), Column::Host(Arc::new(counts))));
            continue;
        }
        let input = DType::from_arrow(values.data_type())?;
        let sorted = take(&values, &perm, None)?;
        let out = (0..groups)
            .map(|g| {
                let mut state = AggState::new(a.agg, input)?;
                state.update(sorted.slice(starts[g], starts[g + 1] - starts[g]).as_ref())?;
                state.finish()
            })
            .collect::<Result<Vec<Scalar>>>()?;
        columns.push((f.name.clone(), Column::Host(scalars_to_array(&out, &f.dtype)?)));
    }
    DataFrame::from_columns(columns, Device::Cpu)
}

/// `n_unique` per group: the rows sorted by the keys and then the value put each group's rows
/// (the same positions `starts` gives, as the keys sort the same way) in value order, so a
/// group's distinct values are its first row and every row whose value differs from the one
/// before.
fn distinct_counts(keys: &[ArrayRef], values: ArrayRef, starts: &[usize], n: usize) -> Result<UInt64Array> {
    let mut arrays = keys.to_vec();
    arrays.push(values);
    let opts = vec![SortOptions { descending: false, nulls_first: true }; arrays.len()];
    let (perm, rows) = sorted_rows(&arrays, &opts, n)?;
    Ok(starts
        .windows(2)
        .map(|w| {
            let new_values = (w[0] + 1..w[1]).filter(|&i| !rows.same(perm[i] as usize, perm[i - 1] as usize)).count();
            1 + new_values as u64
        })
        .collect())
}

/// A CPU frame with `fields` and no rows.
pub(crate) fn empty(fields: &[Field]) -> Result<DataFrame> {
    let columns = fields.iter().map(|f| (f.name.clone(), Column::Host(new_empty_array(&f.dtype.to_arrow())))).collect();
    DataFrame::from_columns(columns, Device::Cpu)
}

/// One array of `dtype` from per-group results (built directly for the common result types).
fn scalars_to_array(values: &[Scalar], dtype: &DType) -> Result<ArrayRef> {
    Ok(match dtype {
        DType::Int64 => Arc::new(Int64Array::from_iter(values.iter().map(|v| match v {
            Scalar::Int64(x) => Some(*x),
            _ => None,
        }))),
        DType::UInt64 => Arc::new(UInt64Array::from_iter(values.iter().map(|v| match v {
            Scalar::UInt64(x) => Some(*x),
            _ => None,
        }))),
        DType::Float64 => Arc::new(Float64Array::from_iter(values.iter().map(|v| match v {
            Scalar::Float64(x) => Some(*x),
            _ => None,
        }))),
        DType::Decimal128 { precision, scale } => Arc::new(
            Decimal128Array::from_iter(values.iter().map(|v| match v {
                Scalar::Decimal128 { value, .. } => Some(*value),
                _ => None,
            }))
            .with_precision_and_scale(*precision, *scale)?,
        ),
        _ => {
            let parts = values.iter().map(|v| v.to_array(dtype)).collect::<Result<Vec<_>>>()?;
            let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
            if refs.is_empty() {
                new_empty_array(&dtype.to_arrow())
            } else {
                arrow::compute::concat(&refs)?
            }
        }
    })
}
