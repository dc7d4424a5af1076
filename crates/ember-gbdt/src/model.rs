//! The trained model, the boosting loop and prediction.
use crate::cpu::CpuBackend;
use crate::cuts::Cuts;
use crate::data::{Dataset, Features};
use crate::distributed::EvalGather;
use crate::grow::{Backend, Evaluator};
use crate::metric::evaluate;
use crate::objective::{base_margin, default_base_score, gradient_bounds, mix, transform, Quantiser};
use crate::params::{Metric, Objective, Params};
use crate::tree::Tree;
use ember_core::{Device, Error, Result};
use ember_gpu::ExecContext;
use ndarray::Array2;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A trained (or imported) gradient-boosted model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub(crate) objective: Objective,
    /// Intercept in prediction space, as xgboost stores it (`base_score`): one value, or one
    /// per group (xgboost 3's multiclass models).
    pub(crate) base_score: Vec<f32>,
    pub(crate) trees: Vec<Tree>,
    /// The output group (class) of each tree.
    pub(crate) tree_group: Vec<usize>,
    pub(crate) num_features: usize,
    pub(crate) feature_names: Vec<String>,
    pub(crate) best_iteration: Option<usize>,
    pub(crate) best_score: Option<f64>,
    /// Metric per round on the eval set, if one was given.
    pub(crate) eval_history: Vec<f64>,
}

/// Which trees [`Model::predict`] uses and what it returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct PredictOptions {
    /// Raw margins instead of probabilities.
    pub margin: bool,
    /// Rounds `[first, last)` to use; `None` uses the rounds up to the best iteration when early
    /// stopping chose one, else all of them (xgboost's default).
    pub rounds: Option<(usize, usize)>,
}

/// Feature importance kinds (xgboost's `importance_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    /// Number of splits on the feature.
    Weight,
    /// Mean loss change of its splits.
    Gain,
    /// Mean hessian sum of its splits.
    Cover,
    /// Total loss change.
    TotalGain,
    /// Total hessian sum.
    TotalCover,
}

impl Model {
    /// A model with no trees yet.
    pub(crate) fn empty(
        objective: Objective,
        base_score: f32,
        num_features: usize,
        feature_names: Vec<String>,
    ) -> Model {
        Model {
            objective,
            base_score: vec![base_score],
            trees: Vec::new(),
            tree_group: Vec::new(),
            num_features,
            feature_names,
            best_iteration: None,
            best_score: None,
            eval_history: Vec::new(),
        }
    }

