//! Growing one tree, depth-wise: the decisions every backend makes alike.
//!
//! The backend (CPU engine or GPU) owns the rows: gradients, their quantisation, histograms and
//! the row-to-node partition. This file owns the decisions: the split search
//! ([`Evaluator::best`]), the leaf values and, for the CPU engine, the growth loop ([`grow`]):
//! which child's histogram to build (the one with fewer rows; its sibling is the parent's minus
//! it, exact because histograms hold integers, so the choice never changes the model) and the
//! node arrays. The GPU grows a tree on the device with the same search, operation for operation
//! in f64 (`kernels/gbdt.cu`, `gbdt_evaluate`), so every backend grows the same tree.
use crate::cuts::{Cuts, MISSING};
use crate::objective::Quantiser;
use crate::params::Params;
use crate::tree::Tree;
use ember_core::Result;
use rayon::prelude::*;

/// Histogram slots per feature: value bins 0..=254 and the missing slot 255.
pub(crate) const SLOTS: usize = 256;

/// A node's histogram: `features * SLOTS` pairs of quantised (gradient, hessian) sums, laid out
/// `[(f * SLOTS + bin) * 2 + {0: g, 1: h}]`.
pub(crate) type Hist = Vec<i64>;

/// A split the backend applies to its rows: rows of heap node `node` whose bin of `feature` is
/// `<= bin` go to `2 node + 1`, the others to `2 node + 2`; missing values to `default_left`'s side.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SplitRow {
    pub node: u32,
    pub feature: u32,
    pub bin: u32,
    pub default_left: bool,
}

impl SplitRow {
    #[inline]
    pub fn goes_left(&self, bin: u8) -> bool {
        // `self.bin` < MISSING, so a missing value fails the first test (no branch: the
        // partition's loop stays branch-free).
        (bin as u32 <= self.bin) | ((bin == MISSING) & self.default_left)
    }
}

/// What boosting asks of a backend (CPU engine or GPU), which owns the rows: their margins,
/// gradients, quantised pairs and the row-to-node assignment.
pub(crate) trait Backend {
    /// Training rows.
    fn rows(&self) -> usize;
    /// Gradient pairs of every row and group at the current margins; returns each group's
    /// largest |gradient| and hessian.
    fn gradients(&mut self) -> Result<Vec<(f64, f64)>>;
    /// One tree for output group `k` (tree number `tree`, which seeds the row sample): quantises
    /// the group's pairs under `ev`'s quantisers (rows outside the sample get zeros; `fused`: the
    /// pairs computed from the margins in the same pass, for one-group objectives whose scales
    /// come from a-priori bounds), grows the tree with `ev`'s decisions and adds its leaves to
    /// the group's margins.
    fn tree(&mut self, k: usize, fused: bool, ev: &Evaluator<'_>, tree: u64) -> Result<Tree>;
}

/// The rows as the host-side grower ([`grow`]) drives them: the CPU engine's. (The GPU grows a
/// whole tree on the device, `gbdt.cu`'s `gbdt_evaluate` mirroring [`Evaluator::best`].)
pub(crate) trait HostRows {
    /// Whether to build the left child's histogram (the sibling comes by subtraction), after
    /// the partition.
    fn build_left(&self, left: u32, right: u32, hl: i64, hr: i64) -> bool;
    /// The histograms of `nodes` into `out` (one per node, each `features * SLOTS * 2` long).
    fn histograms(&mut self, nodes: &[u32], out: &mut [Hist]) -> Result<()>;
    /// Moves the rows of each split node to its children.
    fn partition(&mut self, splits: &[SplitRow]) -> Result<()>;
}

/// The best split of a node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Split {
    pub feature: u32,
    pub bin: u32,
    pub default_left: bool,
    pub loss_change: f64,
    pub gl: i64,
    pub hl: i64,
    pub gr: i64,
    pub hr: i64,
}

/// Split search and leaf weights under one round's quantisers (xgboost's formulas).
pub(crate) struct Evaluator<'a> {
    pub params: &'a Params,
    pub cuts: &'a Cuts,
    pub qg: Quantiser,
    pub qh: Quantiser,
    /// Features this tree may split on, ascending.
    pub features: &'a [u32],
}

