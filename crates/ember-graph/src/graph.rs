//! The graph: vertices renumbered to dense `u32` indices (in ascending order of their original
//! ids), out-edges in CSR and, for directed graphs, in-edges in CSC, each adjacency list sorted
//! by neighbour.
//!
//! Duplicate edges and self-loops follow networkx:
//! - [`MultiEdges::Collapse`] (the default) is `nx.DiGraph` / `nx.Graph` built with
//!   `add_edges_from`: parallel edges become one, and the weight is the one given last.
//! - [`MultiEdges::Sum`] is `nx.MultiDiGraph` / `nx.MultiGraph` as networkx's algorithms see them
//!   (`to_scipy_sparse_array`): one edge whose weight is the sum of the parallel edges' weights
//!   (their number when unweighted).
//! - A self-loop is an ordinary edge: it counts once in its vertex's out-degree, directed or not
//!   (as the adjacency matrix networkx's PageRank uses), and is its own neighbour in BFS.
//! - Undirected: an edge `u - v` is stored as `u -> v` and `v -> u`; `u - v` and `v - u` in the
//!   input are the same edge.
use crate::ids::{renumber, VertexIds};
use arrow::array::{Array, ArrayRef};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use ember_core::{DataFrame, Error, Result};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How parallel edges are combined (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MultiEdges {
    /// One edge, with the weight given last (`nx.DiGraph` / `nx.Graph`).
    #[default]
    Collapse,
    /// One edge whose weight is the sum (`nx.MultiDiGraph` / `nx.MultiGraph`).
    Sum,
}

/// How to build a [`Graph`] from edge columns.
#[derive(Debug, Clone)]
pub struct GraphOptions {
    /// Directed (the default) or undirected.
    pub directed: bool,
    /// Parallel edges.
    pub multi_edges: MultiEdges,
    /// Extra vertices (ids of the edge columns' type), so isolated vertices exist.
    pub vertices: Option<ArrayRef>,
}

impl Default for GraphOptions {
    fn default() -> Self {
        GraphOptions { directed: true, multi_edges: MultiEdges::Collapse, vertices: None }
    }
}

impl GraphOptions {
    /// Directed graph options.
    pub fn directed() -> Self {
        GraphOptions::default()
    }

    /// Undirected graph options.
    pub fn undirected() -> Self {
        GraphOptions { directed: false, ..GraphOptions::default() }
    }

    /// With the given handling of parallel edges.
    pub fn multi_edges(mut self, m: MultiEdges) -> Self {
        self.multi_edges = m;
        self
    }

    /// With extra (possibly isolated) vertices.
    pub fn vertices(mut self, ids: ArrayRef) -> Self {
        self.vertices = Some(ids);
        self
    }
}

/// One direction of adjacency: `targets[offsets[v]..offsets[v + 1]]` are `v`'s neighbours in
/// ascending order, `weights` (when the graph is weighted) beside them.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjacency {
    pub(crate) offsets: Vec<u64>,
    pub(crate) targets: Vec<u32>,
    pub(crate) weights: Option<Vec<f64>>,
}

impl Adjacency {
    /// `v`'s neighbours.
    #[inline]
    pub fn neighbours(&self, v: usize) -> &[u32] {
        &self.targets[self.offsets[v] as usize..self.offsets[v + 1] as usize]
    }

    /// `v`'s edge weights (None when unweighted).
    #[inline]
    pub fn weights_of(&self, v: usize) -> Option<&[f64]> {
        self.weights.as_ref().map(|w| &w[self.offsets[v] as usize..self.offsets[v + 1] as usize])
    }

    /// `v`'s degree in this direction.
    #[inline]
    pub fn degree(&self, v: usize) -> usize {
        (self.offsets[v + 1] - self.offsets[v]) as usize
    }

    /// Row offsets (`n + 1`).
    pub fn offsets(&self) -> &[u64] {
        &self.offsets
    }

    /// Neighbour indices, list after list.
    pub fn targets(&self) -> &[u32] {
        &self.targets
    }

    /// Edge weights beside `targets`.
    pub fn weights(&self) -> Option<&[f64]> {
        self.weights.as_deref()
    }
}

