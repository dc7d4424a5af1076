//! The GPU backend (CUDA and the simulated device): rows, gradients, histograms, the split search
//! and the row-to-node array live on the device (`kernels/gbdt.cu`). The split search
//! (`gbdt_evaluate`) mirrors the CPU engine's `grow.rs::Evaluator::best` operation for operation
//! in f64 over the same integer histograms, so both grow the same trees; the tree is read back
//! once, when it is complete.
//!
//! Per tree: quantisation (one launch; its totals stay on the device), then per level above
//! `max_depth` one histogram launch (the root, or the smaller-hessian child of each split node),
//! one evaluate launch (siblings by subtraction, split search, node records, leaf values) and one
//! partition launch; then the last level's evaluate (its leaves), one launch adding the leaf values
//! to the margins, and one read-back of the node records. So a depth-d tree costs `3d + 3`
//! launches (the round's gradient launch aside) and one synchronisation (`tests/gbdt.rs` checks
//! it), plus one read-back of the gradient maxima per round for objectives without a-priori
//! bounds (regression, softprob).
//!
//! Data-parallel ([`crate::train_distributed`], `with_shard`): the totals and each level's built
//! histograms go through the host to the caller's collective (one download of the parents'
//! records and of the built histograms, one upload of their sums per level), the row sample is
//! drawn by global row number, and the gradient maxima are reduced.
//!
//! Memory: the histograms of every node above the last level are kept (`(2^d - 2)` nodes plus the
//! root, `features * 4 KiB` each: 7 MiB for depth 6 and 28 features), so siblings come by
//! subtraction without a host round trip.
use crate::cuts::Cuts;
use crate::distributed::Shard;
use crate::grow::{Backend, Evaluator, SLOTS};
use crate::model::Model;
use crate::objective::sample_threshold;
use crate::params::{Objective, Params};
use crate::tree::Tree;
use ember_core::{Error, Result};
use ember_gpu::{DeviceBuffer, ExecContext, Gpu, Kernel, KernelArg, LaunchConfig};
use std::sync::Arc;

const BLOCK: u32 = 256;
/// Mirror `GBDT_NODES_PER_BLOCK`, `GBDT_HIST_ROWS` and `GBDT_EVAL_THREADS` in `kernels/gbdt.cu`.
const NODES_PER_BLOCK: usize = 4;
const HIST_ROWS: usize = 4096;
const EVAL_THREADS: u32 = 64;
/// `GbdtNode` in `kernels/gbdt.cu`: five 8-byte words.
const NODE_WORDS: usize = 5;
/// Its `flags`.
const OPEN: u32 = 1;
const DEFAULT_LEFT: u32 = 2;
const BUILD_RIGHT: u32 = 4;

fn k(name: &'static str) -> Kernel {
    Kernel::new("gbdt", name)
}

fn objective_code(o: Objective) -> u32 {
    match o {
        Objective::SquaredError => 0,
        Objective::Logistic => 1,
        Objective::Softprob(_) => 2,
    }
}

/// One `GbdtNode` as read back.
#[derive(Debug, Clone, Copy)]
struct NodeRecord {
    g: i64,
    h: i64,
    loss: f64,
    /// Split feature + 1; 0 for a leaf.
    feature1: u32,
    bin: u32,
    flags: u32,
}

impl NodeRecord {
    fn parse(w: &[u64]) -> NodeRecord {
        NodeRecord {
            g: w[0] as i64,
            h: w[1] as i64,
            loss: f64::from_bits(w[2]),
            feature1: (w[3] >> 32) as u32,
            bin: w[4] as u32,
            flags: (w[4] >> 32) as u32,
        }
    }
}