#[inline]
fn threshold_l1(g: f64, alpha: f64) -> f64 {
    if g > alpha {
        g - alpha
    } else if g < -alpha {
        g + alpha
    } else {
        0.0
    }
}

impl Evaluator<'_> {
    /// The structure score of a node with sums `g`, `h`.
    #[inline]
    fn gain(&self, g: f64, h: f64) -> f64 {
        let p = self.params;
        if h < p.min_child_weight || h <= 0.0 {
            return 0.0;
        }
        let t = threshold_l1(g, p.alpha);
        t * t / (h + p.lambda)
    }

    /// The optimal weight of a node (before `eta`).
    pub fn weight(&self, g: i64, h: i64) -> f64 {
        let (g, h) = (self.qg.value(g), self.qh.value(h));
        let p = self.params;
        if h < p.min_child_weight || h <= 0.0 {
            return 0.0;
        }
        -threshold_l1(g, p.alpha) / (h + p.lambda)
    }

    /// `eta * weight` as stored in the tree.
    pub fn leaf_value(&self, g: i64, h: i64) -> f32 {
        (self.params.eta * self.weight(g, h)) as f32
    }

    /// The best split of a node with histogram `hist` and totals `(g, h)`, if any gains more than
    /// `max(gamma, 1e-6)` with both children's hessian at least `min_child_weight`. Candidates are
    /// visited by feature, then bin, then missing-right before missing-left; a later one wins only
    /// with a strictly larger gain, so ties go to the lower feature, the lower bin, missing right.
    ///
    /// Per feature, every bin's change is computed first, in loops without branches that
    /// vectorise (AVX-512 where present: the divisions are most of the work), then scanned in the
    /// visiting order. An empty bin repeats the previous bin's candidate, which can never win a
    /// strict comparison, so it needs no test; a candidate failing `min_child_weight` gets
    /// `-inf`. The result is [`Evaluator::best_reference`]'s (a test compares them).
    pub fn best(&self, hist: &[i64], g: i64, h: i64) -> Option<Split> {
        let parent = self.gain(self.qg.value(g), self.qh.value(h));
        let mut best: Option<Split> = None;
        let mut best_change = 0.0f64;
        let (mut lg, mut lh) = ([0i64; SLOTS], [0i64; SLOTS]);
        let (mut right, mut left) = ([0f64; SLOTS], [0f64; SLOTS]);
        for &f in self.features {
            let value_bins = self.cuts.feature(f as usize).len() + 1;
            if value_bins < 2 {
                continue;
            }
            let nb = value_bins - 1;
            let base = f as usize * SLOTS * 2;
            let (mg, mh) = (hist[base + MISSING as usize * 2], hist[base + MISSING as usize * 2 + 1]);
            let has_missing = mg != 0 || mh != 0;
            let (mut sg, mut sh) = (0i64, 0i64);
            for b in 0..nb {
                sg += hist[base + b * 2];
                sh += hist[base + b * 2 + 1];
                lg[b] = sg;
                lh[b] = sh;
            }
            self.changes((&lg[..nb], &lh[..nb]), (0, 0), (g, h), parent, &mut right[..nb]);
            if has_missing {
                self.changes((&lg[..nb], &lh[..nb]), (mg, mh), (g, h), parent, &mut left[..nb]);
            }
            for b in 0..nb {
                for default_left in [false, true] {
                    if default_left && !has_missing {
                        break;
                    }
                    let change = if default_left { left[b] } else { right[b] };
                    if change > best_change {
                        best_change = change;
                        let (gl, hl) = if default_left { (lg[b] + mg, lh[b] + mh) } else { (lg[b], lh[b]) };
                        let (gr, hr) = (g - gl, h - hl);
                        best = Some(Split {
                            feature: f,
                            bin: b as u32,
                            default_left,
                            loss_change: change,
                            gl,
                            hl,
                            gr,
                            hr,
                        });
                    }
                }
            }
        }
        best.filter(|s| s.loss_change > 1e-6 && s.loss_change >= self.params.gamma)
    }

    /// The loss change of every bin's candidate of one feature, the left child holding the
    /// prefix sums `lg`, `lh` plus `(mg, mh)` (the missing values, when they go left).
    fn changes(&self, prefix: (&[i64], &[i64]), missing: (i64, i64), totals: (i64, i64), parent: f64, out: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq") {
            // SAFETY: the processor has AVX-512F and AVX-512DQ (checked just above).
            unsafe { self.changes_avx512(prefix, missing, totals, parent, out) };
            return;
        }
        self.changes_body(prefix, missing, totals, parent, out)
    }

    /// [`Self::changes_body`] compiled for AVX-512 (eight doubles per instruction, `i64` to
    /// `f64` conversions in vectors); IEEE operations, so the same bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn changes_avx512(
        &self,
        prefix: (&[i64], &[i64]),
        missing: (i64, i64),
        totals: (i64, i64),
        parent: f64,
        out: &mut [f64],
    ) {
        self.changes_body(prefix, missing, totals, parent, out)
    }

    #[inline(always)]
    fn changes_body(
        &self,
        (lg, lh): (&[i64], &[i64]),
        (mg, mh): (i64, i64),
        (g, h): (i64, i64),
        parent: f64,
        out: &mut [f64],
    ) {
        let p = self.params;
        let gain = |g: f64, h: f64| {
            let t = threshold_l1(g, p.alpha);
            let v = t * t / (h + p.lambda);
            if (h < p.min_child_weight) | (h <= 0.0) {
                0.0
            } else {
                v
            }
        };
        let n = out.len();
        let (lg, lh) = (&lg[..n], &lh[..n]);
        for b in 0..n {
            let (gl, hl) = (lg[b] + mg, lh[b] + mh);
            let (gr, hr) = (g - gl, h - hl);
            let (fhl, fhr) = (self.qh.value(hl), self.qh.value(hr));
            let change = gain(self.qg.value(gl), fhl) + gain(self.qg.value(gr), fhr) - parent;
            out[b] = if (fhl < p.min_child_weight) | (fhr < p.min_child_weight) { f64::NEG_INFINITY } else { change };
        }
    }

    /// [`Evaluator::best`] as first written, one candidate at a time: the definition its
    /// vectorised form is tested against.
    #[cfg(test)]
    pub fn best_reference(&self, hist: &[i64], g: i64, h: i64) -> Option<Split> {
        let p = self.params;
        let parent = self.gain(self.qg.value(g), self.qh.value(h));
        let mut best: Option<Split> = None;
        let mut best_change = 0.0f64;
        for &f in self.features {
            let value_bins = self.cuts.feature(f as usize).len() + 1;
            if value_bins < 2 {
                continue;
            }
            let base = f as usize * SLOTS * 2;
            let (mg, mh) = (hist[base + MISSING as usize * 2], hist[base + MISSING as usize * 2 + 1]);
            let has_missing = mg != 0 || mh != 0;
            let (mut lg, mut lh) = (0i64, 0i64);
            for b in 0..value_bins - 1 {
                let (bg, bh) = (hist[base + b * 2], hist[base + b * 2 + 1]);
                if bg == 0 && bh == 0 && b > 0 {
                    continue; // an empty bin: the same partition as the previous bin
                }
                lg += bg;
                lh += bh;
                for default_left in [false, true] {
                    if default_left && !has_missing {
                        break;
                    }
                    let (gl, hl) = if default_left { (lg + mg, lh + mh) } else { (lg, lh) };
                    let (gr, hr) = (g - gl, h - hl);
                    let (fhl, fhr) = (self.qh.value(hl), self.qh.value(hr));
                    if fhl < p.min_child_weight || fhr < p.min_child_weight {
                        continue;
                    }
                    let change = self.gain(self.qg.value(gl), fhl) + self.gain(self.qg.value(gr), fhr) - parent;
                    if change > best_change {
                        best_change = change;
                        best = Some(Split {
                            feature: f,
                            bin: b as u32,
                            default_left,
                            loss_change: change,
                            gl,
                            hl,
                            gr,
                            hr,
                        });
                    }
                }
            }
        }
        best.filter(|s| s.loss_change > 1e-6 && s.loss_change >= p.gamma)
    }
}

