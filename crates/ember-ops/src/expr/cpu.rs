//! Expression evaluation on the CPU engine: arrow-rs compute kernels, literals passed as arrow
//! `Scalar` datums (never broadcast), and large frames evaluated in fixed-size row chunks in
//! parallel with rayon. Chunk boundaries depend only on the row count, so results (float
//! arithmetic included) never depend on the number of threads.
use super::types::{binary_plan, dtype_of};
use super::{BinaryOp, Expr, StrOp};
use arrow::array::{new_null_array, Array, ArrayRef, AsArray, BooleanArray, Datum, UInt32Array};
use arrow::compute::kernels::{boolean, cmp, comparison, numeric};
use arrow::compute::CastOptions;
use arrow::datatypes::DataType;
use ember_core::{DType, DataFrame, Error, Result, Scalar};
use rayon::prelude::*;
use std::sync::Arc;

/// Rows per chunk of parallel evaluation.
pub const CHUNK_ROWS: usize = 1 << 17;

/// Evaluates `expr` over `df` (a CPU frame) to an array of `df.num_rows()` rows.
///
/// ```
/// use arrow::array::{Array, Int32Array, RecordBatch};
/// use ember_core::DataFrame;
/// use ember_ops::{col, lit};
/// use std::sync::Arc;
/// let batch = RecordBatch::try_from_iter([("a", Arc::new(Int32Array::from(vec![1, 2, 3])) as _)]).unwrap();
/// let df = DataFrame::from_record_batch(&batch).unwrap();
/// let out = ember_ops::expr::cpu::evaluate(&df, &(col("a") * lit(10))).unwrap();
/// assert_eq!(out.as_any().downcast_ref::<Int32Array>().unwrap().values().to_vec(), vec![10, 20, 30]);
/// ```
pub fn evaluate(df: &DataFrame, expr: &Expr) -> Result<ArrayRef> {
    let t = dtype_of(expr, df.fields())?.unwrap_or(DType::Bool);
    let n = df.num_rows();
    if n <= CHUNK_ROWS {
        return evaluate_chunk(df, expr, t);
    }
    let parts = (0..n.div_ceil(CHUNK_ROWS))
        .into_par_iter()
        .map(|c| {
            let off = c * CHUNK_ROWS;
            evaluate_chunk(&df.slice(off, CHUNK_ROWS.min(n - off))?, expr, t)
        })
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
    Ok(arrow::compute::concat(&refs)?)
}

fn evaluate_chunk(df: &DataFrame, expr: &Expr, t: DType) -> Result<ArrayRef> {
    match eval(df, expr)? {
        Val::Array(a) => Ok(a),
        Val::Lit(s) => broadcast(&s, t, df.num_rows()),
    }
}

/// `n` copies of a literal.
pub(crate) fn broadcast(s: &Scalar, t: DType, n: usize) -> Result<ArrayRef> {
    if s.is_null() {
        return Ok(new_null_array(&t.to_arrow(), n));
    }
    let one = s.to_array(&t)?;
    Ok(arrow::compute::take(one.as_ref(), &UInt32Array::from(vec![0u32; n]), None)?)
}

/// An intermediate value: a column-length array or a literal.
enum Val {
    Array(ArrayRef),
    Lit(Scalar),
}

impl Val {
    fn dtype(&self) -> Result<Option<DType>> {
        Ok(match self {
            Val::Array(a) => Some(DType::from_arrow(a.data_type())?),
            Val::Lit(s) => s.dtype(),
        })
    }
}

fn cast(a: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    if a.data_type() == to {
        return Ok(a.clone());
    }
    let opts = CastOptions { safe: false, ..Default::default() };
    Ok(arrow::compute::cast_with_options(a, to, &opts)?)
}

/// The Arrow type to use for logical type `t` given the physical type of the other operand:
/// strings keep the column's physical layout (Utf8, LargeUtf8 or Utf8View).
fn physical(t: DType, other: Option<&DataType>) -> DataType {
    match (t, other) {
        (DType::Utf8, Some(dt @ (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View))) => dt.clone(),
        _ => t.to_arrow(),
    }
}

/// An operand cast to `to` (arrays) or materialised as a one-element array (literals).
enum Operand {
    Array(ArrayRef),
    Lit(ArrayRef),
}

impl Operand {
    fn datum(&self) -> Box<dyn Datum> {
        match self {
            Operand::Array(a) => Box::new(a.clone()),
            Operand::Lit(a) => Box::new(arrow::array::Scalar::new(a.clone())),
        }
    }
}

fn operand(v: &Val, to: DType, other: Option<&DataType>) -> Result<Operand> {
    Ok(match v {
        Val::Array(a) => {
            let target = physical(to, Some(a.data_type()));
            Operand::Array(cast(a, &target)?)
        }
        Val::Lit(s) => {
            let arr = s.to_array(&to)?;
            Operand::Lit(cast(&arr, &physical(to, other))?)
        }
    })
}

