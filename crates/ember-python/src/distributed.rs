//! The compiled half of `ember.distributed`: what a Dask task needs to move frames and plans
//! between processes. Frames travel as Arrow IPC streams, plans and expressions as JSON (the
//! logical plan's serde form, with in-memory sources bound by name on the worker), and a
//! shuffle deals rows out by [`ember::ops::partition`]'s process-independent hash.
use crate::arrow_ffi;
use crate::error::IntoPyResult;
use crate::expr::{Kind, PyExpr};
use crate::frame::PyDataFrame;
use crate::lazy::PyLazyFrame;
use crate::run::run;
use ember::plan::{AggExpr, LogicalPlan};
use ember::{DataFrame, LazyFrame};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// A serialised [`PyExpr`]: a row-wise expression or an aggregation.
#[derive(serde::Serialize, serde::Deserialize)]
enum SerExpr {
    Value(ember::ops::Expr),
    Agg(AggExpr),
}

fn json_err(e: serde_json::Error) -> PyErr {
    PyValueError::new_err(format!("cannot (de)serialise: {e}"))
}

/// The expression as JSON (what pickling sends to a worker).
#[pyfunction]
pub fn expr_to_json(e: PyRef<'_, PyExpr>) -> PyResult<String> {
    let ser = match &e.kind {
        Kind::Value(e) => SerExpr::Value(e.clone()),
        Kind::Agg(a) => SerExpr::Agg(a.clone()),
    };
    serde_json::to_string(&ser).map_err(json_err)
}

/// [`expr_to_json`]'s inverse.
#[pyfunction]
pub fn expr_from_json(json: &str) -> PyResult<PyExpr> {
    Ok(match serde_json::from_str(json).map_err(json_err)? {
        SerExpr::Value(e) => PyExpr::value(e),
        SerExpr::Agg(a) => PyExpr { kind: Kind::Agg(a) },
    })
}

/// An aggregation's parts, `(agg name, input expression, output name)`; `None` for a
/// row-wise expression. `ember.distributed` splits aggregations into partial and merge
/// steps with it.
#[pyfunction]
pub fn expr_agg_parts(e: PyRef<'_, PyExpr>) -> Option<(String, PyExpr, String)> {
    match &e.kind {
        Kind::Agg(a) => Some((a.agg.name(), PyExpr::value(a.expr.clone()), a.name.clone())),
        Kind::Value(_) => None,
    }
}

/// The logical plan as JSON; in-memory sources are carried by name and schema only.
#[pyfunction]
pub fn plan_to_json(lf: PyRef<'_, PyLazyFrame>) -> PyResult<String> {
    serde_json::to_string(lf.lf.logical_plan()).map_err(json_err)
}

/// [`plan_to_json`]'s inverse.
#[pyfunction]
pub fn plan_from_json(json: &str) -> PyResult<PyLazyFrame> {
    let plan: LogicalPlan = serde_json::from_str(json).map_err(json_err)?;
    Ok(PyLazyFrame { lf: LazyFrame::from_plan(plan) })
}

/// The plan with `frame` attached to every scan of the in-memory source `name`.
#[pyfunction]
pub fn plan_bind(lf: PyRef<'_, PyLazyFrame>, name: &str, frame: PyRef<'_, PyDataFrame>) -> PyLazyFrame {
    let mut plan = lf.lf.logical_plan().clone();
    plan.bind(name, &frame.df);
    PyLazyFrame { lf: LazyFrame::from_plan(plan) }
}

/// The plan with every scan of `name` replaced by the plan `other`.
#[pyfunction]
pub fn plan_substitute(lf: PyRef<'_, PyLazyFrame>, name: &str, other: PyRef<'_, PyLazyFrame>) -> PyLazyFrame {
    let mut plan = lf.lf.logical_plan().clone();
    plan.substitute(name, other.lf.logical_plan());
    PyLazyFrame { lf: LazyFrame::from_plan(plan) }
}

