//! The CPU engine's join: both sides' keys in arrow-rs's row format (one converter, so equal
//! keys have equal bytes), a hash map from the right keys to their rows in order, then one probe
//! per left row in order.
use super::{JoinArgs, JoinType};
use crate::executor::Indices;
use arrow::array::{Array, ArrayRef, UInt32Array};
use arrow::row::{Row, RowConverter, SortField};
use ember_core::{DataFrame, Result};
use std::collections::HashMap;

pub(crate) fn join_indices(left: &DataFrame, right: &DataFrame, args: &JoinArgs) -> Result<(Indices, Option<Indices>)> {
    let arrays = |df: &DataFrame, names: &[String]| -> Result<Vec<ArrayRef>> {
        names.iter().map(|n| Ok(df.column(n)?.as_host()?.clone())).collect()
    };
    let (la, ra) = (arrays(left, &args.left_on)?, arrays(right, &args.right_on)?);
    let converter = RowConverter::new(la.iter().map(|a| SortField::new(a.data_type().clone())).collect())?;
    let (lrows, rrows) = (converter.convert_columns(&la)?, converter.convert_columns(&ra)?);
    let has_null = |arrays: &[ArrayRef], i: usize| arrays.iter().any(|a| a.is_null(i));

    let mut build: HashMap<Row<'_>, Vec<u32>> = HashMap::with_capacity(right.num_rows());
    for j in 0..right.num_rows() {
        if args.nulls_equal || !has_null(&ra, j) {
            build.entry(rrows.row(j)).or_default().push(j as u32);
        }
    }
    let mut out_l = Vec::new();
    let mut out_r = Vec::new();
    for i in 0..left.num_rows() {
        let matches = if !args.nulls_equal && has_null(&la, i) { None } else { build.get(&lrows.row(i)) };
        match args.how {
            JoinType::Inner => {
                for &j in matches.into_iter().flatten() {
                    out_l.push(i as u32);
                    out_r.push(j);
                }
            }
            JoinType::Semi if matches.is_some() => out_l.push(i as u32),
            JoinType::Anti if matches.is_none() => out_l.push(i as u32),
            _ => {}
        }
    }
    let right = (args.how == JoinType::Inner).then(|| Indices::Host(UInt32Array::from(out_r)));
    Ok((Indices::Host(UInt32Array::from(out_l)), right))
}
