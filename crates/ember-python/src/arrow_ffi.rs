//! The Arrow PyCapsule interface, both ways, on `arrow::ffi` / `arrow::ffi_stream`: ember frames
//! are consumed by (and consume) pyarrow, polars, pandas, DuckDB, nanoarrow and anything else that
//! speaks the C Data / C Stream / C Device interfaces, without copying column buffers and
//! without importing pyarrow. Each capsule owns a boxed C struct; its destructor drops the box,
//! and the struct's own `Drop` calls `release` unless the consumer moved the contents out (the
//! protocol: a consumer that takes the data sets `release` to null).
use arrow::array::{
    make_array, Array, ArrayRef, RecordBatch, RecordBatchIterator, RecordBatchOptions, RecordBatchReader, StructArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ffi::{from_ffi, to_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use ember::{DataFrame, Error};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyCapsuleMethods, PyTuple};
use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::NonNull;
use std::sync::Arc;

/// A C struct that travels in a capsule of this name.
pub trait Capsuled {
    /// The capsule name the protocol fixes for the struct.
    const NAME: &'static CStr;
}
impl Capsuled for FFI_ArrowSchema {
    const NAME: &'static CStr = c"arrow_schema";
}
impl Capsuled for FFI_ArrowArray {
    const NAME: &'static CStr = c"arrow_array";
}
impl Capsuled for FFI_ArrowArrayStream {
    const NAME: &'static CStr = c"arrow_array_stream";
}
impl Capsuled for DeviceArray {
    const NAME: &'static CStr = c"arrow_device_array";
}
impl Capsuled for DeviceArrayStream {
    const NAME: &'static CStr = c"arrow_device_array_stream";
}

/// Capsule destructor: drops the box made by [`capsule`].
unsafe extern "C" fn drop_boxed<T: Capsuled>(capsule: *mut ffi::PyObject) {
    // SAFETY: Python calls this with the capsule being destroyed; the name is the one we set.
    let ptr = unsafe { ffi::PyCapsule_GetPointer(capsule, T::NAME.as_ptr()) };
    if ptr.is_null() {
        // SAFETY: GetPointer failed and set an exception; a destructor must not leave one.
        unsafe { ffi::PyErr_Clear() };
        return;
    }
    // SAFETY: the pointer came from `Box::into_raw` in `capsule` and is dropped only here.
    drop(unsafe { Box::from_raw(ptr.cast::<T>()) });
}

/// A capsule owning `value`.
pub fn capsule<T: Capsuled>(py: Python<'_>, value: T) -> PyResult<Bound<'_, PyCapsule>> {
    let raw = Box::into_raw(Box::new(value));
    let ptr = NonNull::new(raw.cast::<c_void>()).expect("Box::into_raw is never null");
    // SAFETY: `ptr` is a live box of `T` that the destructor (matching name and type) frees.
    let cap = unsafe { PyCapsule::new_with_pointer_and_destructor(py, ptr, T::NAME, Some(drop_boxed::<T>)) };
    if cap.is_err() {
        // SAFETY: the capsule was not made, so nothing else owns the box.
        drop(unsafe { Box::from_raw(raw) });
    }
    cap
}

/// The struct pointer in a capsule that must carry `T`'s name.
fn pointer<T: Capsuled>(cap: &Bound<'_, PyAny>) -> PyResult<*mut T> {
    let cap = cap.cast::<PyCapsule>()?;
    Ok(cap.pointer_checked(Some(T::NAME))?.as_ptr().cast::<T>())
}

fn arrow_err(e: arrow::error::ArrowError) -> PyErr {
    crate::error::to_py(Error::from(e))
}

// ---------------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------------

/// `__arrow_c_schema__`.
pub fn export_schema<'py>(py: Python<'py>, schema: &Schema) -> PyResult<Bound<'py, PyCapsule>> {
    capsule(py, FFI_ArrowSchema::try_from(schema).map_err(arrow_err)?)
}

