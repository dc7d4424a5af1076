//! `DataFrame`: named, typed columns of equal length, all on one device.
use crate::column::{Column, DeviceColumn};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::{Field as ArrowField, Schema as ArrowSchema, SchemaRef};
use ember_gpu::ExecContext;
use std::sync::Arc;

/// A column's name, type and nullability.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Field {
    /// Column name.
    pub name: String,
    /// Logical type.
    pub dtype: DType,
    /// Whether nulls may occur.
    pub nullable: bool,
}

/// A table: equal-length [`Column`]s on one [`Device`].
///
/// Host frames hold arrow-rs arrays (zero-copy to and from [`RecordBatch`]); GPU frames hold the
/// same Arrow layout in device memory. [`DataFrame::to`] moves a frame between devices.
///
/// # Example
/// ```
/// use arrow::array::{Int32Array, RecordBatch};
/// use ember_core::{DataFrame, Device};
/// use std::sync::Arc;
/// let batch = RecordBatch::try_from_iter([("a", Arc::new(Int32Array::from(vec![1, 2, 3])) as _)]).unwrap();
/// let df = DataFrame::from_record_batch(&batch).unwrap();
/// assert_eq!((df.num_rows(), df.device()), (3, Device::Cpu));
/// assert_eq!(df.to_record_batch().unwrap(), batch);
/// ```
#[derive(Debug, Clone)]
pub struct DataFrame {
    schema: SchemaRef,
    fields: Vec<Field>,
    columns: Vec<Column>,
    num_rows: usize,
    device: Device,
}

impl DataFrame {
    /// Builds a frame from parts, checking lengths, types and that every column is on `device`.
    pub fn try_new(schema: SchemaRef, columns: Vec<Column>, num_rows: usize, device: Device) -> Result<DataFrame> {
        if schema.fields().len() != columns.len() {
            return Err(Error::LengthMismatch {
                context: "DataFrame columns vs schema fields".into(),
                expected: schema.fields().len(),
                actual: columns.len(),
            });
        }
        let mut fields = Vec::with_capacity(columns.len());
        for (f, c) in schema.fields().iter().zip(&columns) {
            if c.len() != num_rows {
                return Err(Error::LengthMismatch {
                    context: format!("column {:?}", f.name()),
                    expected: num_rows,
                    actual: c.len(),
                });
            }
            let on_device = match c {
                Column::Host(_) => Device::Cpu,
                Column::Device(d) => Device::of_gpu(d.gpu()),
            };
            if on_device != device {
                return Err(Error::DeviceMismatch(format!(
                    "column {:?} is on {on_device}, frame on {device}",
                    f.name()
                )));
            }
            let arrow_type = match c {
                Column::Host(a) => a.data_type(),
                Column::Device(d) => d.arrow_type(),
            };
            if arrow_type != f.data_type() {
                return Err(Error::Type {
                    op: format!("column {:?}", f.name()),
                    message: format!("the schema says {}, the column holds {arrow_type}", f.data_type()),
                });
            }
            if !f.is_nullable() {
                let nulls = match c {
                    Column::Host(a) => a.logical_null_count(),
                    Column::Device(d) => d.null_count(&ExecContext::new(d.gpu().clone()))?,
                };
                if nulls > 0 {
                    return Err(Error::InvalidArgument(format!(
                        "column {:?} is declared non-nullable but holds {nulls} nulls",
                        f.name()
                    )));
                }
            }
            if fields.iter().any(|g: &Field| g.name == *f.name()) {
                return Err(Error::InvalidArgument(format!("duplicate column name {:?}", f.name())));
            }
            fields.push(Field {
                name: f.name().clone(),
                dtype: DType::from_arrow(f.data_type())?,
                nullable: f.is_nullable(),
            });
        }
        Ok(DataFrame { schema, fields, columns, num_rows, device })
    }

    /// Wraps a record batch (zero-copy) as a CPU frame. Fails on Arrow types ember doesn't model.
    pub fn from_record_batch(batch: &RecordBatch) -> Result<DataFrame> {
        let columns = batch.columns().iter().cloned().map(Column::Host).collect();
        DataFrame::try_new(batch.schema(), columns, batch.num_rows(), Device::Cpu)
    }

    /// Concatenates batches of one schema into a CPU frame (copies once).
    pub fn from_record_batches(schema: SchemaRef, batches: &[RecordBatch]) -> Result<DataFrame> {
        let batch = arrow::compute::concat_batches(&schema, batches)?;
        DataFrame::from_record_batch(&batch)
    }

    /// The frame as a record batch on the host (zero-copy on the CPU; a download from a GPU).
    pub fn to_record_batch(&self) -> Result<RecordBatch> {
        let arrays = self.columns.iter().map(Column::to_arrow).collect::<Result<Vec<_>>>()?;
        let opts = arrow::array::RecordBatchOptions::new().with_row_count(Some(self.num_rows));
        Ok(RecordBatch::try_new_with_options(self.schema.clone(), arrays, &opts)?)
    }

    /// A copy of the frame on `device` (a no-op clone if it is already there).
    pub fn to(&self, device: Device) -> Result<DataFrame> {
        if device == self.device {
            return Ok(self.clone());
        }
        let columns = match device.gpu()? {
            None => self.columns.iter().map(|c| c.to_arrow().map(Column::Host)).collect::<Result<Vec<_>>>()?,
            Some(gpu) => {
                let ctx = ExecContext::new(gpu);
                self.columns
                    .iter()
                    .map(|c| Ok(Column::Device(DeviceColumn::upload(&ctx, c.to_arrow()?.as_ref())?)))
                    .collect::<Result<Vec<_>>>()?
            }
        };
        DataFrame::try_new(self.schema.clone(), columns, self.num_rows, device)
    }

