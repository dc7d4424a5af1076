//! The GPU backend (CUDA and the simulated device): rows, gradients, histograms and the
//! row-to-node array live on the device (`kernels/gbdt.cu`); the host makes the tree decisions
//! from the downloaded integer histograms with the same code as the CPU engine (`grow.rs`), so
//! both grow the same trees.
//!
//! Per tree: gradients (one launch per round, shared by the round's trees) and one read-back of
//! their maxima per round; quantisation (one launch, the root's totals read back); then per level
//! one histogram launch and its download, one upload of the level's splits and one partition
//! launch; one upload of the leaf values and one launch adding them to the margins. So a depth-d
//! tree costs `2d + 3` launches and `d + 1` synchronisations (the totals and one histogram
//! read-back per level; `tests/gbdt.rs` checks it), plus the maxima's read-back per round for
//! objectives without a-priori gradient bounds (regression, softprob).
//! Evaluating splits on the device would remove those; it is the next step (see the issue).
use crate::grow::{Backend, Hist, SplitRow, SLOTS};
use crate::model::Model;
use crate::objective::{sample_threshold, Quantiser};
use crate::params::{Objective, Params};
use ember_core::{Error, Result};
use ember_gpu::{DeviceBuffer, ExecContext, Gpu, Kernel, KernelArg, LaunchConfig};
use std::sync::Arc;

const BLOCK: u32 = 256;
/// Mirrors `GBDT_NODES_PER_BLOCK` / `GBDT_HIST_ROWS` in `kernels/gbdt.cu`.
const NODES_PER_BLOCK: usize = 4;
const HIST_ROWS: usize = 4096;

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

pub(crate) struct GpuBackend {
    ctx: ExecContext,
    n: usize,
    features: usize,
    groups: usize,
    objective: Objective,
    heap_nodes: usize,
    seed: u64,
    threshold: u64,
    /// Column-major bins (`bins[f * n + row]`): a block of the histogram kernel reads one
    /// feature of consecutive rows, coalesced.
    bins: DeviceBuffer,
    y: DeviceBuffer,
    w: Option<DeviceBuffer>,
    margins: DeviceBuffer,
    g: DeviceBuffer,
    h: DeviceBuffer,
    gh: DeviceBuffer,
    pos: DeviceBuffer,
}

impl GpuBackend {
    pub fn new(
        ctx: ExecContext,
        bins_row_major: &[u8],
        features: usize,
        y: &[f32],
        w: Option<&[f32]>,
        params: &Params,
        base: f32,
    ) -> Result<GpuBackend> {
        let n = y.len();
        let groups = params.objective.groups();
        let mut col_major = vec![0u8; bins_row_major.len()];
        for (r, row) in bins_row_major.chunks(features.max(1)).enumerate() {
            for (f, b) in row.iter().enumerate() {
                col_major[f * n + r] = *b;
            }
        }
        Ok(GpuBackend {
            n,
            features,
            groups,
            objective: params.objective,
            heap_nodes: (1usize << (params.max_depth + 1)) - 1,
            seed: params.seed,
            threshold: sample_threshold(params.subsample),
            bins: ctx.upload(&col_major)?,
            y: ctx.upload(y)?,
            w: w.map(|w| ctx.upload(w)).transpose()?,
            margins: ctx.upload(&vec![base; n * groups])?,
            g: ctx.alloc(n * groups * 8)?,
            h: ctx.alloc(n * groups * 8)?,
            gh: ctx.alloc(n * 16)?,
            pos: ctx.alloc(n * 4)?,
            ctx,
        })
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
}

impl Backend for GpuBackend {
    fn rows(&self) -> usize {
        self.n
    }

    fn gradients(&mut self) -> Result<Vec<(f64, f64)>> {
        let maxima = self.launch_gradients()?;
        let m: Vec<u64> = self.ctx.download(&maxima, self.groups * 2)?;
        Ok(m.chunks(2).map(|p| (f64::from_bits(p[0]), f64::from_bits(p[1]))).collect())
    }

