//! The GPU paths of vector search (CUDA and the simulated device), `kernels/ann.cu`:
//!
//! * Exact search (`FlatIndex`): the index's vectors are uploaded on first use and kept with the
//!   index until it changes; a search uploads the queries (and, when there are deletions or a
//!   filter, a bitmap of allowed slots), launches one `ann_flat_topk` block per query, and
//!   downloads distances and slots: one launch and two read-backs per batch, whatever its size.
//! * Graph search (`HnswIndex`): the index's level-0 records (links and vectors together) are
//!   uploaded once per version of the index, and one `ann_graph_search` block per query runs a
//!   CAGRA-style search over them (see the kernel): again one launch and two read-backs a batch.
use crate::flat::{Filter, FlatIndex, Storage, Store};
use crate::topk::{SearchResult, NO_LABEL};
use crate::vectors::Vectors;
use ember_core::{Error, Result};
use ember_gpu::{DeviceBuffer, ExecContext, Kernel, KernelArg, LaunchConfig};
use std::sync::{Arc, Mutex};

/// Mirrors `ANN_MAX_K` / `ANN_BUF` in `kernels/ann.cu`.
const MAX_K: usize = 256;
const BLOCK: u32 = 256;

/// An index's vectors on one device, at one version of the index.
#[derive(Debug)]
pub(crate) struct DeviceVectors {
    gpu: usize,
    version: u64,
    data: DeviceBuffer,
}

/// The buffer cached in `slot` for this GPU and `version`, or `upload`'s, cached.
pub(crate) fn cached(
    ctx: &ExecContext,
    slot: &Mutex<Option<Arc<DeviceVectors>>>,
    version: u64,
    upload: impl FnOnce() -> Result<DeviceBuffer>,
) -> Result<Arc<DeviceVectors>> {
    let key = Arc::as_ptr(ctx.gpu()) as usize;
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = slot.as_ref().filter(|d| d.gpu == key && d.version == version) {
        return Ok(d.clone());
    }
    let data = upload()?;
    ctx.synchronize()?;
    let d = Arc::new(DeviceVectors { gpu: key, version, data });
    *slot = Some(d.clone());
    Ok(d)
}

/// A bitmap of the slots `allowed` accepts, uploaded; `None` when every slot is.
fn allowed_mask(ctx: &ExecContext, n: usize, allowed: impl Fn(usize) -> bool) -> Result<Option<DeviceBuffer>> {
    let mut words = vec![0u32; n.div_ceil(32)];
    let mut all = true;
    for s in 0..n {
        if allowed(s) {
            words[s / 32] |= 1 << (s % 32);
        } else {
            all = false;
        }
    }
    Ok(if all { None } else { Some(ctx.upload(&words)?) })
}

/// Downloads a batch's `(distance, slot)` pairs into a result (slots, not labels: u32::MAX is none).
fn download_result(
    ctx: &ExecContext,
    dist: &DeviceBuffer,
    ids: &DeviceBuffer,
    nq: usize,
    k: usize,
) -> Result<SearchResult> {
    let mut res = SearchResult::new(nq, k);
    res.distances = ctx.download(dist, nq * k)?;
    let slots: Vec<u32> = ctx.download(ids, nq * k)?;
    res.labels = slots.into_iter().map(|s| if s == u32::MAX { NO_LABEL } else { s as u64 }).collect();
    Ok(res)
}

fn query_blocks(nq: usize) -> Result<LaunchConfig> {
    let blocks = u32::try_from(nq).map_err(|_| Error::Unsupported(format!("{nq} queries in one GPU batch")))?;
    Ok(LaunchConfig::blocks(blocks, BLOCK))
}

/// Exact search; the result's labels are slots (mapped to labels by the caller).
pub(crate) fn flat_search(
    ctx: &ExecContext,
    idx: &FlatIndex,
    q: &Vectors,
    k: usize,
    filter: Option<Filter<'_>>,
) -> Result<SearchResult> {
    let nq = q.len();
    let n = idx.labels.len();
    if k == 0 || nq == 0 || n == 0 {
        return Ok(SearchResult::new(nq, k));
    }
    if k > MAX_K {
        return Err(Error::Unsupported(format!("GPU exact search takes k <= {MAX_K}, got {k}; search on the CPU")));
    }
    let n32 = slots32(n)?;
    let dv = cached(ctx, &idx.device, idx.version, || Ok(ctx.upload_bytes(idx.data.bytes())?))?;
    let mask = if filter.is_some() || idx.deleted.iter().any(|&d| d) {
        allowed_mask(ctx, n, |s| idx.allowed(s, filter))?
    } else {
        None
    };
    let queries = ctx.upload(q.values())?;
    let dist = ctx.alloc(nq * k * 4)?;
    let ids = ctx.alloc(nq * k * 4)?;
    let kernel = match idx.data {
        Store::F32(_) => "ann_flat_topk",
        Store::F16(_) => "ann_flat_topk_f16",
    };
    ctx.launch(
        Kernel::named("ann", kernel),
        query_blocks(nq)?,
        &[
            (&dv.data).into(),
            KernelArg::U32(n32),
            KernelArg::U32(idx.dim as u32),
            (&queries).into(),
            KernelArg::U32(k as u32),
            KernelArg::U32(idx.metric.code()),
            mask.as_ref().into(),
            (&dist).into(),
            (&ids).into(),
        ],
    )?;
    download_result(ctx, &dist, &ids, nq, k)
}

