//! The typed expression IR: an [`Expr`] resolved once against a schema. Every node knows its
//! type, every coercion is an explicit [`TypedExpr::Cast`] (by the shared rules of
//! [`super::types`]), untyped null literals take the type their context gives them, and literal-only
//! subtrees are folded to literals. Executors walk this tree and never re-derive a type.
//!
//! ```
//! use ember_core::{DType, Field};
//! use ember_ops::expr::{col, lit, typed::{resolve, TypedExpr}};
//! let fields = [Field { name: "a".into(), dtype: DType::Int32, nullable: true }];
//! let t = resolve(&(col("a") + lit(1i64)), &fields, DType::Bool).unwrap();
//! assert_eq!(t.dtype(), DType::Int64);
//! assert!(matches!(&t, TypedExpr::Binary { left, .. } if matches!(**left, TypedExpr::Cast { .. })));
//! ```
use super::types::{binary_plan, check_cast, expect_operand, round_type, when_type};
use super::{BinaryOp, DatePart, Expr, StrOp};
use ember_core::{type_bail, DType, DataFrame, Device, Error, Field, Result, Scalar};
use std::sync::Arc;

/// A resolved expression node.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedExpr {
    /// Column `index` of the frame.
    Column {
        /// The column's name.
        name: String,
        /// Its position in the frame.
        index: usize,
        /// Its type.
        dtype: DType,
    },
    /// A constant of type `dtype` (`value` may be [`Scalar::Null`]).
    Literal {
        /// The value.
        value: Scalar,
        /// Its type.
        dtype: DType,
    },
    /// A coercion of `expr` to `to` (widening integers, integers to floats or decimals, decimal
    /// rescale, decimal to f64).
    Cast {
        /// The operand.
        expr: Box<TypedExpr>,
        /// The target type.
        to: DType,
    },
    /// `left op right`, operands already of the types the operator takes.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<TypedExpr>,
        /// Right operand.
        right: Box<TypedExpr>,
        /// Result type.
        dtype: DType,
        /// Decimal `+ - /`: the powers of ten the unscaled operands are multiplied by.
        decimal_mul: Option<(i128, i128)>,
    },
    /// Kleene `NOT`.
    Not(Box<TypedExpr>),
    /// True where the operand is null.
    IsNull(Box<TypedExpr>),
    /// True where the operand is not null.
    IsNotNull(Box<TypedExpr>),
    /// A string predicate against a literal pattern.
    Str {
        /// Which predicate.
        op: StrOp,
        /// The utf8 operand.
        expr: Box<TypedExpr>,
        /// The pattern.
        pattern: String,
    },
    /// `then` where `cond` is a valid true, else `otherwise` (both of type `dtype`).
    When {
        /// The boolean condition.
        cond: Box<TypedExpr>,
        /// The value where it holds.
        then: Box<TypedExpr>,
        /// The value elsewhere.
        otherwise: Box<TypedExpr>,
        /// The result type.
        dtype: DType,
    },
    /// A part of a date32 value, `Int32`.
    DatePart {
        /// Which part.
        part: DatePart,
        /// The date operand.
        expr: Box<TypedExpr>,
    },
    /// Characters of a utf8 value ([`super::Expr::StrSlice`]).
    StrSlice {
        /// The utf8 operand.
        expr: Box<TypedExpr>,
        /// The first character (negative: from the end).
        offset: i64,
        /// At most this many characters.
        length: Option<u64>,
    },
    /// The number of characters of a utf8 value, `UInt32`.
    StrLen(Box<TypedExpr>),
    /// `expr` rounded to `decimals` digits ([`super::Expr::Round`]), of type `dtype`.
    Round {
        /// The operand.
        expr: Box<TypedExpr>,
        /// Digits kept.
        decimals: u32,
        /// The result type.
        dtype: DType,
    },
}

