//! Data-parallel training: each process holds some rows, and every number the tree decisions
//! read is reduced over all processes, so each one grows the same trees as one process holding
//! every row would (with the same cuts).
//!
//! Histograms and gradient totals are integers (quantised gradients), so their sums are exact
//! and the same in any order; the quantisers' scales come from the global row count and the
//! global largest gradient; the row sample is seeded by global row number. Per tree level the
//! processes exchange one buffer: the histograms of the nodes built at that level (sizes:
//! nodes × features × 256 × 2 × 8 bytes). The CPU engine and the GPU path make the same calls
//! with the same buffers, so processes may mix devices; on a GPU each exchange is a download
//! and an upload of that buffer (a host round trip per level, which a single-process GPU
//! training does not have). The transport is the caller's [`Collective`] — `ember.distributed`
//! uses xgboost's (Rabit) allreduce between Dask workers, or Dask's scheduler queues.
//!
//! Cuts come from [`Sketch`]es: each process summarises its own values, the summaries are
//! merged into one [`Cuts`] ([`Cuts::from_sketches`]), exact when each process's values fit its
//! summary.
use crate::cpu::CpuBackend;
use crate::cuts::Cuts;
use crate::data::Dataset;
use crate::model::{boost, check_inputs, Model};
use crate::objective::{base_margin, base_score_of_sums, label_sums};
use crate::params::Params;
use ember_core::{Device, Error, Result};
use ember_gpu::ExecContext;

/// This process's share of a data-parallel training, as a backend (CPU engine or GPU) sees it:
/// it holds rows `offset..offset + n` of `total`, and every sum and maximum the decisions read
/// is reduced over all processes with `comm`.
#[derive(Clone, Copy)]
pub(crate) struct Shard<'a> {
    pub comm: &'a dyn Collective,
    pub offset: u64,
    pub total: usize,
}

/// The eval set of a data-parallel training, gathered: every process holds rows
/// `offset..offset + n` of `total` eval rows, and each round every process gets every row's
/// margins (an allreduce of zeros but its own rows; adding zeros is exact), so the metric is
/// computed on all rows in order by the single-process function: the same score, bit for bit,
/// and the same early-stopping decisions on every process.
pub(crate) struct EvalGather<'a> {
    comm: &'a dyn Collective,
    offset: usize,
    total: usize,
    /// Every eval row's label and weight (`None` when no process has weights).
    pub y: Vec<f32>,
    pub w: Option<Vec<f32>>,
}

