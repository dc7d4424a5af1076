//! Expression evaluation on the CPU engine with arrow-rs compute kernels.
//!
//! * Literals are evaluated to one-element arrays and handed to the kernels as arrow
//!   [`Scalar`](arrow::array::Scalar) datums: a literal is never broadcast to a column, except when
//!   the whole expression is a literal (then the result is `n` copies of it).
//! * Operands are cast to the types of the shared [`binary_plan`] before a kernel runs, and only
//!   when their type differs. Strings keep their physical layout (Utf8, LargeUtf8 or Utf8View: the
//!   literal side is built in the column's layout).
//! * Frames of more than [`CHUNK_ROWS`] rows are evaluated in row chunks of that size, in parallel
//!   with rayon. Chunk boundaries depend only on the row count, so every result, float arithmetic
//!   included, is the same whatever the number of threads.
//!
//! | operation | kernel | notes |
//! |---|---|---|
//! | `+ - *` ints, floats | `add_wrapping`, `sub_wrapping`, `mul_wrapping` | integers wrap |
//! | `/` ints, floats | `div` | ints: division by zero and `MIN / -1` are errors; floats: IEEE |
//! | `+ - * /` decimals | `add`, `sub`, `mul`, `div` | exact, checked: overflow is an error |
//! | comparisons | `eq`, `neq`, `lt`, `lt_eq`, `gt`, `gt_eq` | floats in IEEE total order (arrow-rs) |
//! | `AND`, `OR`, `NOT` | `and_kleene`, `or_kleene`, `not` | SQL three-valued logic |
//! | `x op a AND x op b` (a range of one int / date / decimal column) | hand-written, `range` | one pass, one bitmap |
//! | `IS NULL`, `IS NOT NULL` | `is_null`, `is_not_null` | never null |
//! | string predicates | `starts_with`, `ends_with`, `contains`, `like` | a null string gives null |
//! | `when/then/otherwise` | `zip` | a null condition picks `otherwise` |
//! | date parts | `date_part` | weekday: ISO, Monday 1 |
//! | `str_slice` | `substring_by_char` | characters, negative offsets from the end |
//! | `str_len` | hand-written (arrow-rs counts bytes) | characters, `UInt32` |
use super::types::{binary_plan, dtype_of};
use super::{BinaryOp, DatePart, Expr, StrOp};
use arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BooleanArray, Datum, LargeStringArray, NullArray, StringArray,
    StringViewArray, UInt32Array,
};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::compute::kernels::substring::substring_by_char;
use arrow::compute::kernels::zip::zip;
use arrow::compute::kernels::{boolean, cmp, comparison, numeric};
use arrow::compute::CastOptions;
use arrow::datatypes::DataType;
use arrow::datatypes::Int32Type;
use arrow::error::ArrowError;
use ember_core::{DType, DataFrame, Error, Result, Scalar};
use rayon::prelude::*;
use std::sync::Arc;

/// Rows per chunk of parallel evaluation (frames of at most this many rows are evaluated whole).
pub const CHUNK_ROWS: usize = 1 << 17;

/// Evaluates `expr` over `df` (a CPU frame) to an array of `df.num_rows()` rows.
///
/// Strings come back in the layout of the column they came from; other results have the Arrow
/// type of their [`DType`]. A literal-only expression is broadcast to `df.num_rows()` rows (an
/// untyped null literal to a null boolean column).
///
/// # Example
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
    // A column is itself: not sliced into chunks and concatenated back (a copy of the column).
    if let Expr::Column(name) = expr.unaliased() {
        return Ok(df.column(name)?.as_host()?.clone());
    }
    let mut parts = evaluate_chunks(df, expr)?;
    if parts.len() == 1 {
        if let Some(whole) = parts.pop() {
            return Ok(whole);
        }
    }
    let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
    Ok(arrow::compute::concat(&refs)?)
}

/// `expr` over `df` as consecutive arrays that together cover all rows in order: one array for
/// frames of at most [`CHUNK_ROWS`] rows and for literal-only expressions, else one per chunk of
/// [`CHUNK_ROWS`] rows (the last one shorter), evaluated in parallel. Reductions consume the
/// chunks directly, without concatenating them.
///
/// An arithmetic error (overflow, division by zero) is the one of the first failing row, and within
/// that row of the first failing node in evaluation order (the GPU's rule too): the failing row is
/// found by bisecting prefixes of the frame, only once something has failed.
pub(crate) fn evaluate_chunks(df: &DataFrame, expr: &Expr) -> Result<Vec<ArrayRef>> {
    match evaluate_chunks_any_error(df, expr) {
        Err(e @ (Error::Overflow(_) | Error::DivideByZero(_))) => Err(first_failure(df, expr).unwrap_or(e)),
        other => other,
    }
}

/// The error of the first failing row (see [`evaluate_chunks`]), with the row named.
fn first_failure(df: &DataFrame, expr: &Expr) -> Option<Error> {
    let fails = |k: usize| df.slice(0, k).map_or(true, |p| evaluate_chunks_any_error(&p, expr).is_err());
    // Invariant: the first `lo` rows evaluate, the first `hi` rows fail.
    let (mut lo, mut hi) = (0, df.num_rows());
    if hi == 0 || !fails(hi) {
        return None;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fails(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let row = hi - 1;
    match evaluate_chunks_any_error(&df.slice(row, 1).ok()?, expr) {
        Err(Error::Overflow(m)) => Some(Error::Overflow(format!("{m} (first failing row {row})"))),
        Err(Error::DivideByZero(m)) => Some(Error::DivideByZero(format!("{m} (first failing row {row})"))),
        _ => None,
    }
}

/// [`evaluate_chunks`] reporting whichever error a chunk met first.
fn evaluate_chunks_any_error(df: &DataFrame, expr: &Expr) -> Result<Vec<ArrayRef>> {
    let out = dtype_of(expr, df.fields())?.unwrap_or(DType::Bool);
    let n = df.num_rows();
    if n == 0 && out != DType::Utf8 {
        // No rows: nothing is evaluated, so nothing can fail (SQL: `SELECT 1 / 0 FROM empty`).
        return Ok(vec![arrow::array::new_empty_array(&out.to_arrow())]);
    }
    if !expr.references_columns() {
        let one = eval(df, expr, None)?;
        return Ok(vec![one.into_rows(out, n)?]);
    }
    if n <= CHUNK_ROWS {
        return Ok(vec![eval(df, expr, None)?.into_rows(out, n)?]);
    }
    (0..n.div_ceil(CHUNK_ROWS))
        .into_par_iter()
        .map(|c| {
            let offset = c * CHUNK_ROWS;
            let len = CHUNK_ROWS.min(n - offset);
            eval(df, expr, Some((offset, len)))?.into_rows(out, len)
        })
        .collect()
}

/// An intermediate value.
#[derive(Debug)]
enum Val {
    /// One value per row (of the frame or of the chunk being evaluated).
    Array(ArrayRef),
    /// A constant: a one-element array, of type [`DataType::Null`] for an untyped null literal.
    Scalar(ArrayRef),
}

impl Val {
    /// The logical type (`None` for an untyped null).
    fn dtype(&self) -> Result<Option<DType>> {
        let a = match self {
            Val::Array(a) | Val::Scalar(a) => a,
        };
        match a.data_type() {
            DataType::Null => Ok(None),
            t => Ok(Some(DType::from_arrow(t)?)),
        }
    }

    /// The Arrow type of a per-row value, `None` for a constant.
    fn array_type(&self) -> Option<&DataType> {
        match self {
            Val::Array(a) => Some(a.data_type()),
            Val::Scalar(_) => None,
        }
    }

    /// The same value with its array cast to `to`.
    fn cast(self, to: &DataType) -> Result<Val> {
        Ok(match self {
            Val::Array(a) => Val::Array(cast(a, to)?),
            Val::Scalar(a) => Val::Scalar(cast(a, to)?),
        })
    }

    /// As a kernel argument.
    fn datum(&self) -> Box<dyn Datum + '_> {
        match self {
            Val::Array(a) => Box::new(a),
            Val::Scalar(a) => Box::new(arrow::array::Scalar::new(a)),
        }
    }

    /// A kernel's output, per row if either input was.
    fn wrap(out: ArrayRef, per_row: bool) -> Val {
        if per_row {
            Val::Array(out)
        } else {
            Val::Scalar(out)
        }
    }

    /// `rows` rows: the array itself, or the constant repeated (as type `t` if untyped).
    fn into_rows(self, t: DType, rows: usize) -> Result<ArrayRef> {
        match self {
            Val::Array(a) => Ok(a),
            Val::Scalar(one) => broadcast(one, t, rows),
        }
    }
}

/// `n` copies of the one-element array `one` (cast to `t` when `one` is an untyped null).
fn broadcast(one: ArrayRef, t: DType, n: usize) -> Result<ArrayRef> {
    if one.data_type() == &DataType::Null || one.is_null(0) {
        let dt = if one.data_type() == &DataType::Null { t.to_arrow() } else { one.data_type().clone() };
        return Ok(new_null_array(&dt, n));
    }
    if let Some(b) = one.as_boolean_opt() {
        let bits = if b.value(0) { BooleanBuffer::new_set(n) } else { BooleanBuffer::new_unset(n) };
        return Ok(Arc::new(BooleanArray::new(bits, None)));
    }
    let zeros = UInt32Array::from(vec![0u32; n]);
    Ok(arrow::compute::take(one.as_ref(), &zeros, None)?)
}

/// `a` as type `to`; no copy when it already is. A value out of range of a numeric target (a
/// decimal whose precision is capped at 38) is [`Error::Overflow`], as on the GPU, not null.
fn cast(a: ArrayRef, to: &DataType) -> Result<ArrayRef> {
    if a.data_type() == to {
        return Ok(a);
    }
    let opts = CastOptions { safe: false, ..Default::default() };
    arrow::compute::cast_with_options(&a, to, &opts).map_err(|e| match e {
        ArrowError::CastError(m) | ArrowError::InvalidArgumentError(m) if to.is_numeric() => {
            Error::Overflow(format!("cast from {} to {to}: {m}", a.data_type()))
        }
        other => other.into(),
    })
}

/// `column <op> literal` (or `literal <op> column`) with `op` one of `< <= > >=`: the column's
/// name, the comparison as `column <op> literal`, and the literal.
fn bound(e: &Expr) -> Option<(&str, BinaryOp, &Scalar)> {
    let Expr::Binary { op, left, right } = e else { return None };
    let flipped = match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        _ => return None,
    };
    match (&**left, &**right) {
        (Expr::Column(c), Expr::Literal(s)) if !s.is_null() => Some((c, *op, s)),
        (Expr::Literal(s), Expr::Column(c)) if !s.is_null() => Some((c, flipped, s)),
        _ => None,
    }
}

