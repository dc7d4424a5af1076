//! The GPU path (CUDA and the simulated device) of PageRank, BFS and connected components: the
//! adjacency (CSR, CSC, f32 in-edge weights) is uploaded by a graph's first GPU call and kept with
//! the graph for later calls on the same device (`Graph::device_graph`), every per-vertex and
//! per-edge step is a kernel of `kernels/graph.cu`, and the host only reads back what decides the
//! next step:
//!
//! - PageRank: per iteration one pull launch (degree-binned), one finishing reduction and one
//!   8-byte read-back of the L1 change (the convergence check); the dangling mass stays on the
//!   device. Ranks are f32, reductions f64.
//! - BFS: per level one step launch (top-down or bottom-up, the CPU engine's heuristic) and one
//!   read-back of the next frontier's size and out-degree sum; two more launches at each change
//!   of direction.
//! - Components: a fixed schedule of nine launches (ten for a directed graph) and two
//!   read-backs: the 1024 sampled labels and the result.
use crate::bfs::{ALPHA, BETA, NO_PARENT, UNREACHED};
use crate::cc::{most_frequent_of, sample_vertices, NEIGHBOUR_ROUNDS};
use crate::graph::{Adjacency, Graph};
use crate::pagerank::Problem;
use ember_core::{Error, Result};
use ember_gpu::{DeviceBuffer, ExecContext, Kernel, KernelArg, LaunchConfig};
use std::sync::Arc;

const BLOCK: u32 = 256;
/// In-degree at most this: a thread per vertex.
const LOW_DEGREE: usize = 16;
/// In-degree at most this: a warp per vertex; above, a block.
const MID_DEGREE: usize = 2048;

fn k(name: &'static str) -> Kernel {
    Kernel::new("graph", name)
}

/// Uploads `data`, or one zero element when it is empty (kernels never read it then).
fn upload<T: bytemuck::Pod + Default>(ctx: &ExecContext, data: &[T]) -> Result<DeviceBuffer> {
    if data.is_empty() {
        Ok(ctx.upload(&[T::default()])?)
    } else {
        Ok(ctx.upload(data)?)
    }
}

#[derive(Debug)]
struct DeviceAdjacency {
    off: DeviceBuffer,
    adj: DeviceBuffer,
    arcs: u64,
}

/// A graph's adjacency on one device.
#[derive(Debug)]
pub(crate) struct DeviceGraph {
    /// `Arc::as_ptr` of the `Gpu` it lives on.
    gpu: usize,
    out: DeviceAdjacency,
    /// In-edges; None when undirected (the out-edges).
    inc: Option<DeviceAdjacency>,
    /// f32 weights beside the in-edges, when the graph is weighted.
    in_weights: Option<DeviceBuffer>,
}

impl DeviceGraph {
    fn inc(&self) -> &DeviceAdjacency {
        self.inc.as_ref().unwrap_or(&self.out)
    }
}

impl Graph {
    /// The adjacency on `ctx`'s device: uploaded on first use (then the stream is synchronised,
    /// so other contexts on the device may use it) and kept with the graph, so repeated calls
    /// (BFS from many sources, PageRank with other options) move no graph bytes again.
    fn device_graph(&self, ctx: &ExecContext) -> Result<Arc<DeviceGraph>> {
        let key = Arc::as_ptr(ctx.gpu()) as usize;
        let mut slot = self.device.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dg) = slot.as_ref().filter(|dg| dg.gpu == key) {
            return Ok(dg.clone());
        }
        let out = DeviceAdjacency::new(ctx, self.out_edges())?;
        let inc = self.inc.as_ref().map(|a| DeviceAdjacency::new(ctx, a)).transpose()?;
        let in_weights = match self.in_edges().weights() {
            Some(w) => Some(upload(ctx, &w.iter().map(|&x| x as f32).collect::<Vec<f32>>())?),
            None => None,
        };
        ctx.synchronize()?;
        let dg = Arc::new(DeviceGraph { gpu: key, out, inc, in_weights });
        *slot = Some(dg.clone());
        Ok(dg)
    }
}

impl DeviceAdjacency {
    fn new(ctx: &ExecContext, a: &Adjacency) -> Result<DeviceAdjacency> {
        Ok(DeviceAdjacency {
            off: upload(ctx, a.offsets())?,
            adj: upload(ctx, a.targets())?,
            arcs: a.targets().len() as u64,
        })
    }
}

fn u32_len(n: usize, what: &str) -> Result<u32> {
    u32::try_from(n)
        .map_err(|_| Error::Unsupported(format!("{what} of {n} exceeds the GPU path's 32-bit launch sizes")))
}