/// A node of the level being grown.
struct Open {
    id: u32,
    node: usize,
    hist: Option<Hist>,
    g: i64,
    h: i64,
}

/// Reusable histogram buffers (no allocation per node after the first tree).
#[derive(Debug, Default)]
pub(crate) struct HistPool {
    free: Vec<Hist>,
    len: usize,
}

impl HistPool {
    pub fn new(features: usize) -> HistPool {
        HistPool { free: Vec::new(), len: features * SLOTS * 2 }
    }
    fn take(&mut self) -> Hist {
        self.free.pop().unwrap_or_else(|| vec![0; self.len])
    }
    fn give(&mut self, h: Hist) {
        self.free.push(h);
    }
}

/// A tree grown by [`grow`], with what the backend needs to add it to the margins.
pub(crate) struct Grown {
    pub tree: Tree,
    /// Leaves as (heap id, value).
    pub leaves: Vec<(u32, f32)>,
    /// The splits of the level above `max_depth`, which are not applied to the rows (no
    /// histogram needs their children): a row of one of these nodes is in its left or right
    /// child's leaf as [`SplitRow::goes_left`] says.
    pub last: Vec<SplitRow>,
}

/// Grows one tree on the rows the backend holds (already quantised, totals `(g, h)`).
pub(crate) fn grow<B: HostRows>(
    backend: &mut B,
    ev: &Evaluator<'_>,
    pool: &mut HistPool,
    (g, h): (i64, i64),
) -> Result<Grown> {
    let max_depth = ev.params.max_depth;
    let mut tree = Tree::default();
    let root = tree.push(i32::MAX, ev.qh.value(h) as f32, ev.leaf_value(g, h));
    let mut root_hist = None;
    if max_depth > 0 {
        let mut hs = vec![pool.take()];
        backend.histograms(&[0], &mut hs)?;
        root_hist = hs.pop();
    }
    let mut level = vec![Open { id: 0, node: root, hist: root_hist, g, h }];
    let mut leaves = Vec::new();
    let mut last = Vec::new();
    for depth in 0..=max_depth {
        let found: Vec<Option<Split>> = if depth < max_depth {
            level.par_iter().map(|o| o.hist.as_ref().and_then(|hist| ev.best(hist, o.g, o.h))).collect()
        } else {
            vec![None; level.len()]
        };
        let mut splits = Vec::new();
        let mut next = Vec::new();
        // (index in `next` of a child to build, its parent's histogram)
        let mut builds: Vec<(usize, Hist)> = Vec::new();
        for (o, s) in level.into_iter().zip(found) {
            let Some(s) = s else {
                leaves.push((o.id, tree.cond[o.node]));
                if let Some(hist) = o.hist {
                    pool.give(hist);
                }
                continue;
            };
            let n = o.node;
            tree.feature[n] = s.feature;
            tree.cond[n] = ev.cuts.feature(s.feature as usize)[s.bin as usize];
            tree.default_left[n] = s.default_left;
            tree.loss_change[n] = s.loss_change as f32;
            let l = tree.push(n as i32, ev.qh.value(s.hl) as f32, ev.leaf_value(s.gl, s.hl));
            let r = tree.push(n as i32, ev.qh.value(s.hr) as f32, ev.leaf_value(s.gr, s.hr));
            tree.left[n] = l as i32;
            tree.right[n] = r as i32;
            splits.push(SplitRow { node: o.id, feature: s.feature, bin: s.bin, default_left: s.default_left });
            let first = next.len();
            next.push(Open { id: 2 * o.id + 1, node: l, hist: None, g: s.gl, h: s.hl });
            next.push(Open { id: 2 * o.id + 2, node: r, hist: None, g: s.gr, h: s.hr });
            let parent_hist = o.hist.expect("a split node has a histogram");
            if depth + 1 < max_depth {
                builds.push((first, parent_hist)); // which child is built is decided below
            } else {
                pool.give(parent_hist);
            }
        }
        if splits.is_empty() {
            break;
        }
        if depth + 1 == max_depth {
            // The children are leaves: no histogram needs their rows apart.
            last = splits;
            level = next;
            continue;
        }
        backend.partition(&splits)?;
        if !builds.is_empty() {
            // Build the child the backend finds cheaper (the other is the parent minus it; the
            // histograms are exact integers either way, so the choice never changes the model).
            for (i, _) in &mut builds {
                let (l, r) = (&next[*i], &next[*i + 1]);
                if !backend.build_left(l.id, r.id, l.h, r.h) {
                    *i += 1;
                }
            }
            let ids: Vec<u32> = builds.iter().map(|(i, _)| next[*i].id).collect();
            let mut built: Vec<Hist> = ids.iter().map(|_| pool.take()).collect();
            backend.histograms(&ids, &mut built)?;
            // Siblings by subtraction, a node per task (a histogram is too small to split).
            let mut pairs: Vec<(usize, Hist, Hist)> =
                builds.into_iter().zip(built).map(|((i, parent), child)| (i, parent, child)).collect();
            pairs
                .par_iter_mut()
                .for_each(|(_, parent, child)| parent.iter_mut().zip(child.iter()).for_each(|(p, c)| *p -= c));
            for (i, parent, child) in pairs {
                let sibling = if i % 2 == 0 { i + 1 } else { i - 1 };
                next[i].hist = Some(child);
                next[sibling].hist = Some(parent);
            }
        }
        level = next;
    }
    Ok(Grown { tree, leaves, last })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Features;
    use crate::objective::mix;
    use crate::params::Objective;

    /// The vectorised split search picks exactly the reference's split (feature, bin, side and
    /// the children's sums) on histograms of random nodes: features of 1 to 256 bins, missing
    /// values in some, empty bins, every parameter that gates a candidate, and ties (a feature
    /// repeated, so equal gains meet).
    #[test]
    fn vectorised_split_search_is_the_reference() {
        let (n, f) = (4000, 7);
        let distinct = [2u64, 5, 40, 300, 4000, 1, 40];
        let mut state = 7u64;
        let mut next = move || {
            state = mix(state);
            state
        };
        let x: Vec<f32> = (0..n * f)
            .map(|i| {
                let (r, c) = (i / f, i % f);
                let v = mix((r as u64) * 31 + (c as u64).min(2)) % distinct[c]; // features 2 and 6: same values
                if c == 3 && r % 7 == 0 || c == 6 && r % 5 == 0 {
                    f32::NAN
                } else {
                    v as f32
                }
            })
            .collect();
        let x = Features::from_row_major(x, n, f).unwrap();
        let cuts = Cuts::compute(&x, 256);
        let bins = cuts.bin_matrix(&x);
        let features: Vec<u32> = (0..f as u32).collect();
        let (qg, qh) = (Quantiser::new(1.0, n), Quantiser::new(0.25, n));
        let mut found = 0;
        for case in 0..300 {
            let mut params = Params::new(Objective::Logistic);
            params.alpha = [0.0, 0.5, 4.0][case % 3];
            params.lambda = [1.0, 0.0, 10.0][case / 3 % 3];
            params.gamma = [0.0, 0.2][case / 9 % 2];
            // A random node: a random subset of the rows with random pairs.
            let keep = 1 + next() % 4;
            let mut hist = vec![0i64; f * SLOTS * 2];
            let (mut g, mut h) = (0i64, 0i64);
            for r in 0..n {
                if next() % keep != 0 {
                    continue;
                }
                let (rg, rh) = ((next() % 2001) as f64 / 1000.0 - 1.0, (next() % 251) as f64 / 1000.0);
                let (rg, rh) = (qg.quantise(rg), qh.quantise(rh));
                g += rg;
                h += rh;
                for (c, &b) in bins[r * f..r * f + f].iter().enumerate() {
                    hist[(c * SLOTS + b as usize) * 2] += rg;
                    hist[(c * SLOTS + b as usize) * 2 + 1] += rh;
                }
            }
            // A weight bound that no split, some splits or only near-even ones meet.
            params.min_child_weight = [1.0, 0.0, 0.3 * qh.value(h), 0.49 * qh.value(h)][case / 18 % 4];
            let ev = Evaluator { params: &params, cuts: &cuts, qg, qh, features: &features };
            let (got, want) = (ev.best(&hist, g, h), ev.best_reference(&hist, g, h));
            let key = |s: Option<Split>| {
                s.map(|s| (s.feature, s.bin, s.default_left, s.loss_change.to_bits(), s.gl, s.hl, s.gr, s.hr))
            };
            assert_eq!(key(got), key(want), "case {case}");
            found += got.is_some() as usize;
        }
        assert!(found > 150, "only {found} of 300 nodes had a split");
    }
}