fn array_type(v: &Val) -> Option<&DataType> {
    match v {
        Val::Array(a) => Some(a.data_type()),
        Val::Lit(_) => None,
    }
}

fn eval(df: &DataFrame, expr: &Expr) -> Result<Val> {
    Ok(match expr {
        Expr::Column(name) => Val::Array(df.column(name)?.as_host()?.clone()),
        Expr::Literal(s) => Val::Lit(s.clone()),
        Expr::Binary { op, left, right } => {
            let (l, r) = (eval(df, left)?, eval(df, right)?);
            binary(*op, &l, &r, df.num_rows())?
        }
        Expr::Not(e) => match eval(df, e)? {
            Val::Lit(Scalar::Bool(b)) => Val::Lit(Scalar::Bool(!b)),
            Val::Lit(_) => Val::Lit(Scalar::Null),
            Val::Array(a) => Val::Array(Arc::new(boolean::not(a.as_boolean())?)),
        },
        Expr::IsNull(e) | Expr::IsNotNull(e) => {
            let want_null = matches!(expr, Expr::IsNull(_));
            match eval(df, e)? {
                Val::Lit(s) => Val::Lit(Scalar::Bool(s.is_null() == want_null)),
                Val::Array(a) => Val::Array(Arc::new(if want_null {
                    arrow::compute::is_null(&a)?
                } else {
                    arrow::compute::is_not_null(&a)?
                })),
            }
        }
        Expr::Str { op, expr: inner, pattern } => {
            let v = eval(df, inner)?;
            let (input, lit) = match &v {
                Val::Lit(Scalar::Null) => return Ok(Val::Lit(Scalar::Null)),
                Val::Lit(s) => (s.to_array(&DType::Utf8)?, true),
                Val::Array(a) => (a.clone(), false),
            };
            let pat = cast(
                &(Arc::new(arrow::array::StringArray::from(vec![pattern.as_str()])) as ArrayRef),
                input.data_type(),
            )?;
            let pat = arrow::array::Scalar::new(pat);
            let out = match op {
                StrOp::StartsWith => comparison::starts_with(&input, &pat)?,
                StrOp::EndsWith => comparison::ends_with(&input, &pat)?,
                StrOp::Contains => comparison::contains(&input, &pat)?,
            };
            if lit {
                Val::Lit(Scalar::from_array(&out, 0)?)
            } else {
                Val::Array(Arc::new(out))
            }
        }
    })
}

fn binary(op: BinaryOp, l: &Val, r: &Val, n: usize) -> Result<Val> {
    let plan = binary_plan(op, l.dtype()?, r.dtype()?)?;
    let both_lit = matches!((l, r), (Val::Lit(_), Val::Lit(_)));
    if op.is_logical() {
        let as_bool = |v: &Val| -> Result<BooleanArray> {
            Ok(match v {
                Val::Array(a) => a.as_boolean().clone(),
                Val::Lit(s) => broadcast(s, DType::Bool, if both_lit { 1 } else { n })?.as_boolean().clone(),
            })
        };
        let (a, b) = (as_bool(l)?, as_bool(r)?);
        let out = if op == BinaryOp::And { boolean::and_kleene(&a, &b)? } else { boolean::or_kleene(&a, &b)? };
        return Ok(if both_lit { Val::Lit(Scalar::from_array(&out, 0)?) } else { Val::Array(Arc::new(out)) });
    }
    let a = operand(l, plan.left, array_type(r))?;
    let b = operand(r, plan.right, array_type(l))?;
    let (da, db) = (a.datum(), b.datum());
    let out: ArrayRef = if op.is_comparison() {
        let f = match op {
            BinaryOp::Eq => cmp::eq,
            BinaryOp::NotEq => cmp::neq,
            BinaryOp::Lt => cmp::lt,
            BinaryOp::LtEq => cmp::lt_eq,
            BinaryOp::Gt => cmp::gt,
            _ => cmp::gt_eq,
        };
        Arc::new(f(da.as_ref(), db.as_ref())?)
    } else {
        let decimal = plan.output.is_decimal();
        let f = match (op, decimal) {
            (BinaryOp::Add, true) => numeric::add,
            (BinaryOp::Add, false) => numeric::add_wrapping,
            (BinaryOp::Sub, true) => numeric::sub,
            (BinaryOp::Sub, false) => numeric::sub_wrapping,
            (BinaryOp::Mul, true) => numeric::mul,
            (BinaryOp::Mul, false) => numeric::mul_wrapping,
            _ => numeric::div,
        };
        let out = f(da.as_ref(), db.as_ref())?;
        if out.data_type() != &plan.output.to_arrow() {
            return Err(Error::Internal(format!(
                "{} {} {}: arrow produced {}, the type rules say {}",
                plan.left,
                op.symbol(),
                plan.right,
                out.data_type(),
                plan.output
            )));
        }
        out
    };
    Ok(if both_lit { Val::Lit(Scalar::from_array(&out, 0)?) } else { Val::Array(out) })
}