/// A directed or undirected graph over dense vertex indices `0..n`, with the original ids.
#[derive(Debug, Clone)]
pub struct Graph {
    pub(crate) ids: VertexIds,
    pub(crate) directed: bool,
    pub(crate) out: Adjacency,
    /// In-edges (CSC); `None` for undirected graphs, whose in-edges are their out-edges.
    pub(crate) inc: Option<Adjacency>,
    /// The adjacency on the last GPU used (`gpu.rs`), shared by clones.
    pub(crate) device: Arc<Mutex<Option<Arc<crate::gpu::DeviceGraph>>>>,
}

impl Graph {
    /// From edge columns of integer ids (int32 or int64; other integer types are widened) and
    /// optional numeric weights. Null ids, null or non-finite weights are errors naming the row.
    ///
    /// ```
    /// use arrow::array::{ArrayRef, Int64Array};
    /// use ember_graph::{Graph, GraphOptions};
    /// use std::sync::Arc;
    /// let src: ArrayRef = Arc::new(Int64Array::from(vec![10, 10, 20, 30]));
    /// let dst: ArrayRef = Arc::new(Int64Array::from(vec![20, 30, 30, 10]));
    /// let g = Graph::from_edges(&src, &dst, None, &GraphOptions::directed())?;
    /// assert_eq!((g.num_vertices(), g.num_edges()), (3, 4));
    /// # Ok::<(), ember_core::Error>(())
    /// ```
    pub fn from_edges(src: &ArrayRef, dst: &ArrayRef, weight: Option<&ArrayRef>, opts: &GraphOptions) -> Result<Graph> {
        if src.len() != dst.len() {
            return Err(Error::LengthMismatch {
                context: "graph edges (dst)".into(),
                expected: src.len(),
                actual: dst.len(),
            });
        }
        let s = id_values(src, "src")?;
        let d = id_values(dst, "dst")?;
        let extra = opts.vertices.as_ref().map(|v| id_values(v, "vertices")).transpose()?;
        let w = match weight {
            None => None,
            Some(w) => {
                if w.len() != src.len() {
                    return Err(Error::LengthMismatch {
                        context: "graph edges (weight)".into(),
                        expected: src.len(),
                        actual: w.len(),
                    });
                }
                Some(weight_values(w)?)
            }
        };
        let id_type = if matches!(src.data_type(), DataType::Int32) && matches!(dst.data_type(), DataType::Int32) {
            DataType::Int32
        } else {
            DataType::Int64
        };
        let (ids, dense) = renumber(&[&s, &d], extra.as_deref(), id_type)?;
        let (ds, dd) = dense.split_at(s.len());
        Graph::build(ids, ds, dd, w.as_deref(), opts)
    }

    /// From columns of a frame (on any device; they are read on the host).
    pub fn from_frame(
        df: &DataFrame,
        src: &str,
        dst: &str,
        weight: Option<&str>,
        opts: &GraphOptions,
    ) -> Result<Graph> {
        let s = df.column(src)?.to_arrow()?;
        let d = df.column(dst)?.to_arrow()?;
        let w = weight.map(|w| df.column(w).and_then(|c| c.to_arrow())).transpose()?;
        Graph::from_edges(&s, &d, w.as_ref(), opts)
    }

    /// From edges over vertices `0..n` already dense (the generator's output): ids are `0..n`.
    pub fn from_dense_edges(
        n: usize,
        src: &[u32],
        dst: &[u32],
        weights: Option<&[f64]>,
        opts: &GraphOptions,
    ) -> Result<Graph> {
        if src.len() != dst.len() {
            return Err(Error::LengthMismatch {
                context: "graph edges (dst)".into(),
                expected: src.len(),
                actual: dst.len(),
            });
        }
        if let Some(bad) = src.iter().chain(dst).find(|&&v| v as usize >= n) {
            return Err(Error::InvalidArgument(format!("vertex {bad} out of range for a graph of {n} vertices")));
        }
        Graph::build(VertexIds::range(n), src, dst, weights, opts)
    }