    /// The objective.
    pub fn objective(&self) -> Objective {
        self.objective
    }
    /// The base score (prediction space): one value, or one per group.
    pub fn base_score(&self) -> &[f32] {
        &self.base_score
    }
    /// The margin every prediction of `group` starts from.
    pub fn base_margin(&self, group: usize) -> f32 {
        let b = if self.base_score.len() == 1 { self.base_score[0] } else { self.base_score[group] };
        base_margin(self.objective, b)
    }
    /// The starting margins of one row (one per group).
    pub(crate) fn base_margins(&self) -> Vec<f32> {
        (0..self.objective.groups()).map(|g| self.base_margin(g)).collect()
    }
    /// The trees, in boosting order.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }
    /// Boosting rounds held.
    pub fn rounds(&self) -> usize {
        self.trees.len() / self.objective.groups()
    }
    /// The best round (0-based) when early stopping ran.
    pub fn best_iteration(&self) -> Option<usize> {
        self.best_iteration
    }
    /// Its metric.
    pub fn best_score(&self) -> Option<f64> {
        self.best_score
    }
    /// The eval metric after each round (empty without an eval set).
    pub fn eval_history(&self) -> &[f64] {
        &self.eval_history
    }
    /// Features the model reads.
    pub fn num_features(&self) -> usize {
        self.num_features
    }
    /// Their names.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    fn tree_range(&self, rounds: Option<(usize, usize)>) -> Result<(usize, usize)> {
        let k = self.objective.groups();
        let (a, b) = match rounds {
            Some(r) => r,
            None => (0, self.best_iteration.map_or(self.rounds(), |b| b + 1)),
        };
        if a > b || b > self.rounds() {
            return Err(Error::InvalidArgument(format!("rounds {a}..{b} of a model with {} rounds", self.rounds())));
        }
        Ok((a * k, b * k))
    }

    /// Predictions for `x` (`rows x groups`): probabilities (or values), or margins with
    /// `opts.margin`, on `device`. Margins are `base_margin + tree_0 + tree_1 + ...` in f32, in
    /// tree order, as xgboost computes them, so an exported model predicts the same bits there.
    pub fn predict(&self, x: &Features, opts: PredictOptions, device: Device) -> Result<Array2<f32>> {
        if x.cols != self.num_features {
            return Err(Error::InvalidArgument(format!(
                "the model reads {} features, the input has {}",
                self.num_features, x.cols
            )));
        }
        let (t0, t1) = self.tree_range(opts.rounds)?;
        let k = self.objective.groups();
        let mut out = match device.gpu()? {
            None => self.margins_cpu(x, t0, t1),
            Some(gpu) => crate::gpu::predict(gpu, self, x, t0, t1)?,
        };
        if !opts.margin {
            transform(self.objective, &mut out);
        }
        Ok(Array2::from_shape_vec((x.rows, k), out).expect("rows * groups values"))
    }

    fn margins_cpu(&self, x: &Features, t0: usize, t1: usize) -> Vec<f32> {
        let k = self.objective.groups();
        let mut out = self.base_margins().repeat(x.rows);
        let forest = Forest::new(&self.trees[t0..t1], &self.tree_group[t0..t1]);
        // A block of rows stays in cache while every tree walks it.
        const BLOCK: usize = 128;
        let cols = x.cols;
        out.par_chunks_mut(BLOCK * k).enumerate().for_each(|(b, out)| {
            let rows = &x.values[b * BLOCK * cols..][..out.len() / k * cols];
            for (t, &root) in forest.roots.iter().enumerate() {
                let g = forest.groups[t];
                // Four rows walk together, so their loads overlap.
                let mut o4 = out.chunks_exact_mut(4 * k);
                let mut r4 = rows.chunks_exact(4 * cols);
                for (o, r) in (&mut o4).zip(&mut r4) {
                    let (a, b) = r.split_at(2 * cols);
                    let v = forest.leaf4(root, [&a[..cols], &a[cols..], &b[..cols], &b[cols..]]);
                    for (i, v) in v.into_iter().enumerate() {
                        o[i * k + g] += v;
                    }
                }
                for (o, row) in o4.into_remainder().chunks_mut(k).zip(r4.remainder().chunks(cols)) {
                    o[g] += forest.leaf(root, row);
                }
            }
        });
        out
    }

    /// Importance per feature name (features never split on are absent), as xgboost's
    /// `get_score(importance_type=...)`.
    pub fn importance(&self, kind: Importance) -> BTreeMap<String, f64> {
        let mut count = vec![0usize; self.num_features];
        let mut gain = vec![0f64; self.num_features];
        let mut cover = vec![0f64; self.num_features];
        for t in &self.trees {
            for n in 0..t.len() {
                if !t.is_leaf(n) {
                    let f = t.feature[n] as usize;
                    count[f] += 1;
                    gain[f] += t.loss_change[n] as f64;
                    cover[f] += t.sum_hessian[n] as f64;
                }
            }
        }
        (0..self.num_features)
            .filter(|f| count[*f] > 0)
            .map(|f| {
                let v = match kind {
                    Importance::Weight => count[f] as f64,
                    Importance::Gain => gain[f] / count[f] as f64,
                    Importance::Cover => cover[f] / count[f] as f64,
                    Importance::TotalGain => gain[f],
                    Importance::TotalCover => cover[f],
                };
                (self.feature_names[f].clone(), v)
            })
            .collect()
    }
}