/// PageRank ranks (f64 from the device's f32), iterations and the last L1 change.
pub(crate) fn pagerank(ctx: &ExecContext, g: &Graph, prob: &Problem) -> Result<(Vec<f64>, usize, f64)> {
    let n = g.num_vertices();
    if n == 0 {
        return Ok((Vec::new(), 0, 0.0));
    }
    let inc = g.in_edges();
    let (mut low, mut mid, mut high) = (Vec::new(), Vec::new(), Vec::new());
    for v in 0..n as u32 {
        match inc.degree(v as usize) {
            d if d <= LOW_DEGREE => low.push(v),
            d if d <= MID_DEGREE => mid.push(v),
            _ => high.push(v),
        }
    }
    let warps = (BLOCK / 32) as usize;
    let low_blocks = u32_len(low.len().div_ceil(BLOCK as usize), "PageRank blocks")?;
    let mid_blocks = u32_len(mid.len().div_ceil(warps), "PageRank blocks")?;
    let blocks = low_blocks as usize + mid_blocks as usize + high.len();
    let blocks = u32_len(blocks, "PageRank blocks")?;

    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let dg = g.device_graph(ctx)?;
    let (off, src) = (&dg.inc().off, &dg.inc().adj);
    let w = if prob.weighted { dg.in_weights.as_ref() } else { None };
    let x0 = f32s(&prob.x0);
    let inv_out = f32s(&prob.inv_out);
    let contrib0: Vec<f32> = x0.iter().zip(&inv_out).map(|(x, i)| x * i).collect();
    let dmass0: f64 = x0.iter().zip(&inv_out).filter(|(_, &i)| i == 0.0).map(|(&x, _)| x as f64).sum();
    let p = upload(ctx, &f32s(&prob.p))?;
    let dang = upload(ctx, &f32s(&prob.dangling))?;
    let inv = upload(ctx, &inv_out)?;
    let (lo_d, mid_d, hi_d) = (upload(ctx, &low)?, upload(ctx, &mid)?, upload(ctx, &high)?);
    let mut x = upload(ctx, &x0)?;
    let mut contrib = upload(ctx, &contrib0)?;
    let mut x_next = ctx.alloc(n * 4)?;
    let mut contrib_next = ctx.alloc(n * 4)?;
    let partials = ctx.alloc(blocks as usize * 16)?;
    let stats = ctx.upload(&[0.0f64, dmass0])?;
    let mut residual = f64::INFINITY;
    for it in 1..=prob.max_iter {
        ctx.launch(
            k("graph_pagerank_pull"),
            LaunchConfig::blocks(blocks, BLOCK),
            &[
                off.into(),
                src.into(),
                w.into(),
                (&contrib).into(),
                (&p).into(),
                (&dang).into(),
                (&inv).into(),
                (&x).into(),
                (&stats).into(),
                (&lo_d).into(),
                KernelArg::U32(low.len() as u32),
                (&mid_d).into(),
                KernelArg::U32(mid.len() as u32),
                (&hi_d).into(),
                KernelArg::U32(low_blocks),
                KernelArg::U32(mid_blocks),
                KernelArg::F32(prob.alpha as f32),
                (&x_next).into(),
                (&contrib_next).into(),
                (&partials).into(),
            ],
        )?;
        ctx.launch(
            k("graph_pagerank_finish"),
            LaunchConfig::blocks(1, BLOCK),
            &[(&partials).into(), KernelArg::U32(blocks), (&stats).into()],
        )?;
        residual = ctx.download::<f64>(&stats, 1)?[0];
        std::mem::swap(&mut x, &mut x_next);
        std::mem::swap(&mut contrib, &mut contrib_next);
        if residual < prob.threshold {
            let ranks: Vec<f32> = ctx.download(&x, n)?;
            return Ok((ranks.into_iter().map(f64::from).collect(), it, residual));
        }
    }
    Err(Error::NotConverged { what: prob.rule.clone(), iterations: prob.max_iter, residual })
}