    fn build(ids: VertexIds, src: &[u32], dst: &[u32], w: Option<&[f64]>, opts: &GraphOptions) -> Result<Graph> {
        let n = ids.len();
        if n > u32::MAX as usize - 1 || src.len() > u32::MAX as usize / 2 {
            return Err(Error::Unsupported(format!(
                "a graph of {n} vertices and {} edges: ember-graph indexes vertices and edges with 32 bits",
                src.len()
            )));
        }
        let out = adjacency(n, src, dst, w, !opts.directed, opts.multi_edges);
        let inc = opts.directed.then(|| transpose(n, &out));
        Ok(Graph { ids, directed: opts.directed, out, inc, device: Arc::default() })
    }

    /// Vertices.
    pub fn num_vertices(&self) -> usize {
        self.ids.len()
    }

    /// Edges after combining parallel edges: arcs for a directed graph, edges (`u - v` once)
    /// for an undirected one.
    pub fn num_edges(&self) -> usize {
        if self.directed {
            self.out.targets.len()
        } else {
            let self_loops: usize = (0..self.num_vertices())
                .into_par_iter()
                .map(|v| self.out.neighbours(v).binary_search(&(v as u32)).is_ok() as usize)
                .sum();
            (self.out.targets.len() + self_loops) / 2
        }
    }

    /// Whether the graph is directed.
    pub fn is_directed(&self) -> bool {
        self.directed
    }

    /// Whether edges carry weights.
    pub fn is_weighted(&self) -> bool {
        self.out.weights.is_some()
    }

    /// Out-edges (CSR).
    pub fn out_edges(&self) -> &Adjacency {
        &self.out
    }

    /// In-edges (CSC; the out-edges when undirected).
    pub fn in_edges(&self) -> &Adjacency {
        self.inc.as_ref().unwrap_or(&self.out)
    }

    /// The original ids, by dense index (ascending).
    pub fn ids(&self) -> ArrayRef {
        self.ids.to_arrow()
    }

    /// The dense index of an original id.
    pub fn index_of(&self, id: i64) -> Option<u32> {
        self.ids.index_of(id)
    }

    /// The original id of a dense index.
    pub fn id_of(&self, v: u32) -> i64 {
        self.ids.get(v as usize)
    }

    pub(crate) fn vertex_ids(&self) -> &VertexIds {
        &self.ids
    }
}

/// Integer ids as i64, with a clear error for nulls or other types.
fn id_values(a: &ArrayRef, what: &str) -> Result<Vec<i64>> {
    if a.null_count() > 0 {
        let row = (0..a.len()).find(|&i| a.is_null(i)).unwrap_or(0);
        return Err(Error::InvalidArgument(format!("graph {what} ids: null at row {row}; every edge needs both ends")));
    }
    match a.data_type() {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => {}
        DataType::UInt64 => {
            let u = a.as_any().downcast_ref::<arrow::array::UInt64Array>().expect("UInt64");
            if let Some(i) = u.values().iter().position(|&v| v > i64::MAX as u64) {
                return Err(Error::InvalidArgument(format!(
                    "graph {what} ids: {} at row {i} does not fit int64",
                    u.value(i)
                )));
            }
        }
        other => {
            return Err(Error::Type {
                op: format!("graph {what} ids"),
                message: format!("vertex ids must be integers (int32 or int64), got {other}"),
            })
        }
    }
    let c = cast(a, &DataType::Int64)?;
    Ok(c.as_any().downcast_ref::<arrow::array::Int64Array>().expect("Int64 after cast").values().to_vec())
}

fn weight_values(a: &ArrayRef) -> Result<Vec<f64>> {
    if !a.data_type().is_numeric() {
        return Err(Error::Type {
            op: "graph weights".into(),
            message: format!("edge weights must be numeric, got {}", a.data_type()),
        });
    }
    if a.null_count() > 0 {
        let row = (0..a.len()).find(|&i| a.is_null(i)).unwrap_or(0);
        return Err(Error::InvalidArgument(format!("graph weights: null at row {row}")));
    }
    let c = cast(a, &DataType::Float64)?;
    let v = c.as_any().downcast_ref::<arrow::array::Float64Array>().expect("Float64 after cast").values().to_vec();
    if let Some(i) = v.iter().position(|w| !w.is_finite()) {
        return Err(Error::InvalidArgument(format!("graph weights: {} at row {i} is not finite", v[i])));
    }
    Ok(v)
}

