//! `ember.DataFrame`'s compiled half: an ember frame on one device, its Arrow exports, and the
//! eager operations (each one a lazy query collected at once, as in the Rust API).
use crate::arrow_ffi::{self, batch_as_array};
use crate::convert;
use crate::dlpack;
use crate::error::IntoPyResult;
use crate::lazy::PyLazyFrame;
use crate::run::run;
use arrow::array::{Array, ArrayRef};
use arrow::datatypes::Field;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use ember::plan::DataFrameOps;
use ember::{Column, DType, DataFrame, Device};
use pyo3::exceptions::{PyAttributeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyTuple};
use std::sync::Arc;

/// A frame (columns of one length, on one device).
#[pyclass(name = "PyDataFrame", module = "ember._ember", frozen)]
#[derive(Debug, Clone)]
pub struct PyDataFrame {
    pub df: DataFrame,
}

/// A device name (`"cpu"`, `"cuda"`, `"cuda:1"`, `"sim"`) as a [`Device`].
pub fn device(name: Option<&str>) -> PyResult<Device> {
    match name {
        None => Device::detect().map(|(d, _)| d).py(),
        Some(n) => n.parse::<Device>().py(),
    }
}

/// One column from a Python value: an Arrow array or chunked array (any `__arrow_c_array__` /
/// `__arrow_c_stream__` producer), a NumPy-like 1-D array (`__dlpack__`, zero-copy), or a list.
fn column_from(obj: &Bound<'_, PyAny>) -> PyResult<ArrayRef> {
    let array = if obj.hasattr("__arrow_c_array__")? {
        arrow_ffi::import_array(obj)?.1
    } else if obj.hasattr("__arrow_c_stream__")? {
        let (schema, batches) = arrow_ffi::import_stream(obj)?;
        let parts = batches
            .iter()
            .map(|b| {
                if b.num_columns() == 1 {
                    Ok(b.column(0).clone())
                } else {
                    Ok(Arc::new(arrow::array::StructArray::from(b.clone())) as ArrayRef)
                }
            })
            .collect::<PyResult<Vec<_>>>()?;
        match parts.len() {
            0 => arrow::array::new_empty_array(schema.field(0).data_type()),
            1 => parts.into_iter().next().expect("one part"),
            _ => {
                let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
                arrow::compute::concat(&refs).map_err(|e| crate::error::to_py(e.into()))?
            }
        }
    } else if obj.hasattr("__dlpack__")? {
        dlpack::import(obj)?
    } else if obj.is_instance_of::<pyo3::types::PyString>() {
        return Err(PyTypeError::new_err("a column needs a sequence of values, got a str"));
    } else {
        convert::list_to_array(obj)?
    };
    arrow_ffi::normalize(array)
}

impl PyDataFrame {
    /// One column in host memory (a download, without the GIL, for a GPU frame).
    fn host_column(&self, py: Python<'_>, name: &str) -> PyResult<(Field, ArrayRef)> {
        let i = self.df.column_index(name).py()?;
        let column = &self.df.columns()[i];
        let array = py.detach(|| column.to_arrow()).py()?;
        Ok((Field::new(name, array.data_type().clone(), true), array))
    }

    /// The frame in host memory (a download, without the GIL, for a GPU frame).
    fn host_batch(&self, py: Python<'_>) -> PyResult<arrow::array::RecordBatch> {
        py.detach(|| self.df.to_record_batch()).py()
    }
}