/// `x = 'a' OR x = 'b' OR ...` over one string expression `x` and three or more string literals
/// (what [`Expr::is_in`] builds: Q22's seven country codes, Q12's and Q19's ship modes and
/// containers): `x` evaluated once and one pass testing each row's bytes against the set, where
/// the general path runs a comparison kernel per literal (a `memcmp` call per row) and an `OR`
/// per pair. A null `x` gives null, as the `OR` of its null comparisons does. `None`: not that
/// shape, or `x` is not a string array.
fn string_in_list(df: &DataFrame, expr: &Expr, rows: Option<(usize, usize)>) -> Result<Option<Val>> {
    fn leaves<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
        match e {
            Expr::Binary { op: BinaryOp::Or, left, right } => {
                leaves(left, out);
                leaves(right, out);
            }
            other => out.push(other),
        }
    }
    let mut eqs = Vec::new();
    leaves(expr, &mut eqs);
    if eqs.len() < 3 {
        return Ok(None);
    }
    let (mut subject, mut set): (Option<&Expr>, Vec<&[u8]>) = (None, Vec::with_capacity(eqs.len()));
    for eq in eqs {
        let Expr::Binary { op: BinaryOp::Eq, left, right } = eq else { return Ok(None) };
        let (x, v) = match (&**left, &**right) {
            (Expr::Literal(_), Expr::Literal(_)) => return Ok(None),
            (x, Expr::Literal(Scalar::Utf8(v))) | (Expr::Literal(Scalar::Utf8(v)), x) => (x, v),
            _ => return Ok(None),
        };
        if subject.is_some_and(|s| s != x) {
            return Ok(None);
        }
        subject = Some(x);
        set.push(v.as_bytes());
    }
    let Some(subject) = subject else { return Ok(None) };
    let Val::Array(a) = eval(df, subject, rows)? else { return Ok(None) };
    // Few literals: compared one by one (length first); many: a hash set.
    let hashed: std::collections::HashSet<&[u8]> =
        if set.len() > 16 { set.iter().copied().collect() } else { Default::default() };
    let member = |b: &[u8]| if set.len() > 16 { hashed.contains(b) } else { set.contains(&b) };
    let values = match a.data_type() {
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            BooleanBuffer::collect_bool(s.len(), |i| member(s.value(i).as_bytes()))
        }
        DataType::LargeUtf8 => {
            let s = a.as_string::<i64>();
            BooleanBuffer::collect_bool(s.len(), |i| member(s.value(i).as_bytes()))
        }
        DataType::Utf8View => {
            let s = a.as_string_view();
            BooleanBuffer::collect_bool(s.len(), |i| member(s.value(i).as_bytes()))
        }
        _ => return Ok(None),
    };
    Ok(Some(Val::Array(Arc::new(BooleanArray::new(values, a.logical_nulls())))))
}

/// `x op1 a AND x op2 b` over one integer, date or decimal column `x` with literal bounds
/// (TPC-H's date ranges, `l_shipdate >= d AND l_shipdate < d + 1 month`, over 6M rows): one pass
/// writing one bitmap, where two comparison kernels and their `AND` make three passes and two
/// intermediate bitmaps. The bounds become one inclusive range of the column's native type
/// (empty where they exclude everything); a null `x` gives null, as Kleene's `AND` of two nulls.
/// `None`: not that shape, or a type whose comparison needs a cast of the column (those take
/// the general path).
fn range(df: &DataFrame, left: &Expr, right: &Expr, rows: Option<(usize, usize)>) -> Result<Option<Val>> {
    let (Some((c, op1, a)), Some((c2, op2, b))) = (bound(left), bound(right)) else { return Ok(None) };
    if c != c2 {
        return Ok(None);
    }
    let column = df.column(c)?.as_host()?;
    let t = column.data_type().clone();
    let dtype = DType::from_arrow(&t)?;
    // The literal is cast to the column's type and the column is not cast at all: same type, or
    // decimals of the same scale (raw values then compare as the numbers do).
    let raw = |op: BinaryOp, s: &Scalar| -> Result<Option<i128>> {
        let plan = binary_plan(op, Some(dtype), s.dtype())?;
        let same = |d: DType| match (d, dtype) {
            (DType::Decimal128 { scale: x, .. }, DType::Decimal128 { scale: y, .. }) => x == y,
            _ => d == dtype,
        };
        if !same(plan.left) || !same(plan.right) {
            return Ok(None);
        }
        let lit = arrow::compute::cast(&literal(s)?, &t)?;
        Ok(match &t {
            DataType::Int32 => Some(lit.as_primitive::<Int32Type>().value(0) as i128),
            DataType::Date32 => Some(lit.as_primitive::<arrow::datatypes::Date32Type>().value(0) as i128),
            DataType::Int64 => Some(lit.as_primitive::<arrow::datatypes::Int64Type>().value(0) as i128),
            DataType::Decimal128(..) => Some(lit.as_primitive::<arrow::datatypes::Decimal128Type>().value(0)),
            _ => None,
        })
    };
    let (Some(va), Some(vb)) = (raw(op1, a)?, raw(op2, b)?) else { return Ok(None) };
    // One inclusive range [lo, hi] in i128. `x > i128::MAX` and `x < i128::MIN` saturate to a
    // bound that still excludes every i128 except the extreme itself, which no decimal(38) holds.
    let (mut lo, mut hi) = (i128::MIN, i128::MAX);
    for (op, v) in [(op1, va), (op2, vb)] {
        match op {
            BinaryOp::Gt => lo = lo.max(v.saturating_add(1)),
            BinaryOp::GtEq => lo = lo.max(v),
            BinaryOp::Lt => hi = hi.min(v.saturating_sub(1)),
            _ => hi = hi.min(v),
        }
    }
    let column = match rows {
        Some((offset, len)) => column.slice(offset, len),
        None => column.clone(),
    };
    /// Bit i: `lo <= a[i] <= hi`, the range first clipped to the type's `[min, max]`.
    fn within<T: arrow::datatypes::ArrowPrimitiveType>(
        a: &ArrayRef,
        lo: i128,
        hi: i128,
        min: i128,
        max: i128,
    ) -> BooleanBuffer
    where
        T::Native: TryFrom<i128> + PartialOrd + Copy,
    {
        let values = a.as_primitive::<T>().values();
        let (lo, hi) = (lo.max(min), hi.min(max));
        let (Ok(l), Ok(h)) = (T::Native::try_from(lo), T::Native::try_from(hi)) else {
            return BooleanBuffer::new_unset(values.len());
        };
        if lo > hi {
            return BooleanBuffer::new_unset(values.len());
        }
        // 64 values per word, each bit a branch-free compare (the loop vectorises).
        let word = |c: &[T::Native]| {
            crate::prefetch::ahead_lines(c, 0, c.len());
            c.iter().enumerate().fold(0u64, |w, (j, &v)| w | (u64::from((v >= l) & (v <= h)) << j))
        };
        let chunks = values.chunks_exact(64);
        let tail = chunks.remainder();
        let mut words: Vec<u64> = chunks.map(word).collect();
        if !tail.is_empty() {
            words.push(word(tail));
        }
        BooleanBuffer::new(arrow::buffer::Buffer::from_vec(words), 0, values.len())
    }
    let (i32s, i64s) = ((i32::MIN as i128, i32::MAX as i128), (i64::MIN as i128, i64::MAX as i128));
    let bits = match &t {
        DataType::Int32 => within::<Int32Type>(&column, lo, hi, i32s.0, i32s.1),
        DataType::Date32 => within::<arrow::datatypes::Date32Type>(&column, lo, hi, i32s.0, i32s.1),
        DataType::Int64 => within::<arrow::datatypes::Int64Type>(&column, lo, hi, i64s.0, i64s.1),
        _ => within::<arrow::datatypes::Decimal128Type>(&column, lo, hi, i128::MIN, i128::MAX),
    };
    Ok(Some(Val::Array(Arc::new(BooleanArray::new(bits, column.logical_nulls())))))
}

/// A literal as a one-element array of its own type (`DataType::Null` for an untyped null).
fn literal(s: &Scalar) -> Result<ArrayRef> {
    match s.dtype() {
        None => Ok(Arc::new(NullArray::new(1))),
        Some(t) => s.to_array(&t),
    }
}

/// The physical type strings of logical type utf8 are compared in: a Utf8View operand's if there
/// is one (casting to views copies no string bytes), else the left array's, else Utf8.
fn string_layout(l: &Val, r: &Val) -> DataType {
    let (lt, rt) = (l.array_type(), r.array_type());
    if lt == Some(&DataType::Utf8View) || rt == Some(&DataType::Utf8View) {
        return DataType::Utf8View;
    }
    lt.or(rt).cloned().unwrap_or(DataType::Utf8)
}