    fn fused_gradients(&mut self, qg: Quantiser, qh: Quantiser, tree: u64) -> Result<(i64, i64)> {
        // The scales are known: the maxima are not read back (one synchronisation fewer).
        self.launch_gradients()?;
        self.quantise(0, qg, qh, tree)
    }

    fn quantise(&mut self, group: usize, qg: Quantiser, qh: Quantiser, tree: u64) -> Result<(i64, i64)> {
        let totals = self.ctx.alloc_zeroed(16)?;
        self.ctx.launch(
            k("gbdt_quantise"),
            self.rows_cfg(),
            &[
                (&self.g).into(),
                (&self.h).into(),
                KernelArg::U64(self.n as u64),
                KernelArg::U32(self.groups as u32),
                KernelArg::U32(group as u32),
                KernelArg::I32(qg.exp),
                KernelArg::I32(qh.exp),
                KernelArg::U64(self.seed),
                KernelArg::U64(tree),
                KernelArg::U64(self.threshold),
                (&self.gh).into(),
                (&self.pos).into(),
                (&totals).into(),
            ],
        )?;
        let t: Vec<i64> = self.ctx.download(&totals, 2)?;
        Ok((t[0], t[1]))
    }

    fn histograms(&mut self, nodes: &[u32], out: &mut [Hist]) -> Result<()> {
        let mut slot = vec![-1i32; self.heap_nodes];
        for (i, id) in nodes.iter().enumerate() {
            slot[*id as usize] = i as i32;
        }
        let per_node = self.features * SLOTS * 2;
        let hist = self.ctx.alloc_zeroed(nodes.len() * per_node * 8)?;
        let node_slot = self.ctx.upload(&slot)?;
        let grid =
            (self.n.div_ceil(HIST_ROWS) as u32, self.features as u32, nodes.len().div_ceil(NODES_PER_BLOCK) as u32);
        if self.n > 0 && self.features > 0 {
            self.ctx.launch(
                k("gbdt_histogram"),
                LaunchConfig { grid, block: (BLOCK, 1, 1), shared_mem_bytes: 0 },
                &[
                    (&self.bins).into(),
                    KernelArg::U64(self.n as u64),
                    KernelArg::U32(self.features as u32),
                    (&self.gh).into(),
                    (&self.pos).into(),
                    (&node_slot).into(),
                    KernelArg::U32(nodes.len() as u32),
                    (&hist).into(),
                ],
            )?;
        }
        let all: Vec<i64> = self.ctx.download(&hist, nodes.len() * per_node)?;
        for (o, h) in out.iter_mut().zip(all.chunks(per_node.max(1))) {
            o.copy_from_slice(h);
        }
        Ok(())
    }

    fn partition(&mut self, splits: &[SplitRow]) -> Result<()> {
        let mut table = vec![0u32; self.heap_nodes * 3];
        for s in splits {
            let i = s.node as usize * 3;
            table[i] = s.feature + 1;
            table[i + 1] = s.bin;
            table[i + 2] = s.default_left as u32;
        }
        let table = self.ctx.upload(&table)?;
        self.ctx.launch(
            k("gbdt_partition"),
            self.rows_cfg(),
            &[(&self.bins).into(), KernelArg::U64(self.n as u64), (&table).into(), (&self.pos).into()],
        )?;
        Ok(())
    }

    fn add_leaves(&mut self, group: usize, leaves: &[(u32, f32)]) -> Result<()> {
        let mut values = vec![0f32; self.heap_nodes];
        for (id, v) in leaves {
            values[*id as usize] = *v;
        }
        let values = self.ctx.upload(&values)?;
        self.ctx.launch(
            k("gbdt_add_leaves"),
            self.rows_cfg(),
            &[
                (&self.margins).into(),
                (&self.pos).into(),
                (&values).into(),
                KernelArg::U64(self.n as u64),
                KernelArg::U32(self.groups as u32),
                KernelArg::U32(group as u32),
            ],
        )?;
        Ok(())
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
