//! Connected components (undirected graphs) and weakly connected components (directed graphs)
//! by Afforest (Sutton et al., as in the GAP benchmark suite): link every vertex to its first
//! `NEIGHBOUR_ROUNDS` neighbours and compress, find the component most vertices already share
//! from a sample, then link the remaining edges of every vertex outside it (and, for a directed
//! graph, its in-edges) and compress again.
//!
//! Linking always hooks the larger root under the smaller one, so a component's final root is
//! its smallest vertex whatever the order of the links: the labels are the same on every
//! device and thread count.
use crate::graph::Graph;
use arrow::array::ArrayRef;
use ember_core::{DataFrame, Device, Result};
use ember_gpu::ExecContext;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Neighbours per vertex linked before sampling (GAP: 2).
pub(crate) const NEIGHBOUR_ROUNDS: usize = 2;
/// Vertices sampled to find the largest intermediate component (GAP: 1024).
pub(crate) const SAMPLES: usize = 1024;

/// A component label per dense vertex index: the component's smallest vertex.
#[derive(Debug, Clone)]
pub struct Components {
    /// The smallest dense index of each vertex's component.
    pub labels: Vec<u32>,
    pub(crate) ids: ArrayRef,
    pub(crate) label_ids: ArrayRef,
}

impl Components {
    /// Number of components.
    pub fn count(&self) -> usize {
        self.labels.iter().enumerate().filter(|(v, &l)| *v as u32 == l).count()
    }

    /// `(vertex, component)` by original id; a component is named by its smallest vertex id.
    pub fn to_frame(&self) -> Result<DataFrame> {
        let batch = arrow::array::RecordBatch::try_from_iter([
            ("vertex", self.ids.clone()),
            ("component", self.label_ids.clone()),
        ])?;
        DataFrame::from_record_batch(&batch)
    }
}

impl Graph {
    /// Connected components (weakly connected for a directed graph).
    ///
    /// ```
    /// use ember_core::Device;
    /// use ember_graph::{Graph, GraphOptions};
    /// let g = Graph::from_dense_edges(5, &[1, 4], &[0, 3], None, &GraphOptions::directed())?;
    /// let cc = g.connected_components(Device::Cpu)?;
    /// assert_eq!(cc.labels, vec![0, 0, 2, 3, 3]);
    /// assert_eq!(cc.count(), 3);
    /// # Ok::<(), ember_core::Error>(())
    /// ```
    pub fn connected_components(&self, device: Device) -> Result<Components> {
        match device.gpu()? {
            None => Ok(self.components_result(self.components_cpu())),
            Some(gpu) => self.connected_components_in(&ExecContext::new(gpu)),
        }
    }

    /// Connected components on the GPU in the caller's execution context.
    pub fn connected_components_in(&self, ctx: &ExecContext) -> Result<Components> {
        Ok(self.components_result(crate::gpu::components(ctx, self)?))
    }

    fn components_result(&self, labels: Vec<u32>) -> Components {
        let label_ids = self.vertex_ids().gather(Some(&labels));
        Components { labels, ids: self.ids(), label_ids }
    }

    fn components_cpu(&self) -> Vec<u32> {
        let n = self.num_vertices();
        let out = self.out_edges();
        let comp: Vec<AtomicU32> = (0..n as u32).map(AtomicU32::new).collect();
        for r in 0..NEIGHBOUR_ROUNDS {
            (0..n).into_par_iter().with_min_len(1024).for_each(|u| {
                if let Some(&v) = out.neighbours(u).get(r) {
                    link(u as u32, v, &comp);
                }
            });
            compress(&comp);
        }
        let c = most_frequent(n, |v| comp[v].load(Relaxed));
        let inc = self.inc.as_ref();
        (0..n).into_par_iter().with_min_len(256).for_each(|u| {
            if comp[u].load(Relaxed) == c {
                return;
            }
            for &v in out.neighbours(u).iter().skip(NEIGHBOUR_ROUNDS) {
                link(u as u32, v, &comp);
            }
            if let Some(inc) = inc {
                for &v in inc.neighbours(u) {
                    link(u as u32, v, &comp);
                }
            }
        });
        compress(&comp);
        comp.into_iter().map(AtomicU32::into_inner).collect()
    }
}

/// Joins the trees of `u` and `v`, hooking the larger root under the smaller.
fn link(u: u32, v: u32, comp: &[AtomicU32]) {
    let mut p1 = comp[u as usize].load(Relaxed);
    let mut p2 = comp[v as usize].load(Relaxed);
    while p1 != p2 {
        let (high, low) = if p1 > p2 { (p1, p2) } else { (p2, p1) };
        let p_high = comp[high as usize].load(Relaxed);
        if p_high == low {
            break;
        }
        if p_high == high && comp[high as usize].compare_exchange(high, low, Relaxed, Relaxed).is_ok() {
            break;
        }
        p1 = comp[comp[high as usize].load(Relaxed) as usize].load(Relaxed);
        p2 = comp[low as usize].load(Relaxed);
    }
}

/// Points every vertex at its root.
fn compress(comp: &[AtomicU32]) {
    (0..comp.len()).into_par_iter().with_min_len(4096).for_each(|v| loop {
        let p = comp[v].load(Relaxed);
        let gp = comp[p as usize].load(Relaxed);
        if p == gp {
            break;
        }
        comp[v].store(gp, Relaxed);
    });
}

/// The most frequent label among `SAMPLES` seeded samples (ties: the smaller label); the GPU path
/// draws the same sample.
pub(crate) fn sample_vertices(n: usize) -> Vec<u32> {
    let mut state = 0x5EED_u64;
    (0..SAMPLES.min(n.max(1)))
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) % n.max(1) as u64) as u32
        })
        .collect()
}

pub(crate) fn most_frequent_of(mut labels: Vec<u32>) -> u32 {
    labels.sort_unstable();
    let (mut best, mut best_count) = (u32::MAX, 0usize);
    let mut i = 0;
    while i < labels.len() {
        let j = labels[i..].iter().position(|&l| l != labels[i]).map_or(labels.len(), |k| i + k);
        if j - i > best_count {
            best = labels[i];
            best_count = j - i;
        }
        i = j;
    }
    best
}

fn most_frequent(n: usize, label: impl Fn(usize) -> u32) -> u32 {
    if n == 0 {
        return u32::MAX;
    }
    most_frequent_of(sample_vertices(n).into_iter().map(|v| label(v as usize)).collect())
}
