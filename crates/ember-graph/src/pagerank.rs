//! PageRank: uniform or personalized, weighted or not, with a custom dangling distribution, as
//! `networkx.pagerank` computes it:
//!
//! `x' = alpha * (x A + (sum of x over dangling vertices) * dangling) + (1 - alpha) * p`
//!
//! where `A` is the out-weight-normalised adjacency matrix and a dangling vertex is one whose
//! out-weights sum to zero. The CPU engine pulls over in-edges (CSC) in f64 with precomputed
//! contributions `x[u] / W[u]`, one pass per iteration (the pass that writes `x'` also computes
//! the next contributions, the dangling mass and the residual, in fixed-size chunks summed in
//! order, so the answer does not depend on the thread count). The GPU path (`gpu.rs`) iterates in
//! f32 with f64 reductions.
use crate::graph::Graph;
use arrow::array::{ArrayRef, Float64Array};
use ember_core::{DataFrame, Device, Error, Result};
use ember_gpu::ExecContext;
use rayon::prelude::*;
use std::sync::Arc;

/// When to stop iterating.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopRule {
    /// networkx's rule: stop when `sum |x' - x| < N * tol`.
    NetworkX {
        /// Per-vertex tolerance (networkx's default: 1e-6).
        tol: f64,
    },
    /// Stop when `sum |x' - x| < tol`.
    L1 {
        /// Absolute L1 tolerance.
        tol: f64,
    },
}

/// PageRank options; the defaults are networkx's.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRankOptions {
    /// Damping factor (0.85).
    pub alpha: f64,
    /// Iteration limit (100); not converging by then is [`Error::NotConverged`].
    pub max_iter: usize,
    /// The stopping rule (networkx's, tol 1e-6).
    pub stop: StopRule,
    /// Teleport distribution by original vertex id (missing vertices: 0), normalised; None is
    /// uniform.
    pub personalization: Option<Vec<(i64, f64)>>,
    /// Where dangling vertices' rank goes, by id, normalised; None is the personalization.
    pub dangling: Option<Vec<(i64, f64)>>,
    /// Starting ranks by id, normalised; None is uniform.
    pub nstart: Option<Vec<(i64, f64)>>,
    /// Use the edge weights (when the graph has them).
    pub weighted: bool,
}

impl Default for PageRankOptions {
    fn default() -> Self {
        PageRankOptions {
            alpha: 0.85,
            max_iter: 100,
            stop: StopRule::NetworkX { tol: 1e-6 },
            personalization: None,
            dangling: None,
            nstart: None,
            weighted: true,
        }
    }
}

/// PageRank scores by dense vertex index, and how they were reached.
#[derive(Debug, Clone)]
pub struct PageRank {
    /// Scores by dense index (they sum to 1).
    pub ranks: Vec<f64>,
    /// Iterations run.
    pub iterations: usize,
    /// The last iteration's L1 change.
    pub residual: f64,
    ids: ArrayRef,
}

impl PageRank {
    /// The scores as a frame `(vertex, pagerank)`, vertices by their original ids, ascending.
    pub fn to_frame(&self) -> Result<DataFrame> {
        let ranks: ArrayRef = Arc::new(Float64Array::from(self.ranks.clone()));
        let batch = arrow::array::RecordBatch::try_from_iter([("vertex", self.ids.clone()), ("pagerank", ranks)])?;
        DataFrame::from_record_batch(&batch)
    }
}

/// The problem in dense form, shared by the CPU engine and the GPU path.
#[derive(Debug)]
pub(crate) struct Problem {
    pub alpha: f64,
    pub max_iter: usize,
    /// Stop when the L1 change falls below this.
    pub threshold: f64,
    pub rule: String,
    /// Teleport distribution.
    pub p: Vec<f64>,
    /// Dangling distribution.
    pub dangling: Vec<f64>,
    pub x0: Vec<f64>,
    /// `1 / W[u]` (0 for dangling vertices).
    pub inv_out: Vec<f64>,
    pub weighted: bool,
}

fn distribution(g: &Graph, what: &str, entries: &[(i64, f64)]) -> Result<Vec<f64>> {
    let mut v = vec![0.0; g.num_vertices()];
    for &(id, value) in entries {
        let Some(i) = g.index_of(id) else {
            return Err(Error::InvalidArgument(format!("PageRank {what}: vertex {id} is not in the graph")));
        };
        if !value.is_finite() || value < 0.0 {
            return Err(Error::InvalidArgument(format!(
                "PageRank {what}: vertex {id} has {value}; values must be finite and >= 0"
            )));
        }
        v[i as usize] = value;
    }
    let sum: f64 = v.iter().sum();
    if sum == 0.0 {
        return Err(Error::InvalidArgument(format!("PageRank {what}: the values sum to zero")));
    }
    v.iter_mut().for_each(|x| *x /= sum);
    Ok(v)
}