/// A slice that threads write at distinct indices (each index claimed once, by an atomic cursor).
struct Scatter<T>(*mut T);
// SAFETY: only used for writes at distinct indices claimed through atomics, then read after the
// parallel loop that wrote them has joined.
unsafe impl<T: Send> Sync for Scatter<T> {}
impl<T> Scatter<T> {
    /// # Safety
    /// `i` is in bounds and no other thread reads or writes it during the loop.
    #[inline]
    unsafe fn write(&self, i: usize, v: T) {
        // SAFETY: the caller guarantees `i` is in bounds and exclusively ours.
        unsafe { self.0.add(i).write(v) }
    }
}

fn prefix(counts: &[AtomicU64]) -> Vec<u64> {
    let mut offsets = Vec::with_capacity(counts.len() + 1);
    let mut acc = 0u64;
    offsets.push(0);
    for c in counts {
        acc += c.load(Ordering::Relaxed);
        offsets.push(acc);
    }
    offsets
}

/// Splits `data` into the lists `offsets` delimits.
fn lists_mut<'a, T>(data: &'a mut [T], offsets: &[u64]) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(offsets.len().saturating_sub(1));
    let mut rest = data;
    for w in offsets.windows(2) {
        let (head, tail) = rest.split_at_mut((w[1] - w[0]) as usize);
        out.push(head);
        rest = tail;
    }
    out
}

/// CSR from arcs `src[i] -> dst[i]` (and `dst[i] -> src[i]` when `symmetric`, self-loops once):
/// parallel counting sort by source, then each list sorted by (target, edge index) and its
/// parallel edges combined.
fn adjacency(n: usize, src: &[u32], dst: &[u32], w: Option<&[f64]>, symmetric: bool, multi: MultiEdges) -> Adjacency {
    let counts: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
    src.par_iter().zip(dst).for_each(|(&s, &d)| {
        counts[s as usize].fetch_add(1, Ordering::Relaxed);
        if symmetric && s != d {
            counts[d as usize].fetch_add(1, Ordering::Relaxed);
        }
    });
    let offsets = prefix(&counts);
    let arcs = offsets[n] as usize;
    let cursors: Vec<AtomicU64> = offsets[..n].iter().map(|&o| AtomicU64::new(o)).collect();
    // (target << 32 | edge index): sorting a list by it orders parallel edges by input order.
    let mut keys: Vec<u64> = Vec::with_capacity(arcs);
    let sink = Scatter(keys.as_mut_ptr());
    src.par_iter().zip(dst).enumerate().for_each(|(e, (&s, &d))| {
        let slot = cursors[s as usize].fetch_add(1, Ordering::Relaxed) as usize;
        // SAFETY: `slot` is claimed once by the fetch_add above and lies in s's list, below `arcs`.
        unsafe { sink.write(slot, (d as u64) << 32 | e as u64) };
        if symmetric && s != d {
            let slot = cursors[d as usize].fetch_add(1, Ordering::Relaxed) as usize;
            // SAFETY: as above, in d's list.
            unsafe { sink.write(slot, (s as u64) << 32 | e as u64) };
        }
    });
    // SAFETY: every slot below `arcs` was written exactly once (the counts and cursors agree).
    unsafe { keys.set_len(arcs) };
    drop(cursors);
    let weighted = w.is_some();
    // Sort each list and combine parallel edges in place; `lens[v]` is the combined length.
    let mut lens = vec![0u64; n];
    let mut wbuf: Vec<f64> = if weighted || multi == MultiEdges::Sum { vec![0.0; arcs] } else { Vec::new() };
    {
        let klists = lists_mut(&mut keys, &offsets);
        let wlists: Vec<&mut [f64]> = if wbuf.is_empty() {
            (0..n).map(|_| <&mut [f64]>::default()).collect()
        } else {
            lists_mut(&mut wbuf, &offsets)
        };
        klists.into_par_iter().zip(wlists).zip(lens.par_iter_mut()).for_each(|((list, wl), len)| {
            list.sort_unstable();
            let mut k = 0usize;
            let mut i = 0usize;
            while i < list.len() {
                let t = list[i] >> 32;
                let mut j = i;
                let mut acc = 0.0f64;
                while j < list.len() && list[j] >> 32 == t {
                    let e = (list[j] & 0xffff_ffff) as usize;
                    let we = w.map_or(1.0, |w| w[e]);
                    acc = match multi {
                        MultiEdges::Collapse => we,
                        MultiEdges::Sum => acc + we,
                    };
                    j += 1;
                }
                list[k] = t;
                if !wl.is_empty() {
                    wl[k] = acc;
                }
                k += 1;
                i = j;
            }
            *len = k as u64;
        });
    }
    let mut new_offsets = Vec::with_capacity(n + 1);
    new_offsets.push(0u64);
    let mut acc = 0;
    for l in &lens {
        acc += l;
        new_offsets.push(acc);
    }
    let total = acc as usize;
    let mut targets = vec![0u32; total];
    let keep_weights = weighted || (multi == MultiEdges::Sum && total < arcs);
    let mut weights = if keep_weights { vec![0f64; total] } else { Vec::new() };
    {
        let tl = lists_mut(&mut targets, &new_offsets);
        let wl: Vec<&mut [f64]> = if keep_weights {
            lists_mut(&mut weights, &new_offsets)
        } else {
            (0..n).map(|_| <&mut [f64]>::default()).collect()
        };
        tl.into_par_iter().zip(wl).enumerate().for_each(|(v, (t, wv))| {
            let from = offsets[v] as usize;
            for (i, x) in t.iter_mut().enumerate() {
                *x = keys[from + i] as u32;
            }
            if !wv.is_empty() {
                wv.copy_from_slice(&wbuf[from..from + wv.len()]);
            }
        });
    }
    Adjacency { offsets: new_offsets, targets, weights: keep_weights.then_some(weights) }
}

