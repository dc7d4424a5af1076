//! `ember.Expr`'s compiled half: a column expression, or an aggregation of one.
use crate::convert;
use ember::ops::expr::{BinaryOp, DatePart, Expr};
use ember::ops::Agg;
use ember::plan::{AggExpr, AggregateExt};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// What a Python expression holds.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A value per row.
    Value(Expr),
    /// A value per group (or per frame): `col("x").sum()`.
    Agg(AggExpr),
}

/// An expression (`ember.col("x") * 2`, `ember.col("x").sum().alias("total")`).
#[pyclass(name = "PyExpr", module = "ember._ember", frozen)]
#[derive(Debug, Clone)]
pub struct PyExpr {
    pub kind: Kind,
}

impl PyExpr {
    pub fn value(e: Expr) -> PyExpr {
        PyExpr { kind: Kind::Value(e) }
    }

    /// The row-wise expression, or a `TypeError` for an aggregation.
    pub fn expr(&self) -> PyResult<Expr> {
        match &self.kind {
            Kind::Value(e) => Ok(e.clone()),
            Kind::Agg(a) => Err(PyTypeError::new_err(format!(
                "{} is an aggregation; it can only be used in group_by(...).agg(...) or select(...) of aggregations",
                agg_text(a)
            ))),
        }
    }

    fn map(&self, f: impl FnOnce(Expr) -> Expr) -> PyResult<PyExpr> {
        Ok(PyExpr::value(f(self.expr()?)))
    }
}

fn agg_text(a: &AggExpr) -> String {
    format!("{}({}) AS {}", a.agg.name(), a.expr, a.name)
}

/// `e` named as polars names it: an alias or a bare column keeps its name, anything else takes
/// the name of its first column (`col("a") * 2` is `a`), or `literal` when it has none. (The Rust
/// API names such an expression by its text instead.)
pub fn polars_named(e: Expr) -> Expr {
    match &e {
        Expr::Alias(..) | Expr::Column(_) => e,
        _ => {
            let name = e.column_names().first().map(|c| c.to_string()).unwrap_or_else(|| "literal".into());
            e.alias(&name)
        }
    }
}

/// An operand: another expression or a Python value (a literal).
pub fn operand(obj: &Bound<'_, PyAny>) -> PyResult<Expr> {
    match obj.cast::<PyExpr>() {
        Ok(e) => e.get().expr(),
        Err(_) => Ok(Expr::Literal(convert::scalar(obj)?)),
    }
}

fn binary_op(name: &str) -> PyResult<BinaryOp> {
    Ok(match name {
        "add" => BinaryOp::Add,
        "sub" => BinaryOp::Sub,
        "mul" => BinaryOp::Mul,
        "truediv" => BinaryOp::Div,
        "eq" => BinaryOp::Eq,
        "ne" => BinaryOp::NotEq,
        "lt" => BinaryOp::Lt,
        "le" => BinaryOp::LtEq,
        "gt" => BinaryOp::Gt,
        "ge" => BinaryOp::GtEq,
        "and" => BinaryOp::And,
        "or" => BinaryOp::Or,
        other => return Err(PyValueError::new_err(format!("unknown operator {other:?}"))),
    })
}

fn agg_of(name: &str) -> PyResult<Agg> {
    Ok(match name {
        "sum" => Agg::Sum,
        "min" => Agg::Min,
        "max" => Agg::Max,
        "mean" => Agg::Mean,
        "count" => Agg::Count,
        "len" => Agg::Len,
        "n_unique" => Agg::NUnique,
        "first" => Agg::First,
        "last" => Agg::Last,
        "var" => Agg::Var,
        "std" => Agg::Std,
        "median" => Agg::Median,
        other => return Err(PyValueError::new_err(format!("unknown aggregation {other:?}"))),
    })
}

#[pymethods]
impl PyExpr {
    /// `self <op> other` (`reflected`: `other <op> self`).
    fn binary(&self, op: &str, other: &Bound<'_, PyAny>, reflected: bool) -> PyResult<PyExpr> {
        let (l, r) = (self.expr()?, operand(other)?);
        let (l, r) = if reflected { (r, l) } else { (l, r) };
        Ok(PyExpr::value(Expr::Binary { op: binary_op(op)?, left: Box::new(l), right: Box::new(r) }))
    }

    fn not_(&self) -> PyResult<PyExpr> {
        self.map(|e| !e)
    }

    fn neg(&self) -> PyResult<PyExpr> {
        self.map(|e| Expr::Literal(ember::Scalar::Int64(0)) - e)
    }

    fn is_null(&self) -> PyResult<PyExpr> {
        self.map(Expr::is_null)
    }

    fn is_not_null(&self) -> PyResult<PyExpr> {
        self.map(Expr::is_not_null)
    }

    fn alias(&self, name: &str) -> PyExpr {
        match &self.kind {
            Kind::Value(e) => PyExpr::value(e.clone().alias(name)),
            Kind::Agg(a) => PyExpr { kind: Kind::Agg(a.clone().alias(name)) },
        }
    }

