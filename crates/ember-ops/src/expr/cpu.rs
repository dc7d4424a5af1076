//! TEMPORARY STUB (lead) — replaced by the CPU engine implementation.
use super::Expr;
use arrow::array::ArrayRef;
use ember_core::{DataFrame, Error, Result};
/// stub
pub fn evaluate(_df: &DataFrame, _expr: &Expr) -> Result<ArrayRef> {
    Err(Error::Internal("cpu stub".into()))
}