/// The frame as an Arrow IPC stream (a GPU frame is downloaded first).
#[pyfunction]
pub fn frame_to_ipc<'py>(py: Python<'py>, frame: PyRef<'_, PyDataFrame>) -> PyResult<Bound<'py, PyBytes>> {
    let df = frame.df.clone();
    let bytes = run(py, move || {
        let batch = df.to_record_batch()?;
        let mut out = Vec::new();
        let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut out, &batch.schema())?;
        w.write(&batch)?;
        w.finish()?;
        drop(w);
        Ok(out)
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// A CPU frame from an Arrow IPC stream ([`frame_to_ipc`]'s output).
#[pyfunction]
pub fn frame_from_ipc(data: &[u8]) -> PyResult<PyDataFrame> {
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(data), None)
        .map_err(|e| PyValueError::new_err(format!("not an Arrow IPC stream: {e}")))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PyValueError::new_err(format!("corrupt Arrow IPC stream: {e}")))?;
    Ok(PyDataFrame { df: arrow_ffi::frame_from_batches(schema, batches)? })
}

/// The rows dealt into `n` CPU frames by a stable hash of `keys` (equal keys, one piece).
#[pyfunction]
pub fn frame_hash_partition(
    py: Python<'_>,
    frame: PyRef<'_, PyDataFrame>,
    keys: Vec<String>,
    n: usize,
) -> PyResult<Vec<PyDataFrame>> {
    let df = frame.df.clone();
    let pieces = run(py, move || {
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        ember::ops::partition::hash_partition(&df, &refs, n)
    })?;
    Ok(pieces.into_iter().map(|df| PyDataFrame { df }).collect())
}

/// The rows dealt into `bounds.height + 1` CPU frames by sort order against the splitter rows
/// `bounds`; `keys` are (column, descending, nulls last).
#[pyfunction]
pub fn frame_range_partition(
    py: Python<'_>,
    frame: PyRef<'_, PyDataFrame>,
    bounds: PyRef<'_, PyDataFrame>,
    keys: Vec<(String, bool, bool)>,
) -> PyResult<Vec<PyDataFrame>> {
    let (df, bounds) = (frame.df.clone(), bounds.df.clone());
    let pieces = run(py, move || {
        let refs: Vec<(&str, bool, bool)> = keys.iter().map(|(k, d, n)| (k.as_str(), *d, *n)).collect();
        ember::ops::partition::range_partition(&df, &bounds, &refs)
    })?;
    Ok(pieces.into_iter().map(|df| PyDataFrame { df }).collect())
}

/// `LazyFrame::scan(name, frame)`: a plan whose source is known by `name` (and can be bound by
/// that name after a round trip through JSON).
#[pyfunction]
pub fn scan_named(name: &str, frame: PyRef<'_, PyDataFrame>) -> PyLazyFrame {
    PyLazyFrame { lf: LazyFrame::scan(name, &frame.df) }
}

/// Concatenates CPU or device frames with the same columns, in order.
#[pyfunction]
pub fn concat_frames(py: Python<'_>, frames: Vec<PyRef<'_, PyDataFrame>>) -> PyResult<PyDataFrame> {
    let dfs: Vec<DataFrame> = frames.iter().map(|f| f.df.clone()).collect();
    Ok(PyDataFrame { df: run(py, move || ember::ops::concat::concat(&dfs))? })
}

/// An empty frame with the plan's output columns (without running it).
#[pyfunction]
pub fn plan_empty(lf: PyRef<'_, PyLazyFrame>) -> PyResult<PyDataFrame> {
    let fields = lf.lf.logical_plan().schema().py()?;
    let named = fields
        .iter()
        .map(|f| (f.name.clone(), ember::Column::Host(arrow::array::new_empty_array(&f.dtype.to_arrow()))))
        .collect();
    Ok(PyDataFrame { df: DataFrame::from_columns(named, ember::Device::Cpu).py()? })
}
