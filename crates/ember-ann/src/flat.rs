//! `FlatIndex`: exact nearest neighbours by scanning every vector. The CPU engine scans in
//! blocks (a block of queries against a cache-sized block of base vectors, in parallel over query
//! blocks) with a bounded heap per query; the GPU path (`gpu.rs`, `kernels/ann.cu`) gives each
//! query a block that keeps its top-k in shared memory. Distances are computed in one canonical
//! order on every device (`metric.rs`) and ties go to the earlier-added vector, so every device
//! returns the same neighbours.
use crate::mapped::Buf;
use crate::metric::Metric;
use crate::topk::{Neighbor, SearchResult};
use crate::vectors::Vectors;
use ember_core::{Device, Error, Result};
use ember_gpu::ExecContext;
use rayon::prelude::*;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};

mod file;

/// A filter on labels: a search returns only labels it accepts.
pub type Filter<'a> = &'a (dyn Fn(u64) -> bool + Sync);

/// Queries per parallel task, and bytes of base vectors per block of the CPU scan (L1-sized: the
/// block is read once per pair of queries).
const QUERY_BLOCK: usize = 16;
const BASE_BLOCK_BYTES: usize = 24 << 10;

/// How an index stores its vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Storage {
    /// 32-bit floats, as given.
    #[default]
    F32,
    /// IEEE half precision (`half::f16`): half the memory and half the bytes a scan reads; each
    /// vector is rounded to the nearest f16 when added (after cosine normalisation) and widened
    /// back to f32 exactly when distances are computed, so results equal those of an f32 index
    /// of the rounded vectors, on every device. Values past ±65504 become infinite: an error.
    F16,
}

/// An error naming the first vector of `v` holding a value past f16's range (±65504), which f16
/// storage would turn into an infinity.
pub(crate) fn check_f16_range(v: &Vectors, what: &str) -> Result<()> {
    match v.values().iter().position(|x| x.abs() > f32::from(half::f16::MAX)) {
        Some(i) => Err(Error::InvalidArgument(format!(
            "{what}: vector {} holds {}, past the f16 storage's range (±65504)",
            i / v.dim(),
            v.values()[i]
        ))),
        None => Ok(()),
    }
}

/// Vectors by slot, row-major (normalised for cosine), in their storage type.
#[derive(Debug)]
pub(crate) enum Store {
    F32(Buf<f32>),
    F16(Buf<half::f16>),
}

impl Store {
    fn replace(&mut self, at: usize, row: &[f32]) {
        match self {
            Store::F32(d) => d[at..at + row.len()].copy_from_slice(row),
            Store::F16(d) => d[at..at + row.len()].iter_mut().zip(row).for_each(|(o, &x)| *o = half::f16::from_f32(x)),
        }
    }

    fn push(&mut self, row: &[f32]) {
        match self {
            Store::F32(d) => d.owned().extend_from_slice(row),
            Store::F16(d) => d.owned().extend(row.iter().map(|&x| half::f16::from_f32(x))),
        }
    }

    /// Values `range` as f32: borrowed, or widened into `scratch`.
    fn f32s<'a>(&'a self, range: std::ops::Range<usize>, scratch: &'a mut Vec<f32>) -> &'a [f32] {
        match self {
            Store::F32(d) => &d[range],
            Store::F16(d) => {
                use half::slice::HalfFloatSliceExt;
                scratch.resize(range.len(), 0.0);
                d[range].convert_to_f32_slice(scratch);
                scratch
            }
        }
    }

    /// The stored bytes (what the GPU path uploads).
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Store::F32(d) => bytemuck::cast_slice(d),
            Store::F16(d) => bytemuck::cast_slice(d),
        }
    }
}

/// An exact index (see the module documentation).
#[derive(Debug)]
pub struct FlatIndex {
    pub(crate) metric: Metric,
    pub(crate) dim: usize,
    pub(crate) data: Store,
    pub(crate) labels: Vec<u64>,
    pub(crate) deleted: Vec<bool>,
    slots: HashMap<u64, u32>,
    live: usize,
    /// Bumped by every change, so a cached device copy knows it is stale.
    pub(crate) version: u64,
    pub(crate) device: Mutex<Option<Arc<crate::gpu::DeviceVectors>>>,
}

impl FlatIndex {
    /// An empty index of `dim`-dimensional vectors, stored as f32.
    pub fn new(dim: usize, metric: Metric) -> Result<FlatIndex> {
        FlatIndex::with_storage(dim, metric, Storage::F32)
    }

