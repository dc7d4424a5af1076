//! Python values ↔ ember scalars, Python lists → Arrow arrays, dtype names → [`DType`].
use arrow::array::*;
use arrow::datatypes::TimeUnit;
use ember::{format_decimal, DType, Scalar};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDate, PyDateTime, PyFloat, PyInt, PyString};
use std::sync::Arc;

/// Days from 0001-01-01 (ordinal 1) to 1970-01-01.
const EPOCH_ORDINAL: i64 = 719_163;

fn is_decimal(obj: &Bound<'_, PyAny>) -> bool {
    obj.get_type().fully_qualified_name().map(|n| n == "decimal.Decimal").unwrap_or(false)
}

/// A Python value as an ember scalar: `None`, `bool`, `int` (as int64, or uint64 above its
/// range), `float`, `str`, `datetime.date`, `decimal.Decimal`.
pub fn scalar(obj: &Bound<'_, PyAny>) -> PyResult<Scalar> {
    if obj.is_none() {
        return Ok(Scalar::Null);
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Scalar::Bool(obj.extract()?));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(v) = obj.extract::<i64>() {
            return Ok(Scalar::Int64(v));
        }
        return obj
            .extract::<u64>()
            .map(Scalar::UInt64)
            .map_err(|_| PyValueError::new_err(format!("integer {obj} does not fit 64 bits")));
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(Scalar::Float64(obj.extract()?));
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(Scalar::Utf8(obj.extract()?));
    }
    if obj.is_instance_of::<PyDateTime>() {
        return Err(PyTypeError::new_err("datetime values are not supported yet; pass a datetime.date"));
    }
    if let Ok(d) = obj.cast::<PyDate>() {
        let ordinal: i64 = d.call_method0("toordinal")?.extract()?;
        return Ok(Scalar::Date32((ordinal - EPOCH_ORDINAL) as i32));
    }
    if is_decimal(obj) {
        let text: String = obj.str()?.extract()?;
        return Scalar::parse_decimal(&text).map_err(crate::error::to_py);
    }
    // NumPy scalars (np.int64(3), np.float32(0.5), np.bool_(True)): their Python value.
    if obj.get_type().module().map(|m| m == "numpy").unwrap_or(false) && obj.hasattr("item")? {
        let item = obj.call_method0("item")?;
        if !item.is(obj) {
            return scalar(&item);
        }
    }
    Err(PyTypeError::new_err(format!("cannot use a {} as an ember value", obj.get_type().name()?)))
}

/// An ember scalar as a Python value (`Decimal` for decimals, `date` for dates).
pub fn to_python(py: Python<'_>, s: &Scalar) -> PyResult<Py<PyAny>> {
    Ok(match s {
        Scalar::Null => py.None(),
        Scalar::Bool(v) => v.into_pyobject(py)?.to_owned().into_any().unbind(),
        Scalar::Int8(v) => v.into_pyobject(py)?.into_any().unbind(),
        Scalar::Int16(v) => v.into_pyobject(py)?.into_any().unbind(),
        Scalar::Int32(v) => v.into_pyobject(py)?.into_any().unbind(),
        Scalar::Int64(v) => v.into_pyobject(py)?.into_any().unbind(),
        Scalar::UInt8(v) => v.into_pyobject(py)?.into_any().unbind(),
        Scalar::UInt16(v) => v.into_pyobject(py)?.into_any().unbind(),
        Scalar::UInt32(v) => v.into_pyobject(py)?.into_any().unbind(),
        Scalar::UInt64(v) => v.into_pyobject(py)?.into_any().unbind(),
        Scalar::Float32(v) => v.into_pyobject(py)?.into_any().unbind(),
        Scalar::Float64(v) => v.into_pyobject(py)?.into_any().unbind(),
        Scalar::Utf8(v) => v.into_pyobject(py)?.into_any().unbind(),
        Scalar::Decimal128 { value, scale, .. } => {
            py.import("decimal")?.getattr("Decimal")?.call1((format_decimal(*value, *scale),))?.unbind()
        }
        Scalar::Date32(d) => {
            py.import("datetime")?.getattr("date")?.call_method1("fromordinal", (*d as i64 + EPOCH_ORDINAL,))?.unbind()
        }
        Scalar::Timestamp(v, _) => v.into_pyobject(py)?.into_any().unbind(),
    })
}

