//! `ember.read_csv` / `read_parquet` / `scan_*` / `DataFrame.write_*`: the readers of
//! `ember::io` with polars' argument names, run without the GIL.
use crate::convert;
use crate::error::{raise, IntoPyResult};
use crate::frame::{device, PyDataFrame};
use crate::lazy::PyLazyFrame;
use crate::run::run;
use ember::io::{Compression, CsvReadOptions, CsvWriteOptions, ParquetChunks, ParquetReadOptions, ParquetWriteOptions};
use ember::LazyFrame;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::collections::HashMap;

fn one_byte(what: &str, s: &str) -> PyResult<u8> {
    match s.as_bytes() {
        [b] => Ok(*b),
        _ => Err(PyValueError::new_err(format!("{what} must be one ASCII character, got {s:?}"))),
    }
}

/// CSV options from polars-style arguments.
#[allow(clippy::too_many_arguments)]
fn csv_options(
    has_header: bool,
    separator: &str,
    quote_char: Option<&str>,
    comment_prefix: Option<&str>,
    skip_rows: usize,
    n_rows: Option<usize>,
    columns: Option<Vec<String>>,
    schema_overrides: Option<HashMap<String, String>>,
    null_values: Option<Vec<String>>,
    infer_schema_length: Option<usize>,
    ignore_errors: bool,
    byte_range: Option<(usize, usize)>,
) -> PyResult<CsvReadOptions> {
    let mut o = CsvReadOptions::default()
        .with_header(has_header)
        .with_delimiter(one_byte("separator", separator)?)
        .with_quote(quote_char.map(|q| one_byte("quote_char", q)).transpose()?)
        .with_skip_rows(skip_rows)
        .with_infer_schema_length(infer_schema_length)
        .with_ignore_errors(ignore_errors);
    if let Some(c) = comment_prefix {
        o = o.with_comment(one_byte("comment_prefix", c)?);
    }
    if let Some(n) = n_rows {
        o = o.with_n_rows(n);
    }
    if let Some(c) = columns {
        o = o.with_columns(c);
    }
    for (name, t) in schema_overrides.unwrap_or_default() {
        o = o.with_dtype(&name, convert::dtype(&t)?);
    }
    if let Some(v) = null_values {
        o = o.with_null_values(v);
    }
    if let Some((offset, len)) = byte_range {
        o = o.with_byte_range(offset, len);
    }
    Ok(o)
}

fn parquet_options(
    columns: Option<Vec<String>>,
    n_rows: Option<usize>,
    row_groups: Option<Vec<usize>>,
    memory_limit: Option<usize>,
) -> ParquetReadOptions {
    let mut o = ParquetReadOptions { memory_limit, ..Default::default() };
    if let Some(c) = columns {
        o = o.with_columns(c);
    }
    if let Some(n) = n_rows {
        o = o.with_n_rows(n);
    }
    if let Some(g) = row_groups {
        o = o.with_row_groups(g);
    }
    o
}

/// The frame's columns in the order the caller listed them (the readers keep file order).
fn in_order(df: ember::DataFrame, columns: Option<&[String]>) -> PyResult<PyDataFrame> {
    let df = match columns {
        Some(c) => df.select(&c.iter().map(String::as_str).collect::<Vec<_>>()).py()?,
        None => df,
    };
    Ok(PyDataFrame { df })
}

/// `ember.read_csv`: the whole file on `device` (decoded by the GPU there, else on the CPU).
#[pyfunction]
#[pyo3(signature = (path, *, has_header=true, separator=",", quote_char=Some("\""), comment_prefix=None,
    skip_rows=0, n_rows=None, columns=None, schema_overrides=None, null_values=None, infer_schema_length=Some(1000),
    ignore_errors=false, byte_range=None, device=None))]
#[allow(clippy::too_many_arguments)]
pub fn read_csv(
    py: Python<'_>,
    path: std::path::PathBuf,
    has_header: bool,
    separator: &str,
    quote_char: Option<&str>,
    comment_prefix: Option<&str>,
    skip_rows: usize,
    n_rows: Option<usize>,
    columns: Option<Vec<String>>,
    schema_overrides: Option<HashMap<String, String>>,
    null_values: Option<Vec<String>>,
    infer_schema_length: Option<usize>,
    ignore_errors: bool,
    byte_range: Option<(usize, usize)>,
    device: Option<&str>,
) -> PyResult<PyDataFrame> {
    let o = csv_options(
        has_header,
        separator,
        quote_char,
        comment_prefix,
        skip_rows,
        n_rows,
        columns,
        schema_overrides,
        null_values,
        infer_schema_length,
        ignore_errors,
        byte_range,
    )?;
    let d = self::device(device)?;
    let order = o.columns.clone();
    in_order(run(py, move || ember::io::read_csv_on(path, &o, d, None))?, order.as_deref())
}

/// `ember.scan_csv`: a lazy query that reads the file when collected.
#[pyfunction]
#[pyo3(signature = (path, *, has_header=true, separator=",", quote_char=Some("\""), comment_prefix=None,
    skip_rows=0, n_rows=None, schema_overrides=None, null_values=None, infer_schema_length=Some(1000),
    ignore_errors=false, byte_range=None, device=None))]
