//! Runs a logical plan with the ops of `ember-ops`, on the device the scanned frames are on.
//!
//! A subplan that occurs more than once in the plan (the same operators over the same data: a
//! query that uses one intermediate result twice, as TPC-H Q2 and Q17 do) runs once; its result is
//! kept until the query ends and reused (polars' common-subplan elimination).
//!
//! With `EMBER_PROFILE=1` in the environment each query prints its plan to stderr, root first,
//! each node with its output rows, its own time (less its inputs') and its total time.
use crate::plan::LogicalPlan;
use arrow::array::BooleanArray;
use ember_core::{Column, DataFrame, Device, Result};
use ember_gpu::ExecContext;
use ember_ops::{
    expr::evaluate_in, filter::filter_in, groupby::group_by_selected_in, join::join_selected_in,
    reduce::reduce_where_in, slice::slice_in, sort::sort_in,
};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

/// Executes `plan` (optimized or not: the answer is the same). GPU work runs in `ctx` when given
/// (one trace for the whole query), else each op in a fresh context.
pub fn execute(plan: &LogicalPlan, ctx: Option<&ExecContext>) -> Result<DataFrame> {
    let shared = shared_subplans(plan);
    let profile = std::env::var_os("EMBER_PROFILE").is_some_and(|v| v != "0").then(RefCell::default);
    let memo = Memo { shared, done: RefCell::default(), profile };
    let out = execute_node(plan, ctx, &memo);
    if let Some(profile) = memo.profile {
        profile.into_inner().print();
    }
    out
}

/// The fingerprints of the subplans above a scan that occur more than once in `plan`.
pub(crate) fn shared_subplans(plan: &LogicalPlan) -> HashSet<String> {
    let mut seen = HashMap::new();
    count_subplans(plan, &mut seen);
    seen.into_iter().filter(|(_, n)| *n > 1).map(|(k, _)| k).collect()
}

/// Per-node times of one query (`EMBER_PROFILE`).
#[derive(Default)]
struct Profile {
    /// Per node, in the order nodes start: depth, description, rows, own and total seconds.
    nodes: Vec<(usize, String, usize, f64, f64)>,
    /// The running nodes: their index in `nodes` and their inputs' seconds so far.
    stack: Vec<(usize, f64)>,
}

impl Profile {
    fn print(&self) {
        let mut out = String::from("node: rows, own ms, total ms\n");
        for (depth, what, rows, own, total) in &self.nodes {
            let (own, total) = (own * 1e3, total * 1e3);
            out += &format!("{}{what}: {rows} rows, {own:.2} ms, {total:.2} ms\n", "  ".repeat(*depth));
        }
        eprint!("{out}");
    }
}

/// The subplans that occur more than once, and the results of those that ran.
struct Memo {
    shared: HashSet<String>,
    done: RefCell<HashMap<String, DataFrame>>,
    profile: Option<RefCell<Profile>>,
}

/// What identifies a subplan: its operators, expressions and sources (`Debug`), and the data of
/// its in-memory sources ([`crate::plan::Source::identity`]).
pub(crate) fn fingerprint(plan: &LogicalPlan) -> String {
    fn scans(p: &LogicalPlan, out: &mut Vec<usize>) {
        if let LogicalPlan::Scan { source, .. } = p {
            out.extend(source.identity());
        }
        for c in p.inputs() {
            scans(c, out);
        }
    }
    let mut ids = Vec::new();
    scans(plan, &mut ids);
    format!("{plan:?}{ids:?}")
}

/// Counts each subplan above a scan; below a repeat it does not descend (only the largest shared
/// subplans are kept).
fn count_subplans(plan: &LogicalPlan, seen: &mut HashMap<String, usize>) {
    if matches!(plan, LogicalPlan::Scan { .. }) {
        return;
    }
    let n = seen.entry(fingerprint(plan)).or_insert(0);
    *n += 1;
    if *n == 1 {
        for c in plan.inputs() {
            count_subplans(c, seen);
        }
    }
}

fn execute_node(plan: &LogicalPlan, ctx: Option<&ExecContext>, memo: &Memo) -> Result<DataFrame> {
    let Some(profile) = &memo.profile else { return execute_shared(plan, ctx, memo) };
    {
        let mut p = profile.borrow_mut();
        let what = plan.describe();
        let at = p.nodes.len();
        let depth = p.stack.len();
        p.nodes.push((depth, what, 0, 0.0, 0.0));
        p.stack.push((at, 0.0));
    }
    let start = std::time::Instant::now();
    let out = execute_shared(plan, ctx, memo);
    let total = start.elapsed().as_secs_f64();
    let mut p = profile.borrow_mut();
    let (at, inputs) = p.stack.pop().expect("pushed above");
    if let Some(parent) = p.stack.last_mut() {
        parent.1 += total;
    }
    let rows = out.as_ref().map_or(0, |df| df.num_rows());
    p.nodes[at] = (p.nodes[at].0, std::mem::take(&mut p.nodes[at].1), rows, total - inputs, total);
    out
}

