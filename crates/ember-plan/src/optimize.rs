//! The optimizer: rewrites that never change a result, applied in this order:
//!
//! 1. **Constant folding**: literal-only subtrees become one literal (evaluated once by the CPU
//!    engine, so every device folds to the same value).
//! 2. **Predicate pushdown**: adjacent filters merge (`p1 AND p2`); a filter moves below a select
//!    when it reads only columns the select passes through unchanged (renames are followed).
//! 3. **Filter + aggregate fusion**: an aggregate over a filter takes the predicate, so the
//!    filtered rows are never materialised (one pass on the GPU: predicate, value and reduction).
//! 4. **Statistics pushdown**: a filter (or a fused aggregate's predicate) directly over a Parquet
//!    scan is copied into the scan, which skips row groups whose min/max statistics exclude it
//!    (the filter stays: it still drops rows of the groups read).
//! 5. **Projection pushdown**: every scan reads only the columns something above it uses, and
//!    select outputs nobody reads are dropped (a file scan decodes only those columns); a join
//!    passes down to each side the needed columns that side supplies, plus its keys. A subplan
//!    that occurs more than once keeps all its outputs, so its occurrences stay identical and
//!    `execute` runs it once.
use crate::plan::{LogicalPlan, NamedExpr, SourceKind};
use ember_core::Result;
use ember_ops::expr::typed::fold_constants;
use ember_ops::join::{JoinArgs, JoinType};
use ember_ops::Expr;
use std::collections::{BTreeSet, HashSet};

/// The optimized form of `plan`.
pub fn optimize(plan: &LogicalPlan) -> Result<LogicalPlan> {
    let p = fold(plan)?;
    let p = push_predicates(p);
    let p = fuse(p);
    let p = push_into_scans(p);
    let shared = crate::execute::shared_subplans(&p);
    Ok(prune(&shared, p, None))
}

fn map_input(plan: LogicalPlan, f: impl Fn(LogicalPlan) -> LogicalPlan) -> LogicalPlan {
    match plan {
        LogicalPlan::Scan { .. } => plan,
        LogicalPlan::Select { input, exprs } => LogicalPlan::Select { input: Box::new(f(*input)), exprs },
        LogicalPlan::Filter { input, predicate } => LogicalPlan::Filter { input: Box::new(f(*input)), predicate },
        LogicalPlan::Aggregate { input, predicate, aggs } => {
            LogicalPlan::Aggregate { input: Box::new(f(*input)), predicate, aggs }
        }
        LogicalPlan::Slice { input, offset, len } => LogicalPlan::Slice { input: Box::new(f(*input)), offset, len },
        LogicalPlan::Sort { input, keys } => LogicalPlan::Sort { input: Box::new(f(*input)), keys },
        LogicalPlan::Unique { input, subset, keep } => LogicalPlan::Unique { input: Box::new(f(*input)), subset, keep },
        LogicalPlan::TopK { input, keys, k } => LogicalPlan::TopK { input: Box::new(f(*input)), keys, k },
        LogicalPlan::Concat { inputs } => LogicalPlan::Concat { inputs: inputs.into_iter().map(f).collect() },
        LogicalPlan::GroupBy { input, keys, aggs, maintain_order } => {
            LogicalPlan::GroupBy { input: Box::new(f(*input)), keys, aggs, maintain_order }
        }
        LogicalPlan::Join { left, right, args } => {
            LogicalPlan::Join { left: Box::new(f(*left)), right: Box::new(f(*right)), args }
        }
    }
}