    fn cast(&self, dtype: &str) -> PyResult<PyExpr> {
        let t = convert::dtype(dtype)?;
        self.map(|e| e.cast(t))
    }

    fn is_in(&self, values: &Bound<'_, PyAny>) -> PyResult<PyExpr> {
        let vals = values.try_iter()?.map(|v| convert::scalar(&v?)).collect::<PyResult<Vec<_>>>()?;
        self.map(|e| e.is_in(vals))
    }

    fn is_between(&self, low: &Bound<'_, PyAny>, high: &Bound<'_, PyAny>) -> PyResult<PyExpr> {
        let (lo, hi) = (operand(low)?, operand(high)?);
        self.map(|e| e.is_between(lo, hi))
    }

    fn fill_null(&self, value: &Bound<'_, PyAny>) -> PyResult<PyExpr> {
        let v = operand(value)?;
        self.map(|e| e.fill_null(v))
    }

    fn abs(&self) -> PyResult<PyExpr> {
        self.map(Expr::abs)
    }

    fn round(&self, decimals: u32) -> PyResult<PyExpr> {
        self.map(|e| e.round(decimals))
    }

    fn str_op(&self, op: &str, pattern: &str) -> PyResult<PyExpr> {
        match op {
            "starts_with" => self.map(|e| e.starts_with(pattern)),
            "ends_with" => self.map(|e| e.ends_with(pattern)),
            "contains" => self.map(|e| e.contains(pattern)),
            "like" => self.map(|e| e.like(pattern)),
            other => Err(PyValueError::new_err(format!("unknown string predicate {other:?}"))),
        }
    }

    #[pyo3(signature = (offset, length=None))]
    fn str_slice(&self, offset: i64, length: Option<u64>) -> PyResult<PyExpr> {
        self.map(|e| e.str_slice(offset, length))
    }

    fn str_len(&self) -> PyResult<PyExpr> {
        self.map(Expr::str_len)
    }

    fn date_part(&self, part: &str) -> PyResult<PyExpr> {
        let p = match part {
            "year" => DatePart::Year,
            "month" => DatePart::Month,
            "day" => DatePart::Day,
            "weekday" => DatePart::Weekday,
            other => return Err(PyValueError::new_err(format!("unknown date part {other:?}"))),
        };
        self.map(|e| e.date_part(p))
    }

    /// `agg(self)`: `sum`, `min`, `max`, `mean`, `count`, `len`, `n_unique`, `first`, `last`,
    /// `var`, `std`, `median`.
    fn agg(&self, name: &str) -> PyResult<PyExpr> {
        Ok(PyExpr { kind: Kind::Agg(polars_named(self.expr()?).agg(agg_of(name)?)) })
    }

    /// `quantile(q, interpolation)` (nearest, lower, higher, midpoint, linear).
    fn quantile(&self, q: f64, interpolation: &str) -> PyResult<PyExpr> {
        let interp = interpolation.parse().map_err(crate::error::to_py)?;
        let q = ember::ops::reduce::Quantile::new(q, interp).map_err(crate::error::to_py)?;
        Ok(PyExpr { kind: Kind::Agg(polars_named(self.expr()?).agg(Agg::Quantile(q))) })
    }

    pub fn is_aggregation(&self) -> bool {
        matches!(self.kind, Kind::Agg(_))
    }

    fn output_name(&self) -> String {
        match &self.kind {
            Kind::Value(e) => e.output_name(),
            Kind::Agg(a) => a.name.clone(),
        }
    }

    fn __str__(&self) -> String {
        match &self.kind {
            Kind::Value(e) => e.to_string(),
            Kind::Agg(a) => agg_text(a),
        }
    }
}

/// `ember.col(name)`.
#[pyfunction]
pub fn col(name: &str) -> PyExpr {
    PyExpr::value(ember::ops::col(name))
}

/// `ember.lit(value)`.
#[pyfunction]
pub fn lit(value: &Bound<'_, PyAny>) -> PyResult<PyExpr> {
    Ok(PyExpr::value(Expr::Literal(convert::scalar(value)?)))
}

/// `ember.when(cond).then(a).otherwise(b)` in one call.
#[pyfunction]
pub fn when_then_otherwise(
    cond: &Bound<'_, PyAny>,
    then: &Bound<'_, PyAny>,
    otherwise: &Bound<'_, PyAny>,
) -> PyResult<PyExpr> {
    Ok(PyExpr::value(ember::ops::when(operand(cond)?).then(operand(then)?).otherwise(operand(otherwise)?)))
}

/// `ember.coalesce(a, b, ...)`.
#[pyfunction]
pub fn coalesce(exprs: Vec<Bound<'_, PyAny>>) -> PyResult<PyExpr> {
    Ok(PyExpr::value(ember::ops::coalesce(exprs.iter().map(operand).collect::<PyResult<Vec<_>>>()?)))
}