fn slots32(n: usize) -> Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|&n| n < 1 << 31)
        .ok_or_else(|| Error::Unsupported(format!("{n} vectors exceed the GPU path's 31-bit slots")))
}

/// Mirrors `ANN_BUF` / `ANN_MAX_WIDTH` in `kernels/ann.cu`.
const BUF: usize = 512;
const MAX_WIDTH: usize = 16;

/// An HNSW index's level 0 as the graph search reads it.
pub(crate) struct Graph<'a> {
    /// `[link count | m0 links | vector]` per slot, `stride` words each.
    pub(crate) records: &'a dyn Fn() -> Vec<u32>,
    /// How the records hold vectors (f16: two halves per word).
    pub(crate) storage: Storage,
    pub(crate) stride: usize,
    pub(crate) m0: usize,
    pub(crate) dim: usize,
    pub(crate) n: usize,
    pub(crate) entry: u32,
    pub(crate) metric: u32,
    pub(crate) version: u64,
    pub(crate) device: &'a Mutex<Option<Arc<DeviceVectors>>>,
}

/// The longest candidate list the graph search keeps for level-0 degree `m0` (the kernel's
/// shared buffer holds the list and at least one parent's neighbours).
pub(crate) fn max_candidates(m0: usize) -> usize {
    (BUF / 2).min(BUF.saturating_sub(m0))
}

/// Graph search with a candidate list of `ef` (at least `k`; at most 256 less the degree: the
/// kernel's shared buffer); the result's labels are slots. `allowed(slot)`: may it be returned.
pub(crate) fn graph_search(
    ctx: &ExecContext,
    g: &Graph<'_>,
    q: &Vectors,
    k: usize,
    ef: usize,
    allowed: Option<&(dyn Fn(usize) -> bool + Sync)>,
) -> Result<SearchResult> {
    let nq = q.len();
    if k == 0 || nq == 0 || g.n == 0 {
        return Ok(SearchResult::new(nq, k));
    }
    let itopk = ef.max(k);
    let most = max_candidates(g.m0);
    if itopk > most {
        return Err(Error::Unsupported(format!(
            "GPU graph search keeps at most {most} candidates at this degree (ef and k <= {most}), got {itopk}; \
             search on the CPU"
        )));
    }
    let n32 = slots32(g.n)?;
    // Parents per iteration: as many as the buffer holds neighbours of, up to 4 (more parents
    // per iteration means fewer iterations, each a sort of the whole buffer).
    let width = ((BUF - itopk) / g.m0).clamp(1, 4.min(MAX_WIDTH));
    let max_iters = 2 * itopk / width + 32;
    // Seeds fill the whole buffer: level 0 has no upper layers to descend from, so a start near
    // the query comes from sampling. With `max(itopk, 64)` seeds the H200 run (200k x 128, ef 64)
    // gave recall@10 0.838 against the CPU search's 0.891; with 512, on Sim, 0.899 against 0.890
    // (and fewer iterations: the search starts closer).
    let seeds = BUF.min(g.n);
    let dv = cached(ctx, g.device, g.version, || Ok(ctx.upload(&(g.records)())?))?;
    let mask = match allowed {
        Some(a) => allowed_mask(ctx, g.n, a)?,
        None => None,
    };
    let queries = ctx.upload(q.values())?;
    let dist = ctx.alloc(nq * k * 4)?;
    let ids = ctx.alloc(nq * k * 4)?;
    let kernel = match g.storage {
        Storage::F32 => "ann_graph_search",
        Storage::F16 => "ann_graph_search_f16",
    };
    ctx.launch(
        Kernel::named("ann", kernel),
        query_blocks(nq)?,
        &[
            (&dv.data).into(),
            KernelArg::U32(g.stride as u32),
            KernelArg::U32(g.m0 as u32),
            KernelArg::U32(n32),
            KernelArg::U32(g.dim as u32),
            (&queries).into(),
            KernelArg::U32(k as u32),
            KernelArg::U32(itopk as u32),
            KernelArg::U32(width as u32),
            KernelArg::U32(max_iters as u32),
            KernelArg::U32(g.entry),
            KernelArg::U32(seeds as u32),
            KernelArg::U32(0x5EED_CA6A),
            KernelArg::U32(g.metric),
            mask.as_ref().into(),
            (&dist).into(),
            (&ids).into(),
        ],
    )?;
    download_result(ctx, &dist, &ids, nq, k)
}
