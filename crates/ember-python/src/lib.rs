//! `ember._ember`: the compiled half of ember's Python package. The Python half (`python/src/ember`)
//! wraps these classes with polars' names; users never import this module directly.
//!
//! Every call that runs kernels, I/O or rayon work goes through [`run::run`]: the GIL is
//! released and Ctrl-C is honoured while it waits.
mod ann;
mod arrow_ffi;
mod convert;
mod distributed;
mod dlpack;
mod error;
mod expr;
mod frame;
mod gbdt;
mod graph;
mod io;
mod lazy;
mod run;
mod tpch;

use pyo3::prelude::*;

/// The device ember picks by default (`EMBER_DEVICE`, else a CUDA GPU when present, else the
/// CPU) and why.
#[pyfunction]
fn default_device() -> PyResult<(String, String)> {
    let (d, why) = ember::Device::detect().map_err(error::to_py)?;
    Ok((d.to_string(), why))
}

#[pymodule]
fn _ember(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<frame::PyDataFrame>()?;
    m.add_class::<lazy::PyLazyFrame>()?;
    m.add_class::<expr::PyExpr>()?;
    m.add_class::<gbdt::PyGbdtModel>()?;
    m.add_function(wrap_pyfunction!(gbdt::gbdt_train, m)?)?;
    m.add_function(wrap_pyfunction!(gbdt::gbdt_train_arrays, m)?)?;
    m.add_function(wrap_pyfunction!(gbdt::gbdt_sketch, m)?)?;
    m.add_function(wrap_pyfunction!(gbdt::gbdt_cuts_from_sketches, m)?)?;
    m.add_function(wrap_pyfunction!(gbdt::gbdt_train_distributed, m)?)?;
    m.add_class::<graph::PyGraph>()?;
    m.add_class::<ann::PyFlatIndex>()?;
    m.add_class::<ann::PyHnswIndex>()?;
    m.add_function(wrap_pyfunction!(graph::graph_from_frame, m)?)?;
    m.add_function(wrap_pyfunction!(graph::graph_rmat, m)?)?;
    m.add_function(wrap_pyfunction!(expr::col, m)?)?;
    m.add_function(wrap_pyfunction!(expr::lit, m)?)?;
    m.add_function(wrap_pyfunction!(expr::when_then_otherwise, m)?)?;
    m.add_function(wrap_pyfunction!(expr::coalesce, m)?)?;
    m.add_function(wrap_pyfunction!(lazy::concat, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::scan_named, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::concat_frames, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::expr_to_json, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::expr_from_json, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::expr_agg_parts, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::plan_to_json, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::plan_from_json, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::plan_bind, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::plan_substitute, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::frame_to_ipc, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::frame_from_ipc, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::frame_hash_partition, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::frame_range_partition, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::plan_empty, m)?)?;
    m.add_function(wrap_pyfunction!(io::read_csv, m)?)?;
    m.add_function(wrap_pyfunction!(io::scan_csv, m)?)?;
    m.add_function(wrap_pyfunction!(io::read_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(io::scan_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(io::parquet_row_groups, m)?)?;
    m.add_function(wrap_pyfunction!(io::write_csv, m)?)?;
    m.add_function(wrap_pyfunction!(io::write_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(tpch::tables, m)?)?;
    m.add_function(wrap_pyfunction!(tpch::query, m)?)?;
    m.add_function(wrap_pyfunction!(tpch::table_part, m)?)?;
    m.add_function(wrap_pyfunction!(default_device, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