/// [`run_node`], or the kept result of a subplan that ran before.
fn execute_shared(plan: &LogicalPlan, ctx: Option<&ExecContext>, memo: &Memo) -> Result<DataFrame> {
    if memo.shared.is_empty() || matches!(plan, LogicalPlan::Scan { .. }) {
        return run_node(plan, ctx, memo);
    }
    let key = fingerprint(plan);
    if !memo.shared.contains(&key) {
        return run_node(plan, ctx, memo);
    }
    if let Some(df) = memo.done.borrow().get(&key) {
        return Ok(df.clone());
    }
    let df = run_node(plan, ctx, memo)?;
    memo.done.borrow_mut().insert(key, df.clone());
    Ok(df)
}

fn run_node(plan: &LogicalPlan, ctx: Option<&ExecContext>, memo: &Memo) -> Result<DataFrame> {
    let run = |p: &LogicalPlan| execute_node(p, ctx, memo);
    match plan {
        LogicalPlan::Scan { source, projection } => source.read(projection.as_deref(), ctx),
        LogicalPlan::Select { input, exprs } => {
            let df = run(input)?;
            let columns = exprs
                .iter()
                .map(|e| Ok((e.name.clone(), evaluate_in(ctx, &df, &e.expr)?)))
                .collect::<Result<Vec<(String, Column)>>>()?;
            if columns.is_empty() {
                return df.select(&[]);
            }
            DataFrame::from_columns(columns, df.device())
        }
        LogicalPlan::Filter { input, predicate } => filter_in(ctx, &run(input)?, predicate),
        LogicalPlan::Aggregate { input, predicate, aggs } => {
            let df = run(input)?;
            let fields = plan.schema()?;
            let columns = aggs
                .iter()
                .zip(&fields)
                .map(|(a, f)| {
                    let v = reduce_where_in(ctx, &df, predicate.as_ref(), &a.expr, a.agg)?;
                    Ok((a.name.clone(), Column::Host(v.to_array(&f.dtype)?)))
                })
                .collect::<Result<Vec<_>>>()?;
            // The one-row answer is read back to the host by the reduction; it goes back to the
            // input's device so that a query's result stays where its inputs live (a later join
            // with a GPU frame needs it there).
            DataFrame::from_columns(columns, Device::Cpu)?.to(df.device())
        }
        LogicalPlan::Slice { input, offset, len } => slice_in(ctx, &run(input)?, *offset, *len),
        LogicalPlan::Sort { input, keys } => sort_in(ctx, &run(input)?, keys),
        LogicalPlan::Concat { inputs } => {
            let frames = inputs.iter().map(run).collect::<Result<Vec<_>>>()?;
            ember_ops::concat::concat_in(ctx, &frames)
        }
        LogicalPlan::TopK { input, keys, k } => ember_ops::sort::top_k_in(ctx, &run(input)?, keys, *k),
        LogicalPlan::Unique { input, subset, keep } => {
            ember_ops::unique::unique_in(ctx, &run(input)?, subset.as_deref(), *keep)
        }
        LogicalPlan::GroupBy { input, keys, aggs, maintain_order } => {
            let (df, selected) = run_selected(input, ctx, memo)?;
            group_by_selected_in(ctx, &df, keys, aggs, *maintain_order, selected.as_ref())
        }
        LogicalPlan::Join { left, right, args } => {
            let (l, lsel) = run_selected(left, ctx, memo)?;
            let (r, rsel) = run_selected(right, ctx, memo)?;
            join_selected_in(ctx, &l, &r, args, [lsel.as_ref(), rsel.as_ref()])
        }
    }
}

/// A join's or group-by's input: a filter on the CPU engine (under a projection of plain columns,
/// if any) is not run but returned as its input and the mask of the rows it keeps, for the op to
/// fuse (`join_selected_in`, `group_by_selected_in`). Anything else runs.
fn run_selected(
    plan: &LogicalPlan,
    ctx: Option<&ExecContext>,
    memo: &Memo,
) -> Result<(DataFrame, Option<BooleanArray>)> {
    let (filter, columns) = match plan {
        LogicalPlan::Select { input, exprs } => (input.as_ref(), plain_columns(exprs)),
        _ => (plan, None),
    };
    let (LogicalPlan::Filter { input, predicate }, true) = (filter, columns.is_some() || std::ptr::eq(filter, plan))
    else {
        return Ok((execute_node(plan, ctx, memo)?, None));
    };
    // A shared subplan runs (once) through the memo; fusing it would run its filter at each use.
    if !memo.shared.is_empty() && memo.shared.contains(&fingerprint(plan)) {
        return Ok((execute_node(plan, ctx, memo)?, None));
    }
    let df = execute_node(input, ctx, memo)?;
    let project = |df: DataFrame| match &columns {
        Some(names) => df.select(&names.iter().map(String::as_str).collect::<Vec<_>>()),
        None => Ok(df),
    };
    if df.device() != Device::Cpu {
        return Ok((project(filter_in(ctx, &df, predicate)?)?, None));
    }
    let mask = ember_ops::filter::cpu::mask(&df, predicate)?;
    let df = project(df)?;
    Ok((df, Some(mask)))
}

/// The names of a select that only picks columns under their own names (`None` otherwise).
fn plain_columns(exprs: &[crate::plan::NamedExpr]) -> Option<Vec<String>> {
    exprs
        .iter()
        .map(|e| match &e.expr {
            ember_ops::expr::Expr::Column(c) if *c == e.name => Some(c.clone()),
            _ => None,
        })
        .collect()
}
