//! Columns: an Arrow array on the host, or the same Arrow layout in device memory.
use crate::dtype::DType;
use crate::error::{Error, Result};
use arrow::array::{make_array, Array, ArrayData, ArrayRef, AsArray, BooleanArray, LargeStringArray};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::DataType;
use ember_gpu::primitives::reduce::count_set_bits;
use ember_gpu::{DeviceBuffer, ExecContext, Gpu};
use std::sync::{Arc, OnceLock};

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
            Column::Device(d) => d.len(),
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
            Column::Device(d) => Ok(d.dtype()),
        }
    }
    /// The data as an Arrow array on the host (zero-copy for host columns; a download otherwise).
    pub fn to_arrow(&self) -> Result<ArrayRef> {
        match self {
            Column::Host(a) => Ok(a.clone()),
            Column::Device(d) => d.to_arrow(&ExecContext::new(d.gpu().clone())),
        }
    }
    /// The host array, or an error naming the device the column is on.
    pub fn as_host(&self) -> Result<&ArrayRef> {
        match self {
            Column::Host(a) => Ok(a),
            Column::Device(d) => Err(Error::DeviceMismatch(format!(
                "column is on {}; move the frame with .to(Device::Cpu) first",
                crate::Device::of_gpu(d.gpu())
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
/// The fields are private: [`DeviceColumn::try_new`] checks that the buffers fit the type and
/// length and live on one device, so every kernel can trust them. Cloning shares the buffers.
#[derive(Clone)]
pub struct DeviceColumn {
    gpu: Arc<Gpu>,
    dtype: DType,
    arrow_type: DataType,
    len: usize,
    values: Arc<DeviceBuffer>,
    offsets: Option<Arc<DeviceBuffer>>,
    validity: Option<Arc<DeviceBuffer>>,
    null_count: Arc<OnceLock<usize>>,
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
    if b.offset().is_multiple_of(8) {
        let start = b.offset() / 8;
        b.inner().slice_with_length(start, b.len().div_ceil(8))
    } else {
        b.sliced()
    }
}

impl DeviceColumn {
    /// A column from its buffers, checked: `values` holds `len` values of `dtype` (a bitmap for
    /// bool, the bytes for utf8), utf8 has `len + 1` offsets and only utf8 has offsets, `validity`
    /// covers `len` bits, and every buffer is on `gpu`. `arrow_type` is what downloads give back
    /// (it must map to `dtype`).
    pub fn try_new(
        gpu: Arc<Gpu>,
        dtype: DType,
        arrow_type: DataType,
        len: usize,
        values: Arc<DeviceBuffer>,
        offsets: Option<Arc<DeviceBuffer>>,
        validity: Option<Arc<DeviceBuffer>>,
    ) -> Result<DeviceColumn> {
        let bad = |what: String| Err(Error::Internal(format!("invalid device column ({dtype}, {len} rows): {what}")));
        if DType::from_arrow(&arrow_type)? != dtype {
            return bad(format!("Arrow type {arrow_type} is not {dtype}"));
        }
        let words = len.div_ceil(32) * 4;
        match (dtype, &offsets) {
            (DType::Utf8, None) => return bad("utf8 without offsets".into()),
            (DType::Utf8, Some(o)) if o.capacity() < (len + 1) * 8 => return bad(format!("offsets {o:?}")),
            (DType::Bool, None) if values.capacity() < words => return bad(format!("bitmap {values:?}")),
            (DType::Utf8, _) | (DType::Bool, None) => {}
            (_, Some(_)) => return bad("offsets on a non-string column".into()),
            (t, None) => {
                let w = t.prim().map(|p| p.width()).unwrap_or(0);
                if values.capacity() < len * w {
                    return bad(format!("values {values:?}"));
                }
            }
        }
        if let Some(v) = &validity {
            if v.capacity() < words {
                return bad(format!("validity {v:?}"));
            }
        }
        let backend = gpu.backend();
        let all = std::iter::once(&values).chain(offsets.iter()).chain(validity.iter());
        if let Some(b) = all.into_iter().find(|b| b.backend() != backend) {
            return Err(Error::DeviceMismatch(format!("{b:?} is not on {gpu:?}")));
        }
        let null_count = Arc::new(OnceLock::new());
        if validity.is_none() {
            let _ = null_count.set(0);
        }
        Ok(DeviceColumn { gpu, dtype, arrow_type, len, values, offsets, validity, null_count })
    }

    /// The device holding the buffers.
    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.gpu
    }
    /// Logical type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    /// The Arrow type downloads give back (e.g. `Utf8View` for a column uploaded as one).
    pub fn arrow_type(&self) -> &DataType {
        &self.arrow_type
    }
    /// Rows.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Values, bits or string bytes (see the table).
    pub fn values(&self) -> &Arc<DeviceBuffer> {
        &self.values
    }
    /// String offsets (utf8 only).
    pub fn offsets(&self) -> Option<&Arc<DeviceBuffer>> {
        self.offsets.as_ref()
    }
    /// Validity bitmap, `None` when there are no nulls.
    pub fn validity(&self) -> Option<&Arc<DeviceBuffer>> {
        self.validity.as_ref()
    }
    /// String offsets, or an internal error for a non-string column.
    pub fn utf8_offsets(&self) -> Result<&Arc<DeviceBuffer>> {
        self.offsets.as_ref().ok_or_else(|| Error::Internal(format!("{} column has no string offsets", self.dtype)))
    }

    /// Nulls in the column: known without device work when there is no validity bitmap or it was
    /// counted before (cached); otherwise one count on the device.
    pub fn null_count(&self, ctx: &ExecContext) -> Result<usize> {
        if let Some(n) = self.null_count.get() {
            return Ok(*n);
        }
        let valid = count_set_bits(ctx, self.validity.as_deref(), self.len)? as usize;
        let _ = self.null_count.set(self.len - valid);
        Ok(self.len - valid)
    }

    /// Copies an Arrow array to the context's device (no synchronisation).
    pub fn upload(ctx: &ExecContext, arr: &dyn Array) -> Result<DeviceColumn> {
        let dtype = DType::from_arrow(arr.data_type())?;
        let len = arr.len();
        let nulls = arr.logical_nulls().filter(|n| n.null_count() > 0);
        let validity = match &nulls {
            Some(n) => Some(Arc::new(ctx.upload_bytes(bits_from(n.inner()).as_slice())?)),
            None => None,
        };
        let (values, offsets) = match dtype {
            DType::Bool => (ctx.upload_bytes(bits_from(arr.as_boolean().values()).as_slice())?, None),
            DType::Utf8 => {
                let large = arrow::compute::cast(&arr.slice(0, len), &DataType::LargeUtf8)?;
                let s: &LargeStringArray = large.as_string::<i64>();
                let offs = s.value_offsets();
                let (first, last) = (offs[0], offs[len]);
                let rebased: Vec<i64> = offs.iter().map(|o| o - first).collect();
                let bytes = &s.value_data()[first as usize..last as usize];
                (ctx.upload_bytes(bytes)?, Some(Arc::new(ctx.upload(&rebased)?)))
            }
            _ => {
                let width = dtype.prim().expect("fixed width").width();
                let data = arr.to_data();
                let start = data.offset() * width;
                let bytes = &data.buffers()[0].as_slice()[start..start + len * width];
                (ctx.upload_bytes(bytes)?, None)
            }
        };
        let c = DeviceColumn::try_new(
            ctx.gpu().clone(),
            dtype,
            arr.data_type().clone(),
            len,
            Arc::new(values),
            offsets,
            validity,
        )?;
        let _ = c.null_count.set(nulls.map_or(0, |n| n.null_count()));
        Ok(c)
    }

    /// Copies the column back into an Arrow array of its original Arrow type.
    pub fn to_arrow(&self, ctx: &ExecContext) -> Result<ArrayRef> {
        let len = self.len;
        let words = len.div_ceil(32);
        let nulls = match &self.validity {
            None => None,
            Some(v) => {
                let bits = Buffer::from_vec(ctx.download::<u32>(v, words)?);
                Some(NullBuffer::new(BooleanBuffer::new(bits, 0, len))).filter(|n| n.null_count() > 0)
            }
        };
        let arr: ArrayRef = match self.dtype {
            DType::Bool => {
                let bits = Buffer::from_vec(ctx.download::<u32>(&self.values, words)?);
                Arc::new(BooleanArray::new(BooleanBuffer::new(bits, 0, len), nulls))
            }
            DType::Utf8 => {
                let offs = ctx.download::<i64>(self.utf8_offsets()?, len + 1)?;
                let nbytes = *offs.last().unwrap_or(&0) as usize;
                let bytes = ctx.download::<u8>(&self.values, nbytes)?;
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
                // Into 16-byte words so the buffer is aligned for every value type; only the
                // values' own bytes are read (the padding past them may never have been written).
                let nbytes = len * width;
                let mut words = vec![0u128; nbytes.div_ceil(16)];
                ctx.download_into(&self.values, 0, &mut bytemuck::cast_slice_mut(&mut words)[..nbytes])?;
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
