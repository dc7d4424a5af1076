//! `ember.tpch`: TPC-H tables generated in memory and the 22 reference queries, so notebooks and
//! tests run the same queries as the Rust API and the benchmarks.
use crate::frame::{device, PyDataFrame};
use crate::lazy::PyLazyFrame;
use crate::run::run;
use ember::tpch::Tables;
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use std::collections::HashMap;

/// `ember.tpch.tables(sf, device=None)`: the eight tables by name.
#[pyfunction]
#[pyo3(signature = (sf, device=None))]
pub fn tables(py: Python<'_>, sf: f64, device: Option<&str>) -> PyResult<HashMap<String, PyDataFrame>> {
    let d = self::device(device)?;
    let t = run(py, move || Tables::generate(sf, d))?;
    Ok(t.named().into_iter().map(|(n, df)| (n.to_string(), PyDataFrame { df: df.clone() })).collect())
}

/// `ember.tpch.table_part(name, sf, part, parts)`: one generator part of one table, on the CPU.
#[pyfunction]
pub fn table_part(py: Python<'_>, name: String, sf: f64, part: i32, parts: i32) -> PyResult<PyDataFrame> {
    Ok(PyDataFrame { df: run(py, move || ember::tpch::table_part(&name, sf, part, parts))? })
}

/// `ember.tpch.query(n, tables)`: query `n` (1..=22) as a lazy frame over `tables`.
#[pyfunction]
pub fn query(n: u32, tables: HashMap<String, PyRef<'_, PyDataFrame>>) -> PyResult<PyLazyFrame> {
    let get = |name: &str| {
        tables
            .get(name)
            .map(|t| t.df.clone())
            .ok_or_else(|| PyKeyError::new_err(format!("tables has no {name:?} (it needs all eight TPC-H tables)")))
    };
    let t = Tables {
        lineitem: get("lineitem")?,
        orders: get("orders")?,
        customer: get("customer")?,
        supplier: get("supplier")?,
        part: get("part")?,
        partsupp: get("partsupp")?,
        nation: get("nation")?,
        region: get("region")?,
    };
    if !(1..=22).contains(&n) {
        return Err(PyValueError::new_err(format!("TPC-H has queries 1 to 22, not {n}")));
    }
    Ok(PyLazyFrame { lf: ember::tpch::query(n, &t).map_err(crate::error::to_py)? })
}