fn fold(plan: &LogicalPlan) -> Result<LogicalPlan> {
    let input = |p: &LogicalPlan| fold(p).map(Box::new);
    Ok(match plan {
        LogicalPlan::Scan { .. } => plan.clone(),
        LogicalPlan::Select { input: i, exprs } => LogicalPlan::Select {
            input: input(i)?,
            exprs: exprs
                .iter()
                .map(|e| Ok(NamedExpr { expr: fold_constants(&e.expr)?, name: e.name.clone() }))
                .collect::<Result<_>>()?,
        },
        LogicalPlan::Filter { input: i, predicate } => {
            LogicalPlan::Filter { input: input(i)?, predicate: fold_constants(predicate)? }
        }
        LogicalPlan::Aggregate { input: i, predicate, aggs } => LogicalPlan::Aggregate {
            input: input(i)?,
            predicate: predicate.as_ref().map(fold_constants).transpose()?,
            aggs: aggs
                .iter()
                .map(|a| Ok(crate::AggExpr { expr: fold_constants(&a.expr)?, ..a.clone() }))
                .collect::<Result<_>>()?,
        },
        LogicalPlan::Slice { input: i, offset, len } => {
            LogicalPlan::Slice { input: input(i)?, offset: *offset, len: *len }
        }
        LogicalPlan::GroupBy { input: i, keys, aggs, maintain_order } => LogicalPlan::GroupBy {
            maintain_order: *maintain_order,
            input: input(i)?,
            keys: keys.iter().map(fold_constants).collect::<Result<_>>()?,
            aggs: aggs
                .iter()
                .map(|a| Ok(crate::AggExpr { expr: fold_constants(&a.expr)?, ..a.clone() }))
                .collect::<Result<_>>()?,
        },
        LogicalPlan::Join { left, right, args } => {
            LogicalPlan::Join { left: input(left)?, right: input(right)?, args: args.clone() }
        }
        LogicalPlan::Unique { input: i, subset, keep } => {
            LogicalPlan::Unique { input: input(i)?, subset: subset.clone(), keep: *keep }
        }
        LogicalPlan::Concat { inputs } => {
            LogicalPlan::Concat { inputs: inputs.iter().map(fold).collect::<Result<_>>()? }
        }
        LogicalPlan::TopK { input: i, keys, k } => LogicalPlan::TopK {
            input: input(i)?,
            keys: keys
                .iter()
                .map(|k| Ok(ember_ops::sort::SortKey { expr: fold_constants(&k.expr)?, ..k.clone() }))
                .collect::<Result<_>>()?,
            k: *k,
        },
        LogicalPlan::Sort { input: i, keys } => LogicalPlan::Sort {
            input: input(i)?,
            keys: keys
                .iter()
                .map(|k| Ok(ember_ops::sort::SortKey { expr: fold_constants(&k.expr)?, ..k.clone() }))
                .collect::<Result<_>>()?,
        },
    })
}

/// The columns `e` reads, added to `out`.
pub(crate) fn columns_of(e: &Expr, out: &mut BTreeSet<String>) {
    out.extend(e.column_names().into_iter().map(String::from));
}

/// `e` with column names replaced by `rename(name)`.
fn rename_columns(e: &Expr, rename: &dyn Fn(&str) -> String) -> Expr {
    match e {
        Expr::Column(c) => Expr::Column(rename(c)),
        other => other.clone().try_map_children(|c| Ok(rename_columns(&c, rename))).expect("renaming cannot fail"),
    }
}

fn push_predicates(plan: LogicalPlan) -> LogicalPlan {
    match plan {
        LogicalPlan::Filter { input, predicate } => match *input {
            LogicalPlan::Filter { input: inner, predicate: p0 } => {
                push_predicates(LogicalPlan::Filter { input: inner, predicate: p0.and(predicate) })
            }
            LogicalPlan::Select { input: inner, exprs } => {
                let mut used = BTreeSet::new();
                columns_of(&predicate, &mut used);
                // Each column the predicate reads must be a pass-through (maybe renamed) column.
                let source_of = |name: &str| {
                    exprs.iter().find(|e| e.name == name).and_then(|e| match &e.expr {
                        Expr::Column(c) => Some(c.clone()),
                        _ => None,
                    })
                };
                if used.iter().all(|c| source_of(c).is_some()) {
                    let pushed = rename_columns(&predicate, &|c| source_of(c).unwrap_or_else(|| c.to_string()));
                    let filter = push_predicates(LogicalPlan::Filter { input: inner, predicate: pushed });
                    LogicalPlan::Select { input: Box::new(filter), exprs }
                } else {
                    let inner = push_predicates(LogicalPlan::Select { input: inner, exprs });
                    LogicalPlan::Filter { input: Box::new(inner), predicate }
                }
            }
            // A filter commutes with a stable sort: sort fewer rows.
            LogicalPlan::Sort { input: inner, keys } => LogicalPlan::Sort {
                input: Box::new(push_predicates(LogicalPlan::Filter { input: inner, predicate })),
                keys,
            },
            other => LogicalPlan::Filter { input: Box::new(push_predicates(other)), predicate },
        },
        other => map_input(other, push_predicates),
    }
}