    /// An empty index storing its vectors as `storage` (see [`Storage::F16`]).
    ///
    /// ```
    /// use ember_ann::{FlatIndex, Metric, Storage, Vectors};
    /// use ember_core::Device;
    /// let mut idx = FlatIndex::with_storage(2, Metric::L2, Storage::F16)?;
    /// idx.add(&Vectors::from_row_major(vec![0.0, 0.0, 1.0, 0.1, 5.0, 5.0], 2)?, None)?;
    /// let r = idx.search(&Vectors::from_row_major(vec![1.0, 0.0], 2)?, 1, None, Device::Cpu)?;
    /// // 0.1 is stored as the f16 0.099975586: the distance is that of the rounded vector.
    /// assert_eq!((r.labels[0], r.distances[0]), (1, 0.099975586 * 0.099975586));
    /// # Ok::<(), ember_core::Error>(())
    /// ```
    pub fn with_storage(dim: usize, metric: Metric, storage: Storage) -> Result<FlatIndex> {
        if dim == 0 {
            return Err(Error::InvalidArgument("vector dimension must be at least 1".into()));
        }
        Ok(FlatIndex {
            metric,
            dim,
            data: match storage {
                Storage::F32 => Store::F32(Buf::default()),
                Storage::F16 => Store::F16(Buf::default()),
            },
            labels: Vec::new(),
            deleted: Vec::new(),
            slots: HashMap::new(),
            live: 0,
            version: 0,
            device: Mutex::new(None),
        })
    }

    /// Adds vectors with their labels (`0, 1, ...` after the current size when None). A label
    /// already present is replaced (upsert).
    ///
    /// ```
    /// use ember_ann::{FlatIndex, Metric, Vectors};
    /// use ember_core::Device;
    /// let mut idx = FlatIndex::new(2, Metric::L2)?;
    /// idx.add(&Vectors::from_row_major(vec![0.0, 0.0, 1.0, 0.0, 5.0, 5.0], 2)?, None)?;
    /// let r = idx.search(&Vectors::from_row_major(vec![0.9, 0.1], 2)?, 2, None, Device::Cpu)?;
    /// assert_eq!(r.labels, vec![1, 0]);
    /// # Ok::<(), ember_core::Error>(())
    /// ```
    pub fn add(&mut self, v: &Vectors, labels: Option<&[u64]>) -> Result<()> {
        v.check(self.dim, "FlatIndex::add")?;
        let labels = resolve_labels(v.len(), labels, self.labels.len())?;
        if matches!(self.data, Store::F16(_)) {
            check_f16_range(v, "FlatIndex::add")?;
        }
        for (i, &label) in labels.iter().enumerate() {
            let mut row = v.row(i).to_vec();
            self.metric.prepare(&mut row);
            match self.slots.get(&label) {
                Some(&s) => self.data.replace(s as usize * self.dim, &row),
                None => {
                    self.slots.insert(label, self.labels.len() as u32);
                    self.labels.push(label);
                    self.deleted.push(false);
                    self.data.push(&row);
                    self.live += 1;
                }
            }
        }
        self.version += 1;
        Ok(())
    }

    /// Removes a label; returns whether it was present.
    pub fn delete(&mut self, label: u64) -> bool {
        match self.slots.remove(&label) {
            Some(s) => {
                self.deleted[s as usize] = true;
                self.live -= 1;
                self.version += 1;
                true
            }
            None => false,
        }
    }

    /// Live vectors.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the index holds no live vector.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// How the vectors are stored.
    pub fn storage(&self) -> Storage {
        match self.data {
            Store::F32(_) => Storage::F32,
            Store::F16(_) => Storage::F16,
        }
    }

    /// The `k` nearest live vectors to each query that pass `filter`.
    pub fn search(
        &self,
        queries: &Vectors,
        k: usize,
        filter: Option<Filter<'_>>,
        device: Device,
    ) -> Result<SearchResult> {
        match device.gpu()? {
            None => self.search_cpu(queries, k, filter),
            Some(gpu) => self.search_in(queries, k, filter, &ExecContext::new(gpu)),
        }
    }

    /// [`Self::search`] on the GPU in the caller's execution context.
    pub fn search_in(
        &self,
        queries: &Vectors,
        k: usize,
        filter: Option<Filter<'_>>,
        ctx: &ExecContext,
    ) -> Result<SearchResult> {
        queries.check(self.dim, "FlatIndex::search")?;
        let q = self.prepared(queries);
        let mut res = crate::gpu::flat_search(ctx, self, &q, k, filter)?;
        for l in res.labels.iter_mut().filter(|l| **l != crate::topk::NO_LABEL) {
            *l = self.labels[*l as usize];
        }
        Ok(res)
    }

    fn prepared(&self, queries: &Vectors) -> Vectors {
        let mut q = queries.clone();
        if self.metric == Metric::Cosine {
            q.data.chunks_mut(self.dim).for_each(|r| self.metric.prepare(r));
        }
        q
    }

