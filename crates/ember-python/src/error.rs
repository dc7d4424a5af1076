//! The one conversion from ember's Rust error to a Python exception.
//!
//! The exception classes live in Python (`ember/exceptions.py`) so that they can inherit from both
//! `EmberError` and a builtin (`ColumnNotFoundError` is a `KeyError`, `OutOfMemoryError` a
//! `MemoryError`); this module looks them up by name. File errors become the builtin
//! `FileNotFoundError` / `PermissionError` / `OSError` with the path, as Python code expects.
use ember::gpu::GpuError;
use ember::Error;
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyPermissionError};
use pyo3::prelude::*;
use pyo3::types::PyType;

/// A Rust error as the matching `ember.exceptions` class; the message is the error's full text.
pub fn to_py(err: Error) -> PyErr {
    let message = err.to_string();
    let class = match &err {
        Error::Io { path, source } => {
            let errno = source.raw_os_error().unwrap_or(0);
            let args = (errno, source.to_string(), path.clone());
            return match source.kind() {
                std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(args),
                std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(args),
                _ => PyOSError::new_err(args),
            };
        }
        Error::ColumnNotFound { .. } => "ColumnNotFoundError",
        Error::Type { .. } | Error::UnsupportedArrowType(_) => "SchemaError",
        Error::LengthMismatch { .. } => "ShapeError",
        Error::DeviceMismatch(_) => "DeviceError",
        Error::InvalidArgument(_) => "InvalidArgumentError",
        Error::Read { .. } => "ReadError",
        Error::Unsupported(_) => "UnsupportedError",
        Error::NotConverged { .. } => "NotConvergedError",
        Error::Collective(_) => "DistributedError",
        Error::Gpu(g) => match g {
            GpuError::OutOfMemory { .. } => "OutOfMemoryError",
            GpuError::Compile { .. } => "KernelCompileError",
            _ => "DeviceError",
        },
        _ => "ComputeError",
    };
    raise(class, message)
}

/// An `ember.exceptions.<class>` with `message` (a plain `RuntimeError` if the Python half of
/// the package cannot be imported, which only happens when `_ember` is loaded on its own).
pub fn raise(class: &str, message: String) -> PyErr {
    Python::attach(|py| {
        let found = py
            .import("ember.exceptions")
            .and_then(|m| m.getattr(class))
            .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
        match found {
            Ok(cls) => PyErr::from_type(cls, message),
            Err(_) => pyo3::exceptions::PyRuntimeError::new_err(format!("{class}: {message}")),
        }
    })
}

/// `Result<T, ember::Error>` → `PyResult<T>`.
pub trait IntoPyResult<T> {
    /// Converts the error with [`to_py`].
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for ember::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
