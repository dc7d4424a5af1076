//! TEMPORARY STUB (lead) — replaced by the CPU engine implementation.
use crate::expr::Expr;
use ember_core::{DataFrame, Error, Result};
/// stub
pub fn filter(_df: &DataFrame, _p: &Expr) -> Result<DataFrame> {
    Err(Error::Internal("cpu stub".into()))
}
