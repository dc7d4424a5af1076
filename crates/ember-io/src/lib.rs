//! ember's readers and writers.
//!
//! - [`csv`]: [`read_csv`] / [`write_csv`]. The reader splits the file into chunks at record
//!   boundaries (quote-aware: per-chunk quote parity combined by a prefix, the same algorithm the
//!   GPU decoder uses) and decodes the chunks in parallel with `arrow-csv`.
//! - [`parquet`]: [`read_parquet`] / [`write_parquet`] / [`ParquetChunks`]. The reader decodes
//!   every (row group, column) pair in parallel with the `parquet` crate, after skipping row groups
//!   whose min/max statistics prove a predicate false.
//!
//! Readers return CPU frames; `DataFrame::to(device)` uploads them. A read error is
//! [`ember_core::Error::Read`], naming the file and the place (line and column for CSV; row group
//! and column for Parquet); an OS error is [`ember_core::Error::Io`] naming the file.
//!
//! ```
//! use ember_io::{read_csv, write_parquet, read_parquet, CsvReadOptions, ParquetReadOptions, ParquetWriteOptions};
//! let dir = std::env::temp_dir().join(format!("ember-io-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! std::fs::write(dir.join("t.csv"), "id,name,price\n1,apple,1.5\n2,\"pear, green\",\n")?;
//! let df = read_csv(dir.join("t.csv"), &CsvReadOptions::default())?;
//! assert_eq!(df.num_rows(), 2);
//! write_parquet(&df, dir.join("t.parquet"), &ParquetWriteOptions::default())?;
//! let back = read_parquet(dir.join("t.parquet"), &ParquetReadOptions::default().with_columns(["name"]))?;
//! assert_eq!(back.fields()[0].name, "name");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod assemble;
pub mod csv;
mod file;
pub mod parquet;

pub use csv::{
    csv_schema, read_csv, read_csv_bytes, read_csv_bytes_on, read_csv_on, write_csv, CsvReadOptions, CsvWriteOptions,
};
pub use file::{write_atomically, FileFormat};
pub use parquet::{
    parquet_row_groups, parquet_schema, read_parquet, read_parquet_on, write_parquet, Compression, ParquetChunks,
    ParquetReadOptions, ParquetWriteOptions,
};

/// Runs `f` in `ctx` when the caller gave one, else in a fresh context on `gpu`.
pub(crate) fn in_context<T>(
    gpu: std::sync::Arc<ember_gpu::Gpu>,
    ctx: Option<&ember_gpu::ExecContext>,
    f: impl FnOnce(&ember_gpu::ExecContext) -> ember_core::Result<T>,
) -> ember_core::Result<T> {
    match ctx {
        Some(c) => f(c),
        None => f(&ember_gpu::ExecContext::new(gpu)),
    }
}