/// One node of a flattened forest: 16 bytes, children as absolute indices.
#[derive(Clone, Copy)]
struct FlatNode {
    /// Threshold, or the leaf value.
    cond: f32,
    /// Feature, with the default-left flag in the top bit.
    feature: u32,
    /// Left child (absolute), -1 for a leaf.
    left: i32,
    right: i32,
}

/// Trees in one node array, for prediction (cache-friendly walks, no per-tree vectors).
struct Forest {
    nodes: Vec<FlatNode>,
    roots: Vec<usize>,
    groups: Vec<usize>,
}

impl Forest {
    fn new(trees: &[Tree], groups: &[usize]) -> Forest {
        let mut nodes = Vec::with_capacity(trees.iter().map(Tree::len).sum());
        let mut roots = Vec::with_capacity(trees.len());
        for t in trees {
            let base = nodes.len() as i32;
            roots.push(nodes.len());
            for n in 0..t.len() {
                let leaf = t.is_leaf(n);
                nodes.push(FlatNode {
                    cond: t.cond[n],
                    feature: t.feature[n] | ((t.default_left[n] as u32) << 31),
                    left: if leaf { -1 } else { base + t.left[n] },
                    right: if leaf { -1 } else { base + t.right[n] },
                });
            }
        }
        Forest { nodes, roots, groups: groups.to_vec() }
    }

    /// [`Forest::leaf`] for four rows at once.
    #[inline]
    fn leaf4(&self, root: usize, rows: [&[f32]; 4]) -> [f32; 4] {
        let mut nodes = [self.nodes[root]; 4];
        while nodes.iter().any(|n| n.left >= 0) {
            for (node, row) in nodes.iter_mut().zip(rows) {
                if node.left >= 0 {
                    let v = row[(node.feature & 0x7fff_ffff) as usize];
                    let go_left = (v < node.cond) | (v.is_nan() & (node.feature >> 31 != 0));
                    let mask = -(go_left as i32);
                    *node = self.nodes[((node.left & mask) | (node.right & !mask)) as usize];
                }
            }
        }
        nodes.map(|n| n.cond)
    }

    /// The leaf value for `row` of the tree rooted at `root` (as [`Tree::predict_row`]).
    #[inline]
    fn leaf(&self, root: usize, row: &[f32]) -> f32 {
        let mut node = self.nodes[root];
        while node.left >= 0 {
            let v = row[(node.feature & 0x7fff_ffff) as usize];
            // Branch-free: `v < cond` is false for NaN, which then follows the default flag.
            let go_left = (v < node.cond) | (v.is_nan() & (node.feature >> 31 != 0));
            let mask = -(go_left as i32);
            node = self.nodes[((node.left & mask) | (node.right & !mask)) as usize];
        }
        node.cond
    }
}

/// The features tree `tree` may split on: all, or a seeded sample of
/// `max(1, round(colsample * features))` (a partial Fisher-Yates shuffle), ascending.
fn tree_features(params: &Params, features: usize, tree: u64) -> Vec<u32> {
    let mut all: Vec<u32> = (0..features as u32).collect();
    if params.colsample_bytree >= 1.0 {
        return all;
    }
    let want = ((params.colsample_bytree * features as f64).round() as usize).clamp(1, features);
    let mut state = mix(params.seed ^ 0xC015_A4D1u64.wrapping_mul(tree + 1));
    for i in 0..want {
        state = mix(state);
        let j = i + (state % (features - i) as u64) as usize;
        all.swap(i, j);
    }
    let mut chosen = all[..want].to_vec();
    chosen.sort_unstable();
    chosen
}

