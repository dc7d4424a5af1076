//! Row-group skipping on min/max statistics.
//!
//! The predicate is rewritten into one over a small "statistics frame" with a row per row group
//! (`x < v` becomes `min(x) < v`, `x = v` becomes `min(x) <= v AND max(x) >= v`, `x IS NULL`
//! becomes `null_count(x) > 0`, `AND` / `OR` recurse, anything else is `true`), which ember's
//! own CPU expression engine evaluates: the type rules and coercions of the comparison are the
//! filter's own. A row group is skipped only where the rewritten predicate is `false`; missing
//! statistics are null, so they keep the group.
//!
//! Float columns are not pruned: ember orders NaN above every number (as arrow and polars do), and
//! writers leave NaN out of min/max, so `max(x) > v` could be false for a group whose NaNs match.
//! String maxima are used only when the writer marks them exact (a truncated maximum may be below
//! the real one).
use arrow::array::{new_null_array, Array, ArrayRef, BooleanArray};
use arrow::datatypes::DataType;
use ember_core::{Column, DataFrame, Device};
use ember_ops::expr::{BinaryOp, Expr};
use ember_ops::lit;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;

/// The row groups of `candidates` that may hold a row where `predicate` is true.
pub(crate) fn row_groups_matching(
    meta: &ArrowReaderMetadata,
    predicate: &Expr,
    candidates: &[usize],
) -> Result<Vec<usize>, String> {
    if candidates.is_empty() {
        return Ok(vec![]);
    }
    let schema = meta.schema();
    let md = meta.metadata();
    let groups: Vec<_> = candidates.iter().map(|&g| md.row_group(g)).collect();
    let mut columns: Vec<(String, Column)> = Vec::new();
    let mut stats_of = |name: &str| -> Option<()> {
        let field = schema.field_with_name(name).ok()?;
        if matches!(field.data_type(), DataType::Float16 | DataType::Float32 | DataType::Float64) {
            return None;
        }
        let conv = StatisticsConverter::try_new(name, schema, md.file_metadata().schema_descr()).ok()?;
        let n = groups.len();
        let normalize = |a: ArrayRef| super::read::normalize(a).ok();
        let min = conv.row_group_mins(groups.iter().copied()).ok().and_then(normalize)?;
        let mut max = conv.row_group_maxes(groups.iter().copied()).ok().and_then(normalize)?;
        if matches!(
            field.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..)
        ) {
            let exact = conv.row_group_is_max_value_exact(groups.iter().copied()).ok()?;
            max = arrow::compute::nullif(&max, &arrow::compute::not(&exact).ok()?).ok()?;
        }
        let nulls: ArrayRef = match conv.row_group_null_counts(groups.iter().copied()) {
            Ok(a) => std::sync::Arc::new(a),
            Err(_) => new_null_array(&DataType::UInt64, n),
        };
        let rows: ArrayRef = match conv.row_group_row_counts(groups.iter().copied()) {
            Ok(Some(a)) => std::sync::Arc::new(a),
            _ => new_null_array(&DataType::UInt64, n),
        };
        for (suffix, arr) in [("min", min), ("max", max), ("nulls", nulls), ("rows", rows)] {
            columns.push((format!("{name}\u{0}{suffix}"), Column::Host(arr)));
        }
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
    let keep = match ember_ops::expr::evaluate(&frame, &rewritten).and_then(|c| c.to_arrow()) {
        Ok(k) => k,
        // A comparison the statistics cannot answer (e.g. types a filter would reject): read all.
        Err(_) => return Ok(candidates.to_vec()),
    };
    let Some(keep) = keep.as_any().downcast_ref::<BooleanArray>() else { return Ok(candidates.to_vec()) };
    Ok(candidates.iter().enumerate().filter(|&(i, _)| !keep.is_valid(i) || keep.value(i)).map(|(_, &g)| g).collect())
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
