//! Frames assembled from decoded batches: every column's pieces appended in order into one
//! buffer from `ember_core::pool`, as the batches arrive.
//!
//! Hand-written although `arrow::compute::concat` joins arrays: concat allocates each output
//! fresh, and on SF1 `lineitem` read from CSV that copy was 0.12-1.2 s of a 2.4-3.8 s read (the
//! kernel faulting in and zeroing 1.3 GB of new pages; session 28, `docs/perf.md`). Here the
//! outputs are pooled blocks (warm when an earlier frame's were freed), and the CSV reader
//! appends each window's batches as soon as they are decoded, so the batches' own memory is
//! freed and reused window after window instead of all of it being live until the end.
//! Fixed-width columns (4, 8 and 16 bytes) and `Utf8` strings are appended here; anything else
//! keeps its pieces for `concat` at the end.
use arrow::array::{
    make_array, Array, ArrayData, ArrayRef, BooleanBufferBuilder, RecordBatch, RecordBatchOptions, StringArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, SchemaRef};
use ember_core::pool::Appender;
use ember_core::{DataFrame, Error, Result};
use rayon::prelude::*;

/// A frame being assembled from batches of `schema`, in order.
pub(crate) struct Assembler {
    schema: SchemaRef,
    columns: Vec<Column>,
    rows: usize,
}

impl Assembler {
    /// An empty frame with room for `rows` rows and, per column, `bytes[c]` bytes of strings
    /// (both estimates: appending past them costs one copy).
    pub(crate) fn new(schema: SchemaRef, rows: usize, bytes: &[usize]) -> Assembler {
        let columns =
            schema.fields().iter().enumerate().map(|(c, f)| Column::new(f.data_type(), rows, bytes[c])).collect();
        Assembler { schema, columns, rows: 0 }
    }

    /// Room for exactly `batches`.
    pub(crate) fn exact(schema: SchemaRef, batches: &[RecordBatch]) -> Assembler {
        let rows = batches.iter().map(|b| b.num_rows()).sum();
        let bytes: Vec<usize> = (0..schema.fields().len()).map(|c| string_bytes(batches, c)).collect();
        Assembler::new(schema, rows, &bytes)
    }

    /// Appends `batches` (of the assembler's schema), every column in parallel; the batches
    /// are dropped column by column as they are appended.
    pub(crate) fn push(&mut self, batches: Vec<RecordBatch>) -> Result<()> {
        let mut parts: Vec<Vec<ArrayRef>> =
            (0..self.columns.len()).map(|_| Vec::with_capacity(batches.len())).collect();
        for b in batches {
            self.rows += b.num_rows();
            for (p, c) in parts.iter_mut().zip(b.columns()) {
                p.push(c.clone());
            }
        }
        self.columns
            .par_iter_mut()
            .zip(parts)
            .with_max_len(1)
            .try_for_each(|(column, pieces)| pieces.into_iter().try_for_each(|a| column.push(a)))
    }

    /// The frame.
    pub(crate) fn finish(self) -> Result<DataFrame> {
        let fields = self.schema.fields();
        let columns = self
            .columns
            .into_par_iter()
            .enumerate()
            .with_max_len(1)
            .map(|(c, column)| column.finish(fields[c].data_type()))
            .collect::<Result<Vec<_>>>()?;
        let opts = RecordBatchOptions::new().with_row_count(Some(self.rows));
        DataFrame::from_record_batch(&RecordBatch::try_new_with_options(self.schema, columns, &opts)?)
    }
}

/// The string bytes column `c` of `batches` holds (0 unless it is `Utf8`).
pub(crate) fn string_bytes(batches: &[RecordBatch], c: usize) -> usize {
    let bytes = |a: &ArrayRef| {
        a.as_any().downcast_ref::<StringArray>().map_or(0, |s| {
            let o = s.value_offsets();
            (o[o.len() - 1] - o[0]) as usize
        })
    };
    batches.iter().map(|b| bytes(b.column(c))).sum()
}

enum Values {
    W4(Appender<u32>),
    W8(Appender<u64>),
    W16(Appender<u128>),
    Utf8 {
        offsets: Appender<i32>,
        bytes: Appender<u8>,
    },
    /// Other types: the pieces, for `concat`.
    Pieces(Vec<ArrayRef>),
}

