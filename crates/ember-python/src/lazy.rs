//! `ember.LazyFrame`'s compiled half: a logical plan, built step by step and run by `collect`.
use crate::error::IntoPyResult;
use crate::expr::{polars_named, Kind, PyExpr};
use crate::frame::PyDataFrame;
use crate::run::run;
use ember::ops::join::{JoinArgs, JoinType};
use ember::ops::sort::SortKey;
use ember::ops::unique::Keep;
use ember::plan::AggExpr;
use ember::LazyFrame;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// A query (a logical plan).
#[pyclass(name = "PyLazyFrame", module = "ember._ember", frozen)]
#[derive(Debug, Clone)]
pub struct PyLazyFrame {
    pub lf: LazyFrame,
}

/// Row-wise expressions, named as polars names them (see [`polars_named`]).
fn values(exprs: &[PyRef<'_, PyExpr>]) -> PyResult<Vec<ember::ops::Expr>> {
    exprs.iter().map(|e| e.expr().map(polars_named)).collect()
}

fn aggs(exprs: &[PyRef<'_, PyExpr>]) -> PyResult<Vec<AggExpr>> {
    exprs
        .iter()
        .map(|e| match &e.kind {
            Kind::Agg(a) => Ok(a.clone()),
            Kind::Value(v) => {
                Err(PyTypeError::new_err(format!("{v} is not an aggregation; use e.g. col(...).sum() in agg(...)")))
            }
        })
        .collect()
}

fn join_type(how: &str) -> PyResult<JoinType> {
    Ok(match how {
        "inner" => JoinType::Inner,
        "left" => JoinType::Left,
        "right" => JoinType::Right,
        "full" | "outer" => JoinType::Full,
        "semi" => JoinType::Semi,
        "anti" => JoinType::Anti,
        "cross" => JoinType::Cross,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown join type {other:?}; expected inner, left, right, full, semi, anti or cross"
            )))
        }
    })
}

#[pymethods]
impl PyLazyFrame {
    /// Row-wise expressions (a projection), or only aggregations (one row).
    fn select(&self, exprs: Vec<PyRef<'_, PyExpr>>) -> PyResult<PyLazyFrame> {
        let lf = self.lf.clone();
        let n_aggs = exprs.iter().filter(|e| e.is_aggregation()).count();
        Ok(PyLazyFrame {
            lf: match n_aggs {
                0 => lf.select(values(&exprs)?),
                n if n == exprs.len() => lf.aggregate(aggs(&exprs)?),
                _ => return Err(PyTypeError::new_err("select() mixes aggregations and row-wise expressions")),
            },
        })
    }

    fn filter(&self, predicate: PyRef<'_, PyExpr>) -> PyResult<PyLazyFrame> {
        Ok(PyLazyFrame { lf: self.lf.clone().filter(predicate.expr()?) })
    }

    fn with_columns(&self, exprs: Vec<PyRef<'_, PyExpr>>) -> PyResult<PyLazyFrame> {
        Ok(PyLazyFrame { lf: self.lf.clone().with_columns(values(&exprs)?).py()? })
    }

    #[pyo3(signature = (keys, aggregations, maintain_order=false))]
    fn group_by_agg(
        &self,
        keys: Vec<PyRef<'_, PyExpr>>,
        aggregations: Vec<PyRef<'_, PyExpr>>,
        maintain_order: bool,
    ) -> PyResult<PyLazyFrame> {
        let mut g = self.lf.clone().group_by(values(&keys)?);
        if maintain_order {
            g = g.maintain_order();
        }
        Ok(PyLazyFrame { lf: g.agg(aggs(&aggregations)?) })
    }

    #[pyo3(signature = (other, left_on, right_on, how, suffix, nulls_equal))]
    fn join(
        &self,
        other: PyRef<'_, PyLazyFrame>,
        left_on: Vec<String>,
        right_on: Vec<String>,
        how: &str,
        suffix: String,
        nulls_equal: bool,
    ) -> PyResult<PyLazyFrame> {
        let mut args = JoinArgs::new(left_on, right_on, join_type(how)?);
        args.suffix = suffix;
        args.nulls_equal = nulls_equal;
        Ok(PyLazyFrame { lf: self.lf.clone().join(other.lf.clone(), args) })
    }

    fn sort(&self, by: Vec<PyRef<'_, PyExpr>>, descending: Vec<bool>, nulls_last: Vec<bool>) -> PyResult<PyLazyFrame> {
        let keys = by
            .iter()
            .map(|e| e.expr())
            .collect::<PyResult<Vec<_>>>()?
            .into_iter()
            .zip(descending.iter().zip(&nulls_last))
            .map(|(e, (&d, &n))| {
                let mut k = SortKey::new(e);
                if d {
                    k = k.descending();
                }
                if n {
                    k = k.nulls_last();
                }
                k
            })
            .collect::<Vec<_>>();
        Ok(PyLazyFrame { lf: self.lf.clone().sort(keys) })
    }

    fn slice(&self, offset: usize, length: usize) -> PyLazyFrame {
        PyLazyFrame { lf: self.lf.clone().slice(offset, length) }
    }

    #[pyo3(signature = (subset, keep))]
    fn unique(&self, subset: Option<Vec<String>>, keep: &str) -> PyResult<PyLazyFrame> {
        let keep = match keep {
            "first" | "any" => Keep::First,
            "last" => Keep::Last,
            other => return Err(PyValueError::new_err(format!("keep must be first, last or any, got {other:?}"))),
        };
        let refs: Option<Vec<&str>> = subset.as_ref().map(|s| s.iter().map(String::as_str).collect());
        Ok(PyLazyFrame { lf: self.lf.clone().unique(refs.as_deref(), keep) })
    }

    #[pyo3(signature = (optimized=true))]
    fn explain(&self, optimized: bool) -> PyResult<String> {
        self.lf.clone().with_optimizations(optimized).explain().py()
    }

    /// Runs the query without the GIL; Ctrl-C interrupts the wait.
    fn collect(&self, py: Python<'_>) -> PyResult<PyDataFrame> {
        let lf = self.lf.clone();
        Ok(PyDataFrame { df: run(py, move || lf.collect())? })
    }

    /// The result's `[(name, dtype name)]` without running the query.
    fn schema(&self) -> PyResult<Vec<(String, String)>> {
        let fields = self.lf.logical_plan().schema().py()?;
        Ok(fields.iter().map(|f| (f.name.clone(), f.dtype.to_string())).collect())
    }
}

/// `ember.concat(frames)`: rows of every frame in order (same schema).
#[pyfunction]
pub fn concat(frames: Vec<PyRef<'_, PyLazyFrame>>) -> PyLazyFrame {
    PyLazyFrame { lf: LazyFrame::concat(frames.iter().map(|f| f.lf.clone())) }
}