/// The batch cast to `requested` where the consumer asked for other (castable) types of the same
/// columns; the batch unchanged otherwise (the protocol lets a producer ignore the request).
fn as_requested(batch: RecordBatch, requested: Option<&Bound<'_, PyAny>>) -> PyResult<RecordBatch> {
    let Some(req) = requested.filter(|r| !r.is_none()) else { return Ok(batch) };
    let ptr = pointer::<FFI_ArrowSchema>(req)?;
    // SAFETY: the consumer keeps ownership of the requested schema; we only read it.
    let wanted = Schema::try_from(unsafe { &*ptr }).map_err(arrow_err)?;
    if wanted.fields().len() != batch.num_columns() {
        return Ok(batch);
    }
    let mut columns = Vec::with_capacity(batch.num_columns());
    let mut fields = Vec::with_capacity(batch.num_columns());
    for (col, (have, want)) in batch.columns().iter().zip(batch.schema().fields().iter().zip(wanted.fields())) {
        if have.data_type() != want.data_type() && arrow::compute::can_cast_types(have.data_type(), want.data_type()) {
            columns.push(arrow::compute::cast(col, want.data_type()).map_err(arrow_err)?);
            fields.push(Field::new(have.name(), want.data_type().clone(), have.is_nullable()));
        } else {
            columns.push(col.clone());
            fields.push(have.as_ref().clone());
        }
    }
    let opts = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &opts).map_err(arrow_err)
}

/// `__arrow_c_stream__`: the batch as a one-batch stream.
pub fn export_stream<'py>(
    py: Python<'py>,
    batch: RecordBatch,
    requested: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyCapsule>> {
    let batch = as_requested(batch, requested)?;
    let schema = batch.schema();
    let reader = RecordBatchIterator::new([Ok(batch)], schema);
    capsule(py, FFI_ArrowArrayStream::new(Box::new(reader)))
}

/// The (schema, array) pair for one array (a frame exports as a struct array).
fn to_c(array: &dyn Array, name: &str) -> PyResult<(FFI_ArrowSchema, FFI_ArrowArray)> {
    let (arr, _) = to_ffi(&array.to_data()).map_err(arrow_err)?;
    let field = Field::new(name, array.data_type().clone(), true);
    let schema = FFI_ArrowSchema::try_from(&field).map_err(arrow_err)?;
    Ok((schema, arr))
}

/// A frame's batch as one struct array (how the protocol carries a table in one array).
pub fn batch_as_array(batch: &RecordBatch) -> ArrayRef {
    Arc::new(StructArray::from(batch.clone()))
}

/// `__arrow_c_array__`: `(schema capsule, array capsule)`.
pub fn export_array<'py>(
    py: Python<'py>,
    array: &dyn Array,
    name: &str,
    requested: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let array = match (requested.filter(|r| !r.is_none()), array.data_type()) {
        (Some(req), _) => {
            let ptr = pointer::<FFI_ArrowSchema>(req)?;
            // SAFETY: the consumer keeps ownership of the requested schema; we only read it.
            let want = DataType::try_from(unsafe { &*ptr }).map_err(arrow_err)?;
            if &want != array.data_type() && arrow::compute::can_cast_types(array.data_type(), &want) {
                arrow::compute::cast(array, &want).map_err(arrow_err)?
            } else {
                make_array(array.to_data())
            }
        }
        _ => make_array(array.to_data()),
    };
    let (schema, arr) = to_c(array.as_ref(), name)?;
    PyTuple::new(py, [capsule(py, schema)?.into_any(), capsule(py, arr)?.into_any()])
}

/// ArrowDeviceType of host memory (the C Device Data Interface's `ARROW_DEVICE_CPU`).
pub const ARROW_DEVICE_CPU: i32 = 1;

/// The C Device Data Interface's `ArrowDeviceArray`.
#[repr(C)]
#[derive(Debug)]
pub struct DeviceArray {
    array: FFI_ArrowArray,
    device_id: i64,
    device_type: i32,
    sync_event: *mut c_void,
    reserved: [i64; 3],
}

impl DeviceArray {
    fn host(array: FFI_ArrowArray) -> DeviceArray {
        DeviceArray {
            array,
            device_id: -1,
            device_type: ARROW_DEVICE_CPU,
            sync_event: std::ptr::null_mut(),
            reserved: [0; 3],
        }
    }
}

