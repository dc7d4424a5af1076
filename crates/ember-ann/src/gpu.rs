//! The GPU path of exact search (CUDA and the simulated device): the index's vectors are
//! uploaded on first use and kept with the index until it changes; a search uploads the queries
//! (and, when there are deletions or a filter, a bitmap of allowed slots), launches one
//! `ann_flat_topk` block per query (`kernels/ann.cu`), and downloads distances and slots: one
//! launch and two read-backs per batch, whatever its size.
use crate::flat::{Filter, FlatIndex};
use crate::topk::{SearchResult, NO_LABEL};
use crate::vectors::Vectors;
use ember_core::{Error, Result};
use ember_gpu::{DeviceBuffer, ExecContext, Kernel, KernelArg, LaunchConfig};
use std::sync::Arc;

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

fn device_vectors(ctx: &ExecContext, idx: &FlatIndex) -> Result<Arc<DeviceVectors>> {
    let key = Arc::as_ptr(ctx.gpu()) as usize;
    let mut slot = idx.device.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = slot.as_ref().filter(|d| d.gpu == key && d.version == idx.version) {
        return Ok(d.clone());
    }
    let data = ctx.upload(&idx.data)?;
    ctx.synchronize()?;
    let d = Arc::new(DeviceVectors { gpu: key, version: idx.version, data });
    *slot = Some(d.clone());
    Ok(d)
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
    let mut res = SearchResult::new(nq, k);
    if k == 0 || nq == 0 || n == 0 {
        return Ok(res);
    }
    if k > MAX_K {
        return Err(Error::Unsupported(format!("GPU exact search takes k <= {MAX_K}, got {k}; search on the CPU")));
    }
    let n32 =
        u32::try_from(n).map_err(|_| Error::Unsupported(format!("{n} vectors exceed the GPU path's 32-bit slots")))?;
    let dv = device_vectors(ctx, idx)?;
    let needs_mask = filter.is_some() || idx.deleted.iter().any(|&d| d);
    let mask = if needs_mask {
        let mut words = vec![0u32; n.div_ceil(32)];
        for s in 0..n {
            if idx.allowed(s, filter) {
                words[s / 32] |= 1 << (s % 32);
            }
        }
        Some(ctx.upload(&words)?)
    } else {
        None
    };
    let queries = ctx.upload(q.values())?;
    let dist = ctx.alloc(nq * k * 4)?;
    let ids = ctx.alloc(nq * k * 4)?;
    ctx.launch(
        Kernel::new("ann", "ann_flat_topk"),
        LaunchConfig::blocks(
            u32::try_from(nq).map_err(|_| Error::Unsupported(format!("{nq} queries in one GPU batch")))?,
            BLOCK,
        ),
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
    res.distances = ctx.download(&dist, nq * k)?;
    let slots: Vec<u32> = ctx.download(&ids, nq * k)?;
    res.labels = slots.into_iter().map(|s| if s == u32::MAX { NO_LABEL } else { s as u64 }).collect();
    Ok(res)
}