/// In-edges (CSC) of a CSR without parallel edges: each in-list sorted by source.
fn transpose(n: usize, out: &Adjacency) -> Adjacency {
    let counts: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
    out.targets.par_iter().for_each(|&t| {
        counts[t as usize].fetch_add(1, Ordering::Relaxed);
    });
    let offsets = prefix(&counts);
    let m = out.targets.len();
    let cursors: Vec<AtomicU64> = offsets[..n].iter().map(|&o| AtomicU64::new(o)).collect();
    let mut sources: Vec<u32> = Vec::with_capacity(m);
    let mut weights: Vec<f64> = Vec::with_capacity(if out.weights.is_some() { m } else { 0 });
    let s_sink = Scatter(sources.as_mut_ptr());
    let w_sink = Scatter(weights.as_mut_ptr());
    (0..n).into_par_iter().for_each(|u| {
        let ws = out.weights_of(u);
        for (i, &t) in out.neighbours(u).iter().enumerate() {
            let slot = cursors[t as usize].fetch_add(1, Ordering::Relaxed) as usize;
            // SAFETY: `slot` is claimed once by the fetch_add and lies below `m`.
            unsafe { s_sink.write(slot, u as u32) };
            if let Some(ws) = ws {
                // SAFETY: same slot, in the weights, allocated with `m` elements when weighted.
                unsafe { w_sink.write(slot, ws[i]) };
            }
        }
    });
    // SAFETY: every slot below `m` was written once (in-degrees and cursors agree).
    unsafe { sources.set_len(m) };
    if out.weights.is_some() {
        // SAFETY: as for `sources`.
        unsafe { weights.set_len(m) };
    }
    let weighted = out.weights.is_some();
    {
        let sl = lists_mut(&mut sources, &offsets);
        let wl: Vec<&mut [f64]> = if weighted {
            lists_mut(&mut weights, &offsets)
        } else {
            (0..n).map(|_| <&mut [f64]>::default()).collect()
        };
        sl.into_par_iter().zip(wl).for_each(|(s, w)| {
            if w.is_empty() {
                s.sort_unstable();
            } else {
                let mut pairs: Vec<(u32, f64)> = s.iter().copied().zip(w.iter().copied()).collect();
                pairs.sort_unstable_by_key(|p| p.0);
                for (i, (a, b)) in pairs.into_iter().enumerate() {
                    s[i] = a;
                    w[i] = b;
                }
            }
        });
    }
    Adjacency { offsets, targets: sources, weights: weighted.then_some(weights) }
}