    /// Builds a frame with the same column names and types as `self` from new columns on `device`.
    pub fn with_columns(&self, columns: Vec<Column>, num_rows: usize) -> Result<DataFrame> {
        DataFrame::try_new(self.schema.clone(), columns, num_rows, self.device)
    }

    /// Builds a frame of named columns (types taken from the columns).
    pub fn from_columns(named: Vec<(String, Column)>, device: Device) -> Result<DataFrame> {
        let num_rows = named.first().map_or(0, |(_, c)| c.len());
        let fields = named
            .iter()
            .map(|(n, c)| {
                let dt = match c {
                    Column::Host(a) => a.data_type().clone(),
                    Column::Device(d) => d.arrow_type().clone(),
                };
                Ok(ArrowField::new(n, dt, true))
            })
            .collect::<Result<Vec<_>>>()?;
        let columns = named.into_iter().map(|(_, c)| c).collect();
        DataFrame::try_new(Arc::new(ArrowSchema::new(fields)), columns, num_rows, device)
    }

    /// Rows.
    pub fn num_rows(&self) -> usize {
        self.num_rows
    }
    /// Columns.
    pub fn num_columns(&self) -> usize {
        self.columns.len()
    }
    /// The device the data is on.
    pub fn device(&self) -> Device {
        self.device
    }
    /// The Arrow schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }
    /// Name, type and nullability of each column.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }
    /// All columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }
    /// The index of a column, or [`Error::ColumnNotFound`].
    pub fn column_index(&self, name: &str) -> Result<usize> {
        self.fields.iter().position(|f| f.name == name).ok_or_else(|| Error::ColumnNotFound {
            name: name.into(),
            available: self.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
        })
    }
    /// A column by name.
    pub fn column(&self, name: &str) -> Result<&Column> {
        Ok(&self.columns[self.column_index(name)?])
    }
    /// Rows `offset..offset + len` of a CPU frame, zero-copy.
    ///
    /// The range is clamped to the frame (as polars): `slice(5, usize::MAX)` of 8 rows is rows 5..8,
    /// and a slice starting past the end is empty.
    pub fn slice(&self, offset: usize, len: usize) -> Result<DataFrame> {
        let offset = offset.min(self.num_rows);
        let len = len.min(self.num_rows - offset);
        if self.device.is_gpu() {
            return Err(Error::DeviceMismatch(format!(
                "DataFrame::slice is the CPU engine's zero-copy view; on {} use ember::ops::slice::slice \
                 or df.lazy().slice(..)",
                self.device
            )));
        }
        let columns = self
            .columns
            .iter()
            .map(|c| Ok(Column::Host(c.as_host()?.slice(offset, len))))
            .collect::<Result<Vec<_>>>()?;
        DataFrame::try_new(self.schema.clone(), columns, len, self.device)
    }

    /// A frame of the named columns, in that order.
    pub fn select(&self, names: &[&str]) -> Result<DataFrame> {
        let idx = names.iter().map(|n| self.column_index(n)).collect::<Result<Vec<_>>>()?;
        let schema = Arc::new(self.schema.project(&idx)?);
        let columns = idx.iter().map(|&i| self.columns[i].clone()).collect();
        DataFrame::try_new(schema, columns, self.num_rows, self.device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int32Array, StringArray};

    fn df() -> DataFrame {
        let batch = RecordBatch::try_from_iter([
            ("a", Arc::new(Int32Array::from(vec![Some(1), None, Some(3)])) as ArrayRef),
            ("s", Arc::new(StringArray::from(vec!["x", "y", "z"])) as ArrayRef),
        ])
        .unwrap();
        DataFrame::from_record_batch(&batch).unwrap()
    }

    #[test]
    fn missing_column_is_a_typed_error_naming_the_alternatives() {
        let err = df().column("b").unwrap_err();
        assert!(
            matches!(&err, Error::ColumnNotFound { name, available } if name == "b" && available == "a, s"),
            "{err}"
        );
    }

    #[test]
    fn unsupported_arrow_types_are_rejected() {
        let batch = RecordBatch::try_from_iter([(
            "l",
            Arc::new(arrow::array::ListArray::new_null(
                Arc::new(ArrowField::new("item", arrow::datatypes::DataType::Int32, true)),
                2,
            )) as ArrayRef,
        )])
        .unwrap();
        assert!(matches!(DataFrame::from_record_batch(&batch), Err(Error::UnsupportedArrowType(_))));
    }

    #[test]
    fn select_and_lengths_are_checked() {
        let d = df();
        let s = d.select(&["s"]).unwrap();
        assert_eq!((s.num_columns(), s.num_rows(), s.fields()[0].dtype), (1, 3, DType::Utf8));
        let bad = DataFrame::try_new(d.schema().clone(), d.columns().to_vec(), 4, Device::Cpu);
        assert!(matches!(bad, Err(Error::LengthMismatch { expected: 4, actual: 3, .. })));
    }

    #[test]
    fn sim_is_a_clear_error_when_not_compiled() {
        if !ember_gpu::sim::compiled() {
            let err = df().to(Device::Sim).unwrap_err();
            assert!(matches!(err, Error::Gpu(ember_gpu::GpuError::SimNotCompiled)), "{err}");
        }
    }
}
