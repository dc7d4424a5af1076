//! The CPU group-by of few groups (TPC-H Q1's two flags, any few low-cardinality keys), when every
//! aggregation folds (`sum`, `mean`, `count`, `len`): one parallel pass over chunks of rows, each
//! chunk numbering its rows by key through a direct table of its own (a hash map when its keys span
//! too wide a range: [`ChunkKeys::number`]) and folding every aggregation's values while the chunk
//! is in cache; the chunks' accumulators are then added in chunk order, their groups matched by
//! packed key. Nothing per row outlives its chunk: no column of group ids, no evaluated expression,
//! and the keys are read once (the general path, `cpu.rs`, reads them three times to narrow and
//! number all rows, then streams every aggregation over all rows again). A chunk with more than
//! [`MAX_CHUNK_GROUPS`] groups hands the frame back to the general path.
//!
//! Aggregations over the same expression share one fold (Q1's `sum(l_quantity)` and
//! `mean(l_quantity)`), and subexpressions several aggregations share are evaluated once per chunk
//! ([`crate::expr::cse`]: Q1's `l_extendedprice * (1 - l_discount)`).
//!
//! Groups are numbered in order of first appearance (the chunks are merged in row order): the order
//! `maintain_order` asks for; otherwise they are listed in the order of their packed keys (the
//! keys' order when every key's codes are ordered) or sorted by key. Float sums depend only on the
//! chunk boundaries, fixed by the row count: the same whatever the number of threads.
use super::cpu::{assemble, by_key_order, Fold};
use super::Aggregation;
use crate::expr::cpu::evaluate;
use crate::expr::cse::{self, Shared};
use crate::expr::types::dtype_of;
use crate::expr::Expr;
use crate::hash::ChunkKeys;
use crate::reduce::Agg;
use arrow::array::*;
use arrow::compute::take;
use ember_core::{Column, DType, DataFrame, Error, Field, Result};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Each worker's direct table from a row's keys (narrowed to its chunk) to its chunk's group:
/// `1 << TABLE_BITS` entries (256 KiB).
const TABLE_BITS: u32 = 16;

/// Most groups in one chunk: past this many, the general path (one numbering of all rows, then
/// folds over all rows) costs less than matching every chunk's groups by key.
const MAX_CHUNK_GROUPS: usize = 1024;

/// Rows per chunk: a chunk's group ids and each evaluated expression (16-byte decimals: 256 KiB)
/// stay in a core's cache between being computed and being folded.
const CHUNK_ROWS: usize = 1 << 14;

/// Chunks folded in parallel before their accumulators are merged: bounds the memory of
/// accumulators waiting to be merged when a chunk holds thousands of groups.
const WINDOW_CHUNKS: usize = 64;

/// Whether the direct group-by takes these aggregations over `n` rows.
pub(super) fn applies(aggs: &[Aggregation], n: usize) -> bool {
    n > 0
        && n <= u32::MAX as usize
        && aggs.iter().all(|a| matches!(a.agg, Agg::Sum | Agg::Mean | Agg::Count | Agg::Len))
}

/// One fold per distinct aggregated expression.
struct Folds {
    /// The expressions, their shared parts taken out.
    shared: Shared,
    /// Whether each expression needs sums (some `sum` or `mean` of it) or only counts.
    sums: Vec<bool>,
    /// Each aggregation's expression (an index into `shared.exprs`), `None` for `len`.
    of_agg: Vec<Option<usize>>,
}

impl Folds {
    fn new(aggs: &[Aggregation]) -> Folds {
        let (mut exprs, mut sums, mut of_agg): (Vec<Expr>, Vec<bool>, Vec<Option<usize>>) = Default::default();
        for a in aggs {
            if a.agg == Agg::Len {
                of_agg.push(None);
                continue;
            }
            let e = super::cpu::value_expr(a);
            let k = exprs.iter().position(|x| *x == e).unwrap_or_else(|| {
                exprs.push(e);
                sums.push(false);
                exprs.len() - 1
            });
            sums[k] |= matches!(a.agg, Agg::Sum | Agg::Mean);
            of_agg.push(Some(k));
        }
        Folds { shared: cse::shared(&exprs), sums, of_agg }
    }

