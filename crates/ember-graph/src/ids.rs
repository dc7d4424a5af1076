//! Renumbering: arbitrary integer vertex ids to dense indices `0..n` in ascending id order, and
//! back. Dense-enough ids (a range at most a few times the number of edge ends) are ranked
//! through a presence array in O(E + range); sparse ones are sorted and looked up by binary
//! search.
use arrow::array::{ArrayRef, Int32Array, Int64Array};
use arrow::datatypes::DataType;
use ember_core::{Error, Result};
use rayon::prelude::*;
use std::sync::Arc;

/// The original id of every dense index (ascending), and the Arrow type ids come back in.
#[derive(Debug, Clone)]
pub(crate) enum VertexIds {
    /// Ids `0..n` (generated graphs).
    Range(usize),
    /// Sorted distinct ids.
    Sorted { ids: Vec<i64>, dtype: DataType },
}

impl VertexIds {
    pub fn range(n: usize) -> VertexIds {
        VertexIds::Range(n)
    }

    pub fn len(&self) -> usize {
        match self {
            VertexIds::Range(n) => *n,
            VertexIds::Sorted { ids, .. } => ids.len(),
        }
    }

    pub fn get(&self, v: usize) -> i64 {
        match self {
            VertexIds::Range(_) => v as i64,
            VertexIds::Sorted { ids, .. } => ids[v],
        }
    }

    pub fn index_of(&self, id: i64) -> Option<u32> {
        match self {
            VertexIds::Range(n) => (id >= 0 && (id as u64) < *n as u64).then_some(id as u32),
            VertexIds::Sorted { ids, .. } => ids.binary_search(&id).ok().map(|i| i as u32),
        }
    }

    /// The ids as an Arrow column of the edges' id type (int64 for generated graphs).
    pub fn to_arrow(&self) -> ArrayRef {
        self.gather(None)
    }

    /// The ids of `which` dense indices (all, in order, when None).
    pub fn gather(&self, which: Option<&[u32]>) -> ArrayRef {
        let get = |v: usize| self.get(v);
        let vals: Vec<i64> = match which {
            None => (0..self.len()).into_par_iter().map(get).collect(),
            Some(w) => w.par_iter().map(|&v| get(v as usize)).collect(),
        };
        match self {
            VertexIds::Sorted { dtype: DataType::Int32, .. } => {
                Arc::new(Int32Array::from(vals.into_iter().map(|v| v as i32).collect::<Vec<_>>()))
            }
            _ => Arc::new(Int64Array::from(vals)),
        }
    }
}

/// Dense indices for the concatenation of `parts` (one output slice, in order), with the sorted
/// distinct ids of the parts and `extra`.
pub(crate) fn renumber(parts: &[&[i64]], extra: Option<&[i64]>, dtype: DataType) -> Result<(VertexIds, Vec<u32>)> {
    let all = || parts.iter().copied().chain(extra);
    let total: usize = all().map(|p| p.len()).sum();
    let (lo, hi) = all()
        .map(|p| {
            p.par_iter()
                .fold(|| (i64::MAX, i64::MIN), |(a, b), &v| (a.min(v), b.max(v)))
                .reduce(|| (i64::MAX, i64::MIN), |x, y| (x.0.min(y.0), x.1.max(y.1)))
        })
        .fold((i64::MAX, i64::MIN), |x, y| (x.0.min(y.0), x.1.max(y.1)));
    let edge_ends: usize = parts.iter().map(|p| p.len()).sum();
    if total == 0 {
        return Ok((VertexIds::Sorted { ids: Vec::new(), dtype }, Vec::new()));
    }
    let span = (hi as i128 - lo as i128 + 1) as u128;
    if span <= (4 * total as u128 + 65_536) {
        // Dense enough: rank through a presence array.
        let span = span as usize;
        let mut rank = vec![0u32; span];
        for p in all() {
            for &v in p {
                rank[(v - lo) as usize] = 1;
            }
        }
        let mut ids = Vec::new();
        let mut next = 0u32;
        for (i, r) in rank.iter_mut().enumerate() {
            if *r != 0 {
                *r = next;
                next += 1;
                ids.push(lo + i as i64);
            }
        }
        check_count(ids.len())?;
        let mut dense = Vec::with_capacity(edge_ends);
        for p in parts {
            dense.par_extend(p.par_iter().map(|&v| rank[(v - lo) as usize]));
        }
        return Ok((VertexIds::Sorted { ids, dtype }, dense));
    }
    let mut ids: Vec<i64> = Vec::with_capacity(total);
    for p in all() {
        ids.extend_from_slice(p);
    }
    ids.par_sort_unstable();
    ids.dedup();
    check_count(ids.len())?;
    let mut dense = Vec::with_capacity(edge_ends);
    for p in parts {
        dense.par_extend(p.par_iter().map(|v| ids.binary_search(v).expect("every id was collected") as u32));
    }
    Ok((VertexIds::Sorted { ids, dtype }, dense))
}

fn check_count(n: usize) -> Result<()> {
    if n >= u32::MAX as usize {
        return Err(Error::Unsupported(format!("{n} vertices: ember-graph indexes vertices with 32 bits")));
    }
    Ok(())
}
