//! The GPU group-by of few groups (at most `GROUPBY_FEW`, after the hash table has numbered
//! them): no sort at all. Each folding aggregation is two launches, warp-cooperative partial folds
//! per block and a fold of the blocks (`few_*` in `kernels/groupby.cu`), each in a fixed order
//! fixed by the row count, so float sums are the same on every run. First / last rows come
//! from one atomic min / max launch. One launch ranks the groups (by key, or by first row); the
//! folds write each group's result at its rank, and the keys are gathered at the
//! representatives in rank order, so no output is reordered afterwards.
//!
//! Why not global atomics per row: TPC-H Q1 has four groups, and millions of atomic adds on four
//! addresses serialise the GPU (and make float sums differ run to run); why not the sort path:
//! one thread per group folds its rows there, four threads for all of Q1's.
use super::gpu::{check_overflow, finish_means, group_ranks, invert, RankBy};
use super::Aggregation;
use crate::executor::gpu::{gather_column, gather_columns};
use crate::reduce::{output_type, Agg};
use crate::sort::gpu::Part;
use ember_core::{Column, DType, DataFrame, Device, DeviceColumn, Error, Field, Result};
use ember_gpu::primitives::compact::gather_fixed;
use ember_gpu::primitives::hash_table::RowGroups;
use ember_gpu::primitives::BLOCK;
use ember_gpu::{abi, DeviceBuffer, ExecContext, Kernel, KernelArg, LaunchConfig};
use std::sync::Arc;

/// Whether every aggregation folds (its result does not depend on the order of its rows within
/// the group, nor needs them sorted) over a column the kernels take.
pub(crate) fn folds(aggs: &[Aggregation], values: &[Column]) -> bool {
    aggs.iter().zip(values).all(|(a, c)| match a.agg {
        Agg::Count | Agg::Len | Agg::First | Agg::Last => true,
        Agg::Sum | Agg::Mean | Agg::Min | Agg::Max => c.dtype().is_ok_and(|t| t != DType::Bool && t.prim().is_some()),
        _ => false,
    })
}

/// What a few-groups group-by reads: the keys' hash-table parts and columns, the aggregations'
/// value columns, the aggregations and the output fields (keys first).
pub(crate) struct FewArgs<'a> {
    pub parts: &'a [Part<'a>],
    pub keys: &'a [Column],
    pub values: &'a [Column],
    pub aggs: &'a [Aggregation],
    pub fields: &'a [Field],
}

pub(crate) fn group_by(
    ctx: &ExecContext,
    h: &RowGroups,
    args: &FewArgs<'_>,
    maintain_order: bool,
    device: Device,
) -> Result<DataFrame> {
    let n = args.keys[0].len();
    let groups = h.groups;
    let needs = |agg: Agg| args.aggs.iter().any(|a| a.agg == agg);
    let first = (maintain_order || needs(Agg::First)).then(|| preset(ctx, groups, 0xff)).transpose()?;
    let last = needs(Agg::Last).then(|| preset(ctx, groups, 0)).transpose()?;
    if first.is_some() || last.is_some() {
        ctx.launch(
            Kernel::new("groupby", "gb_first_last"),
            LaunchConfig::for_elems(n, BLOCK),
            &[(&h.group_of_row).into(), KernelArg::U64(n as u64), first.as_ref().into(), last.as_ref().into()],
        )?;
    }
    let rank = match &first {
        Some(first) if maintain_order => group_ranks(ctx, RankBy::FirstRow(first), groups)?,
        _ => {
            let keys = args.keys.iter().map(Column::as_device).collect::<Result<Vec<_>>>()?;
            group_ranks(
                ctx,
                RankBy::Key { parts: args.parts, keys: &keys, reps: &h.reps, strings_by_rank: true },
                groups,
            )?
        }
    };
    let order = ctx.alloc(groups.max(1) * 4)?;
    invert(ctx, &rank, groups, &order)?;
    let in_order = |rows: &DeviceBuffer| gather_fixed(ctx, rows, 4, &order, groups);
    let err = ctx.alloc_zeroed(4)?;
    let blocks = n.div_ceil(BLOCK as usize).clamp(1, abi::GROUPBY_FEW_BLOCKS as usize);
    let fold = Fold { ctx, h, n, rank: &rank, err: &err, blocks };

    let mut columns: Vec<(String, Column)> = Vec::with_capacity(args.fields.len());
    let reps = in_order(&h.reps)?;
    let keys = args.keys.iter().map(|c| c.as_device()).collect::<Result<Vec<_>>>()?;
    for (c, f) in gather_columns(ctx, &keys, &reps, groups)?.into_iter().zip(args.fields) {
        columns.push((f.name.clone(), Column::Device(c)));
    }
    for ((a, c), f) in args.aggs.iter().zip(args.values).zip(&args.fields[args.keys.len()..]) {
        let c = c.as_device()?;
        let col = match a.agg {
            Agg::First => gather_column(ctx, c, &in_order(first.as_ref().expect("preset for first"))?, groups)?,
            Agg::Last => gather_column(ctx, c, &in_order(last.as_ref().expect("preset for last"))?, groups)?,
            Agg::Count | Agg::Len => {
                let valid = if a.agg == Agg::Count { c.validity().map(|v| &**v) } else { None };
                fold.column(f, fold.counts(valid)?, None)?
            }
            agg => {
                let (values, validity) = fold.aggregate(agg, c)?;
                fold.column(f, values, validity)?
            }
        };
        columns.push((f.name.clone(), Column::Device(col)));
    }
    check_overflow(ctx, &err)?;
    DataFrame::from_columns(columns, device)
}