/// Evaluates `expr` over rows `offset..offset + len` of `df` (`rows`), or over all rows.
fn eval(df: &DataFrame, expr: &Expr, rows: Option<(usize, usize)>) -> Result<Val> {
    if let Expr::Binary { op: BinaryOp::And, left, right } = expr {
        if let Some(v) = range(df, left, right, rows)? {
            return Ok(v);
        }
    }
    if let Expr::Binary { op: BinaryOp::Or, .. } = expr {
        if let Some(v) = string_in_list(df, expr, rows)? {
            return Ok(v);
        }
    }
    Ok(match expr {
        Expr::Column(name) => {
            let a = df.column(name)?.as_host()?;
            Val::Array(match rows {
                Some((offset, len)) => a.slice(offset, len),
                None => a.clone(),
            })
        }
        Expr::Literal(s) => Val::Scalar(literal(s)?),
        Expr::Alias(e, _) => eval(df, e, rows)?,
        Expr::Binary { op, left, right } => binary(*op, eval(df, left, rows)?, eval(df, right, rows)?)?,
        Expr::Not(e) => {
            let v = eval(df, e, rows)?.cast(&DataType::Boolean)?;
            let per_row = matches!(v, Val::Array(_));
            let (Val::Array(a) | Val::Scalar(a)) = v;
            Val::wrap(Arc::new(boolean::not(as_bool(&a)?)?), per_row)
        }
        Expr::IsNull(e) | Expr::IsNotNull(e) => {
            let v = eval(df, e, rows)?;
            let per_row = matches!(v, Val::Array(_));
            let (Val::Array(a) | Val::Scalar(a)) = v;
            let out = if matches!(expr, Expr::IsNull(_)) {
                arrow::compute::is_null(&a)?
            } else {
                arrow::compute::is_not_null(&a)?
            };
            Val::wrap(Arc::new(out), per_row)
        }
        Expr::Str { op, expr: inner, pattern } => {
            let v = match eval(df, inner, rows)? {
                v @ Val::Array(_) => v,
                s @ Val::Scalar(_) => s.cast(&DataType::Utf8)?,
            };
            let pat = arrow::array::Scalar::new(string_scalar(pattern, &v)?);
            let per_row = matches!(v, Val::Array(_));
            let input = v.datum();
            let out = match op {
                StrOp::StartsWith => comparison::starts_with(input.as_ref(), &pat)?,
                StrOp::EndsWith => comparison::ends_with(input.as_ref(), &pat)?,
                StrOp::Contains => comparison::contains(input.as_ref(), &pat)?,
                StrOp::Like => match (&v, like_by_substrings(&v, pattern)) {
                    (Val::Array(_), Some(out)) => out,
                    _ => comparison::like(input.as_ref(), &pat)?,
                },
            };
            Val::wrap(Arc::new(out), per_row)
        }
        Expr::When { cond, then, otherwise } => {
            when(eval(df, cond, rows)?, eval(df, then, rows)?, eval(df, otherwise, rows)?)?
        }
        Expr::DatePart { part, expr: inner } => {
            let v = eval(df, inner, rows)?.cast(&DataType::Date32)?;
            let per_row = matches!(v, Val::Array(_));
            let (Val::Array(a) | Val::Scalar(a)) = v;
            Val::wrap(date_part(&a, *part)?, per_row)
        }
        Expr::StrSlice { expr: inner, offset, length } => {
            let v = eval(df, inner, rows)?;
            let per_row = matches!(v, Val::Array(_));
            let (Val::Array(a) | Val::Scalar(a)) = v;
            let out: ArrayRef = match a.data_type() {
                DataType::LargeUtf8 => Arc::new(substring_by_char(a.as_string::<i64>(), *offset, *length)?),
                _ => Arc::new(substring_by_char(cast(a, &DataType::Utf8)?.as_string::<i32>(), *offset, *length)?),
            };
            Val::wrap(out, per_row)
        }
        Expr::Cast { expr: inner, to } => {
            let v = eval(df, inner, rows)?;
            super::types::check_cast(v.dtype()?, *to)?;
            v.cast(&to.to_arrow())?
        }
        Expr::Round { expr: inner, decimals } => {
            let v = eval(df, inner, rows)?;
            let per_row = matches!(v, Val::Array(_));
            let (Val::Array(a) | Val::Scalar(a)) = v;
            Val::wrap(round(&a, *decimals)?, per_row)
        }
        Expr::StrLen(inner) => {
            let v = eval(df, inner, rows)?;
            let per_row = matches!(v, Val::Array(_));
            let (Val::Array(a) | Val::Scalar(a)) = v;
            Val::wrap(char_lengths(&a)?, per_row)
        }
    })
}

/// `when(cond).then(t).otherwise(o)`: arrow-rs `zip` under the condition with nulls as false.
fn when(cond: Val, t: Val, o: Val) -> Result<Val> {
    let Some(out) = super::types::when_type(t.dtype()?, o.dtype()?)? else {
        return Ok(Val::Scalar(Arc::new(NullArray::new(1))));
    };
    let target = if out == DType::Utf8 { string_layout(&t, &o) } else { out.to_arrow() };
    let (t, o) = (t.cast(&target)?, o.cast(&target)?);
    let cond = cond.cast(&DataType::Boolean)?;
    let per_row = [&cond, &t, &o].iter().any(|v| matches!(v, Val::Array(_)));
    let (Val::Array(c) | Val::Scalar(c)) = &cond;
    let c = as_bool(c)?;
    let mask = match c.nulls() {
        Some(n) if n.null_count() > 0 => BooleanArray::new(c.values() & n.inner(), None),
        _ => c.clone(),
    };
    let out = match &cond {
        // A constant condition picks one branch (broadcast later if both are constants).
        Val::Scalar(_) => return Ok(if mask.value(0) { t } else { o }),
        Val::Array(_) => zip(&mask, t.datum().as_ref(), o.datum().as_ref())?,
    };
    Ok(Val::wrap(out, per_row))
}

/// Each value rounded half away from zero to `decimals` digits (hand-written: arrow-rs has no
/// round kernel). Floats: `(x * 10^d).round() / 10^d` in their type, as the GPU computes it;
/// decimals exactly, one more digit of precision (an overflow past 38 digits is an error).
fn round(a: &ArrayRef, decimals: u32) -> Result<ArrayRef> {
    use arrow::datatypes::{Decimal128Type, Float32Type, Float64Type};
    Ok(match a.data_type() {
        DataType::Float64 => {
            let p = 10f64.powi(decimals as i32);
            Arc::new(a.as_primitive::<Float64Type>().unary::<_, Float64Type>(|x| (x * p).round() / p))
        }
        DataType::Float32 => {
            let p = 10f64.powi(decimals as i32) as f32;
            Arc::new(a.as_primitive::<Float32Type>().unary::<_, Float32Type>(|x| (x * p).round() / p))
        }
        DataType::Decimal128(precision, scale) => {
            let out_precision = (*precision + 1).min(38);
            let digits = (*scale as i64 - decimals as i64).max(0) as u32;
            let f = 10i128.checked_pow(digits).unwrap_or(i128::MAX);
            let lim = 10i128.checked_pow(out_precision as u32).unwrap_or(i128::MAX);
            let rounded = a.as_primitive::<Decimal128Type>().try_unary::<_, Decimal128Type, _>(|x| {
                let (q, r) = (x / f, x % f);
                let q = if r.unsigned_abs() * 2 >= f as u128 { q + x.signum() } else { q };
                q.checked_mul(f).filter(|y| y.unsigned_abs() < lim as u128).ok_or_else(|| {
                    ArrowError::ComputeError(format!("round: the result has more than {out_precision} digits"))
                })
            });
            let rounded = rounded.map_err(|e| Error::Overflow(e.to_string()))?;
            Arc::new(rounded.with_precision_and_scale(out_precision, *scale)?)
        }
        DataType::Null => a.clone(),
        _ => a.clone(), // integers are whole already
    })
}

/// A part of each date (arrow-rs `date_part`; the ISO weekday is its Monday-0 weekday plus one).
fn date_part(a: &ArrayRef, part: DatePart) -> Result<ArrayRef> {
    use arrow::compute::kernels::temporal::{date_part as arrow_part, DatePart as P};
    Ok(match part {
        DatePart::Year => arrow_part(a.as_ref(), P::Year)?,
        DatePart::Month => arrow_part(a.as_ref(), P::Month)?,
        DatePart::Day => arrow_part(a.as_ref(), P::Day)?,
        DatePart::Weekday => {
            let d = arrow_part(a.as_ref(), P::DayOfWeekMonday0)?;
            Arc::new(d.as_primitive::<Int32Type>().unary::<_, Int32Type>(|x| x + 1))
        }
    })
}

/// The number of characters of each string, `UInt32`. Hand-written: arrow-rs' `length` counts
/// bytes and it has no character-length kernel.
fn char_lengths(a: &ArrayRef) -> Result<ArrayRef> {
    fn count<'a>(it: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
        Arc::new(it.map(|s| s.map(|s| s.chars().count() as u32)).collect::<UInt32Array>())
    }
    Ok(match a.data_type() {
        DataType::Utf8 => count(a.as_string::<i32>().iter()),
        DataType::LargeUtf8 => count(a.as_string::<i64>().iter()),
        DataType::Utf8View => count(a.as_string_view().iter()),
        DataType::Null => Arc::new(UInt32Array::new_null(a.len())),
        other => return Err(Error::Internal(format!("str_len of {other}"))),
    })
}

/// A one-element array holding `pattern` in the string layout of `v`.
fn string_scalar(pattern: &str, v: &Val) -> Result<ArrayRef> {
    let (Val::Array(a) | Val::Scalar(a)) = v;
    Ok(match a.data_type() {
        DataType::Utf8 => Arc::new(StringArray::from(vec![pattern])),
        DataType::LargeUtf8 => Arc::new(LargeStringArray::from(vec![pattern])),
        DataType::Utf8View => Arc::new(StringViewArray::from(vec![pattern])),
        other => return Err(Error::Internal(format!("string predicate on {other}"))),
    })
}