/// `__arrow_c_device_array__`: `(schema capsule, device array capsule)`, host memory.
pub fn export_device_array<'py>(py: Python<'py>, array: &dyn Array, name: &str) -> PyResult<Bound<'py, PyTuple>> {
    let (schema, arr) = to_c(array, name)?;
    PyTuple::new(py, [capsule(py, schema)?.into_any(), capsule(py, DeviceArray::host(arr))?.into_any()])
}

/// The C Device Data Interface's `ArrowDeviceArrayStream`: here a wrapper of a host stream
/// (`private_data` is the boxed inner stream) whose arrays are tagged as CPU memory.
#[repr(C)]
#[derive(Debug)]
pub struct DeviceArrayStream {
    device_type: i32,
    get_schema: Option<unsafe extern "C" fn(*mut DeviceArrayStream, *mut FFI_ArrowSchema) -> c_int>,
    get_next: Option<unsafe extern "C" fn(*mut DeviceArrayStream, *mut DeviceArray) -> c_int>,
    get_last_error: Option<unsafe extern "C" fn(*mut DeviceArrayStream) -> *const c_char>,
    release: Option<unsafe extern "C" fn(*mut DeviceArrayStream)>,
    private_data: *mut c_void,
}

impl Drop for DeviceArrayStream {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            // SAFETY: `release` is ours (set in `export_device_stream`) and not yet called.
            unsafe { release(self) }
        }
    }
}

/// The wrapped host stream of a [`DeviceArrayStream`].
///
/// # Safety
/// `s` must be a live stream made by [`export_device_stream`] and not released.
unsafe fn inner<'a>(s: *mut DeviceArrayStream) -> &'a mut FFI_ArrowArrayStream {
    // SAFETY: the caller's contract; `private_data` is a live `Box<FFI_ArrowArrayStream>`.
    unsafe { &mut *(*s).private_data.cast::<FFI_ArrowArrayStream>() }
}

unsafe extern "C" fn device_get_schema(s: *mut DeviceArrayStream, out: *mut FFI_ArrowSchema) -> c_int {
    // SAFETY: called by the consumer on our live stream.
    let inner = unsafe { inner(s) };
    match inner.get_schema() {
        // SAFETY: the inner stream's own callback with its own pointer.
        Some(f) => unsafe { f(inner, out) },
        None => libc_einval(),
    }
}

unsafe extern "C" fn device_get_next(s: *mut DeviceArrayStream, out: *mut DeviceArray) -> c_int {
    // SAFETY: called by the consumer on our live stream with `out` writable.
    let inner = unsafe { inner(s) };
    let Some(f) = inner.get_next() else { return libc_einval() };
    // SAFETY: `out` points to writable memory for a `DeviceArray`; the inner stream writes its
    // `array` member, then we fill in the device fields.
    unsafe {
        let rc = f(inner, &raw mut (*out).array);
        (&raw mut (*out).device_id).write(-1);
        (&raw mut (*out).device_type).write(ARROW_DEVICE_CPU);
        (&raw mut (*out).sync_event).write(std::ptr::null_mut());
        (&raw mut (*out).reserved).write([0; 3]);
        rc
    }
}

unsafe extern "C" fn device_get_last_error(s: *mut DeviceArrayStream) -> *const c_char {
    // SAFETY: called by the consumer on our live stream.
    let inner = unsafe { inner(s) };
    match inner.get_last_error() {
        // SAFETY: the inner stream's own callback with its own pointer.
        Some(f) => unsafe { f(inner) },
        None => std::ptr::null(),
    }
}

unsafe extern "C" fn device_release(s: *mut DeviceArrayStream) {
    if s.is_null() {
        return;
    }
    // SAFETY: `s` is our live stream; `private_data` was made by `Box::into_raw` and is freed once
    // (release is cleared right after).
    unsafe {
        drop(Box::from_raw((*s).private_data.cast::<FFI_ArrowArrayStream>()));
        (*s).private_data = std::ptr::null_mut();
        (*s).release = None;
    }
}

fn libc_einval() -> c_int {
    22 // EINVAL: the stream was already released
}