    /// Whether slot `s` may be returned.
    pub(crate) fn allowed(&self, s: usize, filter: Option<Filter<'_>>) -> bool {
        !self.deleted[s] && filter.is_none_or(|f| f(self.labels[s]))
    }

    fn search_cpu(&self, queries: &Vectors, k: usize, filter: Option<Filter<'_>>) -> Result<SearchResult> {
        queries.check(self.dim, "FlatIndex::search")?;
        let q = self.prepared(queries);
        let nq = q.len();
        let mut res = SearchResult::new(nq, k);
        if k == 0 {
            return Ok(res);
        }
        let n = self.labels.len();
        let allowed: Vec<bool> = (0..n).into_par_iter().map(|s| self.allowed(s, filter)).collect();
        let block = (BASE_BLOCK_BYTES / (4 * self.dim)).max(1);
        res.labels
            .par_chunks_mut(QUERY_BLOCK * k)
            .zip(res.distances.par_chunks_mut(QUERY_BLOCK * k))
            .enumerate()
            .for_each(|(b, (labels, dists))| {
                let first = b * QUERY_BLOCK;
                let count = labels.len() / k;
                let mut heaps: Vec<BinaryHeap<Neighbor>> =
                    (0..count).map(|_| BinaryHeap::with_capacity(k + 1)).collect();
                let push = |heap: &mut BinaryHeap<Neighbor>, cand: Neighbor| {
                    if heap.len() < k {
                        heap.push(cand);
                    } else {
                        let top = heap.peek().expect("k > 0");
                        // Most candidates lose on distance alone; ties fall to the full order.
                        if cand.dist <= top.dist && cand < *top {
                            heap.pop();
                            heap.push(cand);
                        }
                    }
                };
                let mut slots: Vec<usize> = Vec::with_capacity(block);
                let mut scratch = Vec::new();
                for start in (0..n).step_by(block) {
                    let end = (start + block).min(n);
                    slots.clear();
                    slots.extend((start..end).filter(|&s| allowed[s]));
                    // The block as f32 (f16 storage: widened once per block of queries).
                    let rows = self.data.f32s(start * self.dim..end * self.dim, &mut scratch);
                    let row = |s: usize| &rows[(s - start) * self.dim..(s - start + 1) * self.dim];
                    let mut qi = 0;
                    // Two queries against four base vectors at a time (register blocking; the
                    // block of base vectors stays in L1 across the queries).
                    while qi + 2 <= count {
                        let (q0, q1) = (q.row(first + qi), q.row(first + qi + 1));
                        let mut quads = slots.chunks_exact(4);
                        for c in &mut quads {
                            let d = self.metric.distance_block([q0, q1], [row(c[0]), row(c[1]), row(c[2]), row(c[3])]);
                            for j in 0..4 {
                                push(&mut heaps[qi], Neighbor { dist: d[0][j], id: c[j] as u32 });
                                push(&mut heaps[qi + 1], Neighbor { dist: d[1][j], id: c[j] as u32 });
                            }
                        }
                        for &s in quads.remainder() {
                            push(&mut heaps[qi], Neighbor { dist: self.metric.distance(q0, row(s)), id: s as u32 });
                            push(&mut heaps[qi + 1], Neighbor { dist: self.metric.distance(q1, row(s)), id: s as u32 });
                        }
                        qi += 2;
                    }
                    if qi < count {
                        let q0 = q.row(first + qi);
                        for &s in &slots {
                            push(&mut heaps[qi], Neighbor { dist: self.metric.distance(q0, row(s)), id: s as u32 });
                        }
                    }
                }
                for (qi, heap) in heaps.into_iter().enumerate() {
                    for (j, nb) in heap.into_sorted_vec().into_iter().enumerate() {
                        labels[qi * k + j] = self.labels[nb.id as usize];
                        dists[qi * k + j] = nb.dist;
                    }
                }
            });
        Ok(res)
    }
}

/// The labels of `n` new vectors: the given ones (checked for length and duplicates), or a
/// range after `next`.
pub(crate) fn resolve_labels(n: usize, labels: Option<&[u64]>, next: usize) -> Result<Vec<u64>> {
    match labels {
        None => Ok((next as u64..(next + n) as u64).collect()),
        Some(l) => {
            if l.len() != n {
                return Err(Error::LengthMismatch { context: "vector labels".into(), expected: n, actual: l.len() });
            }
            if let Some(bad) = l.iter().find(|&&x| x == crate::topk::NO_LABEL) {
                return Err(Error::InvalidArgument(format!("label {bad} is reserved (it marks a missing neighbour)")));
            }
            let mut seen = std::collections::HashSet::with_capacity(n);
            if let Some(d) = l.iter().find(|x| !seen.insert(**x)) {
                return Err(Error::InvalidArgument(format!("label {d} appears twice in one add")));
            }
            Ok(l.to_vec())
        }
    }
}
