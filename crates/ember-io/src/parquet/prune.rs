//! Row-group and page skipping on min/max statistics.
//!
//! The predicate is rewritten into one over a small "statistics frame" with a row per row group
//! (`x < v` becomes `min(x) < v`, `x = v` becomes `min(x) <= v AND max(x) >= v`, `x IS NULL`
//! becomes `null_count(x) > 0`, `AND` / `OR` recurse, anything else is `true`), which ember's
//! own CPU expression engine evaluates: the type rules and coercions of the comparison are the
//! filter's own. A row group is skipped only where the rewritten predicate is `false`; missing
//! statistics are null, so they keep the group.
//!
//! Within the row groups kept, the page index (a column index of per-page min/max and an offset
//! index of page locations, where the writer wrote them) narrows the read to row ranges: the same
//! rewrite over a frame with a row per data page ([`page_rows_matching`]). Both decoders then skip
//! the pages outside those ranges, and return exactly the rows in them.
//!
//! Float columns are not pruned: ember orders NaN above every number (as arrow and polars do), and
//! writers leave NaN out of min/max, so `max(x) > v` could be false for a group whose NaNs match.
//! String maxima are used only when the writer marks them exact (a truncated maximum may be below
//! the real one).
use arrow::array::{new_null_array, Array, ArrayRef, BooleanArray, UInt64Array};
use arrow::datatypes::DataType;
use ember_core::{Column, DataFrame, Device};
use ember_ops::expr::{BinaryOp, Expr};
use ember_ops::lit;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::file::metadata::page_index::PageIndexProvider;
use parquet::file::page_index::offset_index::PageLocation;
use std::ops::Range;
use std::sync::Arc;

/// The row groups of `candidates` that may hold a row where `predicate` is true.
pub(crate) fn row_groups_matching(
    meta: &ArrowReaderMetadata,
    predicate: &Expr,
    candidates: &[usize],
) -> Result<Vec<usize>, String> {
    if candidates.is_empty() {
        return Ok(vec![]);
    }
    let md = meta.metadata();
    let groups: Vec<_> = candidates.iter().map(|&g| md.row_group(g)).collect();
    let mut columns: Vec<(String, Column)> = Vec::new();
    let mut stats_of = |name: &str| -> Option<()> {
        let (conv, dtype) = converter(meta, name)?;
        let min = conv.row_group_mins(groups.iter().copied()).ok()?;
        let max = conv.row_group_maxes(groups.iter().copied()).ok()?;
        let exact = conv.row_group_is_max_value_exact(groups.iter().copied()).ok();
        let nulls = conv.row_group_null_counts(groups.iter().copied()).ok();
        let rows = conv.row_group_row_counts(groups.iter().copied()).ok().flatten();
        columns.extend(stats_columns(name, &dtype, groups.len(), min, max, exact, nulls, rows)?);
        Some(())
    };
    let mut known = std::collections::HashMap::new();
    for name in predicate.column_names() {
        if !known.contains_key(name) {
            known.insert(name.to_string(), stats_of(name).is_some());
        }
    }
    let rewritten = rewrite(predicate, &|name| known.get(name).copied().unwrap_or(false));
    if columns.is_empty() || rewritten == lit(true) {
        return Ok(candidates.to_vec());
    }
    let frame = DataFrame::from_columns(columns, Device::Cpu).map_err(|e| e.to_string())?;
    let Some(keep) = may_match(&frame, &rewritten) else { return Ok(candidates.to_vec()) };
    Ok(candidates.iter().zip(keep).filter(|&(_, k)| k).map(|(&g, _)| g).collect())
}