/// The tree in `records` (by heap id), numbered as [`crate::grow::grow`] numbers it: breadth
/// first, children in their parents' order, left before right.
fn tree_from_records(records: &[NodeRecord], ev: &Evaluator<'_>) -> Tree {
    let mut tree = Tree::default();
    let root = records[0];
    let at = tree.push(i32::MAX, ev.qh.value(root.h) as f32, ev.leaf_value(root.g, root.h));
    let mut level = vec![(0usize, at)];
    while !level.is_empty() {
        let mut next = Vec::new();
        for (id, n) in level {
            let r = records[id];
            if r.feature1 == 0 || 2 * id + 2 >= records.len() {
                continue;
            }
            let f = r.feature1 - 1;
            tree.feature[n] = f;
            tree.cond[n] = ev.cuts.feature(f as usize)[r.bin as usize];
            tree.default_left[n] = r.flags & DEFAULT_LEFT != 0;
            tree.loss_change[n] = r.loss as f32;
            for child in [2 * id + 1, 2 * id + 2] {
                let c = records[child];
                debug_assert!(c.flags & OPEN != 0);
                let at = tree.push(n as i32, ev.qh.value(c.h) as f32, ev.leaf_value(c.g, c.h));
                next.push((child, at));
            }
            tree.left[n] = tree.len() as i32 - 2;
            tree.right[n] = tree.len() as i32 - 1;
        }
        level = next;
    }
    tree
}

pub(crate) struct GpuBackend<'a> {
    ctx: ExecContext,
    n: usize,
    features: usize,
    groups: usize,
    objective: Objective,
    max_depth: usize,
    seed: u64,
    threshold: u64,
    /// Column-major bins (`bins[f * n + row]`): a block of the histogram kernel reads one
    /// feature of consecutive rows, coalesced.
    bins: DeviceBuffer,
    /// Value bins per feature (cuts + 1).
    value_bins: DeviceBuffer,
    y: DeviceBuffer,
    w: Option<DeviceBuffer>,
    margins: DeviceBuffer,
    g: DeviceBuffer,
    h: DeviceBuffer,
    gh: DeviceBuffer,
    pos: DeviceBuffer,
    /// `GbdtNode` records of every heap node.
    nodes: DeviceBuffer,
    /// The root's (gradient, hessian) totals, then its histogram; zeroed per tree.
    root: DeviceBuffer,
    /// Histograms of heap nodes `1..2^max_depth - 1`.
    hist: DeviceBuffer,
    /// The last tree's features on the device (uploaded again only when column sampling
    /// changes them).
    features_on_device: Option<(Vec<u32>, DeviceBuffer)>,
    /// Data-parallel training ([`crate::train_distributed`]): the totals, each level's built
    /// histograms and the gradient maxima are reduced over every process through the host.
    shard: Option<Shard<'a>>,
}

