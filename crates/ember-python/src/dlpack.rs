//! DLPack (<https://dmlc.github.io/dlpack/latest/>), written by hand because it is three C
//! structs and no crate keeps them for pyo3: a numeric column without nulls is lent to NumPy,
//! PyTorch, JAX or CuPy as a 1-D tensor without copying, and a 1-D tensor from them becomes an
//! Arrow buffer without copying. Host memory only for now (`kDLCPU`); simulated-device columns
//! are host memory after download, never CUDA.
use arrow::array::{Array, ArrayRef, PrimitiveArray};
use arrow::buffer::{Buffer, ScalarBuffer};
use arrow::datatypes::*;
use pyo3::exceptions::{PyBufferError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use std::ffi::{c_void, CStr};
use std::ptr::NonNull;
use std::sync::Arc;

/// `kDLCPU`.
pub const DL_CPU: i32 = 1;
const DL_INT: u8 = 0;
const DL_UINT: u8 = 1;
const DL_FLOAT: u8 = 2;
/// `DLPACK_FLAG_BITMASK_READ_ONLY`: Arrow buffers are immutable.
const FLAG_READ_ONLY: u64 = 1;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct DlDevice {
    device_type: i32,
    device_id: i32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DlDataType {
    code: u8,
    bits: u8,
    lanes: u16,
}

#[repr(C)]
#[derive(Debug)]
struct DlTensor {
    data: *mut c_void,
    device: DlDevice,
    ndim: i32,
    dtype: DlDataType,
    shape: *mut i64,
    strides: *mut i64,
    byte_offset: u64,
}

/// The unversioned `DLManagedTensor` (consumers that pass no `max_version`).
#[repr(C)]
#[derive(Debug)]
struct ManagedTensor {
    tensor: DlTensor,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut ManagedTensor)>,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct DlVersion {
    major: u32,
    minor: u32,
}

/// `DLManagedTensorVersioned` (DLPack 1.x).
#[repr(C)]
#[derive(Debug)]
struct ManagedTensorVersioned {
    version: DlVersion,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut ManagedTensorVersioned)>,
    flags: u64,
    tensor: DlTensor,
}

/// What an exported tensor keeps alive: the Arrow array and its shape/stride storage.
struct Keep {
    _array: ArrayRef,
    shape: [i64; 1],
    strides: [i64; 1],
}

fn dl_type(t: &DataType) -> Option<DlDataType> {
    let (code, bits) = match t {
        DataType::Int8 => (DL_INT, 8),
        DataType::Int16 => (DL_INT, 16),
        DataType::Int32 => (DL_INT, 32),
        DataType::Int64 => (DL_INT, 64),
        DataType::UInt8 => (DL_UINT, 8),
        DataType::UInt16 => (DL_UINT, 16),
        DataType::UInt32 => (DL_UINT, 32),
        DataType::UInt64 => (DL_UINT, 64),
        DataType::Float32 => (DL_FLOAT, 32),
        DataType::Float64 => (DL_FLOAT, 64),
        _ => return None,
    };
    Some(DlDataType { code, bits, lanes: 1 })
}

unsafe extern "C" fn delete_unversioned(t: *mut ManagedTensor) {
    if t.is_null() {
        return;
    }
    // SAFETY: `t` and its `manager_ctx` were made by `Box::into_raw` in `export` and are freed once,
    // by the one consumer that owns the tensor (or by the capsule destructor if none took it).
    unsafe {
        drop(Box::from_raw((*t).manager_ctx.cast::<Keep>()));
        drop(Box::from_raw(t));
    }
}

unsafe extern "C" fn delete_versioned(t: *mut ManagedTensorVersioned) {
    if t.is_null() {
        return;
    }
    // SAFETY: as in `delete_unversioned`.
    unsafe {
        drop(Box::from_raw((*t).manager_ctx.cast::<Keep>()));
        drop(Box::from_raw(t));
    }
}

const NAME: &CStr = c"dltensor";
const NAME_VERSIONED: &CStr = c"dltensor_versioned";

/// Capsule destructor: frees the tensor if no consumer took it (a consumer renames the capsule
/// to `used_dltensor[_versioned]` and calls the deleter itself).
unsafe extern "C" fn drop_capsule(capsule: *mut ffi::PyObject) {
    // SAFETY: Python passes the capsule being destroyed.
    unsafe {
        if ffi::PyCapsule_IsValid(capsule, NAME.as_ptr()) == 1 {
            let t = ffi::PyCapsule_GetPointer(capsule, NAME.as_ptr()).cast::<ManagedTensor>();
            delete_unversioned(t);
        } else if ffi::PyCapsule_IsValid(capsule, NAME_VERSIONED.as_ptr()) == 1 {
            let t = ffi::PyCapsule_GetPointer(capsule, NAME_VERSIONED.as_ptr()).cast::<ManagedTensorVersioned>();
            delete_versioned(t);
        }
    }
}

/// `__dlpack__`: the column as a 1-D tensor on the CPU, zero-copy. `versioned` picks the DLPack
/// 1.x struct (consumers that pass `max_version >= (1, 0)`). Columns with nulls, booleans
/// (bit-packed in Arrow) and non-numeric types raise `BufferError`, as the protocol asks.
pub fn export<'py>(py: Python<'py>, array: ArrayRef, versioned: bool) -> PyResult<Bound<'py, PyCapsule>> {
    let Some(dtype) = dl_type(array.data_type()) else {
        return Err(PyBufferError::new_err(format!("DLPack has no layout for a {} column", array.data_type())));
    };
    if array.null_count() > 0 {
        return Err(PyBufferError::new_err(format!(
            "the column has {} nulls, which DLPack cannot carry; fill them first (fill_null) or use to_numpy()",
            array.null_count()
        )));
    }
    let data = array.to_data();
    let width = (dtype.bits / 8) as usize;
    let base = data.buffers()[0].as_ptr().wrapping_add(data.offset() * width);
    let mut keep = Box::new(Keep { _array: array.clone(), shape: [array.len() as i64], strides: [1] });
    let tensor = DlTensor {
        data: base as *mut c_void,
        device: DlDevice { device_type: DL_CPU, device_id: 0 },
        ndim: 1,
        dtype,
        shape: keep.shape.as_mut_ptr(),
        strides: keep.strides.as_mut_ptr(),
        byte_offset: 0,
    };
    let ctx = Box::into_raw(keep).cast::<c_void>();
    let (ptr, name) = if versioned {
        let t = Box::new(ManagedTensorVersioned {
            version: DlVersion { major: 1, minor: 0 },
            manager_ctx: ctx,
            deleter: Some(delete_versioned),
            flags: FLAG_READ_ONLY,
            tensor,
        });
        (Box::into_raw(t).cast::<c_void>(), NAME_VERSIONED)
    } else {
        let t = Box::new(ManagedTensor { tensor, manager_ctx: ctx, deleter: Some(delete_unversioned) });
        (Box::into_raw(t).cast::<c_void>(), NAME)
    };
    let nn = NonNull::new(ptr).expect("Box::into_raw is never null");
    // SAFETY: `nn` is a live managed tensor of the kind `name` says; `drop_capsule` frees it
    // unless a consumer renamed the capsule and took ownership.
    unsafe { PyCapsule::new_with_pointer_and_destructor(py, nn, name, Some(drop_capsule)) }
}