/// `a` as a boolean array (the type rules guarantee it).
fn as_bool(a: &ArrayRef) -> Result<&BooleanArray> {
    a.as_boolean_opt().ok_or_else(|| Error::Internal(format!("boolean expected, got {}", a.data_type())))
}

fn binary(op: BinaryOp, l: Val, r: Val) -> Result<Val> {
    let plan = binary_plan(op, l.dtype()?, r.dtype()?)?;
    if op.is_logical() {
        return logical(op, l.cast(&DataType::Boolean)?, r.cast(&DataType::Boolean)?);
    }
    let per_row = matches!(l, Val::Array(_)) || matches!(r, Val::Array(_));
    let (lt, rt) = if plan.left == DType::Utf8 {
        let layout = string_layout(&l, &r);
        (layout.clone(), layout)
    } else {
        (plan.left.to_arrow(), plan.right.to_arrow())
    };
    let (l, r) = (l.cast(&lt)?, r.cast(&rt)?);
    let (a, b) = (l.datum(), r.datum());
    let (a, b) = (a.as_ref(), b.as_ref());
    if op.is_comparison() {
        let out = match op {
            BinaryOp::Eq => cmp::eq(a, b)?,
            BinaryOp::NotEq => cmp::neq(a, b)?,
            BinaryOp::Lt => cmp::lt(a, b)?,
            BinaryOp::LtEq => cmp::lt_eq(a, b)?,
            BinaryOp::Gt => cmp::gt(a, b)?,
            _ => cmp::gt_eq(a, b)?,
        };
        return Ok(Val::wrap(Arc::new(out), per_row));
    }
    if let Some(out) = decimal_exact(op, a, b, &plan.output) {
        return Ok(Val::wrap(out, per_row));
    }
    let out = match (op, plan.output.is_decimal()) {
        (BinaryOp::Add, false) => numeric::add_wrapping(a, b)?,
        (BinaryOp::Sub, false) => numeric::sub_wrapping(a, b)?,
        (BinaryOp::Mul, false) => numeric::mul_wrapping(a, b)?,
        (BinaryOp::Add, true) => numeric::add(a, b)?,
        (BinaryOp::Sub, true) => numeric::sub(a, b)?,
        (BinaryOp::Mul, true) => numeric::mul(a, b)?,
        _ => numeric::div(a, b)?,
    };
    // date ± days: computed on the day numbers, read back as dates (same bits)
    let out = if plan.output == DType::Date32 { arrow::compute::cast(&out, &DataType::Date32)? } else { out };
    if let DType::Decimal128 { precision: 38, .. } = plan.output {
        // Results capped at 38 digits can exceed them (arrow-rs checks only the i128 range).
        out.as_primitive::<arrow::datatypes::Decimal128Type>().validate_decimal_precision(38).map_err(|_| {
            Error::Overflow(format!("{} {} {}: the result has more than 38 digits", plan.left, op.symbol(), plan.right))
        })?;
    }
    if out.data_type() != &plan.output.to_arrow() {
        return Err(Error::Internal(format!(
            "{} {} {}: arrow-rs produced {}, the type rules say {}",
            plan.left,
            op.symbol(),
            plan.right,
            out.data_type(),
            plan.output
        )));
    }
    Ok(Val::wrap(out, per_row))
}

/// Decimal `+`, `-` and `*` without arrow-rs' two passes: where the operand precisions prove
/// that no result leaves the output type, without any check; a product whose precision is capped
/// at 38 with one check per row (operands that fit 64 bits multiply exactly in 128, then the
/// result's digits are compared with 38). `None` where a value fails the check (the checked
/// arrow-rs kernels then run and name the error), for two constants, and for other operations.
/// Hand-written because arrow-rs checks every value with checked `i128` arithmetic and, for
/// capped results, validates digits in a second pass: Q1's `l_extendedprice * (1 - l_discount)
/// * (1 + l_tax)` is 15 × 16 → 32 digits (nothing can overflow), then 32 × 16 → 38 (capped).
fn decimal_exact(op: BinaryOp, a: &dyn Datum, b: &dyn Datum, out: &DType) -> Option<ArrayRef> {
    use arrow::array::Decimal128Array;
    use arrow::datatypes::Decimal128Type;
    let DType::Decimal128 { precision, scale } = *out else { return None };
    let ((x, x_scalar), (y, y_scalar)) = (a.get(), b.get());
    let (&DataType::Decimal128(p1, s1), &DataType::Decimal128(p2, s2)) = (x.data_type(), y.data_type()) else {
        return None;
    };
    let (p1, s1, p2, s2) = (p1 as i32, s1 as i32, p2 as i32, s2 as i32);
    // The digits of an exact result (before any cap at 38), and the scale it has.
    let (digits, exact_scale) = match op {
        BinaryOp::Mul => (p1 + p2, s1 + s2),
        BinaryOp::Add | BinaryOp::Sub => ((p1 - s1).max(p2 - s2) + s1.max(s2) + 1, s1.max(s2)),
        _ => return None,
    };
    let proven = digits <= precision as i32;
    if (!proven && op != BinaryOp::Mul) || exact_scale != scale as i32 || (x_scalar && y_scalar) {
        return None;
    }
    let (x, y) = (x.as_primitive::<Decimal128Type>(), y.as_primitive::<Decimal128Type>());
    if (x_scalar && x.is_null(0)) || (y_scalar && y.is_null(0)) {
        return None;
    }
    // Both sides at the output's scale (a sum), then one operation per row. Wrapping where
    // proven: a null slot may hold anything, and a valid one cannot overflow.
    let (fx, fy) = match op {
        BinaryOp::Mul => (1i128, 1i128),
        _ => (10i128.pow((scale as i32 - s1) as u32), 10i128.pow((scale as i32 - s2) as u32)),
    };
    let up = |a: i128, f: i128| if f == 1 { a } else { a.wrapping_mul(f) };
    let limit = 10u128.pow(u32::from(precision));
    let fits = |u: i128| u == u as i64 as i128;
    // Operands of at most 18 digits fit 64 bits: one widening multiply.
    let narrow = p1 <= 18 && p2 <= 18;
    let (xv, yv) = (x.values(), y.values());
    // A constant side scaled once, not once per row (`1 - l_discount`).
    let (xv, yv) = (scaled(xv, x_scalar, fx), scaled(yv, y_scalar, fy));
    let (fx, fy) = (if x_scalar { 1 } else { fx }, if y_scalar { 1 } else { fy });
    let values: Vec<i128> = match op {
        BinaryOp::Add | BinaryOp::Sub if fx == 1 && fy == 1 => {
            let sub = op == BinaryOp::Sub;
            rows(&xv, &yv, x_scalar, y_scalar, |u, v| if sub { u.wrapping_sub(v) } else { u.wrapping_add(v) })
        }
        BinaryOp::Add => rows(&xv, &yv, x_scalar, y_scalar, |u, v| up(u, fx).wrapping_add(up(v, fy))),
        BinaryOp::Sub => rows(&xv, &yv, x_scalar, y_scalar, |u, v| up(u, fx).wrapping_sub(up(v, fy))),
        _ if proven && narrow => {
            rows(&xv, &yv, x_scalar, y_scalar, |u, v| (u as i64 as i128).wrapping_mul(v as i64 as i128))
        }
        _ if proven => rows(&xv, &yv, x_scalar, y_scalar, i128::wrapping_mul),
        // A product capped at 38 digits of operands that fit 64 bits is within them (|u v| <
        // 2^126 < 10^38): one test of the whole batch (the operands' high words) instead of
        // a test per row (Q1's `* (1 + l_tax)`); any other operand takes the checked loop.
        _ if precision == 38 && all_fit_64(&xv) && all_fit_64(&yv) => {
            rows(&xv, &yv, x_scalar, y_scalar, |u, v| (u as i64 as i128).wrapping_mul(v as i64 as i128))
        }
        _ => {
            let checked = |u: i128, v: i128| -> Option<i128> {
                let r = if fits(u) && fits(v) { (u as i64 as i128) * (v as i64 as i128) } else { u.checked_mul(v)? };
                (r.unsigned_abs() < limit).then_some(r)
            };
            let n = if x_scalar { yv.len() } else { xv.len() };
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                out.push(checked(xv[if x_scalar { 0 } else { i }], yv[if y_scalar { 0 } else { i }])?);
            }
            out
        }
    };
    let nulls = match (x_scalar, y_scalar) {
        (true, _) => y.nulls().cloned(),
        (_, true) => x.nulls().cloned(),
        _ => NullBuffer::union(x.nulls(), y.nulls()),
    };
    let out = Decimal128Array::new(values.into(), nulls).with_precision_and_scale(precision, scale).ok()?;
    Some(Arc::new(out))
}

