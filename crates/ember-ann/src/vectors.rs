//! Vectors in: a dense row-major `f32` matrix from `ndarray`, an Arrow `FixedSizeList<f32>`
//! (or `FixedSizeList` of another float type, cast) column, a frame's column, or raw rows.
use arrow::array::{Array, AsArray, FixedSizeListArray};
use arrow::datatypes::{DataType, Float32Type};
use ember_core::{DataFrame, Error, Result};
use ndarray::ArrayView2;

/// `n` vectors of `dim` values, row after row.
#[derive(Debug, Clone, PartialEq)]
pub struct Vectors {
    pub(crate) data: Vec<f32>,
    pub(crate) dim: usize,
}

impl Vectors {
    /// From row-major values (`values.len()` a multiple of `dim`).
    pub fn from_row_major(values: Vec<f32>, dim: usize) -> Result<Vectors> {
        if dim == 0 || !values.len().is_multiple_of(dim) {
            return Err(Error::InvalidArgument(format!(
                "{} values do not make vectors of dimension {dim}",
                values.len()
            )));
        }
        Ok(Vectors { data: values, dim })
    }

    /// From a matrix (rows are vectors), any memory layout.
    pub fn from_ndarray(x: ArrayView2<'_, f32>) -> Result<Vectors> {
        let dim = x.ncols();
        let data = match x.as_slice() {
            Some(s) => s.to_vec(),
            None => x.iter().copied().collect(),
        };
        Vectors::from_row_major(data, dim)
    }

    /// From an Arrow `FixedSizeList` of floats (no null lists, no null values).
    pub fn from_arrow(a: &dyn Array) -> Result<Vectors> {
        let list: &FixedSizeListArray = match a.data_type() {
            DataType::FixedSizeList(_, _) => a.as_fixed_size_list(),
            other => {
                return Err(Error::Type {
                    op: "vectors".into(),
                    message: format!("vectors must be a FixedSizeList<float32> column, got {other}"),
                })
            }
        };
        if let Some(i) = (0..list.len()).find(|&i| list.is_null(i)) {
            return Err(Error::InvalidArgument(format!("vectors: row {i} is null")));
        }
        let dim = list.value_length() as usize;
        let values = list.values().slice(list.offset() * dim, list.len() * dim);
        let values = arrow::compute::cast(&values, &DataType::Float32)?;
        if values.null_count() > 0 {
            return Err(Error::InvalidArgument("vectors: a null value inside a vector".into()));
        }
        let v = values.as_primitive::<Float32Type>().values().to_vec();
        Vectors::from_row_major(v, dim)
    }

    /// From a `FixedSizeList` column of a frame (on any device).
    pub fn from_frame(df: &DataFrame, column: &str) -> Result<Vectors> {
        Vectors::from_arrow(df.column(column)?.to_arrow()?.as_ref())
    }

    /// Vectors.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Values per vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Vector `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The row-major values.
    pub fn values(&self) -> &[f32] {
        &self.data
    }

    pub(crate) fn check(&self, dim: usize, what: &str) -> Result<()> {
        if self.dim != dim {
            return Err(Error::InvalidArgument(format!(
                "{what}: vectors of dimension {} for an index of dimension {dim}",
                self.dim
            )));
        }
        if let Some(i) = self.data.iter().position(|x| !x.is_finite()) {
            return Err(Error::InvalidArgument(format!("{what}: vector {} holds {}", i / dim, self.data[i])));
        }
        Ok(())
    }
}
