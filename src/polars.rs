//! Frames to and from [polars](https://docs.rs/polars) `DataFrame`s (feature `polars`), over the
//! Arrow C Data Interface: each column's buffers are handed across, not copied.
//!
//! ```
//! use ember::prelude::*;
//! use arrow::array::{Int64Array, RecordBatch, StringArray};
//! use std::sync::Arc;
//!
//! let batch = RecordBatch::try_from_iter([
//!     ("k", Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as _),
//!     ("s", Arc::new(StringArray::from(vec!["a", "b", "a"])) as _),
//! ])?;
//! let df = DataFrame::from_record_batch(&batch)?;
//! let pl = ember::polars::to_polars(&df)?;          // a polars::prelude::DataFrame
//! assert_eq!(pl.shape(), (3, 2));
//! let back = ember::polars::from_polars(&pl)?;      // and back
//! assert_eq!(back.num_rows(), 3);
//! assert_eq!(back.sum(col("k"))?, Scalar::Int64(4));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What is shared and what is copied:
//! * Numbers, booleans, dates, timestamps and decimals are zero-copy both ways (polars keeps
//!   ember's buffers alive through the interface's release callback, and the other way round).
//! * Strings: polars' strings are views (`Utf8View`). ember's `Utf8View` columns pass as they
//!   are; a `Utf8` column gets views built over its value bytes (the bytes are shared; the 16-byte
//!   views are new). polars' strings come to ember as `Utf8View`, zero-copy.
//! * A polars column of several chunks is rechunked first (one copy): an ember column is one array.
//! * A frame on a GPU is downloaded first ([`DataFrame::to_record_batch`]).
//!
//! Types ember does not model (polars' lists, structs, categoricals, time zones, durations) are
//! `Error::UnsupportedArrowType` naming the column; cast them in polars first.
use crate::{DataFrame, Error, Result};
use ::polars::prelude as pl;
use arrow::array::{make_array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use polars_arrow::ffi as pl_ffi;
use std::sync::Arc;

// The two crates' structs are the same C structs: checked here, at compile time.
const _: () = assert!(std::mem::size_of::<FFI_ArrowArray>() == std::mem::size_of::<pl_ffi::ArrowArray>());
const _: () = assert!(std::mem::size_of::<FFI_ArrowSchema>() == std::mem::size_of::<pl_ffi::ArrowSchema>());

/// `df` as a polars `DataFrame` (columns shared, not copied; see the module docs).
pub fn to_polars(df: &DataFrame) -> Result<pl::DataFrame> {
    let batch = df.to_record_batch()?;
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
        let array: ArrayRef = match array.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 => arrow::compute::cast(array, &DataType::Utf8View)?,
            _ => array.clone(),
        };
        let (c_array, c_schema) = arrow::ffi::to_ffi(&array.to_data())?;
        // SAFETY: `FFI_ArrowArray` / `FFI_ArrowSchema` (arrow-rs) and `ArrowArray` / `ArrowSchema`
        // (polars-arrow) are both `#[repr(C)]` definitions of the C Data Interface's structs
        // (sizes asserted above); ownership moves with the value, and the release callback
        // arrow-rs set frees the buffers when polars drops them.
        let (c_array, c_schema) = unsafe {
            (
                std::mem::transmute::<FFI_ArrowArray, pl_ffi::ArrowArray>(c_array),
                std::mem::transmute::<FFI_ArrowSchema, pl_ffi::ArrowSchema>(c_schema),
            )
        };
        // SAFETY: both structs were just filled in by arrow-rs from a valid array.
        let imported = unsafe {
            let pl_field = pl_ffi::import_field_from_c(&c_schema).map_err(|e| polars_err(field.name(), e))?;
            pl_ffi::import_array_from_c(c_array, pl_field.dtype).map_err(|e| polars_err(field.name(), e))?
        };
        let series =
            pl::Series::from_arrow(field.name().as_str().into(), imported).map_err(|e| polars_err(field.name(), e))?;
        columns.push(series.into());
    }
    pl::DataFrame::new(batch.num_rows(), columns).map_err(|e| polars_err("", e))
}

/// A polars `DataFrame` as an ember CPU frame (columns shared, not copied; see the module docs).
pub fn from_polars(df: &pl::DataFrame) -> Result<DataFrame> {
    let mut fields = Vec::with_capacity(df.width());
    let mut arrays = Vec::with_capacity(df.width());
    for column in df.columns() {
        let name = column.name().as_str();
        let series = column.as_materialized_series().rechunk();
        let array = series.to_arrow(0, pl::CompatLevel::newest());
        let c_schema = pl_ffi::export_field_to_c(&polars_arrow::datatypes::Field::new(
            column.name().clone(),
            array.dtype().clone(),
            true,
        ));
        let c_array = pl_ffi::export_array_to_c(array);
        // SAFETY: as in `to_polars`, the same C structs from the other side; polars' release
        // callback frees its buffers when arrow-rs drops the imported array.
        let (c_array, c_schema) = unsafe {
            (
                std::mem::transmute::<pl_ffi::ArrowArray, FFI_ArrowArray>(c_array),
                std::mem::transmute::<pl_ffi::ArrowSchema, FFI_ArrowSchema>(c_schema),
            )
        };
        // SAFETY: both structs were just filled in by polars from a valid array.
        let data = unsafe { arrow::ffi::from_ffi(c_array, &c_schema) }?;
        let array = make_array(data);
        crate::DType::from_arrow(array.data_type())
            .map_err(|_| Error::UnsupportedArrowType(format!("column {name:?}: {}", array.data_type())))?;
        fields.push(Field::new(name, array.data_type().clone(), true));
        arrays.push(array);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(df.height()));
    let batch = RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options)?;
    DataFrame::from_record_batch(&batch)
}

fn polars_err(column: &str, e: pl::PolarsError) -> Error {
    match column {
        "" => Error::InvalidArgument(format!("polars: {e}")),
        c => Error::InvalidArgument(format!("polars, column {c:?}: {e}")),
    }
}
