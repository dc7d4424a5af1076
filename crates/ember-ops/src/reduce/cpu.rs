//! TEMPORARY STUB (lead) — replaced by the CPU engine implementation.
use super::Agg;
use crate::expr::Expr;
use ember_core::{DataFrame, Error, Result, Scalar};
/// stub
pub fn reduce(_df: &DataFrame, _e: &Expr, _a: Agg) -> Result<Scalar> {
    Err(Error::Internal("cpu stub".into()))
}