impl<'a> GpuBackend<'a> {
    pub fn new(
        ctx: ExecContext,
        bins_row_major: &[u8],
        cuts: &Cuts,
        y: &[f32],
        w: Option<&[f32]>,
        params: &Params,
        base: f32,
    ) -> Result<GpuBackend<'a>> {
        let n = y.len();
        let features = cuts.features();
        let groups = params.objective.groups();
        let mut col_major = vec![0u8; bins_row_major.len()];
        for (r, row) in bins_row_major.chunks(features.max(1)).enumerate() {
            for (f, b) in row.iter().enumerate() {
                col_major[f * n + r] = *b;
            }
        }
        let value_bins: Vec<u32> = (0..features).map(|f| cuts.feature(f).len() as u32 + 1).collect();
        let d = params.max_depth;
        let per_node = features * SLOTS * 2 * 8;
        let heap_nodes = (1usize << (d + 1)) - 1;
        Ok(GpuBackend {
            n,
            features,
            groups,
            objective: params.objective,
            max_depth: d,
            seed: params.seed,
            threshold: sample_threshold(params.subsample),
            bins: ctx.upload(&col_major)?,
            value_bins: ctx.upload(&value_bins)?,
            y: ctx.upload(y)?,
            w: w.map(|w| ctx.upload(w)).transpose()?,
            margins: ctx.upload(&vec![base; n * groups])?,
            g: ctx.alloc(n * groups * 8)?,
            h: ctx.alloc(n * groups * 8)?,
            gh: ctx.alloc(n * 16)?,
            pos: ctx.alloc(n * 4)?,
            // Zeroed once: a tree reads back every heap slot, and the slots below its leaves are
            // never written (compute-sanitizer's initcheck flagged the read-back).
            nodes: ctx.alloc_zeroed(heap_nodes * NODE_WORDS * 8)?,
            root: ctx.alloc(16 + per_node)?,
            hist: ctx.alloc(((1usize << d).saturating_sub(2)) * per_node)?,
            features_on_device: None,
            shard: None,
            ctx,
        })
    }

    pub fn with_shard(mut self, shard: Shard<'a>) -> Self {
        self.shard = Some(shard);
        self
    }

    /// i64s per node histogram.
    fn per_node(&self) -> usize {
        self.features * SLOTS * 2
    }

    /// Sharded: the root's (gradient, hessian) totals summed over every process, in place.
    fn reduce_totals(&self) -> Result<()> {
        let Some(shard) = self.shard else { return Ok(()) };
        let mut totals: Vec<i64> = self.ctx.download(&self.root, 2)?;
        shard.comm.sum_i64(&mut totals)?;
        self.ctx.write_bytes(&self.root, 0, bytemuck::cast_slice(&totals))?;
        Ok(())
    }

    /// Sharded: the histograms built at `level` (the root, or the built child of each parent that
    /// split, as `gbdt_evaluate` recorded it: the same on every process, because it read reduced
    /// sums) summed over every process, in place. The exchange is the CPU engine's
    /// (`cpu.rs`, `HostRows::histograms`) call for call, so processes may mix devices: one buffer
    /// of whole node histograms in heap order (features outside the tree's sample zeroed, as
    /// the CPU engine leaves them), none once a level has no split. A process without rows
    /// takes part with the zeros `gbdt_evaluate` wrote.
    fn reduce_level(&self, level: usize, features: &[u32]) -> Result<()> {
        let Some(shard) = self.shard else { return Ok(()) };
        let per = self.per_node();
        let built: Vec<usize> = if level == 0 {
            vec![0]
        } else {
            let first = (1usize << (level - 1)) - 1;
            let words: Vec<u64> = self.ctx.download_range(&self.nodes, first * NODE_WORDS, (first + 1) * NODE_WORDS)?;
            words
                .chunks(NODE_WORDS)
                .map(NodeRecord::parse)
                .enumerate()
                .filter(|(_, r)| r.flags & OPEN != 0 && r.feature1 != 0)
                .map(|(i, r)| 2 * (first + i) + if r.flags & BUILD_RIGHT != 0 { 2 } else { 1 })
                .collect()
        };
        if built.is_empty() {
            return Ok(());
        }
        let mut sampled = vec![false; self.features];
        features.iter().for_each(|&f| sampled[f as usize] = true);
        // Node `id`'s histogram: the root's in `root` after the totals, else `hist` at id - 1.
        let place = |id: usize| if id == 0 { (&self.root, 2) } else { (&self.hist, (id - 1) * per) };
        let mut flat = Vec::with_capacity(built.len() * per);
        for &id in &built {
            let (buf, at) = place(id);
            let mut h: Vec<i64> = self.ctx.download_range(buf, at, per)?;
            for (f, run) in h.chunks_mut(SLOTS * 2).enumerate() {
                if !sampled[f] {
                    run.fill(0);
                }
            }
            flat.extend_from_slice(&h);
        }
        shard.comm.sum_i64(&mut flat)?;
        for (&id, h) in built.iter().zip(flat.chunks(per)) {
            let (buf, at) = place(id);
            self.ctx.write_bytes(buf, at * 8, bytemuck::cast_slice(h))?;
        }
        Ok(())
    }

    fn rows_cfg(&self) -> LaunchConfig {
        LaunchConfig::for_elems(self.n, BLOCK)
    }

    /// Launches the gradient kernel; returns the (device) buffer of per-group maxima.
    fn launch_gradients(&self) -> Result<DeviceBuffer> {
        let maxima = self.ctx.alloc_zeroed(self.groups * 16)?;
        self.ctx.launch(
            k("gbdt_gradients"),
            self.rows_cfg(),
            &[
                (&self.margins).into(),
                (&self.y).into(),
                self.w.as_ref().into(),
                KernelArg::U64(self.n as u64),
                KernelArg::U32(self.groups as u32),
                KernelArg::U32(objective_code(self.objective)),
                (&self.g).into(),
                (&self.h).into(),
                (&maxima).into(),
            ],
        )?;
        Ok(maxima)
    }

    /// Group `k`'s pairs quantised into `gh`, every row in the root, the totals in `root`.
    fn quantise(&self, group: usize, ev: &Evaluator<'_>, tree: u64) -> Result<()> {
        self.ctx.fill_bytes(&self.root, 0)?;
        self.ctx.launch(
            k("gbdt_quantise"),
            self.rows_cfg(),
            &[
                (&self.g).into(),
                (&self.h).into(),
                KernelArg::U64(self.n as u64),
                KernelArg::U32(self.groups as u32),
                KernelArg::U32(group as u32),
                KernelArg::I32(ev.qg.exp),
                KernelArg::I32(ev.qh.exp),
                KernelArg::U64(self.seed),
                KernelArg::U64(tree),
                KernelArg::U64(self.shard.map_or(0, |s| s.offset)),
                KernelArg::U64(self.threshold),
                (&self.gh).into(),
                (&self.pos).into(),
                (&self.root).into(),
            ],
        )?;
        Ok(())
    }

    /// The histograms of the nodes of `level` that are built (see `gbdt_histogram`).
    fn histograms(&self, level: usize, ids: &DeviceBuffer, selected: usize) -> Result<()> {
        let parents = if level == 0 { 1 } else { 1usize << (level - 1) };
        let grid = (self.n.div_ceil(HIST_ROWS) as u32, selected as u32, parents.div_ceil(NODES_PER_BLOCK) as u32);
        self.ctx.launch(
            k("gbdt_histogram"),
            LaunchConfig { grid, block: (BLOCK, 1, 1), shared_mem_bytes: 0 },
            &[
                (&self.bins).into(),
                KernelArg::U64(self.n as u64),
                KernelArg::U32(self.features as u32),
                ids.into(),
                (&self.gh).into(),
                (&self.pos).into(),
                (&self.nodes).into(),
                KernelArg::U32(level as u32),
                (&self.root).into(),
                (&self.hist).into(),
            ],
        )?;
        Ok(())
    }

    /// Split search (or, at `max_depth`, leaves) for every node of `level` (see `gbdt_evaluate`).
    fn evaluate(&self, level: usize, ids: &DeviceBuffer, selected: usize, ev: &Evaluator<'_>) -> Result<()> {
        let p = ev.params;
        let cfg = LaunchConfig { grid: (1u32 << level, 1, 1), block: (EVAL_THREADS, 1, 1), shared_mem_bytes: 0 };
        self.ctx.launch(
            k("gbdt_evaluate"),
            cfg,
            &[
                (&self.nodes).into(),
                (&self.root).into(),
                (&self.hist).into(),
                KernelArg::U32(self.features as u32),
                ids.into(),
                KernelArg::U32(selected as u32),
                (&self.value_bins).into(),
                KernelArg::U32(level as u32),
                KernelArg::U32(self.max_depth as u32),
                KernelArg::I32(ev.qg.exp),
                KernelArg::I32(ev.qh.exp),
                KernelArg::F64(p.lambda),
                KernelArg::F64(p.alpha),
                KernelArg::F64(p.min_child_weight),
                KernelArg::F64(p.gamma),
                KernelArg::F64(p.eta),
            ],
        )?;
        Ok(())
    }
}