fn fuse(plan: LogicalPlan) -> LogicalPlan {
    match plan {
        // A group-by's output is already in ascending key order, nulls first: a sort by a prefix
        // of its keys in that order does nothing.
        LogicalPlan::Sort { input, keys } if sorted_by_group_keys(&input, &keys) => fuse(*input),
        // A slice of a sort keeps only its first offset + len rows: sort only those.
        LogicalPlan::Slice { input, offset, len } => match *input {
            LogicalPlan::Sort { input: inner, keys } if !sorted_by_group_keys(&inner, &keys) => {
                let top = LogicalPlan::TopK { input: Box::new(fuse(*inner)), keys, k: offset.saturating_add(len) };
                if offset == 0 {
                    top
                } else {
                    LogicalPlan::Slice { input: Box::new(top), offset, len }
                }
            }
            other => LogicalPlan::Slice { input: Box::new(fuse(other)), offset, len },
        },
        LogicalPlan::Aggregate { input, predicate, aggs } => match *input {
            LogicalPlan::Filter { input: inner, predicate: p } => {
                let predicate = Some(match predicate {
                    None => p,
                    Some(q) => p.and(q),
                });
                fuse(LogicalPlan::Aggregate { input: inner, predicate, aggs })
            }
            other => LogicalPlan::Aggregate { input: Box::new(fuse(other)), predicate, aggs },
        },
        other => map_input(other, fuse),
    }
}

/// Copies filters over Parquet scans into the scans' read options (see the module's step 4).
fn push_into_scans(plan: LogicalPlan) -> LogicalPlan {
    fn with_skip(input: LogicalPlan, p: &Expr) -> LogicalPlan {
        match input {
            LogicalPlan::Scan { mut source, projection } => {
                if let SourceKind::Parquet { options, .. } = &mut *source.kind {
                    options.predicate = Some(match options.predicate.take() {
                        Some(old) => old.and(p.clone()),
                        None => p.clone(),
                    });
                }
                LogicalPlan::Scan { source, projection }
            }
            other => push_into_scans(other),
        }
    }
    match plan {
        LogicalPlan::Filter { input, predicate } => {
            LogicalPlan::Filter { input: Box::new(with_skip(*input, &predicate)), predicate }
        }
        LogicalPlan::Aggregate { input, predicate: Some(p), aggs } => {
            LogicalPlan::Aggregate { input: Box::new(with_skip(*input, &p)), predicate: Some(p), aggs }
        }
        other => map_input(other, push_into_scans),
    }
}