/// Calls the producer's deleter when the last Arrow buffer that shares the tensor is dropped.
struct Imported {
    tensor: *mut c_void,
    versioned: bool,
}

// SAFETY: the tensor is only touched in `drop`, once; DLPack deleters may be called from any
// thread (NumPy's takes the GIL itself).
unsafe impl Send for Imported {}
// SAFETY: no shared access happens through `&Imported`.
unsafe impl Sync for Imported {}

impl std::fmt::Debug for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DLPack tensor")
    }
}

impl std::panic::RefUnwindSafe for Imported {}

impl Drop for Imported {
    fn drop(&mut self) {
        // SAFETY: `tensor` is the consumed managed tensor; its deleter is called exactly once.
        unsafe {
            if self.versioned {
                let t = self.tensor.cast::<ManagedTensorVersioned>();
                if let Some(d) = (*t).deleter {
                    d(t)
                }
            } else {
                let t = self.tensor.cast::<ManagedTensor>();
                if let Some(d) = (*t).deleter {
                    d(t)
                }
            }
        }
    }
}

fn primitive<T: ArrowPrimitiveType>(buffer: Buffer, len: usize) -> ArrayRef {
    Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::new(buffer, 0, len), None))
}

/// A 1-D host tensor from `obj.__dlpack__()` as an Arrow array sharing its memory (a copy only
/// when the tensor is strided or misaligned).
pub fn import(obj: &Bound<'_, PyAny>) -> PyResult<ArrayRef> {
    let py = obj.py();
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("max_version", (1, 0))?;
    let cap = match obj.call_method("__dlpack__", (), Some(&kwargs)) {
        Ok(c) => c,
        Err(e) if e.is_instance_of::<PyTypeError>(py) => obj.call_method0("__dlpack__")?,
        Err(e) => return Err(e),
    };
    let raw = cap.as_ptr();
    // SAFETY: `raw` is a live object; `PyCapsule_IsValid` checks the type and name.
    let versioned = unsafe { ffi::PyCapsule_IsValid(raw, NAME_VERSIONED.as_ptr()) } == 1;
    let name = if versioned { NAME_VERSIONED } else { NAME };
    // SAFETY: as above; a wrong name returns null with an exception set, which we return.
    let ptr = unsafe { ffi::PyCapsule_GetPointer(raw, name.as_ptr()) };
    if ptr.is_null() {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: the capsule holds a managed tensor of the kind its name says.
    let tensor: &DlTensor = unsafe {
        if versioned {
            &(*ptr.cast::<ManagedTensorVersioned>()).tensor
        } else {
            &(*ptr.cast::<ManagedTensor>()).tensor
        }
    };
    if tensor.device.device_type != DL_CPU {
        return Err(PyBufferError::new_err("only CPU DLPack tensors can be imported for now"));
    }
    if tensor.ndim != 1 {
        return Err(PyBufferError::new_err(format!("a column needs a 1-D tensor, got {} dimensions", tensor.ndim)));
    }
    // SAFETY: ndim is 1, so shape has one entry; strides is null (compact) or has one entry.
    let (len, stride) = unsafe { (*tensor.shape, if tensor.strides.is_null() { 1 } else { *tensor.strides }) };
    let len = usize::try_from(len).map_err(|_| PyBufferError::new_err("negative tensor length"))?;
    let dt = tensor.dtype;
    let arrow_type = [
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::UInt8,
        DataType::UInt16,
        DataType::UInt32,
        DataType::UInt64,
        DataType::Float32,
        DataType::Float64,
    ]
    .into_iter()
    .find(|t| dl_type(t) == Some(dt))
    .ok_or_else(|| {
        PyBufferError::new_err(format!("no Arrow type for DLPack dtype code {} with {} bits", dt.code, dt.bits))
    })?;
    let width = (dt.bits / 8) as usize;
    let base = (tensor.data as *const u8).wrapping_add(tensor.byte_offset as usize);
    let owner = Arc::new(Imported { tensor: ptr, versioned });
    // SAFETY: the capsule is now ours: rename it so its producer's destructor leaves the tensor to
    // `owner`, which calls the deleter when the buffer is dropped.
    unsafe {
        ffi::PyCapsule_SetName(
            raw,
            if versioned { c"used_dltensor_versioned".as_ptr() } else { c"used_dltensor".as_ptr() },
        );
    }
    let buffer = if stride == 1 && (base as usize).is_multiple_of(width) && len > 0 {
        // SAFETY: `base .. base + len * width` is the tensor's live memory, kept alive by `owner`.
        unsafe {
            Buffer::from_custom_allocation(NonNull::new(base as *mut u8).expect("non-null data"), len * width, owner)
        }
    } else {
        // Strided or misaligned (or empty): copy element by element.
        let mut bytes = arrow::buffer::MutableBuffer::with_capacity(len * width);
        for i in 0..len {
            // SAFETY: element i lies at base + i * stride * width inside the tensor.
            let src = unsafe {
                std::slice::from_raw_parts(base.wrapping_offset(i as isize * stride as isize * width as isize), width)
            };
            bytes.extend_from_slice(src);
        }
        drop(owner);
        bytes.into()
    };
    Ok(match arrow_type {
        DataType::Int8 => primitive::<Int8Type>(buffer, len),
        DataType::Int16 => primitive::<Int16Type>(buffer, len),
        DataType::Int32 => primitive::<Int32Type>(buffer, len),
        DataType::Int64 => primitive::<Int64Type>(buffer, len),
        DataType::UInt8 => primitive::<UInt8Type>(buffer, len),
        DataType::UInt16 => primitive::<UInt16Type>(buffer, len),
        DataType::UInt32 => primitive::<UInt32Type>(buffer, len),
        DataType::UInt64 => primitive::<UInt64Type>(buffer, len),
        DataType::Float32 => primitive::<Float32Type>(buffer, len),
        _ => primitive::<Float64Type>(buffer, len),
    })
}