/// The rows of row group `g` that the page index cannot exclude: sorted, disjoint ranges of row
/// numbers within the group, or `None` when no page is excluded (or there is no page index).
///
/// Pages of different columns end at different rows, so only a conjunct of the predicate that
/// names a single column is tested (`x >= a AND x < b AND y = c` tests all three; `x = 1 OR y = 2`
/// tests nothing): its column's pages are rewritten as row groups are above, and the rows of the
/// pages it keeps are intersected across conjuncts. Page row ranges come from the offset index
/// (each page's first row); an index that is not ascending from row 0 is not used.
pub(crate) fn page_rows_matching(meta: &ArrowReaderMetadata, predicate: &Expr, g: usize) -> Option<Vec<Range<usize>>> {
    let md = meta.metadata();
    let index: &dyn PageIndexProvider = md.page_index()?.as_ref();
    let rows = md.row_group(g).num_rows().max(0) as usize;
    let all: Vec<Range<usize>> = std::iter::once(0..rows).collect();
    let mut kept = all.clone();
    for conjunct in conjuncts(predicate) {
        let [name] = conjunct.column_names()[..] else { continue };
        let Some((conv, dtype)) = converter(meta, name) else { continue };
        let Some(leaf) = conv.parquet_column_index() else { continue };
        let Some(pages) = index.page_locations(g, leaf).and_then(|l| page_rows(l, rows)) else { continue };
        let n = pages.len();
        let stats = (|| {
            let min = conv.data_page_mins(index, [g].iter()).ok()?;
            let max = conv.data_page_maxes(index, [g].iter()).ok()?;
            let nulls = conv.data_page_null_counts(index, [g].iter()).ok();
            let counts = conv.data_page_row_counts(index, md.row_groups(), [g].iter()).ok().flatten();
            // A page's maximum string may be truncated (and not marked exact, as a row group's
            // may be): strings are tested on their minima only.
            let exact = Some(BooleanArray::from(vec![false; n]));
            stats_columns(name, &dtype, n, min, max, exact, nulls, counts)
        })();
        let Some(columns) = stats else { continue };
        let rewritten = rewrite(conjunct, &|c| c == name);
        if rewritten == lit(true) {
            continue;
        }
        let Ok(frame) = DataFrame::from_columns(columns, Device::Cpu) else { continue };
        let Some(keep) = may_match(&frame, &rewritten) else { continue };
        let mut ranges: Vec<Range<usize>> = Vec::new();
        for (page, k) in pages.into_iter().zip(keep) {
            match ranges.last_mut() {
                _ if !k => {}
                Some(last) if last.end == page.start => last.end = page.end,
                _ => ranges.push(page),
            }
        }
        kept = intersect(&kept, &ranges);
    }
    (kept != all).then_some(kept)
}

/// Row ranges of a column chunk's data pages, from its offset index: `None` unless the first
/// rows ascend strictly from 0 and stay below `rows`.
pub(crate) fn page_rows(locations: &[PageLocation], rows: usize) -> Option<Vec<Range<usize>>> {
    let firsts: Vec<usize> =
        locations.iter().map(|l| usize::try_from(l.first_row_index).ok()).collect::<Option<_>>()?;
    if firsts.first() != Some(&0) || firsts.windows(2).any(|w| w[0] >= w[1]) || firsts.last() >= Some(&rows) {
        return None;
    }
    Some(firsts.iter().zip(firsts[1..].iter().chain([&rows])).map(|(&a, &b)| a..b).collect())
}

/// The rows in both `a` and `b` (each sorted and disjoint).
pub(crate) fn intersect(a: &[Range<usize>], b: &[Range<usize>]) -> Vec<Range<usize>> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let (start, end) = (a[i].start.max(b[j].start), a[i].end.min(b[j].end));
        if start < end {
            out.push(start..end);
        }
        if a[i].end < b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// The top-level `AND` operands of `e`.
fn conjuncts(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Alias(inner, _) => conjuncts(inner),
        Expr::Binary { op: BinaryOp::And, left, right } => {
            let mut out = conjuncts(left);
            out.extend(conjuncts(right));
            out
        }
        other => vec![other],
    }
}

/// The statistics converter of column `name` and its Arrow type; `None` for floats (see the
/// module's note) and columns the file lacks.
fn converter<'a>(meta: &'a ArrowReaderMetadata, name: &str) -> Option<(StatisticsConverter<'a>, DataType)> {
    let schema = meta.schema();
    let dtype = schema.field_with_name(name).ok()?.data_type().clone();
    if matches!(dtype, DataType::Float16 | DataType::Float32 | DataType::Float64) {
        return None;
    }
    let conv = StatisticsConverter::try_new(name, schema, meta.metadata().file_metadata().schema_descr()).ok()?;
    Some((conv, dtype))
}

fn is_string(dtype: &DataType) -> bool {
    matches!(dtype, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..))
}

/// The statistics frame's columns for `name`, `n` rows (row groups or pages): `min`, `max` (null
/// where `max_exact` says a string maximum may be truncated), `nulls`, `rows`.
#[allow(clippy::too_many_arguments)]
fn stats_columns(
    name: &str,
    dtype: &DataType,
    n: usize,
    min: ArrayRef,
    max: ArrayRef,
    max_exact: Option<BooleanArray>,
    nulls: Option<UInt64Array>,
    rows: Option<UInt64Array>,
) -> Option<Vec<(String, Column)>> {
    let normalize = |a: ArrayRef| super::read::normalize(a).ok();
    let (min, mut max) = (normalize(min)?, normalize(max)?);
    if is_string(dtype) {
        max = arrow::compute::nullif(&max, &arrow::compute::not(&max_exact?).ok()?).ok()?;
    }
    let counts = |a: Option<UInt64Array>| -> ArrayRef {
        match a {
            Some(a) if a.len() == n => Arc::new(a),
            _ => new_null_array(&DataType::UInt64, n),
        }
    };
    if min.len() != n || max.len() != n {
        return None;
    }
    let columns = [("min", min), ("max", max), ("nulls", counts(nulls)), ("rows", counts(rows))];
    Some(columns.into_iter().map(|(suffix, arr)| (format!("{name}\u{0}{suffix}"), Column::Host(arr))).collect())
}

