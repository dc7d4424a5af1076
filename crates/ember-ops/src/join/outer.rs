//! Right, full and cross joins, composed from the other joins' gather maps on either executor:
//!
//! * `right`: the left join of the right side with the left one (sides swapped), so rows come in
//!   right order, each with its matching left rows in order; a right row without a match once,
//!   with null left columns.
//! * `full`: the left join's rows, then the right rows without a match (an anti join, sides
//!   swapped) in right order with null left columns.
//! * `cross`: every (left, right) pair, left major.
//!
//! A key shared by name (`on`) is one output column: the right key for `right`, the first non-null
//! of the two for `full` (so an unmatched right row keeps its key).
use super::{cpu, gpu, JoinArgs, JoinType};
use crate::executor::{CpuExecutor, Executor, GpuExecutor, Indices};
use crate::expr::{coalesce, col, evaluate_in};
use arrow::array::{Array, UInt32Array};
use ember_core::{Column, DataFrame, Error, Field, Result};
use ember_gpu::primitives::BLOCK;
use ember_gpu::{DeviceBuffer, ExecContext, Kernel, KernelArg, LaunchConfig};

/// `args` with the sides swapped and join type `how`.
fn swapped(args: &JoinArgs, how: JoinType) -> JoinArgs {
    JoinArgs { left_on: args.right_on.clone(), right_on: args.left_on.clone(), how, ..args.clone() }
}

/// The number of pairs of a cross join, checked against 32-bit row numbers.
fn cross_size(left: &DataFrame, right: &DataFrame) -> Result<usize> {
    left.num_rows().checked_mul(right.num_rows()).filter(|&t| t <= u32::MAX as usize).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "cross join of {} x {} rows: more than 2^32 output rows",
            left.num_rows(),
            right.num_rows()
        ))
    })
}

/// The right / full / cross join of `left` and `right` with output `fields` (the right columns
/// kept: `kept`).
pub(crate) fn join(
    ctx: Option<&ExecContext>,
    left: &DataFrame,
    right: &DataFrame,
    args: &JoinArgs,
    fields: &[Field],
    kept: &[usize],
) -> Result<DataFrame> {
    // Every column may take nulls (rows without a partner); the columns themselves are shared.
    let nullable = |df: &DataFrame| {
        let named = df.fields().iter().zip(df.columns()).map(|(f, c)| (f.name.clone(), c.clone())).collect();
        DataFrame::from_columns(named, df.device())
    };
    let (left, right) = (&nullable(left)?, &nullable(right)?);
    let (l, r) =
        crate::dispatch(left, ctx, "join", |ctx| gather_gpu(ctx, left, right, args), || gather_cpu(left, right, args))?;
    let mut columns: Vec<(String, Column)> = Vec::with_capacity(fields.len());
    for (i, f) in left.fields().iter().enumerate() {
        let shared = args.left_on.iter().zip(&args.right_on).find(|(lk, rk)| **lk == f.name && lk == rk);
        let c = match (shared, args.how) {
            (Some((_, rk)), JoinType::Right) => r.column(rk)?.clone(),
            (Some((_, rk)), JoinType::Full) => {
                let pair = DataFrame::from_columns(
                    vec![("l".into(), l.columns()[i].clone()), ("r".into(), r.column(rk)?.clone())],
                    left.device(),
                )?;
                evaluate_in(ctx, &pair, &coalesce([col("l"), col("r")]))?
            }
            _ => l.columns()[i].clone(),
        };
        columns.push((f.name.clone(), c));
    }
    for (&j, f) in kept.iter().zip(&fields[left.num_columns()..]) {
        columns.push((f.name.clone(), r.columns()[j].clone()));
    }
    DataFrame::from_columns(columns, left.device())
}