impl<'a> EvalGather<'a> {
    fn new(comm: &'a dyn Collective, local: &Dataset, offset: u64) -> Result<EvalGather<'a>> {
        let mut total = [local.rows() as i64];
        comm.sum_i64(&mut total)?;
        let (offset, total) = (offset as usize, total[0] as usize);
        if offset + local.rows() > total {
            return Err(Error::InvalidArgument(format!(
                "eval rows {offset}..{} are past the {total} eval rows of all processes",
                offset + local.rows()
            )));
        }
        let mut weighted = [if local.w.is_some() { 1.0 } else { 0.0 }];
        comm.max_f64(&mut weighted)?;
        let mut g = EvalGather { comm, offset, total, y: Vec::new(), w: None };
        g.y = g.all(&local.y, 1)?;
        if weighted[0] > 0.0 {
            let ones = vec![1.0; local.rows()];
            g.w = Some(g.all(local.w.as_deref().unwrap_or(&ones), 1)?);
        }
        Ok(g)
    }

    /// Every process's `per_row` values of each eval row, in row order (labels, weights, and
    /// each round the margins, `groups` per row).
    pub(crate) fn all(&self, local: &[f32], per_row: usize) -> Result<Vec<f32>> {
        let mut buf = vec![0f64; self.total * per_row];
        for (o, v) in buf[self.offset * per_row..].iter_mut().zip(local) {
            *o = f64::from(*v);
        }
        self.comm.sum_f64(&mut buf)?;
        Ok(buf.into_iter().map(|v| v as f32).collect())
    }
}

/// Element-wise reductions over every process of a data-parallel training. Each process calls
/// the same methods in the same order with buffers of the same length; on return every buffer
/// holds the reduction of all of them.
pub trait Collective: Sync {
    /// Element-wise sums.
    fn sum_i64(&self, values: &mut [i64]) -> Result<()>;
    /// Element-wise sums (label totals for the base score).
    fn sum_f64(&self, values: &mut [f64]) -> Result<()>;
    /// Element-wise maxima.
    fn max_f64(&self, values: &mut [f64]) -> Result<()>;
}

/// One process of a data-parallel training on `device` (the CPU engine, or the GPU path on CUDA
/// or Sim; processes may mix devices): `local` holds rows
/// `offset..offset + local.rows()` of the whole training set, `cuts` are every process's cuts
/// (from [`Cuts::from_sketches`] or [`Cuts::compute`] on all rows). Every process gets the
/// same model; it equals [`crate::train`]'s on all rows whenever `cuts` equal the cuts that
/// computes. `eval`: this process's eval rows and the offset of its first one among all
/// processes' eval rows; the metric is computed on all of them each round (as
/// [`crate::train`]'s eval set: history, early stopping, best iteration). Either every process
/// passes an eval set (some may be empty) or none does.
///
/// ```
/// use ember_gbdt::{train, train_distributed, Collective, Cuts, Dataset, Features, Objective, Params};
/// use ember_core::Device;
/// // One process: every reduction is the identity.
/// struct Alone;
/// impl Collective for Alone {
///     fn sum_i64(&self, _: &mut [i64]) -> ember_core::Result<()> { Ok(()) }
///     fn sum_f64(&self, _: &mut [f64]) -> ember_core::Result<()> { Ok(()) }
///     fn max_f64(&self, _: &mut [f64]) -> ember_core::Result<()> { Ok(()) }
/// }
/// let x: Vec<f32> = (0..400).map(|i| (i % 37) as f32).collect();
/// let y: Vec<f32> = x.iter().map(|v| if *v > 20.0 { 1.0 } else { 0.0 }).collect();
/// let ds = Dataset::new(Features::from_row_major(x, 400, 1)?, y)?;
/// let params = Params::new(Objective::Logistic).rounds(5);
/// let cuts = Cuts::compute(ds.features(), 256);
/// let a = train_distributed(&ds, &cuts, &params, 0, None, &Alone, Device::Cpu)?;
/// let b = train(&ds, None, &params, Device::Cpu)?;
/// assert_eq!(a.to_xgboost_json(), b.to_xgboost_json());
/// let sim = train_distributed(&ds, &cuts, &params, 0, None, &Alone, Device::Sim)?;
/// assert_eq!(sim.to_xgboost_json(), b.to_xgboost_json());
/// # Ok::<(), ember_core::Error>(())
/// ```
///
/// # Errors
/// Bad parameters or labels (as [`crate::train`]), cuts for another number of features, or a
/// failed reduction.
pub fn train_distributed(
    local: &Dataset,
    cuts: &Cuts,
    params: &Params,
    offset: u64,
    eval: Option<(&Dataset, u64)>,
    comm: &dyn Collective,
    device: Device,
) -> Result<Model> {
    // A process may hold no rows; the whole training set may not.
    check_inputs(local, eval.map(|e| e.0), params, true)?;
    let f = local.x.cols;
    if cuts.features() != f {
        return Err(Error::InvalidArgument(format!("cuts for {} features, the rows have {f}", cuts.features())));
    }
    let mut rows = [local.rows() as i64];
    comm.sum_i64(&mut rows)?;
    if rows[0] == 0 {
        return Err(Error::InvalidArgument("training set has no rows (on any process)".into()));
    }
    let mut max_weight = [local.w.as_deref().map_or(1.0, |w| w.iter().fold(0.0f32, |m, v| m.max(*v)) as f64)];
    comm.max_f64(&mut max_weight)?;
    let base_score = match params.base_score {
        Some(b) => b as f32,
        None => {
            let (s, sw) = label_sums(&local.y, local.w.as_deref());
            let mut sums = [s, sw];
            comm.sum_f64(&mut sums)?;
            base_score_of_sums(params.objective, sums[0], sums[1])
        }
    };
    let gather = eval.map(|(e, at)| EvalGather::new(comm, e, at)).transpose()?;
    let bins = cuts.bin_matrix(&local.x);
    let mut model = Model::empty(params.objective, base_score, f, local.x.names.clone());
    let base = base_margin(params.objective, base_score);
    let shard = Shard { comm, offset, total: rows[0] as usize };
    match device.gpu()? {
        None => {
            let mut b = CpuBackend::new(&bins, f, &local.y, local.w.as_deref(), params, base).with_shard(shard);
            boost(&mut b, cuts, params, eval.map(|e| e.0), gather.as_ref(), max_weight[0], &mut model)?;
        }
        Some(gpu) => {
            let b = crate::gpu::GpuBackend::new(
                ExecContext::new(gpu),
                &bins,
                cuts,
                &local.y,
                local.w.as_deref(),
                params,
                base,
            )?;
            let mut b = b.with_shard(shard);
            boost(&mut b, cuts, params, eval.map(|e| e.0), gather.as_ref(), max_weight[0], &mut model)?;
        }
    }
    Ok(model)
}