/// Per statistics row, whether the rewritten predicate may hold (`false` only where it is
/// false); `None` when it cannot be evaluated (e.g. types a filter would reject): read all.
fn may_match(frame: &DataFrame, rewritten: &Expr) -> Option<Vec<bool>> {
    let keep = ember_ops::expr::evaluate(frame, rewritten).and_then(|c| c.to_arrow()).ok()?;
    let keep = keep.as_any().downcast_ref::<BooleanArray>()?;
    Some((0..keep.len()).map(|i| !keep.is_valid(i) || keep.value(i)).collect())
}

fn stat(name: &str, what: &str) -> Expr {
    Expr::Column(format!("{name}\u{0}{what}"))
}

/// `predicate` over the statistics frame: true where a row group may hold a matching row.
fn rewrite(e: &Expr, has_stats: &dyn Fn(&str) -> bool) -> Expr {
    let unknown = lit(true);
    match e {
        Expr::Alias(inner, _) => rewrite(inner, has_stats),
        Expr::Binary { op: BinaryOp::And, left, right } => rewrite(left, has_stats).and(rewrite(right, has_stats)),
        Expr::Binary { op: BinaryOp::Or, left, right } => rewrite(left, has_stats).or(rewrite(right, has_stats)),
        Expr::Binary { op, left, right } => {
            let (name, op, value) = match (left.as_ref(), right.as_ref()) {
                (Expr::Column(c), v @ Expr::Literal(_)) => (c, *op, v),
                (v @ Expr::Literal(_), Expr::Column(c)) => match flip(*op) {
                    Some(op) => (c, op, v),
                    None => return unknown,
                },
                _ => return unknown,
            };
            if !has_stats(name) {
                return unknown;
            }
            let (min, max) = (stat(name, "min"), stat(name, "max"));
            match op {
                BinaryOp::Lt => min.lt(value.clone()),
                BinaryOp::LtEq => min.lt_eq(value.clone()),
                BinaryOp::Gt => max.gt(value.clone()),
                BinaryOp::GtEq => max.gt_eq(value.clone()),
                BinaryOp::Eq => min.lt_eq(value.clone()).and(max.gt_eq(value.clone())),
                _ => unknown,
            }
        }
        Expr::IsNull(inner) => match inner.as_ref() {
            Expr::Column(c) if has_stats(c) => stat(c, "nulls").gt(lit(0u64)),
            _ => unknown,
        },
        Expr::IsNotNull(inner) => match inner.as_ref() {
            Expr::Column(c) if has_stats(c) => stat(c, "nulls").lt(stat(c, "rows")),
            _ => unknown,
        },
        _ => unknown,
    }
}

/// `v op x` as `x op' v`.
fn flip(op: BinaryOp) -> Option<BinaryOp> {
    Some(match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        BinaryOp::Eq => BinaryOp::Eq,
        BinaryOp::NotEq => BinaryOp::NotEq,
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)] // one-range row selections are the point here
mod tests {
    use super::*;

    fn at(first_row_index: i64) -> PageLocation {
        PageLocation { offset: 0, compressed_page_size: 0, first_row_index }
    }

    #[test]
    fn page_rows_come_from_ascending_first_rows_only() {
        assert_eq!(page_rows(&[at(0), at(10), at(25)], 30), Some(vec![0..10, 10..25, 25..30]));
        assert_eq!(page_rows(&[at(0)], 7), Some(vec![0..7]));
        assert_eq!(page_rows(&[at(1), at(10)], 30), None, "not from row 0");
        assert_eq!(page_rows(&[at(0), at(10), at(10)], 30), None, "an empty page");
        assert_eq!(page_rows(&[at(0), at(30)], 30), None, "past the group");
        assert_eq!(page_rows(&[at(0), at(-3)], 30), None, "negative");
        assert_eq!(page_rows(&[], 30), None);
    }

    #[test]
    fn intersections_of_row_ranges() {
        assert_eq!(intersect(&[0..10, 20..30], &[5..25]), vec![5..10, 20..25]);
        assert_eq!(intersect(&[0..10], &[10..20]), Vec::<Range<usize>>::new());
        assert_eq!(intersect(&[0..100], &[0..5, 50..60, 99..100]), vec![0..5, 50..60, 99..100]);
        assert_eq!(intersect(&[], &[0..5]), Vec::<Range<usize>>::new());
    }
}