impl TypedExpr {
    /// The node's type.
    pub fn dtype(&self) -> DType {
        match self {
            TypedExpr::Column { dtype, .. } | TypedExpr::Literal { dtype, .. } | TypedExpr::Binary { dtype, .. } => {
                *dtype
            }
            TypedExpr::Cast { to, .. } | TypedExpr::When { dtype: to, .. } | TypedExpr::Round { dtype: to, .. } => *to,
            TypedExpr::Not(_) | TypedExpr::IsNull(_) | TypedExpr::IsNotNull(_) | TypedExpr::Str { .. } => DType::Bool,
            TypedExpr::DatePart { .. } => DType::Int32,
            TypedExpr::StrSlice { .. } => DType::Utf8,
            TypedExpr::StrLen(_) => DType::UInt32,
        }
    }

    /// The operands of this node.
    pub fn children(&self) -> Vec<&TypedExpr> {
        match self {
            TypedExpr::Column { .. } | TypedExpr::Literal { .. } => vec![],
            TypedExpr::Cast { expr, .. }
            | TypedExpr::Str { expr, .. }
            | TypedExpr::DatePart { expr, .. }
            | TypedExpr::StrSlice { expr, .. }
            | TypedExpr::Round { expr, .. } => vec![expr],
            TypedExpr::Not(e) | TypedExpr::IsNull(e) | TypedExpr::IsNotNull(e) | TypedExpr::StrLen(e) => vec![e],
            TypedExpr::When { cond, then, otherwise, .. } => vec![cond, then, otherwise],
            TypedExpr::Binary { left, right, .. } => vec![left, right],
        }
    }

    /// Nodes in the tree.
    pub fn size(&self) -> usize {
        1 + self.children().iter().map(|c| c.size()).sum::<usize>()
    }
}

/// Resolves `expr` against `fields`. A bare untyped null literal gets `null_type`.
pub fn resolve(expr: &Expr, fields: &[Field], null_type: DType) -> Result<TypedExpr> {
    let folded = fold_constants(expr)?;
    let t = resolve_opt(&folded, fields)?;
    Ok(t.unwrap_or(TypedExpr::Literal { value: Scalar::Null, dtype: null_type }))
}

/// `None` = an untyped null literal (its type comes from the context).
fn resolve_opt(expr: &Expr, fields: &[Field]) -> Result<Option<TypedExpr>> {
    Ok(Some(match expr {
        Expr::Column(name) => {
            let index = fields.iter().position(|f| &f.name == name).ok_or_else(|| Error::ColumnNotFound {
                name: name.clone(),
                available: fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
            })?;
            TypedExpr::Column { name: name.clone(), index, dtype: fields[index].dtype }
        }
        Expr::Literal(Scalar::Null) => return Ok(None),
        Expr::Literal(s) => TypedExpr::Literal { value: s.clone(), dtype: s.dtype().expect("non-null literal") },
        Expr::Alias(e, _) => return resolve_opt(e, fields),
        Expr::Binary { op, left, right } => {
            let (l, r) = (resolve_opt(left, fields)?, resolve_opt(right, fields)?);
            let plan = binary_plan(*op, l.as_ref().map(|e| e.dtype()), r.as_ref().map(|e| e.dtype()))?;
            TypedExpr::Binary {
                op: *op,
                left: Box::new(coerce(l, plan.left)),
                right: Box::new(coerce(r, plan.right)),
                dtype: plan.output,
                decimal_mul: plan.decimal_mul,
            }
        }
        Expr::Not(e) => {
            let inner = resolve_opt(e, fields)?;
            match inner.as_ref().map(|e| e.dtype()) {
                Some(DType::Bool) | None => {}
                Some(t) => type_bail!("NOT", "needs a boolean operand, got {t}"),
            }
            TypedExpr::Not(Box::new(coerce(inner, DType::Bool)))
        }
        // The operand keeps its own type (only an untyped null needs one).
        Expr::IsNull(e) => TypedExpr::IsNull(Box::new(typed_or_null(resolve_opt(e, fields)?))),
        Expr::IsNotNull(e) => TypedExpr::IsNotNull(Box::new(typed_or_null(resolve_opt(e, fields)?))),
        Expr::Str { op, expr, pattern } => {
            let inner = operand(&format!("{op:?}"), expr, fields, DType::Utf8)?;
            TypedExpr::Str { op: *op, expr: Box::new(inner), pattern: pattern.clone() }
        }
        Expr::When { cond, then, otherwise } => {
            let c = operand("when", cond, fields, DType::Bool)?;
            let (t, o) = (resolve_opt(then, fields)?, resolve_opt(otherwise, fields)?);
            let Some(dtype) = when_type(t.as_ref().map(|e| e.dtype()), o.as_ref().map(|e| e.dtype()))? else {
                return Ok(None); // both branches untyped nulls
            };
            TypedExpr::When {
                cond: Box::new(c),
                then: Box::new(coerce(t, dtype)),
                otherwise: Box::new(coerce(o, dtype)),
                dtype,
            }
        }
        Expr::DatePart { part, expr } => TypedExpr::DatePart {
            part: *part,
            expr: Box::new(operand(&format!("{part:?}"), expr, fields, DType::Date32)?),
        },
        Expr::StrSlice { expr, offset, length } => TypedExpr::StrSlice {
            expr: Box::new(operand("str_slice", expr, fields, DType::Utf8)?),
            offset: *offset,
            length: *length,
        },
        Expr::StrLen(e) => TypedExpr::StrLen(Box::new(operand("str_len", e, fields, DType::Utf8)?)),
        Expr::Round { expr, decimals } => {
            let Some(inner) = resolve_opt(expr, fields)? else { return Ok(None) };
            let dtype = round_type(inner.dtype())?;
            TypedExpr::Round { expr: Box::new(inner), decimals: *decimals, dtype }
        }
        Expr::Cast { expr, to } => {
            let inner = resolve_opt(expr, fields)?;
            check_cast(inner.as_ref().map(|e| e.dtype()), *to)?;
            coerce(inner, *to)
        }
    }))
}