/// `groups` u32 words with every byte `byte` (all ones: before an atomic min).
fn preset(ctx: &ExecContext, groups: usize, byte: u8) -> Result<DeviceBuffer> {
    let b = ctx.alloc(groups.max(1) * 4)?;
    ctx.fill_bytes(&b, byte)?;
    Ok(b)
}

/// The folds' shared launch shape and outputs.
struct Fold<'a> {
    ctx: &'a ExecContext,
    h: &'a RowGroups,
    n: usize,
    rank: &'a DeviceBuffer,
    err: &'a DeviceBuffer,
    blocks: usize,
}

impl Fold<'_> {
    fn rows(&self) -> LaunchConfig {
        LaunchConfig::blocks(self.blocks as u32, BLOCK)
    }

    fn per_group(&self) -> LaunchConfig {
        LaunchConfig::for_elems(self.h.groups, BLOCK)
    }

    fn g(&self) -> KernelArg<'static> {
        KernelArg::U32(self.h.groups as u32)
    }

    /// Per-block partial buffers of `width`-byte elements.
    fn partials(&self, width: usize) -> Result<DeviceBuffer> {
        Ok(self.ctx.alloc(self.blocks * self.h.groups * width)?)
    }

    /// Valid rows per group (`valid` None: all rows).
    fn counts(&self, valid: Option<&DeviceBuffer>) -> Result<DeviceBuffer> {
        let ctx = self.ctx;
        let partial = self.partials(8)?;
        ctx.launch(
            Kernel::new("groupby", "few_count"),
            self.rows(),
            &[
                valid.into(),
                (&self.h.group_of_row).into(),
                KernelArg::U64(self.n as u64),
                self.g(),
                (&partial).into(),
                self.err.into(),
            ],
        )?;
        let out = ctx.alloc(self.h.groups.max(1) * 8)?;
        ctx.launch(
            Kernel::new("groupby", "few_finish_count"),
            self.per_group(),
            &[
                (&partial).into(),
                KernelArg::U64(self.blocks as u64),
                self.g(),
                self.rank.into(),
                (&out).into(),
                self.err.into(),
            ],
        )?;
        Ok(out)
    }

    /// Sum, mean, min or max of `c` per group: values and validity (None: no nulls).
    fn aggregate(&self, agg: Agg, c: &DeviceColumn) -> Result<(DeviceBuffer, Option<DeviceBuffer>)> {
        let ctx = self.ctx;
        let input = c.dtype();
        let prim = input.prim().ok_or_else(|| Error::Internal(format!("{agg:?} of {input} folded")))?;
        let (op, acc) = match agg {
            Agg::Sum | Agg::Mean => ("sum", output_type(Agg::Sum, input)?),
            Agg::Min => ("min", input),
            Agg::Max => ("max", input),
            _ => return Err(Error::Internal(format!("{agg:?} is not a few-groups fold"))),
        };
        let acc_prim = acc.prim().ok_or_else(|| Error::Internal(format!("{op} into {acc}")))?;
        let (partial, partial_count) = (self.partials(acc_prim.width())?, self.partials(8)?);
        ctx.launch(
            Kernel::named("groupby", &format!("few_{op}_{}", prim.suffix())),
            self.rows(),
            &[
                (&**c.values()).into(),
                c.validity().map(|v| &**v).into(),
                (&self.h.group_of_row).into(),
                KernelArg::U64(self.n as u64),
                self.g(),
                (&partial).into(),
                (&partial_count).into(),
                self.err.into(),
            ],
        )?;
        let groups = self.h.groups.max(1);
        let values = ctx.alloc(groups * acc_prim.width())?;
        let counts = (agg == Agg::Mean).then(|| ctx.alloc(groups * 8)).transpose()?;
        let bits = matches!(agg, Agg::Min | Agg::Max).then(|| self.bitmap()).transpose()?;
        ctx.launch(
            Kernel::named("groupby", &format!("few_finish_{op}_{}", acc_prim.suffix())),
            self.per_group(),
            &[
                (&partial).into(),
                (&partial_count).into(),
                KernelArg::U64(self.blocks as u64),
                self.g(),
                self.rank.into(),
                (&values).into(),
                counts.as_ref().into(),
                bits.as_ref().into(),
                self.err.into(),
            ],
        )?;
        let Some(counts) = counts else { return Ok((values, bits)) };
        finish_means(ctx, input, acc_prim, &values, &counts, self.h.groups)
    }

    /// A zeroed validity bitmap for the groups.
    fn bitmap(&self) -> Result<DeviceBuffer> {
        Ok(self.ctx.alloc_zeroed(self.h.groups.div_ceil(32).max(1) * 4)?)
    }

    /// An output column of the groups (rank order).
    fn column(&self, out: &Field, values: DeviceBuffer, validity: Option<DeviceBuffer>) -> Result<DeviceColumn> {
        let (gpu, t) = (self.ctx.gpu().clone(), out.dtype);
        DeviceColumn::try_new(gpu, t, t.to_arrow(), self.h.groups, Arc::new(values), None, validity.map(Arc::new))
    }
}
