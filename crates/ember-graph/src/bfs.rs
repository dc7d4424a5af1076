//! Breadth-first search with direction optimisation (Beamer et al.; the GAP benchmark suite's
//! heuristic): top-down steps expand a queue of frontier vertices along out-edges while the
//! frontier is small, bottom-up steps let every unvisited vertex look for a parent among its
//! in-neighbours in a frontier bitmap while it is large.
//!
//! Parents are deterministic: a vertex's parent is its smallest in-neighbour on the previous
//! level (top-down steps take the minimum with an atomic min; bottom-up steps scan the sorted
//! in-list and stop at the first frontier vertex), so every device, thread count and direction
//! schedule gives the same distances and the same parents.
use crate::graph::Graph;
use arrow::array::{ArrayRef, Int64Array};
use ember_core::{DataFrame, Device, Error, Result};
use ember_gpu::ExecContext;
use rayon::prelude::*;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Distance of a vertex the search did not reach.
pub const UNREACHED: i32 = -1;
/// Parent of the source and of unreached vertices.
pub const NO_PARENT: u32 = u32::MAX;
/// Go bottom-up when the frontier's out-edges exceed the unexplored edges / ALPHA (GAP: 15).
pub(crate) const ALPHA: u64 = 15;
/// Go back top-down when the frontier shrinks below n / BETA vertices (GAP: 18).
pub(crate) const BETA: u64 = 18;

/// BFS distances and parents by dense vertex index.
#[derive(Debug, Clone)]
pub struct Bfs {
    /// Hops from the source ([`UNREACHED`] when not reached).
    pub distances: Vec<i32>,
    /// The parent in the BFS tree ([`NO_PARENT`] for the source and unreached vertices).
    pub parents: Vec<u32>,
    /// The source's dense index.
    pub source: u32,
    pub(crate) ids: ArrayRef,
    pub(crate) parent_ids: ArrayRef,
}

impl Bfs {
    /// `(vertex, distance, parent)` for every vertex, by original id; distance and parent are null
    /// where the search did not reach, the parent is null for the source.
    pub fn to_frame(&self) -> Result<DataFrame> {
        let dist: ArrayRef =
            Arc::new(Int64Array::from_iter(self.distances.iter().map(|&d| (d != UNREACHED).then_some(d as i64))));
        let batch = arrow::array::RecordBatch::try_from_iter([
            ("vertex", self.ids.clone()),
            ("distance", dist),
            ("parent", self.parent_ids.clone()),
        ])?;
        DataFrame::from_record_batch(&batch)
    }

    /// Vertices reached (the source included).
    pub fn reached(&self) -> usize {
        self.distances.iter().filter(|&&d| d != UNREACHED).count()
    }
}

impl Graph {
    /// BFS from the vertex with original id `source`, following out-edges.
    ///
    /// ```
    /// use ember_core::Device;
    /// use ember_graph::{Graph, GraphOptions};
    /// let g = Graph::from_dense_edges(4, &[0, 0, 1, 2], &[1, 2, 3, 3], None, &GraphOptions::directed())?;
    /// let bfs = g.bfs(0, Device::Cpu)?;
    /// assert_eq!(bfs.distances, vec![0, 1, 1, 2]);
    /// assert_eq!(bfs.parents[3], 1); // the smaller of 1 and 2
    /// # Ok::<(), ember_core::Error>(())
    /// ```
    pub fn bfs(&self, source: i64, device: Device) -> Result<Bfs> {
        match device.gpu()? {
            None => {
                let s = self.source_index(source)?;
                let (distances, parents) = self.bfs_cpu(s);
                Ok(self.bfs_result(s, distances, parents))
            }
            Some(gpu) => self.bfs_in(source, &ExecContext::new(gpu)),
        }
    }

    /// BFS on the GPU in the caller's execution context.
    pub fn bfs_in(&self, source: i64, ctx: &ExecContext) -> Result<Bfs> {
        let s = self.source_index(source)?;
        let (distances, parents) = crate::gpu::bfs(ctx, self, s)?;
        Ok(self.bfs_result(s, distances, parents))
    }

    fn source_index(&self, source: i64) -> Result<u32> {
        self.index_of(source)
            .ok_or_else(|| Error::InvalidArgument(format!("BFS source {source} is not a vertex of the graph")))
    }

    fn bfs_result(&self, source: u32, distances: Vec<i32>, parents: Vec<u32>) -> Bfs {
        let parent_ids = {
            let reached: Vec<u32> = parents.iter().map(|&p| if p == NO_PARENT { 0 } else { p }).collect();
            let ids = self.vertex_ids().gather(Some(&reached));
            let valid: arrow::buffer::NullBuffer = parents.iter().map(|&p| p != NO_PARENT).collect();
            arrow::array::make_array(
                ids.to_data().into_builder().nulls(Some(valid)).build().expect("same length as the ids"),
            )
        };
        Bfs { distances, parents, source, ids: self.ids(), parent_ids }
    }