/// `e` resolved as an operand that must have type `want` (an untyped null becomes one of it).
fn operand(op: &str, e: &Expr, fields: &[Field], want: DType) -> Result<TypedExpr> {
    let inner = resolve_opt(e, fields)?;
    expect_operand(op, inner.as_ref().map(|e| e.dtype()), want)?;
    Ok(coerce(inner, want))
}

/// `e`, or a boolean null for an untyped null.
fn typed_or_null(e: Option<TypedExpr>) -> TypedExpr {
    e.unwrap_or(TypedExpr::Literal { value: Scalar::Null, dtype: DType::Bool })
}

/// `e` as type `to`: a typed null for an untyped null, a cast where the types differ.
fn coerce(e: Option<TypedExpr>, to: DType) -> TypedExpr {
    match e {
        None => TypedExpr::Literal { value: Scalar::Null, dtype: to },
        Some(e) if e.dtype() == to => e,
        Some(e) => TypedExpr::Cast { expr: Box::new(e), to },
    }
}

/// Folds every literal-only subtree of `expr` to one literal, evaluated by the CPU engine on one
/// row (so every executor folds to the same value). A subtree whose evaluation fails (`1 / 0`) is
/// left as it is: it fails when a row evaluates it, and over no rows it does not fail (as SQL).
/// A subtree that folds to a null of a known type is left as it is too (a bare null literal
/// would lose the type that decides the result type above it).
pub fn fold_constants(expr: &Expr) -> Result<Expr> {
    if !expr.references_columns() {
        if matches!(expr, Expr::Literal(_)) {
            return Ok(expr.clone());
        }
        let Ok(value) = eval_constant(expr) else { return Ok(expr.clone()) };
        if value.is_null() && super::types::dtype_of(expr, &[])?.is_some() {
            return Ok(expr.clone());
        }
        return Ok(Expr::Literal(value));
    }
    expr.clone().try_map_children(|c| fold_constants(&c))
}

/// The value of a literal-only expression.
fn eval_constant(expr: &Expr) -> Result<Scalar> {
    let schema = Arc::new(arrow::datatypes::Schema::empty());
    let one_row = DataFrame::try_new(schema, vec![], 1, Device::Cpu)?;
    let arr = super::cpu::evaluate(&one_row, expr)?;
    Scalar::from_array(arr.as_ref(), 0)
}