/// Keeps only what `needed` (None: every output) asks of `plan`, recursively; `shared`: the
/// fingerprints of subplans that occur more than once.
fn prune(shared: &HashSet<String>, plan: LogicalPlan, needed: Option<&BTreeSet<String>>) -> LogicalPlan {
    // A subplan that occurs more than once runs once (see `execute`) only if every occurrence is
    // pruned alike: all its outputs are kept there, and the parents select what they read.
    let needed = if !shared.is_empty() && shared.contains(&crate::execute::fingerprint(&plan)) { None } else { needed };
    match plan {
        LogicalPlan::Scan { source, projection } => {
            let Some(needed) = needed else { return LogicalPlan::Scan { source, projection } };
            let keep: Vec<String> = match projection {
                Some(p) => p.into_iter().filter(|c| needed.contains(c)).collect(),
                None => source.fields.iter().map(|f| f.name.clone()).filter(|c| needed.contains(c)).collect(),
            };
            LogicalPlan::Scan { source, projection: Some(keep) }
        }
        LogicalPlan::Select { input, exprs } => {
            let exprs: Vec<NamedExpr> = match needed {
                Some(n) => exprs.into_iter().filter(|e| n.contains(&e.name)).collect(),
                None => exprs,
            };
            let mut child = BTreeSet::new();
            for e in &exprs {
                columns_of(&e.expr, &mut child);
            }
            LogicalPlan::Select { input: Box::new(prune(shared, *input, Some(&child))), exprs }
        }
        LogicalPlan::Filter { input, predicate } => {
            let mut child = BTreeSet::new();
            columns_of(&predicate, &mut child);
            let child = match needed {
                Some(n) => {
                    child.extend(n.iter().cloned());
                    Some(child)
                }
                None => None,
            };
            LogicalPlan::Filter { input: Box::new(prune(shared, *input, child.as_ref())), predicate }
        }
        LogicalPlan::Aggregate { input, predicate, aggs } => {
            let mut child = BTreeSet::new();
            for a in &aggs {
                columns_of(&a.expr, &mut child);
            }
            if let Some(p) = &predicate {
                columns_of(p, &mut child);
            }
            LogicalPlan::Aggregate { input: Box::new(prune(shared, *input, Some(&child))), predicate, aggs }
        }
        LogicalPlan::Slice { input, offset, len } => {
            LogicalPlan::Slice { input: Box::new(prune(shared, *input, needed)), offset, len }
        }
        LogicalPlan::GroupBy { input, keys, aggs, maintain_order } => {
            let mut child = BTreeSet::new();
            for e in keys.iter().chain(aggs.iter().map(|a| &a.expr)) {
                columns_of(e, &mut child);
            }
            LogicalPlan::GroupBy { input: Box::new(prune(shared, *input, Some(&child))), keys, aggs, maintain_order }
        }
        LogicalPlan::Join { left, right, args } => {
            let (lneed, rneed) = match needed {
                Some(n) => join_needs(&left, &right, &args, n).map_or((None, None), |(l, r)| (Some(l), Some(r))),
                None => (None, None),
            };
            let (left, right) = (prune(shared, *left, lneed.as_ref()), prune(shared, *right, rneed.as_ref()));
            LogicalPlan::Join { left: Box::new(left), right: Box::new(right), args }
        }
        LogicalPlan::Sort { input, keys } => {
            let child = needed.map(|n| {
                let mut child = n.clone();
                for k in &keys {
                    columns_of(&k.expr, &mut child);
                }
                child
            });
            LogicalPlan::Sort { input: Box::new(prune(shared, *input, child.as_ref())), keys }
        }
        // Each input keeps its columns (they must line up).
        LogicalPlan::Concat { inputs } => {
            LogicalPlan::Concat { inputs: inputs.into_iter().map(|i| prune(shared, i, None)).collect() }
        }
        LogicalPlan::TopK { input, keys, k } => {
            let child = needed.map(|n| {
                let mut child = n.clone();
                for key in &keys {
                    columns_of(&key.expr, &mut child);
                }
                child
            });
            LogicalPlan::TopK { input: Box::new(prune(shared, *input, child.as_ref())), keys, k }
        }
        // Every column of the input decides or is kept (a narrower input would dedupe by less).
        LogicalPlan::Unique { input, subset, keep } => {
            LogicalPlan::Unique { input: Box::new(prune(shared, *input, None)), subset, keep }
        }
    }
}

/// The columns each side of a join must keep for its parent to get `needed`: the keys, the
/// needed outputs, and left columns whose names a right output column shares (dropping one would lift
/// the suffix off the right column's name). `None` when a side's schema does not resolve.
fn join_needs(
    left: &LogicalPlan,
    right: &LogicalPlan,
    args: &JoinArgs,
    needed: &BTreeSet<String>,
) -> Option<(BTreeSet<String>, BTreeSet<String>)> {
    let (lf, rf) = (left.schema().ok()?, right.schema().ok()?);
    let (fields, kept) = ember_ops::join::output_fields(&lf, &rf, args).ok()?;
    let mut lneed: BTreeSet<String> = args.left_on.iter().cloned().collect();
    let right_out = !matches!(args.how, JoinType::Semi | JoinType::Anti);
    for f in &lf {
        if needed.contains(&f.name) || (right_out && rf.iter().any(|r| r.name == f.name)) {
            lneed.insert(f.name.clone());
        }
    }
    let mut rneed: BTreeSet<String> = args.right_on.iter().cloned().collect();
    for (out, &i) in fields[lf.len()..].iter().zip(&kept) {
        if needed.contains(&out.name) {
            rneed.insert(rf[i].name.clone());
        }
    }
    Some((lneed, rneed))
}

/// Whether `input` is a group-by whose output order already is `keys` (ascending, nulls first,
/// a prefix of its key columns).
fn sorted_by_group_keys(input: &LogicalPlan, keys: &[ember_ops::sort::SortKey]) -> bool {
    let LogicalPlan::GroupBy { keys: group_keys, maintain_order: false, .. } = input else { return false };
    keys.len() <= group_keys.len()
        && keys
            .iter()
            .zip(group_keys)
            .all(|(k, g)| !k.descending && !k.nulls_last && matches!(&k.expr, Expr::Column(c) if *c == g.output_name()))
}