/// Both sides gathered on the CPU engine (null row numbers give null rows).
fn gather_cpu(left: &DataFrame, right: &DataFrame, args: &JoinArgs) -> Result<(DataFrame, DataFrame)> {
    let host = |i: Option<Indices>| -> Result<UInt32Array> {
        match i {
            Some(Indices::Host(a)) => Ok(a),
            _ => Err(Error::Internal("CPU join without host row numbers".into())),
        }
    };
    let (li, ri) = match args.how {
        JoinType::Right => {
            let (r, l) = cpu::join_indices(right, left, &swapped(args, JoinType::Left), [None, None])?;
            (host(l)?, host(Some(r))?)
        }
        JoinType::Full => {
            let (l, r) =
                cpu::join_indices(left, right, &JoinArgs { how: JoinType::Left, ..args.clone() }, [None, None])?;
            let (extra, _) = cpu::join_indices(right, left, &swapped(args, JoinType::Anti), [None, None])?;
            let extra = host(Some(extra))?;
            let nulls = UInt32Array::new_null(extra.len());
            let cat = |a: &UInt32Array, b: &UInt32Array| -> Result<UInt32Array> {
                let c = arrow::compute::concat(&[a as &dyn Array, b as &dyn Array])?;
                Ok(c.as_any().downcast_ref::<UInt32Array>().expect("u32").clone())
            };
            (cat(&host(Some(l))?, &nulls)?, cat(&host(r)?, &extra)?)
        }
        _ => {
            let (total, m) = (cross_size(left, right)?, right.num_rows().max(1));
            let li = UInt32Array::from_iter_values((0..total).map(|i| (i / m) as u32));
            let ri = UInt32Array::from_iter_values((0..total).map(|i| (i % m) as u32));
            (li, ri)
        }
    };
    Ok((CpuExecutor.gather(left, &Indices::Host(li))?, CpuExecutor.gather(right, &Indices::Host(ri))?))
}

/// Both sides gathered on the GPU (row number `u32::MAX` gives a null row).
fn gather_gpu(
    ctx: &ExecContext,
    left: &DataFrame,
    right: &DataFrame,
    args: &JoinArgs,
) -> Result<(DataFrame, DataFrame)> {
    let device = |i: Option<Indices>| -> Result<(DeviceBuffer, usize)> {
        match i {
            Some(Indices::Device { buf, len }) => Ok((buf, len)),
            _ => Err(Error::Internal("GPU join without device row numbers".into())),
        }
    };
    match args.how {
        JoinType::Right => {
            let (r, l) = gpu::join_indices(ctx, right, left, &swapped(args, JoinType::Left))?;
            let (lb, n) = device(l)?;
            Ok((gpu::gather_outer(ctx, left, &lb, n)?, GpuExecutor::new(ctx).gather(right, &r)?))
        }
        JoinType::Full => {
            let (l, r) = gpu::join_indices(ctx, left, right, &JoinArgs { how: JoinType::Left, ..args.clone() })?;
            let (extra, _) = gpu::join_indices(ctx, right, left, &swapped(args, JoinType::Anti))?;
            let ((lb, a), (rb, _), (eb, e)) = (device(Some(l))?, device(r)?, device(Some(extra))?);
            let (li, ri) = (ctx.alloc((a + e).max(1) * 4)?, ctx.alloc((a + e).max(1) * 4)?);
            ctx.fill_bytes(&li, 0xff)?; // the extra rows have no left row
            if a > 0 {
                ctx.copy(&lb, 0, &li, 0, a * 4)?;
                ctx.copy(&rb, 0, &ri, 0, a * 4)?;
            }
            if e > 0 {
                ctx.copy(&eb, 0, &ri, a * 4, e * 4)?;
            }
            Ok((gpu::gather_outer(ctx, left, &li, a + e)?, gpu::gather_outer(ctx, right, &ri, a + e)?))
        }
        _ => {
            let total = cross_size(left, right)?;
            let (li, ri) = (ctx.alloc(total.max(1) * 4)?, ctx.alloc(total.max(1) * 4)?);
            if total > 0 {
                ctx.launch(
                    Kernel::new("join", "cross_indices"),
                    LaunchConfig::for_elems(total, BLOCK),
                    &[
                        KernelArg::U64(right.num_rows() as u64),
                        KernelArg::U64(total as u64),
                        (&li).into(),
                        (&ri).into(),
                    ],
                )?;
            }
            let gpu = GpuExecutor::new(ctx);
            Ok((
                gpu.gather(left, &Indices::Device { buf: li, len: total })?,
                gpu.gather(right, &Indices::Device { buf: ri, len: total })?,
            ))
        }
    }
}