/// A Python list as an Arrow array: the type is the one every non-null item fits (ints and floats
/// mix to float64; decimals take the largest scale); all-`None` gives a null-typed int64 column.
pub fn list_to_array(items: &Bound<'_, PyAny>) -> PyResult<ArrayRef> {
    let values: Vec<Scalar> = items.try_iter()?.map(|o| scalar(&o?)).collect::<PyResult<_>>()?;
    let mut ty: Option<DType> = None;
    for v in &values {
        let Some(t) = v.dtype() else { continue };
        ty = Some(match (ty, t) {
            (None, t) => t,
            (Some(a), b) if a == b => a,
            (Some(DType::Int64 | DType::UInt64), DType::Float64)
            | (Some(DType::Float64), DType::Int64 | DType::UInt64) => DType::Float64,
            (Some(DType::Int64), DType::UInt64) | (Some(DType::UInt64), DType::Int64) => DType::Float64,
            (Some(DType::Decimal128 { scale: a, .. }), DType::Decimal128 { scale: b, .. }) => {
                DType::Decimal128 { precision: 38, scale: a.max(b) }
            }
            (Some(a), b) => return Err(PyTypeError::new_err(format!("a list mixes {a} and {b} values"))),
        });
    }
    let ty = match ty {
        Some(DType::Decimal128 { scale, .. }) => DType::Decimal128 { precision: 38, scale },
        Some(t) => t,
        None => DType::Int64,
    };
    Ok(match ty {
        DType::Bool => Arc::new(
            values.iter().map(|v| if let Scalar::Bool(b) = v { Some(*b) } else { None }).collect::<BooleanArray>(),
        ),
        DType::Int64 => Arc::new(
            values.iter().map(|v| if let Scalar::Int64(b) = v { Some(*b) } else { None }).collect::<Int64Array>(),
        ),
        DType::UInt64 => Arc::new(
            values.iter().map(|v| if let Scalar::UInt64(b) = v { Some(*b) } else { None }).collect::<UInt64Array>(),
        ),
        DType::Float64 => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Scalar::Float64(f) => Some(*f),
                    Scalar::Int64(i) => Some(*i as f64),
                    Scalar::UInt64(i) => Some(*i as f64),
                    _ => None,
                })
                .collect::<Float64Array>(),
        ),
        DType::Utf8 => Arc::new(
            values
                .iter()
                .map(|v| if let Scalar::Utf8(s) = v { Some(s.as_str()) } else { None })
                .collect::<StringArray>(),
        ),
        DType::Date32 => Arc::new(
            values.iter().map(|v| if let Scalar::Date32(d) = v { Some(*d) } else { None }).collect::<Date32Array>(),
        ),
        DType::Decimal128 { precision, scale } => {
            let rescaled = values
                .iter()
                .map(|v| match v {
                    Scalar::Decimal128 { value, scale: s, .. } => {
                        10i128.checked_pow((scale - s) as u32).and_then(|m| value.checked_mul(m)).map(Some).ok_or_else(
                            || {
                                PyValueError::new_err(format!(
                                    "decimal {} does not fit 38 digits at scale {scale}",
                                    format_decimal(*value, *s)
                                ))
                            },
                        )
                    }
                    _ => Ok(None),
                })
                .collect::<PyResult<Decimal128Array>>()?;
            Arc::new(
                rescaled
                    .with_precision_and_scale(precision, scale)
                    .map_err(|e| PyValueError::new_err(e.to_string()))?,
            )
        }
        other => return Err(PyTypeError::new_err(format!("lists of {other} values are not supported"))),
    })
}

/// A dtype from its name: polars' (`Int64`, `Float64`, `String`, `Boolean`, `Date`,
/// `Decimal(15, 2)`) or ember's / Arrow's (`int64`, `utf8`, `bool`, `date32`,
/// `decimal128(15, 2)`), case-insensitive.
pub fn dtype(name: &str) -> PyResult<DType> {
    let n = name.trim().to_ascii_lowercase().replace(' ', "");
    Ok(match n.as_str() {
        "bool" | "boolean" => DType::Bool,
        "int8" | "i8" => DType::Int8,
        "int16" | "i16" => DType::Int16,
        "int32" | "i32" => DType::Int32,
        "int64" | "i64" => DType::Int64,
        "uint8" | "u8" => DType::UInt8,
        "uint16" | "u16" => DType::UInt16,
        "uint32" | "u32" => DType::UInt32,
        "uint64" | "u64" => DType::UInt64,
        "float32" | "f32" => DType::Float32,
        "float64" | "f64" | "float" => DType::Float64,
        "utf8" | "str" | "string" => DType::Utf8,
        "date" | "date32" => DType::Date32,
        "timestamp[ns]" | "datetime[ns]" => DType::Timestamp(TimeUnit::Nanosecond),
        "timestamp[us]" | "datetime[us]" => DType::Timestamp(TimeUnit::Microsecond),
        "timestamp[ms]" | "datetime[ms]" => DType::Timestamp(TimeUnit::Millisecond),
        _ => {
            let args =
                n.strip_prefix("decimal128(").or_else(|| n.strip_prefix("decimal(")).and_then(|r| r.strip_suffix(')'));
            let parsed = args.and_then(|a| {
                let (p, s) = a.split_once(',')?;
                Some(DType::Decimal128 { precision: p.parse().ok()?, scale: s.parse().ok()? })
            });
            return parsed.ok_or_else(|| {
                PyValueError::new_err(format!(
                    "unknown dtype {name:?}; expected one of Boolean, Int8..Int64, UInt8..UInt64, Float32, Float64, \
                     String, Date, Decimal(p, s)"
                ))
            });
        }
    })
}
