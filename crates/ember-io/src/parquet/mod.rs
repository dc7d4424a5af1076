//! Parquet: [`read_parquet`] (options: [`ParquetReadOptions`]), [`ParquetChunks`] (a chunked
//! reader under a memory budget) and [`write_parquet`] (options: [`ParquetWriteOptions`]).
//!
//! A path may name one file or a directory, read as one dataset: its `.parquet` / `.pq` files in
//! name order, which must share a schema. Row groups whose min/max statistics prove a predicate
//! false are not read, nor are the rows of pages whose page-index statistics do (see `prune.rs`);
//! every (row group, column) pair is decoded in parallel.
mod decode;
mod gpu;
mod pages;
mod prune;
mod read;
mod strict;
mod write;

pub use read::{parquet_row_groups, parquet_schema, read_parquet, read_parquet_on, ParquetChunks};
pub use write::{write_parquet, Compression, ParquetWriteOptions};

use ember_ops::Expr;
use serde::{Deserialize, Serialize};

/// How to read Parquet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParquetReadOptions {
    /// Only these columns (output in file order; default all).
    pub columns: Option<Vec<String>>,
    /// Only these row groups (0-based, of each file; default all).
    pub row_groups: Option<Vec<usize>>,
    /// Skip row groups whose statistics prove this predicate false for every row, and within
    /// the rest the rows of data pages whose page-index statistics do (files with a page index:
    /// ember's, pyarrow's with `write_page_index=True`, arrow-rs'). The rows read are **not**
    /// otherwise filtered: a filter above the read does that (as `scan_parquet` plans do). The
    /// CPU and GPU readers return the same rows.
    pub predicate: Option<Expr>,
    /// Read at most this many rows.
    pub n_rows: Option<usize>,
    /// Refuse, before reading any page, a read whose columns would decode to more bytes than
    /// this (estimated from the footer: values at ember's width, or the pages' uncompressed
    /// size where larger). Default: the memory the system has available (Linux: `MemAvailable`
    /// plus free swap), so a file that honestly declares more data than fits (a zstd page of
    /// zeros grows 32768×) is an `Error::Read` naming its largest row group and column, not an
    /// abort. The chunked reader checks each chunk.
    #[serde(default)]
    pub memory_limit: Option<usize>,
}

impl ParquetReadOptions {
    /// Only these columns.
    pub fn with_columns<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.columns = Some(columns.into_iter().map(Into::into).collect());
        self
    }
    /// Only these row groups.
    pub fn with_row_groups(mut self, row_groups: impl IntoIterator<Item = usize>) -> Self {
        self.row_groups = Some(row_groups.into_iter().collect());
        self
    }
    /// Skip row groups whose statistics exclude `predicate`.
    pub fn with_predicate(mut self, predicate: Expr) -> Self {
        self.predicate = Some(predicate);
        self
    }
    /// At most `n` rows.
    pub fn with_n_rows(mut self, n: usize) -> Self {
        self.n_rows = Some(n);
        self
    }
    /// Refuse reads that would decode to more than `bytes`.
    ///
    /// ```no_run
    /// use ember_io::{read_parquet, ParquetReadOptions};
    /// let opts = ParquetReadOptions::default().with_memory_limit(8 << 30);
    /// match read_parquet("huge.parquet", &opts) {
    ///     Ok(df) => println!("{} rows", df.num_rows()),
    ///     // Nothing was read: the error names the largest row group and column.
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// ```
    pub fn with_memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = Some(bytes);
        self
    }
}