/// Trains a model on `train` on `device` (the CPU engine, or the GPU path on CUDA / Sim). With
/// `eval`, prints (when `params.verbose`) and records the eval metric each round and stops early
/// when `params.early_stopping_rounds` says so. The model does not depend on the device or the
/// thread count: the same bits everywhere.
///
/// ```
/// use ember_gbdt::{train, Dataset, Features, Objective, Params, PredictOptions};
/// use ember_core::Device;
/// let x: Vec<f32> = (0..200).map(|i| (i % 20) as f32).collect();
/// let y: Vec<f32> = x.iter().map(|v| if *v > 9.5 { 1.0 } else { 0.0 }).collect();
/// let ds = Dataset::new(Features::from_row_major(x, 200, 1)?, y)?;
/// let model = train(&ds, None, &Params::new(Objective::Logistic).rounds(10), Device::Cpu)?;
/// let p = model.predict(ds.features(), PredictOptions::default(), Device::Cpu)?;
/// assert!(p[[0, 0]] < 0.1 && p[[199, 0]] > 0.9);
/// # Ok::<(), ember_core::Error>(())
/// ```
pub fn train(train: &Dataset, eval: Option<&Dataset>, params: &Params, device: Device) -> Result<Model> {
    train_in(train, eval, params, device, None)
}

/// [`train`] in the caller's GPU execution context (its stream, memory resource and trace) when
/// `device` is a GPU; `ctx` must be on that device.
pub fn train_in(
    train: &Dataset,
    eval: Option<&Dataset>,
    params: &Params,
    device: Device,
    ctx: Option<&ExecContext>,
) -> Result<Model> {
    check_inputs(train, eval, params, false)?;
    let f = train.x.cols;
    let max_weight = train.w.as_deref().map_or(1.0, |w| w.iter().fold(0.0f32, |m, v| m.max(*v)) as f64);
    let cuts = Cuts::compute(&train.x, params.value_bins());
    let bins = cuts.bin_matrix(&train.x);
    let base_score = params
        .base_score
        .map_or_else(|| default_base_score(params.objective, &train.y, train.w.as_deref()), |b| b as f32);
    let base = base_margin(params.objective, base_score);
    let mut model = Model::empty(params.objective, base_score, f, train.x.names.clone());
    match device.gpu()? {
        None => on_pool(|| {
            let mut b = CpuBackend::new(&bins, f, &train.y, train.w.as_deref(), params, base);
            boost(&mut b, &cuts, params, eval, None, max_weight, &mut model)
        })?,
        Some(gpu) => {
            let ctx = match ctx {
                Some(c) if Arc::ptr_eq(c.gpu(), &gpu) => c.clone(),
                Some(_) => return Err(Error::DeviceMismatch(format!("the execution context is not on {device}"))),
                None => ExecContext::new(gpu),
            };
            let mut b = crate::gpu::GpuBackend::new(ctx, &bins, &cuts, &train.y, train.w.as_deref(), params, base)?;
            boost(&mut b, &cuts, params, eval, None, max_weight, &mut model)?;
        }
    }
    Ok(model)
}

/// The checks every training runs on its inputs (a data-parallel one on each process's rows).
pub(crate) fn check_inputs(train: &Dataset, eval: Option<&Dataset>, params: &Params, may_be_empty: bool) -> Result<()> {
    params.validate()?;
    let (n, f) = (train.rows(), train.x.cols);
    if n == 0 && !may_be_empty {
        return Err(Error::InvalidArgument("training set has no rows".into()));
    }
    if let Some(e) = eval {
        if e.x.cols != f {
            return Err(Error::InvalidArgument(format!("eval set has {} features, training set {f}", e.x.cols)));
        }
    }
    if let Objective::Softprob(k) = params.objective {
        for ds in std::iter::once(train).chain(eval) {
            if let Some(i) = ds.y.iter().position(|y| *y < 0.0 || *y >= k as f32 || y.fract() != 0.0) {
                return Err(Error::InvalidArgument(format!("label {} of row {i} is not a class in 0..{k}", ds.y[i])));
            }
        }
    }
    if params.objective == Objective::Logistic {
        for ds in std::iter::once(train).chain(eval) {
            if let Some(i) = ds.y.iter().position(|y| !(0.0..=1.0).contains(y)) {
                return Err(Error::InvalidArgument(format!(
                    "label {} of row {i}: binary:logistic needs labels in [0, 1]",
                    ds.y[i]
                )));
            }
        }
    }
    if params.early_stopping_rounds.is_some() && eval.is_none() {
        return Err(Error::InvalidArgument("early_stopping_rounds needs an eval set".into()));
    }
    if n > u32::MAX as usize {
        return Err(Error::InvalidArgument(format!("{n} rows: at most 2^32 - 1")));
    }
    Ok(())
}