/// SQL `LIKE` for patterns whose only special character is `%` (TPC-H's `'%special%requests%'`,
/// `'%BRASS'`, `'forest%'`): the pieces between the `%`s found in order with `memchr`'s substring
/// search, the first anchored at the start and the last at the end unless the pattern starts /
/// ends with `%`. Hand-written because arrow-rs runs a regular expression for any pattern that
/// is not a plain prefix, suffix or `%substring%` (Q13's `NOT LIKE` over 1.5M comments was most
/// of its join's time). `None` for other patterns (`_`, escapes) or inputs: arrow-rs' `like` runs.
fn like_by_substrings(v: &Val, pattern: &str) -> Option<BooleanArray> {
    use memchr::memmem::Finder;
    let Val::Array(a) = v else { return None };
    if pattern.contains(['_', '\\']) || !pattern.contains('%') {
        return None;
    }
    let pieces: Vec<&str> = pattern.split('%').collect();
    let (first, last) = (pieces[0].as_bytes(), pieces[pieces.len() - 1].as_bytes());
    let middle: Vec<Finder> = pieces[1..pieces.len() - 1].iter().filter(|p| !p.is_empty()).map(Finder::new).collect();
    let matches = |s: &[u8]| -> bool {
        if s.len() < first.len() + last.len() || !s.starts_with(first) || !s.ends_with(last) {
            return false;
        }
        let (mut at, end) = (first.len(), s.len() - last.len());
        for f in &middle {
            match f.find(&s[at..end]) {
                Some(k) => at += k + f.needle().len(),
                None => return false,
            }
        }
        true
    };
    fn each<'s>(s: impl arrow::array::ArrayAccessor<Item = &'s str>, m: impl Fn(&[u8]) -> bool) -> BooleanBuffer {
        BooleanBuffer::collect_bool(s.len(), |i| m(s.value(i).as_bytes()))
    }
    let values = match a.data_type() {
        DataType::Utf8 => each(a.as_string::<i32>(), matches),
        DataType::LargeUtf8 => each(a.as_string::<i64>(), matches),
        DataType::Utf8View => each(a.as_string_view(), matches),
        _ => return None,
    };
    Some(BooleanArray::new(values, a.logical_nulls()))
}

/// `values` (one constant when `scalar`) multiplied by `f` once when constant, else as they are.
fn scaled(values: &[i128], scalar: bool, f: i128) -> std::borrow::Cow<'_, [i128]> {
    match scalar && f != 1 {
        true => std::borrow::Cow::Owned(vec![values[0].wrapping_mul(f)]),
        false => std::borrow::Cow::Borrowed(values),
    }
}

/// Whether every value fits 64 bits (nulls' slots included), without a branch per value.
fn all_fit_64(values: &[i128]) -> bool {
    // Nonzero where a high word is not the low word's sign.
    values.iter().fold(0u64, |acc, &v| acc | (((v >> 64) as u64) ^ ((v as i64 >> 63) as u64))) == 0
}

/// `f` of each row's operands, a constant side (`*_scalar`: one value) repeated.
fn rows(x: &[i128], y: &[i128], x_scalar: bool, y_scalar: bool, f: impl Fn(i128, i128) -> i128) -> Vec<i128> {
    use crate::prefetch::ahead;
    match (x_scalar, y_scalar) {
        (true, _) => y.iter().enumerate().map(|(i, &v)| (ahead(y, i), f(x[0], v)).1).collect(),
        (_, true) => x.iter().enumerate().map(|(i, &u)| (ahead(x, i), f(u, y[0])).1).collect(),
        _ => x.iter().zip(y).enumerate().map(|(i, (&u, &v))| (ahead(x, i), ahead(y, i), f(u, v)).2).collect(),
    }
}

/// Kleene `AND` / `OR`. A constant operand is applied to the other one's bitmaps directly.
fn logical(op: BinaryOp, l: Val, r: Val) -> Result<Val> {
    let and = op == BinaryOp::And;
    let kleene = |a: &ArrayRef, b: &ArrayRef| -> Result<ArrayRef> {
        let (a, b) = (as_bool(a)?, as_bool(b)?);
        Ok(Arc::new(if and { boolean::and_kleene(a, b)? } else { boolean::or_kleene(a, b)? }))
    };
    Ok(match (l, r) {
        (Val::Array(a), Val::Array(b)) => Val::Array(kleene(&a, &b)?),
        (Val::Scalar(a), Val::Scalar(b)) => Val::Scalar(kleene(&a, &b)?),
        (Val::Array(a), Val::Scalar(s)) | (Val::Scalar(s), Val::Array(a)) => {
            let s = as_bool(&s)?;
            let constant = s.is_valid(0).then(|| s.value(0));
            Val::Array(with_constant(and, &a, constant)?)
        }
    })
}