struct Column {
    values: Values,
    /// Validity, from the first piece with nulls on.
    nulls: Option<BooleanBufferBuilder>,
    rows: usize,
    capacity: usize,
}

impl Column {
    fn new(dt: &DataType, rows: usize, bytes: usize) -> Column {
        let values = match (dt, dt.primitive_width()) {
            (DataType::Utf8, _) => {
                let mut offsets = Appender::with_capacity(rows + 1);
                offsets.extend_from_slice(&[0]);
                Values::Utf8 { offsets, bytes: Appender::with_capacity(bytes) }
            }
            (_, Some(4)) => Values::W4(Appender::with_capacity(rows)),
            (_, Some(8)) => Values::W8(Appender::with_capacity(rows)),
            (_, Some(16)) => Values::W16(Appender::with_capacity(rows)),
            _ => Values::Pieces(Vec::new()),
        };
        Column { values, nulls: None, rows: 0, capacity: rows }
    }

    fn push(&mut self, a: ArrayRef) -> Result<()> {
        let data = a.to_data();
        let n = data.len();
        match &mut self.values {
            Values::W4(v) => append_fixed(v, &data),
            Values::W8(v) => append_fixed(v, &data),
            Values::W16(v) => append_fixed(v, &data),
            Values::Utf8 { offsets, bytes } => {
                let o = &data.buffer::<i32>(0)[..=n];
                let (first, last) = (o[0] as usize, o[n] as usize);
                let base = bytes.len();
                if base + (last - first) > i32::MAX as usize {
                    return Err(Error::Overflow("a utf8 column of more than 2 GiB of strings".into()));
                }
                // base <= i32::MAX and o[0] >= 0: no overflow, and every shifted offset fits.
                let shift = base as i32 - o[0];
                let mut shifted = [0i32; 1024];
                for chunk in o[1..].chunks(shifted.len()) {
                    for (s, &x) in shifted.iter_mut().zip(chunk) {
                        *s = x + shift;
                    }
                    offsets.extend_from_slice(&shifted[..chunk.len()]);
                }
                bytes.extend_from_slice(&data.buffers()[1].as_slice()[first..last]);
            }
            Values::Pieces(p) => p.push(a),
        }
        match (data.nulls(), &mut self.nulls) {
            (Some(v), Some(b)) => b.append_buffer(v.inner()),
            (Some(v), None) => {
                let mut b = BooleanBufferBuilder::new(self.capacity.max(self.rows + n));
                b.append_n(self.rows, true);
                b.append_buffer(v.inner());
                self.nulls = Some(b);
            }
            (None, Some(b)) => b.append_n(n, true),
            (None, None) => {}
        }
        self.rows += n;
        Ok(())
    }

    fn finish(self, dt: &DataType) -> Result<ArrayRef> {
        let nulls = self.nulls.map(|mut b| NullBuffer::new(b.finish())).filter(|n| n.null_count() > 0);
        let values = match self.values {
            Values::W4(v) => v.finish().into_inner(),
            Values::W8(v) => v.finish().into_inner(),
            Values::W16(v) => v.finish().into_inner(),
            Values::Utf8 { offsets, bytes } => {
                // SAFETY: the offsets start at 0 and ascend (each piece's, shifted to follow the
                // previous pieces' bytes), the last is the bytes' length, and every string is a
                // whole string of a valid piece, so valid UTF-8 on its own.
                let offsets = unsafe { OffsetBuffer::new_unchecked(offsets.finish()) };
                // SAFETY: as above; the nulls have one bit per row.
                let a = unsafe { StringArray::new_unchecked(offsets, bytes.finish().into_inner(), nulls) };
                return Ok(std::sync::Arc::new(a));
            }
            Values::Pieces(p) if p.is_empty() => return Ok(arrow::array::new_empty_array(dt)),
            Values::Pieces(p) => {
                let refs: Vec<&dyn Array> = p.iter().map(|a| a.as_ref()).collect();
                return Ok(arrow::compute::concat(&refs)?);
            }
        };
        let data = ArrayData::builder(dt.clone()).len(self.rows).add_buffer(values).nulls(nulls).build()?;
        Ok(make_array(data))
    }
}