/// Runs `op` on a thread of rayon's pool (the caller's thread when it is one). A training calls
/// the pool some thirty times per tree; from a thread outside it each call hands its work over
/// and sleeps until it is done (a futex wake-up each way), which cost 10% of a 270k-row
/// training's time, while a call from a pool thread runs the work in place.
pub(crate) fn on_pool<R: Send>(op: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| op())
}

pub(crate) fn boost<B: Backend>(
    b: &mut B,
    cuts: &Cuts,
    params: &Params,
    eval: Option<&Dataset>,
    gather: Option<&EvalGather<'_>>,
    max_weight: f64,
    model: &mut Model,
) -> Result<()> {
    let k = params.objective.groups();
    let n = eval.map_or(0, |e| e.rows());
    let metric: Metric = params.eval_metric.unwrap_or(params.objective.default_metric());
    let mut eval_margins = model.base_margins().repeat(n);
    let mut best: Option<(usize, f64)> = None;
    let rows = b.rows();
    let bounds = gradient_bounds(params.objective, max_weight);
    for round in 0..params.rounds {
        let maxima = match bounds {
            Some(bound) if k == 1 => vec![bound],
            _ => b.gradients()?,
        };
        for (group, (gmax, hmax)) in maxima.into_iter().enumerate() {
            let tree_index = (round * k + group) as u64;
            let (qg, qh) = (Quantiser::new(gmax, rows), Quantiser::new(hmax, rows));
            let features = tree_features(params, cuts.features(), tree_index);
            let ev = Evaluator { params, cuts, qg, qh, features: &features };
            let tree = b.tree(group, bounds.is_some() && k == 1, &ev, tree_index)?;
            if let Some(e) = eval {
                eval_margins.par_chunks_mut(k).enumerate().for_each(|(r, m)| {
                    m[group] += tree.predict_row(&e.x.values[r * e.x.cols..(r + 1) * e.x.cols]);
                });
            }
            model.trees.push(tree);
            model.tree_group.push(group);
        }
        let Some(e) = eval else { continue };
        let score = match gather {
            None => evaluate(metric, &eval_margins, k, &e.y, e.w.as_deref()),
            Some(g) => evaluate(metric, &g.all(&eval_margins, k)?, k, &g.y, g.w.as_deref()),
        };
        model.eval_history.push(score);
        if params.verbose {
            eprintln!("[{round}]\teval-{}:{score:.6}", metric.name());
        }
        let better = match best {
            None => true,
            Some((_, s)) => {
                if metric.maximize() {
                    score > s
                } else {
                    score < s
                }
            }
        };
        if better {
            best = Some((round, score));
        }
        if let (Some(patience), Some((best_round, _))) = (params.early_stopping_rounds, best) {
            if round - best_round >= patience {
                break;
            }
        }
    }
    if params.early_stopping_rounds.is_some() {
        model.best_iteration = best.map(|b| b.0);
        model.best_score = best.map(|b| b.1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_sampling_is_seeded_and_sized() {
        let p = Params { colsample_bytree: 0.5, ..Params::new(Objective::Logistic) };
        let a = tree_features(&p, 10, 3);
        assert_eq!(a.len(), 5);
        assert_eq!(a, tree_features(&p, 10, 3));
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_ne!(a, tree_features(&p, 10, 4));
        assert_eq!(tree_features(&Params::new(Objective::Logistic), 3, 0), vec![0, 1, 2]);
    }
}