impl Backend for GpuBackend<'_> {
    fn rows(&self) -> usize {
        self.shard.map_or(self.n, |s| s.total)
    }

    fn gradients(&mut self) -> Result<Vec<(f64, f64)>> {
        let maxima = self.launch_gradients()?;
        let m: Vec<u64> = self.ctx.download(&maxima, self.groups * 2)?;
        let mut m: Vec<f64> = m.into_iter().map(f64::from_bits).collect();
        if let Some(shard) = self.shard {
            shard.comm.max_f64(&mut m)?;
        }
        Ok(m.chunks(2).map(|p| (p[0], p[1])).collect())
    }

    fn tree(&mut self, group: usize, fused: bool, ev: &Evaluator<'_>, tree: u64) -> Result<Tree> {
        if fused {
            // The scales are known: the maxima are not read back.
            self.launch_gradients()?;
        }
        self.quantise(group, ev, tree)?;
        if self.features_on_device.as_ref().is_none_or(|(f, _)| f.as_slice() != ev.features) {
            self.features_on_device = Some((ev.features.to_vec(), self.ctx.upload(ev.features)?));
        }
        let ids = &self.features_on_device.as_ref().expect("set just above").1;
        let selected = ev.features.len();
        self.reduce_totals()?;
        for level in 0..=self.max_depth {
            if level < self.max_depth && selected > 0 {
                if self.n > 0 {
                    self.histograms(level, ids, selected)?;
                }
                self.reduce_level(level, ev.features)?;
            }
            self.evaluate(level, ids, selected, ev)?;
            if level < self.max_depth {
                self.ctx.launch(
                    k("gbdt_partition"),
                    self.rows_cfg(),
                    &[(&self.bins).into(), KernelArg::U64(self.n as u64), (&self.nodes).into(), (&self.pos).into()],
                )?;
            }
        }
        self.ctx.launch(
            k("gbdt_add_leaves"),
            self.rows_cfg(),
            &[
                (&self.margins).into(),
                (&self.pos).into(),
                (&self.nodes).into(),
                KernelArg::U64(self.n as u64),
                KernelArg::U32(self.groups as u32),
                KernelArg::U32(group as u32),
            ],
        )?;
        // The one read-back of the tree: its node records.
        let words: Vec<u64> = self.ctx.download_all(&self.nodes)?;
        let records: Vec<NodeRecord> = words.chunks(NODE_WORDS).map(NodeRecord::parse).collect();
        Ok(tree_from_records(&records, ev))
    }
}