impl Problem {
    pub fn new(g: &Graph, o: &PageRankOptions) -> Result<Problem> {
        if !(0.0..=1.0).contains(&o.alpha) {
            return Err(Error::InvalidArgument(format!("PageRank alpha {} is outside [0, 1]", o.alpha)));
        }
        let n = g.num_vertices();
        let (threshold, rule) = match o.stop {
            StopRule::NetworkX { tol } => (n as f64 * tol, format!("PageRank (L1 < N * tol = {})", n as f64 * tol)),
            StopRule::L1 { tol } => (tol, format!("PageRank (L1 < {tol})")),
        };
        if threshold.is_nan() || threshold < 0.0 {
            return Err(Error::InvalidArgument(format!("PageRank tolerance {threshold} must be >= 0")));
        }
        let uniform = || vec![1.0 / n as f64; n];
        let p = match &o.personalization {
            Some(e) => distribution(g, "personalization", e)?,
            None => uniform(),
        };
        let dangling = match &o.dangling {
            Some(e) => distribution(g, "dangling", e)?,
            None => p.clone(),
        };
        let x0 = match &o.nstart {
            Some(e) => distribution(g, "nstart", e)?,
            None => uniform(),
        };
        let weighted = o.weighted && g.is_weighted();
        let out = g.out_edges();
        let inv_out = (0..n)
            .into_par_iter()
            .map(|u| {
                let w: f64 = match out.weights_of(u) {
                    Some(ws) if weighted => ws.iter().sum(),
                    _ => out.degree(u) as f64,
                };
                if w == 0.0 {
                    0.0
                } else {
                    1.0 / w
                }
            })
            .collect();
        Ok(Problem { alpha: o.alpha, max_iter: o.max_iter, threshold, rule, p, dangling, x0, inv_out, weighted })
    }
}

/// Vertices per chunk of the parallel pass: the unit of the fixed-order reductions.
const CHUNK: usize = 2048;

impl Graph {
    /// PageRank on `device` (the GPU path in f32, the CPU engine in f64).
    ///
    /// ```
    /// use ember_core::Device;
    /// use ember_graph::{Graph, GraphOptions, PageRankOptions};
    /// // 0 -> 1 -> 2 -> 0, and 3 -> 0
    /// let g = Graph::from_dense_edges(4, &[0, 1, 2, 3], &[1, 2, 0, 0], None, &GraphOptions::directed())?;
    /// let pr = g.pagerank(&PageRankOptions::default(), Device::Cpu)?;
    /// assert!((pr.ranks.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    /// assert!(pr.ranks[0] > pr.ranks[3]);
    /// # Ok::<(), ember_core::Error>(())
    /// ```
    pub fn pagerank(&self, opts: &PageRankOptions, device: Device) -> Result<PageRank> {
        match device.gpu()? {
            None => self.pagerank_cpu(opts),
            Some(gpu) => self.pagerank_in(opts, &ExecContext::new(gpu)),
        }
    }

    /// PageRank on the GPU in the caller's execution context (its stream, memory and trace).
    pub fn pagerank_in(&self, opts: &PageRankOptions, ctx: &ExecContext) -> Result<PageRank> {
        let prob = Problem::new(self, opts)?;
        let (ranks, iterations, residual) = crate::gpu::pagerank(ctx, self, &prob)?;
        Ok(PageRank { ranks, iterations, residual, ids: self.ids() })
    }

    fn pagerank_cpu(&self, opts: &PageRankOptions) -> Result<PageRank> {
        let prob = Problem::new(self, opts)?;
        let n = self.num_vertices();
        if n == 0 {
            return Ok(PageRank { ranks: Vec::new(), iterations: 0, residual: 0.0, ids: self.ids() });
        }
        let inc = self.in_edges();
        let weights = if prob.weighted { inc.weights() } else { None };
        let alpha = prob.alpha;
        let mut x = prob.x0.clone();
        let mut next = vec![0.0f64; n];
        let mut contrib: Vec<f64> = x.par_iter().zip(&prob.inv_out).map(|(x, i)| x * i).collect();
        let mut next_contrib = vec![0.0f64; n];
        let mut dangling_mass: f64 = chunked_sum(n, |v| if prob.inv_out[v] == 0.0 { x[v] } else { 0.0 });
        let mut residual = f64::INFINITY;
        for it in 1..=prob.max_iter {
            let partials: Vec<(f64, f64)> = next
                .par_chunks_mut(CHUNK)
                .zip(next_contrib.par_chunks_mut(CHUNK))
                .enumerate()
                .map(|(c, (xs, cs))| {
                    let first = c * CHUNK;
                    let (mut err, mut dang) = (0.0f64, 0.0f64);
                    for (i, (xv, cv)) in xs.iter_mut().zip(cs.iter_mut()).enumerate() {
                        let v = first + i;
                        let (lo, hi) = (inc.offsets[v] as usize, inc.offsets[v + 1] as usize);
                        let mut s = 0.0f64;
                        match weights {
                            None => {
                                for &u in &inc.targets[lo..hi] {
                                    s += contrib[u as usize];
                                }
                            }
                            Some(w) => {
                                for (&u, &w) in inc.targets[lo..hi].iter().zip(&w[lo..hi]) {
                                    s += contrib[u as usize] * w;
                                }
                            }
                        }
                        let nv = alpha * (s + dangling_mass * prob.dangling[v]) + (1.0 - alpha) * prob.p[v];
                        err += (nv - x[v]).abs();
                        *xv = nv;
                        let inv = prob.inv_out[v];
                        *cv = nv * inv;
                        if inv == 0.0 {
                            dang += nv;
                        }
                    }
                    (err, dang)
                })
                .collect();
            residual = partials.iter().map(|p| p.0).sum();
            dangling_mass = partials.iter().map(|p| p.1).sum();
            std::mem::swap(&mut x, &mut next);
            std::mem::swap(&mut contrib, &mut next_contrib);
            if residual < prob.threshold {
                return Ok(PageRank { ranks: x, iterations: it, residual, ids: self.ids() });
            }
        }
        Err(Error::NotConverged { what: prob.rule, iterations: prob.max_iter, residual })
    }
}

/// `sum f(v)` over `0..n` in fixed chunks added in order (independent of the thread count).
fn chunked_sum(n: usize, f: impl Fn(usize) -> f64 + Sync) -> f64 {
    let parts: Vec<f64> =
        (0..n.div_ceil(CHUNK)).into_par_iter().map(|c| (c * CHUNK..((c + 1) * CHUNK).min(n)).map(&f).sum()).collect();
    parts.iter().sum()
}