/// `__arrow_c_device_stream__`: the batch as a one-batch device stream in host memory.
pub fn export_device_stream<'py>(py: Python<'py>, batch: RecordBatch) -> PyResult<Bound<'py, PyCapsule>> {
    let schema = batch.schema();
    let host = Box::new(FFI_ArrowArrayStream::new(Box::new(RecordBatchIterator::new([Ok(batch)], schema))));
    capsule(
        py,
        DeviceArrayStream {
            device_type: ARROW_DEVICE_CPU,
            get_schema: Some(device_get_schema),
            get_next: Some(device_get_next),
            get_last_error: Some(device_get_last_error),
            release: Some(device_release),
            private_data: Box::into_raw(host).cast(),
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

/// Record batches from an object with `__arrow_c_stream__` (pyarrow tables and readers, polars
/// and pandas frames, DuckDB relations, ...).
pub fn import_stream(obj: &Bound<'_, PyAny>) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    let cap = obj.call_method0("__arrow_c_stream__")?;
    let ptr = pointer::<FFI_ArrowArrayStream>(&cap)?;
    // SAFETY: the capsule holds a valid stream; `from_raw` moves it out and leaves the capsule's
    // struct released, so the capsule's destructor does nothing.
    let reader = unsafe { RecordBatchStreamReader::from_raw(ptr) }.map_err(arrow_err)?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(arrow_err)?;
    Ok((schema, batches))
}

/// One array (and its field) from an object with `__arrow_c_array__`.
pub fn import_array(obj: &Bound<'_, PyAny>) -> PyResult<(Field, ArrayRef)> {
    let pair = obj.call_method0("__arrow_c_array__")?;
    let (schema_cap, array_cap): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair.extract()?;
    let schema_ptr = pointer::<FFI_ArrowSchema>(&schema_cap)?;
    let array_ptr = pointer::<FFI_ArrowArray>(&array_cap)?;
    // SAFETY: the array capsule holds a valid array; `from_raw` moves it out (the capsule's copy is
    // left released). The schema stays owned by its capsule, which outlives this call.
    let array = unsafe { FFI_ArrowArray::from_raw(array_ptr) };
    // SAFETY: as above.
    let schema = unsafe { &*schema_ptr };
    let field = Field::try_from(schema).map_err(arrow_err)?;
    // SAFETY: `array` and `schema` describe the same data (the producer's contract).
    let data = unsafe { from_ffi(array, schema) }.map_err(arrow_err)?;
    Ok((field, make_array(data)))
}

/// An Arrow array as ember stores it: string views, large strings and dictionary-encoded
/// strings become plain utf8 (one copy of that column); everything else is passed through
/// without copying.
pub fn normalize(array: ArrayRef) -> PyResult<ArrayRef> {
    let target = match array.data_type() {
        DataType::Utf8View | DataType::LargeUtf8 => Some(DataType::Utf8),
        DataType::Dictionary(_, v)
            if matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) =>
        {
            Some(DataType::Utf8)
        }
        DataType::Dictionary(_, v) => Some(v.as_ref().clone()),
        _ => None,
    };
    match target {
        Some(t) => arrow::compute::cast(&array, &t).map_err(arrow_err),
        None => Ok(array),
    }
}

/// A CPU frame from record batches: zero-copy for one batch (the usual case for a table made in
/// one piece), one concatenation otherwise.
pub fn frame_from_batches(schema: SchemaRef, batches: Vec<RecordBatch>) -> PyResult<DataFrame> {
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<Vec<ArrayRef>> = vec![Vec::new(); schema.fields().len()];
    for batch in &batches {
        for (i, c) in batch.columns().iter().enumerate() {
            columns[i].push(normalize(c.clone())?);
        }
    }
    let mut arrays = Vec::with_capacity(columns.len());
    for (f, parts) in schema.fields().iter().zip(columns) {
        let array = match parts.len() {
            0 => normalize(arrow::array::new_empty_array(f.data_type()))?,
            1 => parts.into_iter().next().expect("one part"),
            _ => {
                let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
                arrow::compute::concat(&refs).map_err(arrow_err)?
            }
        };
        fields.push(Field::new(f.name(), array.data_type().clone(), true));
        arrays.push(array);
    }
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    let opts = RecordBatchOptions::new().with_row_count(Some(rows));
    let batch = RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &opts).map_err(arrow_err)?;
    DataFrame::from_record_batch(&batch).map_err(crate::error::to_py)
}