    pub(crate) fn bfs_cpu(&self, source: u32) -> (Vec<i32>, Vec<u32>) {
        let n = self.num_vertices();
        let out = self.out_edges();
        let inc = self.in_edges();
        let dist: Vec<AtomicI32> = (0..n).map(|_| AtomicI32::new(UNREACHED)).collect();
        let parent: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(NO_PARENT)).collect();
        dist[source as usize].store(0, Relaxed);
        let mut queue = vec![source];
        let mut level = 0i32;
        let mut edges_to_check = out.targets.len() as u64;
        let mut scout = out.degree(source as usize) as u64;
        let words = n.div_ceil(64);
        while !queue.is_empty() {
            if scout > edges_to_check / ALPHA {
                let mut front = vec![0u64; words];
                for &v in &queue {
                    front[v as usize / 64] |= 1 << (v % 64);
                }
                let mut awake = queue.len() as u64;
                loop {
                    let old = awake;
                    let mut next = vec![0u64; words];
                    awake = bottom_up_step(inc, &dist, &parent, &front, &mut next, level);
                    level += 1;
                    front = next;
                    if awake == 0 || (awake < old && awake <= n as u64 / BETA) {
                        break;
                    }
                }
                queue = front
                    .par_iter()
                    .enumerate()
                    .flat_map_iter(|(w, &bits)| BitIter(bits).map(move |b| (w * 64 + b) as u32))
                    .collect();
                scout = 1;
            } else {
                edges_to_check = edges_to_check.saturating_sub(scout);
                let (next, s) = top_down_step(out, &dist, &parent, &queue, level);
                scout = s;
                level += 1;
                queue = next;
            }
        }
        (dist.into_iter().map(AtomicI32::into_inner).collect(), parent.into_iter().map(AtomicU32::into_inner).collect())
    }
}

struct BitIter(u64);
impl Iterator for BitIter {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let b = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(b)
    }
}

/// Expands `queue` (level `level`) along out-edges; returns the next queue and the out-degree
/// sum of its vertices.
fn top_down_step(
    out: &crate::graph::Adjacency,
    dist: &[AtomicI32],
    parent: &[AtomicU32],
    queue: &[u32],
    level: i32,
) -> (Vec<u32>, u64) {
    let next_level = level + 1;
    let scout = AtomicU64::new(0);
    let next: Vec<u32> = queue
        .par_chunks(256)
        .flat_map_iter(|chunk| {
            let mut local = Vec::new();
            let mut local_scout = 0u64;
            for &u in chunk {
                for &v in out.neighbours(u as usize) {
                    let mut d = dist[v as usize].load(Relaxed);
                    if d == UNREACHED {
                        match dist[v as usize].compare_exchange(UNREACHED, next_level, Relaxed, Relaxed) {
                            Ok(_) => {
                                local.push(v);
                                local_scout += out.degree(v as usize) as u64;
                                d = next_level;
                            }
                            Err(cur) => d = cur,
                        }
                    }
                    if d == next_level && u < parent[v as usize].load(Relaxed) {
                        parent[v as usize].fetch_min(u, Relaxed);
                    }
                }
            }
            scout.fetch_add(local_scout, Relaxed);
            local
        })
        .collect();
    (next, scout.into_inner())
}

/// Every unvisited vertex looks for its smallest in-neighbour in `front`; returns how many found
/// one (they are set in `next`).
fn bottom_up_step(
    inc: &crate::graph::Adjacency,
    dist: &[AtomicI32],
    parent: &[AtomicU32],
    front: &[u64],
    next: &mut [u64],
    level: i32,
) -> u64 {
    let n = dist.len();
    next.par_chunks_mut(64)
        .enumerate()
        .map(|(c, words)| {
            let mut awake = 0u64;
            for (w, word) in words.iter_mut().enumerate() {
                let base = (c * 64 + w) * 64;
                for v in base..(base + 64).min(n) {
                    if dist[v].load(Relaxed) != UNREACHED {
                        continue;
                    }
                    for &u in inc.neighbours(v) {
                        if front[u as usize / 64] >> (u % 64) & 1 == 1 {
                            dist[v].store(level + 1, Relaxed);
                            parent[v].store(u, Relaxed);
                            *word |= 1 << (v % 64);
                            awake += 1;
                            break;
                        }
                    }
                }
            }
            awake
        })
        .sum()
}
