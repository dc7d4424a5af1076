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
//! fractional: part of the batch takes the next integer) whose mean probe recall, less `z`
//! standard errors of the batch's and the curve's means, reaches the target, `z` the normal
//! quantile of the [`RecallTarget`]'s confidence: 0 aims the batch's mean at the target, 1.645
//! (the default) makes about 95% of batches from the indexed vectors' distribution meet it.
//! Grid values below `k` search less than `ef = k` and still return `k` neighbours, so targets
//! under the recall at `ef = k` are reached too. The curve is measured once per `k`
//! on first use (`PROBES` exact scans of the index plus up to `PROBES x grid` graph searches) and
//! forgotten when vectors are added or deleted. Queries from another distribution than the
//! indexed vectors can see other recalls. RIANN's per-query model (an `ef` per query from
//! features of its search) was tried and measured, and did not pay here: see `docs/perf.md`.
use crate::hnsw::HnswIndex;
use ember_core::{Error, Result};
use rayon::prelude::*;

/// Probe queries per curve (at most).
pub(crate) const PROBES: usize = 1000;
/// The `ef` grid. Values below `k` search less than `ef = k` and still return `k` (see
/// `HnswIndex::search_layer`): the low end of the knob, for targets under the recall at `k`.
const EF_GRID: [usize; 28] =
    [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128, 192, 256, 384, 512, 1024];

/// What a target recall asks of a batch: that its mean recall@k reach `recall` with
/// probability `confidence` (for queries from the indexed vectors' distribution).
///
/// `confidence = 0.5` ([`RecallTarget::mean`]) aims the batch's expected recall at `recall`
/// itself: over many batches the mean recall is the target (within the curve's error), and about
/// half the batches fall short of it. Higher confidences add that many standard errors of the
/// batch's and the curve's means: [`RecallTarget::batches`]`(r, 0.95)` (what an `f64` converts
/// to) makes 19 batches in 20 reach `r`, and the mean recall lands above `r` by about
/// `1.645 * sd * sqrt(1 / batch + 1 / probes)` (0.007 at recall 0.95 with batches of 1000 on
/// Fashion-MNIST). Both at once, a mean within 0.005 of the target and 95% of batches meeting
/// it, is possible only where that margin is under 0.005: large batches or recalls near 1.
///
/// ```
/// use ember_ann::RecallTarget;
/// assert_eq!(RecallTarget::from(0.95), RecallTarget::batches(0.95, 0.95));
/// assert_eq!(RecallTarget::mean(0.9).confidence, 0.5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecallTarget {
    /// The recall@k asked for, in (0, 1].
    pub recall: f64,
    /// The probability that a batch reaches it, in [0.5, 1).
    pub confidence: f64,
}

impl RecallTarget {
    /// The batch's expected mean recall is `recall`.
    pub fn mean(recall: f64) -> RecallTarget {
        RecallTarget { recall, confidence: 0.5 }
    }

    /// A batch reaches `recall` with probability `confidence`.
    pub fn batches(recall: f64, confidence: f64) -> RecallTarget {
        RecallTarget { recall, confidence }
    }

    /// Checks both numbers.
    pub(crate) fn check(&self) -> Result<()> {
        if !(self.recall > 0.0 && self.recall <= 1.0) {
            return Err(Error::InvalidArgument(format!("target recall {}: must be in (0, 1]", self.recall)));
        }
        if !(self.confidence >= 0.5 && self.confidence < 1.0) {
            return Err(Error::InvalidArgument(format!("confidence {}: must be in [0.5, 1)", self.confidence)));
        }
        Ok(())
    }
}

impl From<f64> for RecallTarget {
    /// 95% of batches reach the recall.
    fn from(recall: f64) -> RecallTarget {
        RecallTarget::batches(recall, 0.95)
    }
}

/// The standard normal quantile of `p` in [0.5, 1): Abramowitz & Stegun 26.2.23 (absolute error
/// under 4.5e-4, ample for a margin; written here rather than pulling a statistics crate for
/// one function).
fn normal_quantile(p: f64) -> f64 {
    if p <= 0.5 {
        return 0.0;
    }
    let t = (-2.0 * (1.0 - p).ln()).sqrt();
    let z = t
        - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t);
    z.max(0.0)
}

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
        let efs = &EF_GRID;
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

    /// The `ef` for a batch of `batch` queries to reach `target` (see the module
    /// documentation); the largest grid value when none does.
    pub(crate) fn ef_for(&self, target: RecallTarget, batch: usize) -> f64 {
        // The batch's mean and the curve's (over `probes`) are both estimates.
        let spread = (1.0 / batch.max(1) as f64 + 1.0 / self.probes as f64).sqrt();
        let z = normal_quantile(target.confidence);
        let se = |sd: f64| z * sd * spread;
        let target = target.recall;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles() {
        for (p, z) in
            [(0.5, 0.0), (0.8413, 1.0), (0.9, 1.2816), (0.95, 1.6449), (0.975, 1.96), (0.99, 2.3263), (0.999, 3.0902)]
        {
            assert!((normal_quantile(p) - z).abs() < 5e-4, "p {p}: {} vs {z}", normal_quantile(p));
        }
    }

    #[test]
    fn targets_are_checked() {
        assert!(RecallTarget::from(0.9).check().is_ok() && RecallTarget::mean(1.0).check().is_ok());
        for bad in [
            RecallTarget::mean(0.0),
            RecallTarget::mean(f64::NAN),
            RecallTarget::batches(0.9, 0.4),
            RecallTarget::batches(0.9, 1.0),
        ] {
            assert!(matches!(bad.check(), Err(Error::InvalidArgument(_))), "{bad:?}");
        }
    }
}
