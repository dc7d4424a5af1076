//! The target-recall knob: `HnswIndex::search_with_recall(q, k, target)` picks `ef` for the batch
//! from a recall curve the index measures on itself (RIANN's idea, without its per-query model).
//!
//! The curve: up to `PROBES` live vectors are searched as queries the index does not hold, at
//! each `ef` of a grid, against their exact neighbours (the probe excluded) from a scan. For
//! their recall to be that of new queries, a probe must be out of the graph as if it had never
//! been inserted: skipping its node leaves holes where the build pruned links in its favour
//! (recall 0.02–0.04 low at small `ef`), and keeping it hands the search its own neighbour list
//! (recall far too high). So the probes are vectors the build inserted after the rest of their
//! batch (`hnsw::is_probe`, one in 16), and a probe's search re-selects the links of the nodes
//! that link to it without it (`HnswIndex::held_out`): what is left of it in the graph are those
//! back-links. Checked against indexes built without the probes (Fashion-MNIST: 0.9343 for
//! truly held-out vectors at `ef` 10, 0.927 measured, 0.913 with the skip alone).
//!
//! A batch of `b` queries gets the smallest `ef` (interpolated between grid points, and
//! fractional: part of the batch takes the next integer) whose mean probe recall, less 1.645
//! standard errors of the batch's and the curve's means, reaches the target, so that about 95%
//! of batches from the indexed vectors' distribution meet it. The curve is measured once per `k`
//! on first use (`PROBES` exact scans of the index plus up to `PROBES x grid` graph searches) and
//! forgotten when vectors are added or deleted. Queries from another distribution than the
//! indexed vectors can see other recalls. RIANN's per-query model (an `ef` per query from
//! features of its search) was tried and measured, and did not pay here: see `docs/perf.md`.
use crate::hnsw::HnswIndex;
use ember_core::{Error, Result};
use rayon::prelude::*;

/// Probe queries per curve (at most).
pub(crate) const PROBES: usize = 1000;
/// The `ef` grid (values below `k` are raised to `k`).
const EF_GRID: [usize; 20] = [10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128, 192, 256, 384, 512, 1024];
/// One-sided 95% normal quantile.
const Z95: f64 = 1.645;

/// Measured recall@k against `ef`.
#[derive(Debug, Clone)]
pub(crate) struct RecallCurve {
    /// `(ef, mean recall, standard deviation over probes)`, `ef` ascending.
    points: Vec<(usize, f64, f64)>,
    /// Probes measured.
    probes: usize,
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
        // Per probe, its recall at each grid `ef`; once it reaches 1 the larger `ef`s are not
        // searched and count as 1 (recall rarely falls as `ef` grows).
        let linking = index.in_links(&probes);
        let truths = index.exact_excluding(&probes, k);
        let tables: Vec<Vec<f64>> = probes
            .par_iter()
            .zip(&linking)
            .zip(&truths)
            .map(|((&s, linking), truth)| {
                let held = index.held_out(s, linking);
                let mut table = vec![1.0; efs.len()];
                for (i, &ef) in efs.iter().enumerate() {
                    if truth.is_empty() {
                        break;
                    }
                    let found = index.search_held_out(&held, k, ef);
                    table[i] = truth.iter().filter(|l| found.contains(l)).count() as f64 / truth.len() as f64;
                    if table[i] >= 1.0 {
                        break;
                    }
                }
                table
            })
            .collect();
        let n = tables.len() as f64;
        let points = efs
            .iter()
            .enumerate()
            .map(|(i, &ef)| {
                let mean = tables.iter().map(|t| t[i]).sum::<f64>() / n;
                let var = tables.iter().map(|t| (t[i] - mean) * (t[i] - mean)).sum::<f64>() / (n - 1.0).max(1.0);
                (ef, mean, var.sqrt())
            })
            .collect();
        Ok(RecallCurve { points, probes: tables.len() })
    }

    /// The `ef` for a batch of `batch` queries to reach mean recall `target` (see the module
    /// documentation); the largest grid value when none does.
    pub(crate) fn ef_for(&self, target: f64, batch: usize) -> f64 {
        // The batch's mean and the curve's (over `probes`) are both estimates.
        let spread = (1.0 / batch.max(1) as f64 + 1.0 / self.probes as f64).sqrt();
        let se = |sd: f64| Z95 * sd * spread;
        let bound: Vec<(usize, f64)> = self.points.iter().map(|&(ef, m, sd)| (ef, m - se(sd))).collect();
        let Some(i) = bound.iter().position(|&(_, r)| r >= target) else {
            return bound.last().map_or(EF_GRID[0], |p| p.0) as f64;
        };
        if i == 0 {
            return bound[0].0 as f64;
        }
        // Linear between the grid point below the target and the one that reaches it.
        let ((e0, r0), (e1, r1)) = (bound[i - 1], bound[i]);
        let t = if r1 > r0 { ((target - r0) / (r1 - r0)).clamp(0.0, 1.0) } else { 1.0 };
        e0 as f64 + t * (e1 - e0) as f64
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