#[pymethods]
impl PyDataFrame {
    /// A frame from named columns (see [`column_from`]).
    #[staticmethod]
    fn from_columns(names: Vec<String>, values: Vec<Bound<'_, PyAny>>) -> PyResult<PyDataFrame> {
        if names.len() != values.len() {
            return Err(PyValueError::new_err("names and values differ in length"));
        }
        let named = names
            .into_iter()
            .zip(&values)
            .map(|(n, v)| Ok((n, Column::Host(column_from(v)?))))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyDataFrame { df: DataFrame::from_columns(named, Device::Cpu).py()? })
    }

    /// A frame from an Arrow stream or array producer (pyarrow, polars, pandas, DuckDB, ...).
    #[staticmethod]
    fn from_arrow(obj: &Bound<'_, PyAny>) -> PyResult<PyDataFrame> {
        if obj.hasattr("__arrow_c_stream__")? {
            let (schema, batches) = arrow_ffi::import_stream(obj)?;
            return Ok(PyDataFrame { df: arrow_ffi::frame_from_batches(schema, batches)? });
        }
        if obj.hasattr("__arrow_c_array__")? {
            let (field, array) = arrow_ffi::import_array(obj)?;
            let Some(s) = array.as_any().downcast_ref::<arrow::array::StructArray>() else {
                let name = field.name().clone();
                let df = DataFrame::from_columns(vec![(name, Column::Host(arrow_ffi::normalize(array)?))], Device::Cpu);
                return Ok(PyDataFrame { df: df.py()? });
            };
            let batch = arrow::array::RecordBatch::from(s.clone());
            return Ok(PyDataFrame { df: arrow_ffi::frame_from_batches(batch.schema(), vec![batch])? });
        }
        Err(PyTypeError::new_err(format!(
            "cannot make a DataFrame from a {}: it has neither __arrow_c_stream__ nor __arrow_c_array__",
            obj.get_type().name()?
        )))
    }

    #[getter]
    fn height(&self) -> usize {
        self.df.num_rows()
    }

    #[getter]
    fn width(&self) -> usize {
        self.df.num_columns()
    }

    #[getter]
    fn columns(&self) -> Vec<String> {
        self.df.fields().iter().map(|f| f.name.clone()).collect()
    }

    /// `[(name, dtype name)]`.
    #[getter]
    fn schema(&self) -> Vec<(String, String)> {
        self.df.fields().iter().map(|f| (f.name.clone(), f.dtype.to_string())).collect()
    }

    #[getter]
    fn device(&self) -> String {
        self.df.device().to_string()
    }

    /// A copy on `device` (the same frame if it is already there).
    fn to_device(&self, py: Python<'_>, device: &str) -> PyResult<PyDataFrame> {
        let d = self::device(Some(device))?;
        let df = self.df.clone();
        Ok(PyDataFrame { df: run(py, move || df.to(d))? })
    }

    fn lazy(&self) -> PyLazyFrame {
        PyLazyFrame { lf: self.df.lazy() }
    }

    fn select_columns(&self, names: Vec<String>) -> PyResult<PyDataFrame> {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        Ok(PyDataFrame { df: self.df.select(&refs).py()? })
    }

    fn slice(&self, offset: usize, length: usize) -> PyResult<PyDataFrame> {
        let offset = offset.min(self.df.num_rows());
        let length = length.min(self.df.num_rows() - offset);
        // A CPU frame slices as a zero-copy view; a GPU frame through the plan (its slice op).
        let df = match self.df.device() {
            Device::Cpu => self.df.slice(offset, length),
            _ => self.df.lazy().slice(offset, length).collect(),
        };
        Ok(PyDataFrame { df: df.py()? })
    }

    /// The rows `0..head` and `height - tail..` as text per column (for `repr` and HTML).
    fn format_rows(&self, py: Python<'_>, head: usize, tail: usize) -> PyResult<Vec<Vec<String>>> {
        let n = self.df.num_rows();
        let (head, tail) = if head + tail >= n { (n, 0) } else { (head, tail) };
        // Only the shown rows leave the device: each part is sliced there, then downloaded.
        let parts = py
            .detach(|| {
                [(0, head), (n - tail, tail)]
                    .into_iter()
                    .filter(|&(_, len)| len > 0)
                    .map(|(off, len)| {
                        let part = match self.df.device() {
                            Device::Cpu => self.df.slice(off, len)?,
                            _ => self.df.lazy().slice(off, len).collect()?,
                        };
                        part.to_record_batch()
                    })
                    .collect::<ember::Result<Vec<_>>>()
            })
            .py()?;
        let opts = FormatOptions::default().with_null("null");
        let mut out = vec![Vec::with_capacity(head + tail); self.df.num_columns()];
        for part in &parts {
            for (cells, array) in out.iter_mut().zip(part.columns()) {
                let f = ArrayFormatter::try_new(array.as_ref(), &opts).map_err(|e| crate::error::to_py(e.into()))?;
                cells.extend((0..array.len()).map(|i| f.value(i).to_string()));
            }
        }
        Ok(out)
    }

    /// One column's values as Python objects.
    fn column_to_list(&self, py: Python<'_>, name: &str) -> PyResult<Vec<Py<PyAny>>> {
        let (_, array) = self.host_column(py, name)?;
        (0..array.len()).map(|i| convert::to_python(py, &ember::Scalar::from_array(array.as_ref(), i).py()?)).collect()
    }

    fn column_null_count(&self, py: Python<'_>, name: &str) -> PyResult<usize> {
        Ok(self.host_column(py, name)?.1.null_count())
    }

    /// `__dlpack__` of one column (zero-copy on the CPU).
    fn column_dlpack<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        versioned: bool,
        copy: bool,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let array = self.host_column(py, name)?.1;
        let array = if copy {
            // A deep copy of the buffers (`copy=True`): extend an empty array by all of them.
            let data = array.to_data();
            let mut m = arrow::array::MutableArrayData::new(vec![&data], false, data.len());
            m.try_extend(0, 0, data.len()).map_err(|e| crate::error::to_py(e.into()))?;
            arrow::array::make_array(m.freeze())
        } else {
            array
        };
        dlpack::export(py, array, versioned)
    }

    #[pyo3(signature = (name, requested_schema=None))]
    fn column_arrow_c_array<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let (_, array) = self.host_column(py, name)?;
        arrow_ffi::export_array(py, array.as_ref(), name, requested_schema)
    }

    fn column_arrow_c_device_array<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyTuple>> {
        let (_, array) = self.host_column(py, name)?;
        arrow_ffi::export_device_array(py, array.as_ref(), name)
    }

    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let batch = self.host_batch(py)?;
        arrow_ffi::export_schema(py, batch.schema().as_ref())
    }

    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        arrow_ffi::export_stream(py, self.host_batch(py)?, requested_schema)
    }

    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let batch = self.host_batch(py)?;
        arrow_ffi::export_array(py, batch_as_array(&batch).as_ref(), "", requested_schema)
    }

    #[pyo3(signature = (requested_schema=None, **_kwargs))]
    fn __arrow_c_device_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
        _kwargs: Option<&Bound<'py, pyo3::types::PyDict>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let _ = requested_schema;
        let batch = self.host_batch(py)?;
        arrow_ffi::export_device_array(py, batch_as_array(&batch).as_ref(), "")
    }

    #[pyo3(signature = (requested_schema=None, **_kwargs))]
    fn __arrow_c_device_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
        _kwargs: Option<&Bound<'py, pyo3::types::PyDict>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        arrow_ffi::export_device_stream(py, self.host_batch(py)?)
    }

    /// `__cuda_array_interface__` (v3) of one column of a CUDA frame: the device buffer itself,
    /// read-only, after the device has finished writing it. Numeric columns without nulls only
    /// (Arrow's bit-packed validity is not the interface's byte mask).
    fn column_cuda_array_interface<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
        if !matches!(self.df.device(), Device::Cuda(_)) {
            return Err(PyAttributeError::new_err(format!(
                "__cuda_array_interface__ exists for CUDA columns only; this one is on {} (use __dlpack__ or to_numpy())",
                self.df.device()
            )));
        }
        let c = self.df.column(name).py()?.as_device().py()?.clone();
        let typestr = match c.dtype() {
            DType::Int8 => "|i1",
            DType::Int16 => "<i2",
            DType::Int32 | DType::Date32 => "<i4",
            DType::Int64 => "<i8",
            DType::UInt8 => "|u1",
            DType::UInt16 => "<u2",
            DType::UInt32 => "<u4",
            DType::UInt64 => "<u8",
            DType::Float32 => "<f4",
            DType::Float64 => "<f8",
            other => {
                return Err(PyTypeError::new_err(format!(
                    "__cuda_array_interface__ has no layout for a {other} column"
                )))
            }
        };
        let ctx = ember::gpu::ExecContext::new(c.gpu().clone());
        let nulls = py.detach(|| -> ember::Result<usize> {
            ctx.synchronize()?;
            c.null_count(&ctx)
        });
        if nulls.py()? > 0 {
            return Err(pyo3::exceptions::PyBufferError::new_err("the column has nulls; fill them first (fill_null)"));
        }
        let d = PyDict::new(py);
        d.set_item("shape", (c.len(),))?;
        d.set_item("typestr", typestr)?;
        d.set_item("descr", vec![("", typestr)])?;
        d.set_item("data", (c.values().device_ptr(), true))?;
        d.set_item("strides", py.None())?;
        d.set_item("version", 3)?;
        d.set_item("stream", py.None())?; // synchronized above: no stream to wait on
        Ok(d)
    }

    /// The address of one column's values buffer on the host (tests prove zero copy with it).
    fn column_buffer_address(&self, py: Python<'_>, name: &str) -> PyResult<usize> {
        let (_, array) = self.host_column(py, name)?;
        let data = array.to_data();
        let buf = data.buffers().last().ok_or_else(|| PyValueError::new_err("the column has no value buffer"))?;
        Ok(buf.as_ptr() as usize)
    }
}
