//! The target-recall knob: `HnswIndex::search_with_recall(q, k, target)` picks `ef` for the batch
//! from a recall curve the index measures on itself (RIANN's idea, without its per-query model).
//!
//! The curve: `PROBES` live vectors chosen by a seeded hash are searched as queries with each left
//! out of the graph (as a vector the index does not hold), at each `ef` of a grid; their exact
//! neighbours (the probe excluded) come from a scan. A batch of `b` queries gets the smallest
//! `ef` (interpolated between grid points) whose mean probe recall, less 1.645 standard errors of
//! a `b`-query mean, reaches the target, so that about 95% of batches from the probes'
//! distribution meet it. The curve is measured once per `k`
//! on first use (about `PROBES` exact scans of the index plus `PROBES x grid` graph searches) and
//! forgotten when vectors are added or deleted. Queries from another distribution than the
//! indexed vectors can see other recalls: that is what RIANN's per-query features are for, and
//! they are not built yet.
use crate::hnsw::HnswIndex;
use ember_core::{Error, Result};
use rayon::prelude::*;

/// Probe queries per curve.
pub(crate) const PROBES: usize = 200;
/// The `ef` grid (values below `k` are raised to `k`).
const EF_GRID: [usize; 13] = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024];
/// One-sided 95% normal quantile.
const Z95: f64 = 1.645;

/// Measured recall@k against `ef`.
#[derive(Debug, Clone)]
pub(crate) struct RecallCurve {
    /// `(ef, mean recall, standard deviation over probes)`, `ef` ascending.
    points: Vec<(usize, f64, f64)>,
}

impl RecallCurve {
    /// Measures the curve of `index` at `k` (see the module documentation).
    pub(crate) fn measure(index: &HnswIndex, k: usize) -> Result<RecallCurve> {
        let probes = index.probe_slots(PROBES);
        if probes.is_empty() || index.len() < 2 {
            return Err(Error::InvalidArgument("a target recall needs an index of at least two vectors".into()));
        }
        let mut efs: Vec<usize> = EF_GRID.iter().map(|&e| e.max(k)).collect();
        efs.dedup();
        // Exact neighbours of each probe, itself excluded.
        let truth: Vec<Vec<u64>> = probes.par_iter().map(|&s| index.exact_excluding(s, k)).collect();
        let mut points = Vec::with_capacity(efs.len());
        for &ef in &efs {
            let recalls: Vec<f64> = probes
                .par_iter()
                .zip(&truth)
                .map(|(&s, t)| {
                    let found = index.search_held_out(s, k, ef);
                    if t.is_empty() {
                        1.0
                    } else {
                        t.iter().filter(|l| found.contains(l)).count() as f64 / t.len() as f64
                    }
                })
                .collect();
            let n = recalls.len() as f64;
            let mean = recalls.iter().sum::<f64>() / n;
            let var = recalls.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / (n - 1.0).max(1.0);
            points.push((ef, mean, var.sqrt()));
        }
        Ok(RecallCurve { points })
    }

    /// The `ef` for a batch of `batch` queries to reach mean recall `target` (see the module
    /// documentation); the largest grid value when none does.
    pub(crate) fn ef_for(&self, target: f64, batch: usize) -> usize {
        let se = |sd: f64| Z95 * sd / (batch.max(1) as f64).sqrt();
        let bound: Vec<(usize, f64)> = self.points.iter().map(|&(ef, m, sd)| (ef, m - se(sd))).collect();
        let Some(i) = bound.iter().position(|&(_, r)| r >= target) else {
            return bound.last().map_or(EF_GRID[0], |p| p.0);
        };
        if i == 0 {
            return bound[0].0;
        }
        // Linear between the grid point below the target and the one that reaches it.
        let ((e0, r0), (e1, r1)) = (bound[i - 1], bound[i]);
        let t = if r1 > r0 { ((target - r0) / (r1 - r0)).clamp(0.0, 1.0) } else { 1.0 };
        (e0 as f64 + t * (e1 - e0) as f64).ceil() as usize
    }

    /// `(ef, mean recall)` of each grid point.
    pub(crate) fn points(&self) -> Vec<(usize, f64)> {
        self.points.iter().map(|&(e, m, _)| (e, m)).collect()
    }
}

/// Checks a target recall.
pub(crate) fn check_target(target: f64) -> Result<()> {
    if target > 0.0 && target <= 1.0 {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!("target recall {target}: must be in (0, 1]")))
    }
}