#[allow(clippy::too_many_arguments)]
pub fn scan_csv(
    path: std::path::PathBuf,
    has_header: bool,
    separator: &str,
    quote_char: Option<&str>,
    comment_prefix: Option<&str>,
    skip_rows: usize,
    n_rows: Option<usize>,
    schema_overrides: Option<HashMap<String, String>>,
    null_values: Option<Vec<String>>,
    infer_schema_length: Option<usize>,
    ignore_errors: bool,
    byte_range: Option<(usize, usize)>,
    device: Option<&str>,
) -> PyResult<PyLazyFrame> {
    let o = csv_options(
        has_header,
        separator,
        quote_char,
        comment_prefix,
        skip_rows,
        n_rows,
        None,
        schema_overrides,
        null_values,
        infer_schema_length,
        ignore_errors,
        byte_range,
    )?;
    Ok(PyLazyFrame { lf: LazyFrame::scan_csv(path, o, self::device(device)?).py()? })
}

/// `ember.read_parquet`. With `progress`, the file is read in chunks of row groups (under
/// `chunk_bytes` of decoded data each), `progress(done, total)` is called after each, and
/// Ctrl-C stops the read between chunks.
#[pyfunction]
#[pyo3(signature = (path, *, columns=None, n_rows=None, row_groups=None, device=None, progress=None,
    chunk_bytes=64 << 20, memory_limit=None))]
#[allow(clippy::too_many_arguments)]
pub fn read_parquet(
    py: Python<'_>,
    path: std::path::PathBuf,
    columns: Option<Vec<String>>,
    n_rows: Option<usize>,
    row_groups: Option<Vec<usize>>,
    device: Option<&str>,
    progress: Option<Bound<'_, PyAny>>,
    chunk_bytes: usize,
    memory_limit: Option<usize>,
) -> PyResult<PyDataFrame> {
    let order = columns.clone();
    let o = parquet_options(columns, n_rows, row_groups, memory_limit);
    let d = self::device(device)?;
    let Some(progress) = progress.filter(|p| !p.is_none()) else {
        return in_order(run(py, move || ember::io::read_parquet_on(path, &o, d, None))?, order.as_deref());
    };
    if o.n_rows.is_some() {
        return Err(raise("InvalidArgumentError", "n_rows cannot be combined with progress yet".into()));
    }
    let mut chunks = run(py, move || ParquetChunks::new(path, &o, chunk_bytes))?;
    let total = chunks.remaining();
    let mut frames = Vec::with_capacity(total);
    progress.call1((0, total))?;
    for done in 1..=total {
        let (frame, rest) = run(py, move || {
            let f = chunks.next().unwrap_or_else(|| Err(ember::Error::Internal("chunk count changed".into())));
            f.map(|f| (f, chunks))
        })?;
        chunks = rest;
        frames.push(frame);
        progress.call1((done, total))?;
    }
    let df = run(py, move || {
        let df = if frames.is_empty() {
            Err(ember::Error::InvalidArgument("no row groups were selected".into()))
        } else {
            ember::concat(&frames)
        }?;
        df.to(d)
    })?;
    in_order(df, order.as_deref())
}

/// The row count of each row group of a Parquet file, from its footer.
#[pyfunction]
pub fn parquet_row_groups(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Vec<usize>> {
    run(py, move || ember::io::parquet_row_groups(path))
}

/// `ember.scan_parquet`: a lazy query that reads only the columns and row groups it needs.
#[pyfunction]
#[pyo3(signature = (path, *, n_rows=None, row_groups=None, device=None, memory_limit=None))]
pub fn scan_parquet(
    path: std::path::PathBuf,
    n_rows: Option<usize>,
    row_groups: Option<Vec<usize>>,
    device: Option<&str>,
    memory_limit: Option<usize>,
) -> PyResult<PyLazyFrame> {
    let o = parquet_options(None, n_rows, row_groups, memory_limit);
    Ok(PyLazyFrame { lf: LazyFrame::scan_parquet(path, o, self::device(device)?).py()? })
}

/// `DataFrame.write_csv`.
#[pyfunction]
#[pyo3(signature = (df, path, *, include_header=true, separator=",", null_value=""))]
pub fn write_csv(
    py: Python<'_>,
    df: PyRef<'_, PyDataFrame>,
    path: std::path::PathBuf,
    include_header: bool,
    separator: &str,
    null_value: &str,
) -> PyResult<()> {
    let o = CsvWriteOptions {
        has_header: include_header,
        delimiter: one_byte("separator", separator)?,
        null_value: null_value.to_string(),
    };
    let df = df.df.clone();
    run(py, move || ember::io::write_csv(&df, path, &o))
}

/// `DataFrame.write_parquet` (`compression`: uncompressed, snappy, zstd, lz4, gzip).
#[pyfunction]
#[pyo3(signature = (df, path, *, compression="snappy", row_group_size=None, page_rows=None))]
pub fn write_parquet(
    py: Python<'_>,
    df: PyRef<'_, PyDataFrame>,
    path: std::path::PathBuf,
    compression: &str,
    row_group_size: Option<usize>,
    page_rows: Option<usize>,
) -> PyResult<()> {
    let compression = match compression {
        "uncompressed" => Compression::Uncompressed,
        "snappy" => Compression::Snappy,
        "zstd" => Compression::Zstd(3),
        "lz4" => Compression::Lz4Raw,
        "gzip" => Compression::Gzip(6),
        other => return Err(PyValueError::new_err(format!("unknown compression {other:?}"))),
    };
    let mut o = ParquetWriteOptions { compression, ..ParquetWriteOptions::default() };
    if let Some(n) = row_group_size {
        o.row_group_size = n;
    }
    if let Some(n) = page_rows {
        o.page_rows = n;
    }
    let df = df.df.clone();
    run(py, move || ember::io::write_parquet(&df, path, &o))
}