/// Margins of trees `t0..t1` for `x` on the GPU: one upload of the features and the flattened
/// trees, one launch (a thread per row), one download.
pub(crate) fn predict(gpu: Arc<Gpu>, model: &Model, x: &crate::Features, t0: usize, t1: usize) -> Result<Vec<f32>> {
    let ctx = ExecContext::new(gpu);
    let groups = model.objective.groups();
    let trees = &model.trees;
    let total: usize = trees.iter().map(|t| t.len()).sum();
    if total > u32::MAX as usize || x.rows > u32::MAX as usize {
        return Err(Error::InvalidArgument("model or input too large for GPU prediction".into()));
    }
    let (mut left, mut right, mut feature, mut cond, mut dl) = (
        Vec::with_capacity(total),
        Vec::with_capacity(total),
        Vec::with_capacity(total),
        Vec::with_capacity(total),
        Vec::with_capacity(total),
    );
    let mut first = Vec::with_capacity(trees.len());
    for t in trees {
        first.push(left.len() as u32);
        left.extend_from_slice(&t.left);
        right.extend_from_slice(&t.right);
        feature.extend_from_slice(&t.feature);
        cond.extend_from_slice(&t.cond);
        dl.extend(t.default_left.iter().map(|d| *d as u8));
    }
    let group: Vec<u32> = model.tree_group.iter().map(|g| *g as u32).collect();
    let out = ctx.upload(&model.base_margins().repeat(x.rows))?;
    if x.rows > 0 && t1 > t0 {
        let up = |v: &[u8]| ctx.upload_bytes(v);
        let xs = ctx.upload(&x.values)?;
        let (l, r, f, c, d) =
            (ctx.upload(&left)?, ctx.upload(&right)?, ctx.upload(&feature)?, ctx.upload(&cond)?, up(&dl)?);
        let (fi, gi) = (ctx.upload(&first)?, ctx.upload(&group)?);
        ctx.launch(
            k("gbdt_predict"),
            LaunchConfig::for_elems(x.rows, BLOCK),
            &[
                (&xs).into(),
                KernelArg::U64(x.rows as u64),
                KernelArg::U32(x.cols as u32),
                (&l).into(),
                (&r).into(),
                (&f).into(),
                (&c).into(),
                (&d).into(),
                (&fi).into(),
                (&gi).into(),
                KernelArg::U32(t0 as u32),
                KernelArg::U32(t1 as u32),
                KernelArg::U32(groups as u32),
                (&out).into(),
            ],
        )?;
    }
    Ok(ctx.download(&out, x.rows * groups)?)
}