/// Appends the values of fixed-width `data` (whose values are `T`-sized).
fn append_fixed<T: arrow::datatypes::ArrowNativeType + bytemuck::Pod>(v: &mut Appender<T>, data: &ArrayData) {
    let w = std::mem::size_of::<T>();
    let bytes = &data.buffers()[0].as_slice()[data.offset() * w..(data.offset() + data.len()) * w];
    match bytemuck::try_cast_slice::<u8, T>(bytes) {
        Ok(values) => v.extend_from_slice(values),
        // (an unaligned buffer: a value at a time)
        Err(_) => {
            for b in bytes.chunks_exact(w) {
                v.extend_from_slice(&[bytemuck::pod_read_unaligned(b)]);
            }
        }
    }
}

/// One frame from `batches` of `schema`, in order (each column's pieces freed as it is
/// appended).
pub(crate) fn concat_frames(schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<DataFrame> {
    if batches.len() == 1 {
        return DataFrame::from_record_batch(&batches[0]);
    }
    let mut a = Assembler::exact(schema, &batches);
    a.push(batches)?;
    a.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn batch(k: usize, n: usize) -> RecordBatch {
        let at = |i: usize| k * 1000 + i;
        let cols: Vec<(Field, ArrayRef)> = vec![
            (
                Field::new("i", DataType::Int64, true),
                Arc::new(Int64Array::from_iter((0..n).map(|i| (at(i) % 5 != 1).then_some(at(i) as i64)))),
            ),
            (
                Field::new("f", DataType::Float64, false),
                Arc::new(Float64Array::from_iter_values((0..n).map(|i| at(i) as f64 / 3.0))),
            ),
            (
                Field::new("d", DataType::Date32, true),
                Arc::new(Date32Array::from_iter_values((0..n).map(|i| at(i) as i32))),
            ),
            (
                Field::new("m", DataType::Decimal128(12, 2), true),
                Arc::new(
                    Decimal128Array::from_iter((0..n).map(|i| (k != 1).then_some(at(i) as i128 * -7)))
                        .with_precision_and_scale(12, 2)
                        .unwrap(),
                ),
            ),
            (
                Field::new("s", DataType::Utf8, true),
                Arc::new(StringArray::from_iter((0..n).map(|i| (at(i) % 3 != 0).then(|| "é".repeat(at(i) % 4))))),
            ),
            (
                Field::new("b", DataType::Boolean, true),
                Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(at(i) % 2 == 0)))),
            ),
        ];
        let (fields, arrays): (Vec<_>, Vec<_>) = cols.into_iter().unzip();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
    }

    #[test]
    fn assembled_frames_equal_arrow_concat() {
        // Pieces of uneven sizes, an empty one, sliced ones (offsets into their buffers), a piece
        // without nulls between pieces with them; capacities exact, too small and zero.
        let batches: Vec<RecordBatch> = vec![batch(0, 700), batch(1, 0), batch(2, 1500).slice(3, 1000), batch(3, 5)];
        let schema = batches[0].schema();
        let expected = arrow::compute::concat_batches(&schema, &batches).unwrap();
        assert_eq!(string_bytes(&batches, 0), 0);
        assert_eq!(string_bytes(&batches, 4), expected.column(4).to_data().buffers()[1].len());
        let got = concat_frames(schema.clone(), batches.clone()).unwrap().to_record_batch().unwrap();
        assert_eq!(got, expected);
        for rows in [0, 100] {
            let mut a = Assembler::new(schema.clone(), rows, &[0; 6]);
            a.push(batches[..2].to_vec()).unwrap();
            a.push(batches[2..].to_vec()).unwrap();
            assert_eq!(a.finish().unwrap().to_record_batch().unwrap(), expected, "capacity {rows}");
        }
        // No batches: an empty frame of the schema.
        let empty = Assembler::new(schema.clone(), 0, &[0; 6]).finish().unwrap();
        assert_eq!((empty.num_rows(), empty.num_columns()), (0, 6));
    }
}