    /// The accumulator kind of expression `k` (a count, or sums and counts).
    fn kind(&self, k: usize) -> Agg {
        if self.sums[k] {
            Agg::Sum
        } else {
            Agg::Count
        }
    }
}

/// One chunk's groups: each one's packed key, first row and number of rows, and the folds.
struct Chunk {
    keys: Vec<u128>,
    firsts: Vec<u32>,
    lens: Vec<u64>,
    folds: Vec<Fold>,
}

/// The group-by of `df`'s rows (those `selected` sets) by keys of `key_arrays`, coded as
/// `keys`, with `aggs` (all folding: [`applies`]), as a frame of `fields`; `None` when a chunk
/// has too many groups (the caller takes the general path).
pub(super) fn group_by(
    df: &DataFrame,
    key_arrays: &[ArrayRef],
    keys: &ChunkKeys,
    aggs: &[Aggregation],
    fields: &[Field],
    maintain_order: bool,
    selected: Option<&BooleanArray>,
) -> Result<Option<DataFrame>> {
    let n = df.num_rows();
    let plan = Folds::new(aggs);
    // Every group so far, in order of first appearance.
    let mut group_of_key: HashMap<u128, u32> = HashMap::new();
    let (mut group_keys, mut first_rows, mut lens) = (Vec::<u128>::new(), Vec::<u32>::new(), Vec::<u64>::new());
    // Every chunk folds every expression for each of its groups: the folds grow to all groups.
    let typed = fields_with_temps(df, &plan.shared)?;
    let mut folds = (0..plan.shared.exprs.len())
        .map(|k| {
            let t = dtype_of(&plan.shared.exprs[k], &typed)?.unwrap_or(DType::Bool);
            Fold::new(plan.kind(k), &t.to_arrow(), 0)
        })
        .collect::<Result<Vec<_>>>()?;
    let chunks = n.div_ceil(CHUNK_ROWS);
    let too_many = AtomicBool::new(false);
    // The first chunk alone first: a frame of many groups is handed back after one chunk.
    let windows = std::iter::once(0..1.min(chunks))
        .chain((1..chunks).step_by(WINDOW_CHUNKS).map(|w| w..(w + WINDOW_CHUNKS).min(chunks)));
    for window in windows {
        let parts = window
            .into_par_iter()
            .map_init(
                || vec![u32::MAX; 1 << TABLE_BITS],
                |table, c| match too_many.load(Ordering::Relaxed) {
                    true => Ok(None),
                    false => fold_chunk(df, c, keys, selected, table, &plan).inspect(|p| {
                        too_many.fetch_or(p.is_none(), Ordering::Relaxed);
                    }),
                },
            )
            .collect::<Result<Vec<Option<Chunk>>>>();
        let parts = match parts {
            Ok(_) if too_many.load(Ordering::Relaxed) => return Ok(None),
            Ok(parts) => parts.into_iter().flatten(),
            Err(e) => return Err(whole_frame_error(df, aggs).unwrap_or(e)),
        };
        for part in parts {
            let mut into = Vec::with_capacity(part.keys.len());
            for (k, &key) in part.keys.iter().enumerate() {
                let g = *group_of_key.entry(key).or_insert_with(|| {
                    group_keys.push(key);
                    first_rows.push(part.firsts[k]);
                    lens.push(0);
                    group_keys.len() as u32 - 1
                });
                lens[g as usize] += part.lens[k];
                into.push(g);
            }
            for (f, p) in folds.iter_mut().zip(&part.folds) {
                f.absorb(p, &into)?;
            }
        }
    }
    let g = group_keys.len();
    let firsts = UInt32Array::from(first_rows);
    let key_values = key_arrays.iter().map(|a| Ok(take(a, &firsts, None)?)).collect::<Result<Vec<_>>>()?;
    let order = if maintain_order {
        None
    } else if keys.ordered() {
        let mut by_key: Vec<u32> = (0..g as u32).collect();
        by_key.sort_unstable_by_key(|&k| group_keys[k as usize]);
        Some(UInt32Array::from(by_key))
    } else {
        Some(by_key_order(&key_values, g)?)
    };
    // A fold serves each of its aggregations; the last one takes it.
    let mut uses = vec![0usize; folds.len()];
    plan.of_agg.iter().flatten().for_each(|&k| uses[k] += 1);
    let mut folds: Vec<Option<Fold>> = folds.into_iter().map(Some).collect();
    let results = aggs
        .iter()
        .zip(&plan.of_agg)
        .zip(&fields[key_arrays.len()..])
        .map(|((a, k), f)| match *k {
            None => Ok(Arc::new(UInt64Array::from(lens.clone())) as ArrayRef),
            Some(k) => {
                uses[k] -= 1;
                let fold = if uses[k] == 0 { folds[k].take() } else { folds[k].clone() };
                fold.ok_or_else(|| Error::Internal("group_by: a fold used twice".into()))?.finish(a.agg, f)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    assemble(&key_values, &results, order.as_ref(), fields).map(Some)
}

/// Chunk `c` of `df`: its rows numbered by key through `table` (see [`ChunkKeys::number`]),
/// then every expression evaluated and folded; `None` if the chunk has too many groups.
fn fold_chunk(
    df: &DataFrame,
    c: usize,
    keys: &ChunkKeys,
    selected: Option<&BooleanArray>,
    table: &mut [u32],
    plan: &Folds,
) -> Result<Option<Chunk>> {
    let start = c * CHUNK_ROWS;
    let len = CHUNK_ROWS.min(df.num_rows() - start);
    let Some(numbered) = keys.number(start, len, selected.map(BooleanArray::values), table, MAX_CHUNK_GROUPS) else {
        return Ok(None);
    };
    let ids = numbered.ids;
    let g = numbered.keys.len();
    let lens = count_rows(&ids, g);
    let part = with_temps(df.slice(start, len)?, &plan.shared)?;
    let mut folds = Vec::with_capacity(plan.shared.exprs.len());
    for (k, e) in plan.shared.exprs.iter().enumerate() {
        let values = evaluate(&part, e)?;
        let fold = if plan.kind(k) == Agg::Count && values.logical_nulls().is_none() {
            Fold::counted(lens.clone())
        } else {
            let mut f = Fold::new(plan.kind(k), values.data_type(), g)?;
            f.add(&values, &ids)?;
            f
        };
        folds.push(fold);
    }
    Ok(Some(Chunk { keys: numbered.keys, firsts: numbered.firsts, lens, folds }))
}

/// Rows per group (ids `0..g`; [`SKIPPED`](crate::hash::SKIPPED) rows left out), four
/// counters per group, one per row lane, so that runs of one group do not wait on the previous
/// row's store.
fn count_rows(ids: &[u32], g: usize) -> Vec<u64> {
    let mut lanes = vec![0u64; 4 * (g + 1)];
    // A skipped row counts into slot `g` of its lane, ignored: no branch per row.
    for (i, &id) in ids.iter().enumerate() {
        lanes[(i & 3) * (g + 1) + (id as usize).min(g)] += 1;
    }
    (0..g).map(|k| (0..4).map(|l| lanes[l * (g + 1) + k]).sum()).collect()
}

/// `part` with the temporary columns of `shared` appended.
fn with_temps(part: DataFrame, shared: &Shared) -> Result<DataFrame> {
    if shared.temps.is_empty() {
        return Ok(part);
    }
    let mut named: Vec<(String, Column)> =
        part.fields().iter().zip(part.columns()).map(|(f, c)| (f.name.clone(), c.clone())).collect();
    let mut part = part;
    for (name, def) in &shared.temps {
        named.push((name.clone(), Column::Host(evaluate(&part, def)?)));
        part = DataFrame::from_columns(named.clone(), part.device())?;
    }
    Ok(part)
}

/// `df`'s fields with the temporaries' appended (their types, for typing the expressions).
fn fields_with_temps(df: &DataFrame, shared: &Shared) -> Result<Vec<Field>> {
    let mut fields = df.fields().to_vec();
    for (name, def) in &shared.temps {
        let dtype = dtype_of(def, &fields)?.unwrap_or(DType::Bool);
        fields.push(Field { name: name.clone(), dtype, nullable: true });
    }
    Ok(fields)
}

/// The error of an aggregation's expression over the whole frame, the first aggregation's
/// first: the one the general path reports (it names the frame's first failing row).
fn whole_frame_error(df: &DataFrame, aggs: &[Aggregation]) -> Option<Error> {
    aggs.iter().filter(|a| a.agg != Agg::Len).find_map(|a| evaluate(df, &super::cpu::value_expr(a)).err())
}