/// `a AND c` (`and`) or `a OR c` for a constant `c` (`None` = null), without broadcasting `c`.
fn with_constant(and: bool, a: &ArrayRef, c: Option<bool>) -> Result<ArrayRef> {
    let arr = as_bool(a)?;
    let n = arr.len();
    Ok(match (and, c) {
        // x AND true = x, x OR false = x
        (true, Some(true)) | (false, Some(false)) => a.clone(),
        // x AND false = false, x OR true = true, nulls included
        (true, Some(false)) => Arc::new(BooleanArray::new(BooleanBuffer::new_unset(n), None)),
        (false, Some(true)) => Arc::new(BooleanArray::new(BooleanBuffer::new_set(n), None)),
        // x AND null: false where x is false, else null; x OR null: true where x is true, else null
        (true, None) => {
            let mut decided = !arr.values();
            if let Some(nulls) = arr.nulls() {
                decided = &decided & nulls.inner();
            }
            Arc::new(BooleanArray::new(BooleanBuffer::new_unset(n), Some(NullBuffer::new(decided))))
        }
        (false, None) => {
            let mut decided = arr.values().clone();
            if let Some(nulls) = arr.nulls() {
                decided = &decided & nulls.inner();
            }
            Arc::new(BooleanArray::new(BooleanBuffer::new_set(n), Some(NullBuffer::new(decided))))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, dec, lit};
    use arrow::array::*;
    use arrow::datatypes::{Decimal128Type, Float64Type, Int32Type, Int64Type};
    use ember_core::{Device, Scalar};

    fn frame(cols: Vec<(&str, ArrayRef)>) -> DataFrame {
        let named = cols.into_iter().map(|(n, a)| (n.to_string(), ember_core::Column::Host(a))).collect();
        DataFrame::from_columns(named, Device::Cpu).unwrap()
    }

    fn bools(v: &[Option<bool>]) -> BooleanArray {
        BooleanArray::from(v.to_vec())
    }

    fn eval_bools(df: &DataFrame, e: Expr) -> BooleanArray {
        evaluate(df, &e).unwrap().as_boolean().clone()
    }

    fn dec_array(v: Vec<Option<i128>>, p: u8, s: i8) -> ArrayRef {
        Arc::new(Decimal128Array::from(v).with_precision_and_scale(p, s).unwrap())
    }

    const T: Option<bool> = Some(true);
    const F: Option<bool> = Some(false);
    const N: Option<bool> = None;

    #[test]
    fn decimal_times_decimal_is_exact_with_scale_s1_plus_s2() {
        let df = frame(vec![
            ("p", dec_array(vec![Some(125), Some(-1999), None, Some(99_999_999_999_999)], 15, 2)),
            ("q", dec_array(vec![Some(5), Some(3), Some(1), Some(99_999_999_999_999)], 15, 2)),
        ]);
        let out = evaluate(&df, &(col("p") * col("q"))).unwrap();
        assert_eq!(out.data_type(), &DataType::Decimal128(31, 4));
        let got: Vec<_> = out.as_primitive::<Decimal128Type>().iter().collect();
        let big = 99_999_999_999_999i128 * 99_999_999_999_999;
        assert_eq!(got, vec![Some(625), Some(-5997), None, Some(big)]);
    }

    #[test]
    fn int_plus_decimal_treats_the_int_as_decimal_digits_0() {
        let df = frame(vec![
            ("i", Arc::new(Int32Array::from(vec![Some(3), None, Some(-2)])) as ArrayRef),
            ("d", dec_array(vec![Some(125), Some(1), Some(5)], 15, 2)),
        ]);
        // i32 is decimal(10, 0); + decimal(15, 2): scale 2, precision 2 + max(10, 13) + 1 = 16
        let out = evaluate(&df, &(col("i") + col("d"))).unwrap();
        assert_eq!(out.data_type(), &DataType::Decimal128(16, 2));
        assert_eq!(out.as_primitive::<Decimal128Type>().iter().collect::<Vec<_>>(), vec![Some(425), None, Some(-195)]);
        // a literal on the left, and an int64 literal (decimal(19, 0))
        let out = evaluate(&df, &(lit(2i64) * col("d"))).unwrap();
        assert_eq!(out.data_type(), &DataType::Decimal128(35, 2));
        assert_eq!(out.as_primitive::<Decimal128Type>().values().to_vec(), vec![250, 2, 10]);
        // comparisons with an int literal: 1.25 > 1, 0.01 > 1, 0.05 > 1
        assert_eq!(eval_bools(&df, col("d").gt(lit(1))), bools(&[T, F, F]));
        assert_eq!(eval_bools(&df, col("d").lt_eq(dec("0.05").unwrap())), bools(&[F, T, T]));
    }

    #[test]
    fn decimal_division_truncates_at_scale_s1_plus_4_and_zero_is_an_error() {
        let df = frame(vec![
            ("p", dec_array(vec![Some(125), Some(-1999)], 15, 2)),
            ("q", dec_array(vec![Some(5), Some(3)], 15, 2)),
        ]);
        let out = evaluate(&df, &(col("p") / col("q"))).unwrap();
        assert_eq!(out.data_type(), &DataType::Decimal128(21, 6));
        assert_eq!(out.as_primitive::<Decimal128Type>().values().to_vec(), vec![25_000_000, -666_333_333]);
        let err = evaluate(&df, &(col("p") / dec("0.00").unwrap())).unwrap_err();
        assert!(matches!(err, Error::DivideByZero(_)), "{err}");
    }

    #[test]
    fn unchecked_decimal_arithmetic_equals_arrows_checked_kernels() {
        // Random values of up to `d` digits at each operand's precision, nulls, constants on
        // either side: sums and products proven safe (15 × 16 digits), products capped at 38
        // (32 × 16) whose values fit (within 64 bits or not), and ones whose values overflow,
        // which must be declined.
        let mut next = crate::test_rng(0x2545_F491_4F6C_DD1D);
        let cases = [
            ((15u8, 2i8, 15u32), (16u8, 2i8, 16u32)),
            ((32, 4, 20), (16, 2, 16)),
            // Capped at 38, every operand within 64 bits: the batch-tested product.
            ((32, 4, 18), (16, 2, 16)),
            ((32, 4, 32), (16, 2, 16)),
            ((10, 0, 10), (15, 2, 15)),
            ((38, 10, 38), (12, 3, 12)),
        ];
        for ((p1, s1, d1), (p2, s2, d2)) in cases {
            let mut column = |p: u8, s: i8, d: u32| {
                let v = (0..300).map(|_| {
                    let r = ((u128::from(next()) << 64 | u128::from(next())) % 10u128.pow(d)) as i128;
                    (!next().is_multiple_of(7)).then_some(if next().is_multiple_of(2) { -r } else { r })
                });
                dec_array(v.collect(), p, s)
            };
            let (x, y) = (column(p1, s1, d1), column(p2, s2, d2));
            // Constants: a valid value of each side (a null constant is left to arrow-rs).
            let valid = |a: &ArrayRef| a.slice((0..a.len()).find(|&i| a.is_valid(i)).unwrap(), 1);
            let sides = [
                (Val::Array(x.clone()), Val::Array(y.clone())),
                (Val::Scalar(valid(&x)), Val::Array(y.clone())),
                (Val::Array(x.clone()), Val::Scalar(valid(&y))),
            ];
            for (xv, yv) in sides {
                for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul] {
                    let plan = binary_plan(op, xv.dtype().unwrap(), yv.dtype().unwrap()).unwrap();
                    let (a, b) = (xv.datum(), yv.datum());
                    let checked = match op {
                        BinaryOp::Add => numeric::add(a.as_ref(), b.as_ref()),
                        BinaryOp::Sub => numeric::sub(a.as_ref(), b.as_ref()),
                        _ => numeric::mul(a.as_ref(), b.as_ref()),
                    };
                    // What the checked path answers: an error past 38 digits too.
                    let limit = 10u128.pow(38);
                    let checked = checked.ok().filter(|w| {
                        w.as_primitive::<Decimal128Type>().iter().flatten().all(|v| v.unsigned_abs() < limit)
                    });
                    let fast = decimal_exact(op, a.as_ref(), b.as_ref(), &plan.output);
                    let what = format!("({p1},{s1}) {} ({p2},{s2}), {d1} and {d2} digits", op.symbol());
                    match (checked, fast) {
                        (Some(want), Some(got)) => assert_eq!(got.as_ref(), want.as_ref(), "{what}"),
                        (None, Some(_)) => panic!("{what}: a result the checked kernels refuse was not declined"),
                        // Declined: only a sum that is not proven (38 + 12 digits) or a product
                        // whose values overflow.
                        (Some(_), None) => assert!(op != BinaryOp::Mul && p1 == 38, "{what}: declined"),
                        (None, None) => assert!(op == BinaryOp::Mul || p1 == 38, "{what}"),
                    }
                }
            }
        }
        // A product past 38 digits that still fits an i128 (1.2 × 10^38) is declined too.
        let (x, y) = (dec_array(vec![Some(12 * 10i128.pow(20))], 32, 4), dec_array(vec![Some(10i128.pow(17))], 16, 2));
        let capped = DType::Decimal128 { precision: 38, scale: 6 };
        assert!(decimal_exact(BinaryOp::Mul, &x, &y, &capped).is_none());
        let y = dec_array(vec![Some(10i128.pow(16))], 16, 2);
        assert!(decimal_exact(BinaryOp::Mul, &x, &y, &capped).is_some());
    }

    #[test]
    fn like_by_substrings_equals_arrows_like() {
        let words = [
            "",
            "a",
            "aa",
            "special requests",
            "xx special yy requests zz",
            "requests special",
            "specialrequests",
            "special requests!",
            "forest green",
            "PROMO BRASS",
            "ééspecial requests",
            "specia",
        ];
        let patterns = [
            "%special%requests%",
            "%BRASS",
            "forest%",
            "%",
            "%%",
            "a%a",
            "%a%a%",
            "special%requests",
            "%special%",
            "é%requests%",
            "%é%",
        ];
        let mut values: Vec<Option<&str>> = words.iter().map(|w| Some(*w)).collect();
        values.push(None);
        let arrays: [ArrayRef; 3] = [
            Arc::new(StringArray::from(values.clone())),
            Arc::new(LargeStringArray::from(values.clone())),
            Arc::new(StringViewArray::from(values)),
        ];
        for a in arrays {
            for p in patterns {
                let got = like_by_substrings(&Val::Array(a.clone()), p).expect("a %-only pattern");
                let pat = arrow::array::Scalar::new(string_scalar(p, &Val::Array(a.clone())).unwrap());
                let want = comparison::like(&a, &pat).unwrap();
                assert_eq!(got, want, "{p:?} over {}", a.data_type());
            }
        }
        // `_`, escapes and patterns without `%` are left to arrow-rs.
        let a = Val::Array(Arc::new(StringArray::from(vec!["a_b"])));
        for p in ["a_b", "a\\%", "plain"] {
            assert!(like_by_substrings(&a, p).is_none(), "{p}");
        }
    }

    #[test]
    fn decimal_overflow_is_an_error() {
        let df = frame(vec![("b", dec_array(vec![Some(i128::MAX / 10)], 38, 0))]);
        let err = evaluate(&df, &(col("b") * col("b"))).unwrap_err();
        assert!(matches!(err, Error::Overflow(_)), "{err}");
        let max38 = frame(vec![("m", dec_array(vec![Some(10i128.pow(38) - 1)], 38, 0))]);
        let err = evaluate(&max38, &(col("m") + col("m"))).unwrap_err();
        assert!(matches!(err, Error::Overflow(_)), "{err}");
        let err = evaluate(&max38, &(lit(Scalar::Int64(-1)) - col("m") - col("m"))).unwrap_err();
        assert!(matches!(err, Error::Overflow(_)), "{err}");
        // a cast to a common decimal type whose precision is capped at 38
        let i = frame(vec![("i", Arc::new(Int64Array::from(vec![1, 10i64.pow(18)])) as ArrayRef)]);
        let tiny = Expr::Literal(Scalar::Decimal128 { value: 1, precision: 21, scale: 20 });
        let err = evaluate(&i, &col("i").gt(tiny.clone())).unwrap_err();
        assert!(matches!(err, Error::Overflow(_)), "{err}");
        assert_eq!(eval_bools(&i.slice(0, 1).unwrap(), col("i").gt(tiny)), bools(&[T]));
        // a scale above 38 is a type error before any work
        let s = frame(vec![("s", dec_array(vec![Some(1)], 38, 20))]);
        assert!(matches!(evaluate(&s, &(col("s") * col("s"))), Err(Error::Type { .. })));
    }

    #[test]
    fn utf8view_columns_compare_with_utf8_literals_and_other_layouts() {
        let words = vec![Some("AIR"), None, Some(""), Some("MAIL"), Some("AIR REG")];
        let view: ArrayRef = Arc::new(StringViewArray::from(words.clone()));
        let large: ArrayRef = Arc::new(LargeStringArray::from(words.clone()));
        let plain: ArrayRef = Arc::new(StringArray::from(vec![Some("AIR"), Some("x"), Some(""), None, Some("B")]));
        let df = frame(vec![("v", view), ("l", large), ("s", plain)]);
        for c in ["v", "l"] {
            assert_eq!(eval_bools(&df, col(c).eq(lit("AIR"))), bools(&[T, N, F, F, F]), "{c}");
            assert_eq!(eval_bools(&df, lit("AIR R").gt(col(c))), bools(&[T, N, T, F, F]), "{c}");
            assert_eq!(eval_bools(&df, col(c).neq(lit(""))), bools(&[T, N, F, T, T]), "{c}");
        }
        // column vs column across layouts
        assert_eq!(eval_bools(&df, col("v").eq(col("s"))), bools(&[T, N, T, N, F]));
        assert_eq!(eval_bools(&df, col("l").lt(col("s"))), bools(&[F, N, F, N, T]));
        assert_eq!(eval_bools(&df, col("v").eq(col("l"))), bools(&[T, N, T, T, T]));
        // a string column keeps its layout when evaluated on its own
        assert_eq!(evaluate(&df, &col("v")).unwrap().data_type(), &DataType::Utf8View);
    }

    #[test]
    fn integers_widen_for_comparisons_and_mixed_signs_go_wider() {
        let df = frame(vec![
            ("a", Arc::new(Int32Array::from(vec![Some(-5), Some(i32::MAX), None])) as ArrayRef),
            ("b", Arc::new(Int64Array::from(vec![Some(-5), Some(i32::MAX as i64 + 1), Some(1)])) as ArrayRef),
            ("u", Arc::new(UInt64Array::from(vec![Some(u64::MAX), Some(3), Some(0)])) as ArrayRef),
            ("s", Arc::new(Int8Array::from(vec![Some(-1), Some(3), None])) as ArrayRef),
            ("w", Arc::new(UInt32Array::from(vec![Some(u32::MAX), Some(1), Some(2)])) as ArrayRef),
        ]);
        assert_eq!(eval_bools(&df, col("a").lt(col("b"))), bools(&[F, T, N]));
        assert_eq!(eval_bools(&df, col("a").eq(col("b"))), bools(&[T, F, N]));
        assert_eq!(eval_bools(&df, col("a").lt(lit(i32::MAX as i64 + 1))), bools(&[T, T, N]));
        // u64 with a signed type goes to f64
        let sum = evaluate(&df, &(col("u") + col("s"))).unwrap();
        assert_eq!(sum.data_type(), &DataType::Float64);
        let sum = sum.as_primitive::<Float64Type>();
        assert_eq!((sum.value(0), sum.value(1), sum.is_null(2)), (u64::MAX as f64 - 1.0, 6.0, true));
        assert_eq!(eval_bools(&df, col("u").gt(col("s"))), bools(&[T, F, N]));
        // u32 with i8 goes to i64, with no wrap-around
        let d = evaluate(&df, &(col("s") - col("w"))).unwrap();
        assert_eq!(d.data_type(), &DataType::Int64);
        assert_eq!(d.as_primitive::<Int64Type>().value(0), -1 - u32::MAX as i64);
        assert_eq!(eval_bools(&df, col("w").gt(col("s"))), bools(&[T, F, N]));
    }

    #[test]
    fn integer_arithmetic_wraps_and_division_is_checked() {
        let df = frame(vec![
            ("a", Arc::new(Int32Array::from(vec![Some(i32::MAX), Some(i32::MIN), None])) as ArrayRef),
            ("z", Arc::new(Int32Array::from(vec![Some(1), Some(0), Some(0)])) as ArrayRef),
            ("m", Arc::new(Int32Array::from(vec![Some(1), Some(-1), Some(1)])) as ArrayRef),
            ("x", Arc::new(Float64Array::from(vec![1.0, -1.0, 0.0])) as ArrayRef),
        ]);
        let w = evaluate(&df, &(col("a") + lit(1))).unwrap();
        assert_eq!(
            w.as_primitive::<Int32Type>().iter().collect::<Vec<_>>(),
            vec![Some(i32::MIN), Some(i32::MIN + 1), None]
        );
        let w = evaluate(&df, &(col("a") * lit(2))).unwrap();
        assert_eq!(w.as_primitive::<Int32Type>().value(0), -2);
        let err = evaluate(&df, &(col("a") / col("z"))).unwrap_err();
        assert!(matches!(err, Error::DivideByZero(_)), "{err}");
        let err = evaluate(&df, &(col("a") / col("m"))).unwrap_err();
        assert!(matches!(err, Error::Overflow(_)), "{err}"); // i32::MIN / -1
                                                             // a null row divided by zero is not an error
        let tail = df.slice(2, 1).unwrap();
        assert_eq!(evaluate(&tail, &(col("a") / col("z"))).unwrap().null_count(), 1);
        // floats are IEEE
        let f = evaluate(&df, &(col("x") / lit(0.0))).unwrap();
        let f = f.as_primitive::<Float64Type>();
        assert_eq!((f.value(0), f.value(1)), (f64::INFINITY, f64::NEG_INFINITY));
        assert!(f.value(2).is_nan());
        // i32 / f32 literal goes to f64
        let h = evaluate(&df, &(col("z") / lit(2.0f32))).unwrap();
        assert_eq!(h.data_type(), &DataType::Float64);
    }

    #[test]
    fn kleene_truth_table_with_columns_and_constants() {
        let a = [T, T, T, F, F, F, N, N, N];
        let b = [T, F, N, T, F, N, T, F, N];
        let df = frame(vec![("a", Arc::new(bools(&a)) as ArrayRef), ("b", Arc::new(bools(&b)) as ArrayRef)]);
        assert_eq!(eval_bools(&df, col("a").and(col("b"))), bools(&[T, F, N, F, F, F, N, F, N]));
        assert_eq!(eval_bools(&df, col("a").or(col("b"))), bools(&[T, T, T, T, F, N, T, N, N]));
        assert_eq!(eval_bools(&df, !col("a")), bools(&[F, F, F, T, T, T, N, N, N]));
        // with a constant on either side, applied to x = [T, F, N]
        let x = frame(vec![("x", Arc::new(bools(&[T, F, N])) as ArrayRef)]);
        let cases = [
            (lit(true), [T, F, N], [T, T, T]),
            (lit(false), [F, F, F], [T, F, N]),
            (lit(Scalar::Null), [N, F, N], [T, N, N]),
        ];
        for (c, and, or) in cases {
            assert_eq!(eval_bools(&x, col("x").and(c.clone())), bools(&and), "x AND {c}");
            assert_eq!(eval_bools(&x, c.clone().and(col("x"))), bools(&and), "{c} AND x");
            assert_eq!(eval_bools(&x, col("x").or(c.clone())), bools(&or), "x OR {c}");
            assert_eq!(eval_bools(&x, c.clone().or(col("x"))), bools(&or), "{c} OR x");
        }
        // constants only: broadcast to the frame
        assert_eq!(eval_bools(&df, lit(Scalar::Null).or(lit(true))), bools(&[T; 9]));
        assert_eq!(eval_bools(&df, lit(Scalar::Null).and(lit(true))), bools(&[N; 9]));
        assert_eq!(eval_bools(&df, !lit(Scalar::Null)), bools(&[N; 9]));
        assert_eq!(eval_bools(&df, lit(Scalar::Null).is_null()), bools(&[T; 9]));
    }

    #[test]
    fn is_in_and_is_between_follow_the_documented_null_table() {
        let x: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(5), None, Some(3)]));
        let df = frame(vec![("x", x)]);
        let in12 = col("x").is_in([Scalar::Int64(1), Scalar::Int64(2)]);
        assert_eq!(eval_bools(&df, in12), bools(&[T, F, N, F]));
        let in1n = col("x").is_in([Scalar::Int64(1), Scalar::Null]);
        assert_eq!(eval_bools(&df, in1n), bools(&[T, N, N, N]));
        assert_eq!(eval_bools(&df, col("x").is_in([])), bools(&[F, F, F, F]));
        assert_eq!(eval_bools(&df, col("x").is_between(lit(1i64), lit(3i64))), bools(&[T, F, N, T]));
        // i32 bounds on an i64 column
        assert_eq!(eval_bools(&df, col("x").is_between(lit(2), lit(5))), bools(&[F, T, N, T]));
        assert_eq!(eval_bools(&df, col("x").is_between(lit(1), lit(Scalar::Null))), bools(&[N, N, N, N]));
        assert_eq!(eval_bools(&df, col("x").is_between(lit(4), lit(Scalar::Null))), bools(&[F, N, N, F]));
    }

    #[test]
    fn string_in_lists_match_their_or_of_equalities() {
        // The one-pass set test against the comparison kernels it replaces: few literals and
        // many (hashed), over every string layout, with nulls, an empty string and a null literal
        // (which keeps the general path: its misses are null).
        let words = vec![Some("MAIL"), None, Some(""), Some("AIR"), Some("TRUCK"), Some("air"), Some("AIR REG")];
        let few = ["AIR", "MAIL", "", "SHIP"].map(|w| Scalar::Utf8(w.into()));
        let many: Vec<Scalar> =
            (0..40).map(|i| Scalar::Utf8(format!("w{i}"))).chain([Scalar::Utf8("TRUCK".into())]).collect();
        let or_of_eqs = |e: Expr, vals: &[Scalar]| {
            vals.iter().map(|v| e.clone().eq(lit(v.clone()))).reduce(Expr::or).expect("a value")
        };
        for a in [
            Arc::new(StringViewArray::from(words.clone())) as ArrayRef,
            Arc::new(StringArray::from(words.clone())) as ArrayRef,
            Arc::new(LargeStringArray::from(words.clone())) as ArrayRef,
        ] {
            let df = frame(vec![("s", a)]);
            assert_eq!(eval_bools(&df, col("s").is_in(few.clone())), bools(&[T, N, T, T, F, F, F]));
            assert_eq!(eval_bools(&df, col("s").is_in(many.clone())), bools(&[F, N, F, F, T, F, F]));
            // A left-deep chain (not the balanced tree `is_in` builds) and literals on the left.
            assert_eq!(eval_bools(&df, or_of_eqs(col("s"), &few)), bools(&[T, N, T, T, F, F, F]));
            let flipped = few.iter().map(|v| lit(v.clone()).eq(col("s"))).reduce(Expr::or).expect("a value");
            assert_eq!(eval_bools(&df, flipped), bools(&[T, N, T, T, F, F, F]));
            let with_null = col("s").is_in(few.iter().cloned().chain([Scalar::Null]));
            assert_eq!(eval_bools(&df, with_null), bools(&[T, N, T, T, N, N, N]));
            // Different subjects: not an in-list.
            let mixed = col("s").eq(lit("AIR")).or(col("s").eq(lit("MAIL"))).or(lit("x").eq(lit("x")));
            assert_eq!(eval_bools(&df, mixed), bools(&[T, T, T, T, T, T, T]));
        }
    }

    #[test]
    fn null_tests_and_null_literals() {
        let a: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None]));
        let df = frame(vec![("a", a)]);
        assert_eq!(eval_bools(&df, col("a").is_null()), bools(&[F, T]));
        assert_eq!(eval_bools(&df, col("a").is_not_null()), bools(&[T, F]));
        assert_eq!(eval_bools(&df, col("a").lt(lit(Scalar::Null))), bools(&[N, N]));
        let sum = evaluate(&df, &(col("a") + lit(Scalar::Null))).unwrap();
        assert_eq!((sum.data_type(), sum.null_count()), (&DataType::Int32, 2));
        let both = evaluate(&df, &(lit(Scalar::Null) + lit(Scalar::Null))).unwrap();
        assert_eq!((both.data_type(), both.null_count()), (&DataType::Int32, 2));
        let alone = evaluate(&df, &lit(Scalar::Null)).unwrap();
        assert_eq!((alone.data_type(), alone.null_count()), (&DataType::Boolean, 2));
        assert!(eval_bools(&df, lit(Scalar::Null).starts_with("x")).iter().all(|v| v.is_none()));
    }

    #[test]
    fn string_predicates_with_nulls_and_empty_strings() {
        let words = vec![Some("AIR REG"), Some(""), None, Some("MAIL"), Some("AIR"), Some("é!")];
        for a in [
            Arc::new(StringViewArray::from(words.clone())) as ArrayRef,
            Arc::new(StringArray::from(words.clone())) as ArrayRef,
            Arc::new(LargeStringArray::from(words.clone())) as ArrayRef,
        ] {
            let t = a.data_type().clone();
            let df = frame(vec![("s", a)]);
            assert_eq!(eval_bools(&df, col("s").starts_with("AIR")), bools(&[T, F, N, F, T, F]), "{t}");
            assert_eq!(eval_bools(&df, col("s").ends_with("")), bools(&[T, T, N, T, T, T]), "{t}");
            assert_eq!(eval_bools(&df, col("s").starts_with("")), bools(&[T, T, N, T, T, T]), "{t}");
            assert_eq!(eval_bools(&df, col("s").contains("")), bools(&[T, T, N, T, T, T]), "{t}");
            assert_eq!(eval_bools(&df, col("s").contains("I")), bools(&[T, F, N, T, T, F]), "{t}");
            assert_eq!(eval_bools(&df, col("s").ends_with("!")), bools(&[F, F, N, F, F, T]), "{t}");
            assert_eq!(eval_bools(&df, col("s").ends_with("AIR REG!")), bools(&[F, F, N, F, F, F]), "{t}");
            assert_eq!(eval_bools(&df, col("s").contains("é")), bools(&[F, F, N, F, F, T]), "{t}");
            // constants
            assert_eq!(eval_bools(&df, lit("MAIL").ends_with("IL")), bools(&[T; 6]), "{t}");
        }
    }

    #[test]
    fn float_comparisons_use_total_order_as_arrow() {
        let x: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN, -0.0, 0.0, 1.0]));
        let df = frame(vec![("x", x)]);
        assert_eq!(eval_bools(&df, col("x").eq(lit(f64::NAN))), bools(&[T, F, F, F]));
        assert_eq!(eval_bools(&df, col("x").lt(lit(0.0))), bools(&[F, T, F, F]));
        assert_eq!(eval_bools(&df, col("x").gt(lit(1e308))), bools(&[T, F, F, F]));
    }

    #[test]
    fn empty_frames_give_empty_typed_arrays() {
        let df = frame(vec![
            ("a", Arc::new(Int32Array::from(Vec::<i32>::new())) as ArrayRef),
            ("s", Arc::new(StringViewArray::from(Vec::<&str>::new())) as ArrayRef),
            ("d", dec_array(vec![], 15, 2)),
        ]);
        let p = evaluate(&df, &col("a").lt(lit(3)).and(col("s").starts_with("x"))).unwrap();
        assert_eq!((p.len(), p.data_type()), (0, &DataType::Boolean));
        let m = evaluate(&df, &(col("d") * col("a"))).unwrap();
        assert_eq!((m.len(), m.data_type()), (0, &DataType::Decimal128(26, 2)));
        let c = evaluate(&df, &(lit(1) + lit(2))).unwrap();
        assert_eq!((c.len(), c.data_type()), (0, &DataType::Int32));
        assert_eq!(evaluate(&df, &(col("a") / lit(0))).unwrap().len(), 0);
    }

    #[test]
    fn literal_only_expressions_are_broadcast() {
        let df = frame(vec![("a", Arc::new(Int32Array::from(vec![7, 8, 9])) as ArrayRef)]);
        let c = evaluate(&df, &(lit(1) + lit(2) * lit(3))).unwrap();
        assert_eq!(c.as_primitive::<Int32Type>().values().to_vec(), vec![7, 7, 7]);
        let s = evaluate(&df, &lit("x")).unwrap();
        assert_eq!(s.as_string::<i32>().iter().collect::<Vec<_>>(), vec![Some("x"); 3]);
        assert_eq!(eval_bools(&df, lit(2).gt(lit(1i64))), bools(&[T, T, T]));
        // a frame with no columns and one row: how the GPU folds constants
        let one = DataFrame::try_new(Arc::new(arrow::datatypes::Schema::empty()), vec![], 1, Device::Cpu).unwrap();
        let d = evaluate(&one, &(dec("1.5").unwrap() * lit(3))).unwrap();
        assert_eq!(
            Scalar::from_array(d.as_ref(), 0).unwrap(),
            Scalar::Decimal128 { value: 45, precision: 13, scale: 1 }
        );
        let err = evaluate(&one, &(lit(1) / lit(0))).unwrap_err();
        assert!(matches!(err, Error::DivideByZero(_)), "{err}");
    }

    #[test]
    fn chunked_evaluation_matches_row_by_row() {
        let n = 2 * CHUNK_ROWS + 7;
        let a: Int64Array = (0..n as i64).map(|i| if i % 11 == 0 { None } else { Some(i * 7 % 1000 - 500) }).collect();
        let s: StringViewArray = (0..n).map(|i| Some(if i % 3 == 0 { "AIR" } else { "MAIL" })).collect();
        let df = frame(vec![("a", Arc::new(a.clone()) as ArrayRef), ("s", Arc::new(s) as ArrayRef)]);
        let e = (col("a") * lit(3) + lit(1)).gt(lit(0i64)).and(col("s").starts_with("A").or(lit(Scalar::Null)));
        let got = eval_bools(&df, e);
        assert_eq!(got.len(), n);
        for (i, v) in got.iter().enumerate() {
            let x = a.is_valid(i).then(|| a.value(i) * 3 + 1 > 0);
            let air = if i % 3 == 0 { Some(true) } else { None };
            let want = match (x, air) {
                (Some(false), _) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            };
            assert_eq!(v, want, "row {i}");
        }
        let lit_only = evaluate(&df, &lit(5i64)).unwrap();
        assert_eq!((lit_only.len(), lit_only.as_primitive::<Int64Type>().value(n - 1)), (n, 5));
        // an error in any chunk is the error
        let err = evaluate(&df, &(lit(1i64) / col("a"))).unwrap_err(); // a = 0 at some row
        assert!(matches!(err, Error::DivideByZero(_)), "{err}");
    }

    #[test]
    fn type_errors_are_typed() {
        let df = frame(vec![
            ("a", Arc::new(Int32Array::from(vec![1])) as ArrayRef),
            ("s", Arc::new(StringArray::from(vec!["x"])) as ArrayRef),
        ]);
        for e in [col("s").gt(lit(1)), col("a").and(lit(true)), !col("a"), col("a").starts_with("x"), col("s") + lit(1)]
        {
            assert!(matches!(evaluate(&df, &e), Err(Error::Type { .. })), "{e}");
        }
        assert!(matches!(evaluate(&df, &col("nope")), Err(Error::ColumnNotFound { .. })));
    }

    /// A range of one column against two literal bounds (one pass, `range`) equals the two
    /// comparisons and their Kleene `AND`, for every pair of `< <= > >=`, literals on either
    /// side, bounds at and past the type's ends, nulls, and past one evaluation chunk.
    #[test]
    fn fused_ranges_equal_two_comparisons_and_their_and() {
        let mut r = crate::test_rng(0x2545_f491_4f6c_dd1d);
        let n = CHUNK_ROWS + 3000;
        let i32s: Int32Array = (0..n)
            .map(|i| {
                if r().is_multiple_of(9) {
                    None
                } else if i % 1000 == 0 {
                    Some(i32::MAX)
                } else {
                    Some((r() % 200) as i32 - 100)
                }
            })
            .collect();
        let dates: Date32Array =
            (0..n).map(|_| if r().is_multiple_of(9) { None } else { Some(9000 + (r() % 400) as i32) }).collect();
        let i64s: Int64Array =
            (0..n).map(|_| if r().is_multiple_of(9) { None } else { Some((r() % 200) as i64 - 100) }).collect();
        let decs = dec_array(
            (0..n).map(|_| if r().is_multiple_of(9) { None } else { Some((r() % 2000) as i128) }).collect(),
            15,
            2,
        );
        let df = frame(vec![
            ("i", Arc::new(i32s) as ArrayRef),
            ("d", Arc::new(dates) as ArrayRef),
            ("l", Arc::new(i64s) as ArrayRef),
            ("m", decs),
        ]);
        let ops = [BinaryOp::Lt, BinaryOp::LtEq, BinaryOp::Gt, BinaryOp::GtEq];
        let cases: Vec<(&str, Vec<Scalar>)> = vec![
            (
                "i",
                vec![
                    Scalar::Int32(-5),
                    Scalar::Int32(40),
                    Scalar::Int32(i32::MAX),
                    Scalar::Int32(i32::MIN),
                    Scalar::Int64(1 << 40),
                ],
            ),
            ("d", vec![Scalar::Date32(9100), Scalar::Date32(9250)]),
            ("l", vec![Scalar::Int64(-7), Scalar::Int32(60), Scalar::Int64(i64::MAX)]),
            (
                "m",
                vec![
                    Scalar::parse_decimal("0.05").unwrap(),
                    Scalar::parse_decimal("7.5").unwrap(),
                    Scalar::Int32(7),
                    Scalar::parse_decimal("0.055").unwrap(),
                ],
            ),
        ];
        let cmp = |c: &str, op: BinaryOp, s: &Scalar, flip: bool| {
            let (l, r) = (col(c), Expr::Literal(s.clone()));
            if flip {
                Expr::Binary { op, left: Box::new(r), right: Box::new(l) }
            } else {
                Expr::Binary { op, left: Box::new(l), right: Box::new(r) }
            }
        };
        let mut fused = 0;
        for (c, lits) in &cases {
            for a in lits {
                for b in lits {
                    for (&op1, &op2) in ops.iter().flat_map(|x| ops.iter().map(move |y| (x, y))) {
                        for flip in [false, true] {
                            let (x, y) = (cmp(c, op1, a, flip), cmp(c, op2, b, false));
                            if range(&df, &x, &y, None).unwrap().is_some() {
                                fused += 1;
                            }
                            let got = eval_bools(&df, x.clone().and(y.clone()));
                            let want =
                                boolean::and_kleene(&eval_bools(&df, x.clone()), &eval_bools(&df, y.clone())).unwrap();
                            assert_eq!(got, want, "{x} AND {y}");
                        }
                    }
                }
            }
        }
        assert!(fused > 300, "the fused path ran {fused} times");
    }
}