/// BFS distances and parents from dense vertex `s`.
pub(crate) fn bfs(ctx: &ExecContext, g: &Graph, s: u32) -> Result<(Vec<i32>, Vec<u32>)> {
    let n = g.num_vertices();
    let n32 = u32_len(n, "BFS vertices")?;
    let out_h = g.out_edges();
    let dg = g.device_graph(ctx)?;
    let (out, inc) = (&dg.out, dg.inc());
    let mut dist_h = vec![UNREACHED; n];
    dist_h[s as usize] = 0;
    let dist = ctx.upload(&dist_h)?;
    let parent = ctx.upload(&vec![NO_PARENT; n])?;
    let mut queue = ctx.upload(&{
        let mut q = vec![0u32; n];
        q[0] = s;
        q
    })?;
    let mut next_queue = ctx.alloc(n * 4)?;
    let words = n.div_ceil(32);
    let mut front = ctx.alloc(words * 4)?;
    let mut next = ctx.alloc(words * 4)?;
    let counters = ctx.alloc(16)?;
    let mut qlen = 1u64;
    let mut level = 0i32;
    let mut edges_to_check = out.arcs;
    let mut scout = out_h.degree(s as usize) as u64;
    while qlen > 0 {
        if scout > edges_to_check / ALPHA {
            ctx.fill_bytes(&front, 0)?;
            ctx.launch(
                k("graph_bfs_queue_to_bitmap"),
                LaunchConfig::for_elems(qlen as usize, BLOCK),
                &[(&queue).into(), KernelArg::U32(qlen as u32), (&front).into()],
            )?;
            let mut awake = qlen;
            loop {
                let old = awake;
                ctx.fill_bytes(&next, 0)?;
                ctx.fill_bytes(&counters, 0)?;
                ctx.launch(
                    k("graph_bfs_bottom_up"),
                    LaunchConfig::for_elems(n, BLOCK),
                    &[
                        (&inc.off).into(),
                        (&inc.adj).into(),
                        KernelArg::U32(n32),
                        (&front).into(),
                        (&next).into(),
                        (&dist).into(),
                        (&parent).into(),
                        KernelArg::I32(level),
                        (&counters).into(),
                    ],
                )?;
                level += 1;
                std::mem::swap(&mut front, &mut next);
                awake = ctx.download::<u64>(&counters, 1)?[0];
                if awake == 0 || (awake < old && awake <= n as u64 / BETA) {
                    break;
                }
            }
            ctx.fill_bytes(&counters, 0)?;
            ctx.launch(
                k("graph_bfs_bitmap_to_queue"),
                LaunchConfig::for_elems(n, BLOCK),
                &[(&front).into(), (&out.off).into(), KernelArg::U32(n32), (&queue).into(), (&counters).into()],
            )?;
            qlen = ctx.download::<u64>(&counters, 1)?[0];
            scout = 1;
        } else {
            edges_to_check = edges_to_check.saturating_sub(scout);
            ctx.fill_bytes(&counters, 0)?;
            ctx.launch(
                k("graph_bfs_top_down"),
                LaunchConfig::for_elems(qlen as usize, BLOCK),
                &[
                    (&out.off).into(),
                    (&out.adj).into(),
                    (&queue).into(),
                    KernelArg::U32(qlen as u32),
                    (&dist).into(),
                    (&parent).into(),
                    KernelArg::I32(level),
                    (&next_queue).into(),
                    (&counters).into(),
                ],
            )?;
            level += 1;
            let c: Vec<u64> = ctx.download(&counters, 2)?;
            (qlen, scout) = (c[0], c[1]);
            std::mem::swap(&mut queue, &mut next_queue);
        }
    }
    Ok((ctx.download(&dist, n)?, ctx.download(&parent, n)?))
}

/// Component labels (the smallest dense index of each component).
pub(crate) fn components(ctx: &ExecContext, g: &Graph) -> Result<Vec<u32>> {
    let n = g.num_vertices();
    if n == 0 {
        return Ok(Vec::new());
    }
    let n32 = u32_len(n, "components vertices")?;
    let dg = g.device_graph(ctx)?;
    let out = &dg.out;
    let comp = ctx.alloc(n * 4)?;
    let cfg = LaunchConfig::for_elems(n, BLOCK);
    ctx.launch(k("graph_cc_init"), cfg, &[(&comp).into(), KernelArg::U32(n32)])?;
    for r in 0..NEIGHBOUR_ROUNDS {
        ctx.launch(
            k("graph_cc_link_round"),
            cfg,
            &[(&out.off).into(), (&out.adj).into(), KernelArg::U32(n32), KernelArg::U32(r as u32), (&comp).into()],
        )?;
        ctx.launch(k("graph_cc_compress"), cfg, &[(&comp).into(), KernelArg::U32(n32)])?;
    }
    let samples = sample_vertices(n);
    let samples_d = ctx.upload(&samples)?;
    let sampled = ctx.alloc(samples.len() * 4)?;
    ctx.launch(
        k("graph_cc_gather"),
        LaunchConfig::for_elems(samples.len(), BLOCK),
        &[(&comp).into(), (&samples_d).into(), KernelArg::U32(samples.len() as u32), (&sampled).into()],
    )?;
    let c = most_frequent_of(ctx.download(&sampled, samples.len())?);
    let link_rest = |a: &DeviceAdjacency, skip: usize| -> Result<()> {
        if a.arcs == 0 {
            return Ok(());
        }
        ctx.launch(
            k("graph_cc_link_rest"),
            LaunchConfig::for_elems(a.arcs as usize, BLOCK),
            &[
                (&a.off).into(),
                (&a.adj).into(),
                KernelArg::U32(n32),
                KernelArg::U64(a.arcs),
                KernelArg::U32(skip as u32),
                KernelArg::U32(c),
                (&comp).into(),
            ],
        )?;
        Ok(())
    };
    link_rest(out, NEIGHBOUR_ROUNDS)?;
    if let Some(inc) = &dg.inc {
        link_rest(inc, 0)?;
    }
    ctx.launch(k("graph_cc_compress"), cfg, &[(&comp).into(), KernelArg::U32(n32)])?;
    Ok(ctx.download(&comp, n)?)
}
