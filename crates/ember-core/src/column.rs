//! Columns: an Arrow array on the host, or the same Arrow layout in device memory.
use crate::dtype::DType;
use crate::error::{Error, Result};
use arrow::array::{make_array, Array, ArrayData, ArrayRef, AsArray, BooleanArray, LargeStringArray};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::DataType;
use ember_gpu::{DeviceBuffer, Gpu};
use std::sync::Arc;

/// One column of a [`DataFrame`](crate::DataFrame).
#[derive(Debug, Clone)]
pub enum Column {
    /// An arrow-rs array in host memory (the CPU engine's data).
    Host(ArrayRef),
    /// Device memory in Arrow layout (CUDA or Sim).
    Device(DeviceColumn),
}

impl Column {
    /// Rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Host(a) => a.len(),
            Column::Device(d) => d.len,
        }
    }
    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The logical type.
    pub fn dtype(&self) -> Result<DType> {
        match self {
            Column::Host(a) => DType::from_arrow(a.data_type()),
            Column::Device(d) => Ok(d.dtype),
        }
    }
    /// The data as an Arrow array on the host (zero-copy for host columns; a download otherwise).
    pub fn to_arrow(&self) -> Result<ArrayRef> {
        match self {
            Column::Host(a) => Ok(a.clone()),
            Column::Device(d) => d.to_arrow(),
        }
    }
    /// The host array, or an error naming the device the column is on.
    pub fn as_host(&self) -> Result<&ArrayRef> {
        match self {
            Column::Host(a) => Ok(a),
            Column::Device(d) => Err(Error::DeviceMismatch(format!(
                "column is on {}; move the frame with .to(Device::Cpu) first",
                crate::Device::of_gpu(&d.gpu)
            ))),
        }
    }
    /// The device column, or an error if the column is on the host.
    pub fn as_device(&self) -> Result<&DeviceColumn> {
        match self {
            Column::Device(d) => Ok(d),
            Column::Host(_) => {
                Err(Error::DeviceMismatch("column is on the host; move the frame with .to(device) first".into()))
            }
        }
    }
}

/// A column in device memory, buffer for buffer the Arrow layout:
///
/// | dtype | `values` | `offsets` |
/// |---|---|---|
/// | fixed width (ints, floats, decimal128 as i128, date32 as i32, timestamp as i64) | `len` values | — |
/// | bool | LSB-first bitmap, 32-bit words | — |
/// | utf8 | the bytes | `len + 1` i64 offsets, starting at 0 |
///
/// `validity` is an LSB-first bitmap (bit set = valid) starting at bit 0, or `None` for no nulls.
#[derive(Clone)]
pub struct DeviceColumn {
    /// The device holding the buffers.
    pub gpu: Arc<Gpu>,
    /// Logical type.
    pub dtype: DType,
    /// The Arrow type to give back on download (e.g. `Utf8View` for a column uploaded as one).
    pub arrow_type: DataType,
    /// Rows.
    pub len: usize,
    /// Values, bits or string bytes (see the table).
    pub values: Arc<DeviceBuffer>,
    /// String offsets (utf8 only).
    pub offsets: Option<Arc<DeviceBuffer>>,
    /// Validity bitmap, `None` when there are no nulls.
    pub validity: Option<Arc<DeviceBuffer>>,
}

impl std::fmt::Debug for DeviceColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DeviceColumn({}, {} rows on {:?}, nullable={})",
            self.dtype,
            self.len,
            self.gpu,
            self.validity.is_some()
        )
    }
}

/// Bits `[offset, offset + len)` of a boolean buffer as bytes starting at bit 0.
fn bits_from(b: &BooleanBuffer) -> Buffer {
    if b.offset() % 8 == 0 {
        let start = b.offset() / 8;
        b.inner().slice_with_length(start, b.len().div_ceil(8))
    } else {
        b.sliced()
    }
}

