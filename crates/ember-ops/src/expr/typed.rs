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
use super::types::binary_plan;
use super::{BinaryOp, Expr, StrOp};
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
}

impl TypedExpr {
    /// The node's type.
    pub fn dtype(&self) -> DType {
        match self {
            TypedExpr::Column { dtype, .. } | TypedExpr::Literal { dtype, .. } | TypedExpr::Binary { dtype, .. } => {
                *dtype
            }
            TypedExpr::Cast { to, .. } => *to,
            TypedExpr::Not(_) | TypedExpr::IsNull(_) | TypedExpr::IsNotNull(_) | TypedExpr::Str { .. } => DType::Bool,
        }
    }

    /// The operands of this node.
    pub fn children(&self) -> Vec<&TypedExpr> {
        match self {
            TypedExpr::Column { .. } | TypedExpr::Literal { .. } => vec![],
            TypedExpr::Cast { expr, .. } | TypedExpr::Str { expr, .. } => vec![expr],
            TypedExpr::Not(e) | TypedExpr::IsNull(e) | TypedExpr::IsNotNull(e) => vec![e],
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
            let inner = resolve_opt(expr, fields)?;
            match inner.as_ref().map(|e| e.dtype()) {
                Some(DType::Utf8) | None => {}
                Some(t) => type_bail!(format!("{op:?}"), "needs a utf8 operand, got {t}"),
            }
            TypedExpr::Str { op: *op, expr: Box::new(coerce(inner, DType::Utf8)), pattern: pattern.clone() }
        }
    }))
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