impl DeviceColumn {
    /// Copies an Arrow array to `gpu`.
    pub fn upload(gpu: &Arc<Gpu>, arr: &dyn Array) -> Result<DeviceColumn> {
        let dtype = DType::from_arrow(arr.data_type())?;
        let len = arr.len();
        let validity = match arr.logical_nulls() {
            Some(n) if n.null_count() > 0 => Some(Arc::new(gpu.upload_bytes(bits_from(n.inner()).as_slice())?)),
            _ => None,
        };
        let (values, offsets) = match dtype {
            DType::Bool => (gpu.upload_bytes(bits_from(arr.as_boolean().values()).as_slice())?, None),
            DType::Utf8 => {
                let large = arrow::compute::cast(&arr.slice(0, len), &DataType::LargeUtf8)?;
                let s: &LargeStringArray = large.as_string::<i64>();
                let offs = s.value_offsets();
                let (first, last) = (offs[0], offs[len]);
                let rebased: Vec<i64> = offs.iter().map(|o| o - first).collect();
                let bytes = &s.value_data()[first as usize..last as usize];
                (gpu.upload_bytes(bytes)?, Some(Arc::new(gpu.upload(&rebased)?)))
            }
            _ => {
                let width = dtype.prim().expect("fixed width").width();
                let data = arr.to_data();
                let start = data.offset() * width;
                let bytes = &data.buffers()[0].as_slice()[start..start + len * width];
                (gpu.upload_bytes(bytes)?, None)
            }
        };
        Ok(DeviceColumn {
            gpu: gpu.clone(),
            dtype,
            arrow_type: arr.data_type().clone(),
            len,
            values: Arc::new(values),
            offsets,
            validity,
        })
    }

    /// Copies the column back into an Arrow array of its original Arrow type.
    pub fn to_arrow(&self) -> Result<ArrayRef> {
        let gpu = &self.gpu;
        let len = self.len;
        let words = len.div_ceil(32);
        let nulls = match &self.validity {
            None => None,
            Some(v) => {
                let bits = Buffer::from_vec(gpu.download_prefix::<u32>(v, words)?);
                Some(NullBuffer::new(BooleanBuffer::new(bits, 0, len))).filter(|n| n.null_count() > 0)
            }
        };
        let arr: ArrayRef = match self.dtype {
            DType::Bool => {
                let bits = Buffer::from_vec(gpu.download_prefix::<u32>(&self.values, words)?);
                Arc::new(BooleanArray::new(BooleanBuffer::new(bits, 0, len), nulls))
            }
            DType::Utf8 => {
                let offsets_dev =
                    self.offsets.as_ref().ok_or_else(|| Error::Internal("utf8 column without offsets".into()))?;
                let offs = gpu.download_prefix::<i64>(offsets_dev, len + 1)?;
                let nbytes = *offs.last().unwrap_or(&0) as usize;
                let bytes = gpu.download_prefix::<u8>(&self.values, nbytes)?;
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offs));
                let s: ArrayRef = Arc::new(LargeStringArray::try_new(offsets, Buffer::from_vec(bytes), nulls)?);
                if self.arrow_type == DataType::LargeUtf8 {
                    s
                } else {
                    arrow::compute::cast(&s, &self.arrow_type)?
                }
            }
            _ => {
                let width = self.dtype.prim().expect("fixed width").width();
                // Download as 16-byte words so the buffer is aligned for every value type.
                let nbytes = len * width;
                let words = gpu.download_prefix::<u128>(&self.values, nbytes.div_ceil(16))?;
                let values = Buffer::from_vec(words).slice_with_length(0, nbytes);
                let data =
                    ArrayData::builder(self.dtype.to_arrow()).len(len).add_buffer(values).nulls(nulls).build()?;
                let arr = make_array(data);
                if arr.data_type() == &self.arrow_type {
                    arr
                } else {
                    arrow::compute::cast(&arr, &self.arrow_type)?
                }
            }
        };
        Ok(arr)
    }
}
