//! The Parquet writer (the `parquet` crate's `ArrowWriter`, on the CPU), writing under a
//! temporary name.
use crate::file::{flush, write_atomically};
use ember_core::{DataFrame, Error, Result};
use parquet::arrow::ArrowWriter;
use parquet::basic::{GzipLevel, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use std::path::Path;

/// A Parquet page codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// No compression.
    Uncompressed,
    /// Snappy (the default, as pyarrow's).
    Snappy,
    /// Zstandard at a level (1..=22).
    Zstd(i32),
    /// LZ4 (the `LZ4_RAW` codec).
    Lz4Raw,
    /// Gzip at a level (0..=9).
    Gzip(u32),
}

/// How to write a Parquet file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetWriteOptions {
    /// Page codec (default snappy).
    pub compression: Compression,
    /// Rows per row group at most (default 1 Mi, as polars' 512 Ki..1 Mi).
    pub row_group_size: usize,
    /// Dictionary-encode columns (default true; a column falls back to plain when its
    /// dictionary grows past the page limit).
    pub dictionary: bool,
    /// Write min/max and null-count statistics per row group and page (default true; readers
    /// use them to skip row groups, and pages through the page index).
    pub statistics: bool,
    /// Rows per data page at most (default 20 Ki, the `parquet` crate's). Smaller pages let a
    /// filtered read skip more of a row group by the page index, for a little more metadata.
    pub page_rows: usize,
}

impl Default for ParquetWriteOptions {
    fn default() -> Self {
        ParquetWriteOptions {
            compression: Compression::Snappy,
            row_group_size: 1 << 20,
            dictionary: true,
            statistics: true,
            page_rows: 20 * 1024,
        }
    }
}

impl ParquetWriteOptions {
    /// The page codec.
    pub fn with_compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }
    /// Rows per row group at most.
    pub fn with_row_group_size(mut self, rows: usize) -> Self {
        self.row_group_size = rows;
        self
    }
    /// Dictionary encoding on or off.
    pub fn with_dictionary(mut self, on: bool) -> Self {
        self.dictionary = on;
        self
    }
    /// Statistics on or off.
    pub fn with_statistics(mut self, on: bool) -> Self {
        self.statistics = on;
        self
    }
    /// Rows per data page at most.
    ///
    /// ```no_run
    /// use ember_io::{read_csv, write_parquet, CsvReadOptions, ParquetWriteOptions};
    /// let df = read_csv("events.csv", &CsvReadOptions::default())?;
    /// // Small pages: a filtered read of the file skips more of each row group.
    /// write_parquet(&df, "events.parquet", &ParquetWriteOptions::default().with_page_rows(4096))?;
    /// # Ok::<(), ember_core::Error>(())
    /// ```
    pub fn with_page_rows(mut self, rows: usize) -> Self {
        self.page_rows = rows;
        self
    }

    fn properties(&self) -> Result<WriterProperties> {
        let bad = |e: parquet::errors::ParquetError| Error::InvalidArgument(format!("parquet compression level: {e}"));
        let codec = match self.compression {
            Compression::Uncompressed => parquet::basic::Compression::UNCOMPRESSED,
            Compression::Snappy => parquet::basic::Compression::SNAPPY,
            Compression::Zstd(l) => parquet::basic::Compression::ZSTD(ZstdLevel::try_new(l).map_err(bad)?),
            Compression::Lz4Raw => parquet::basic::Compression::LZ4_RAW,
            Compression::Gzip(l) => parquet::basic::Compression::GZIP(GzipLevel::try_new(l).map_err(bad)?),
        };
        if self.row_group_size == 0 || self.page_rows == 0 {
            return Err(Error::InvalidArgument("row_group_size and page_rows must be at least 1".into()));
        }
        Ok(WriterProperties::builder()
            .set_compression(codec)
            .set_max_row_group_row_count(Some(self.row_group_size))
            .set_dictionary_enabled(self.dictionary)
            // The crate ends a page only between write batches: batches no longer than a page.
            .set_data_page_row_count_limit(self.page_rows)
            .set_write_batch_size(self.page_rows.min(1024))
            .set_statistics_enabled(if self.statistics { EnabledStatistics::Page } else { EnabledStatistics::None })
            .set_created_by(format!("ember {}", env!("CARGO_PKG_VERSION")))
            .build())
    }
}

/// Writes `df` (downloading it first if it is on a GPU) as one Parquet file, under a temporary
/// name renamed to `path` when complete.
///
/// ```
/// use ember_io::{read_csv_bytes, write_parquet, read_parquet, CsvReadOptions, ParquetReadOptions, ParquetWriteOptions, Compression};
/// let df = read_csv_bytes(b"a,b\n1,x\n2,y\n", "mem", &CsvReadOptions::default())?;
/// let path = std::env::temp_dir().join(format!("ember-write-pq-{}.parquet", std::process::id()));
/// write_parquet(&df, &path, &ParquetWriteOptions::default().with_compression(Compression::Zstd(3)))?;
/// assert_eq!(read_parquet(&path, &ParquetReadOptions::default())?.num_rows(), 2);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_parquet(df: &DataFrame, path: impl AsRef<Path>, options: &ParquetWriteOptions) -> Result<()> {
    let path = path.as_ref();
    let batch = df.to_record_batch()?;
    let props = options.properties()?;
    let name = path.display().to_string();
    let pq_err = |e: parquet::errors::ParquetError| Error::Io { path: name.clone(), source: std::io::Error::other(e) };
    write_atomically(path, |out| {
        let mut writer = ArrowWriter::try_new(&mut *out, batch.schema(), Some(props)).map_err(pq_err)?;
        writer.write(&batch).map_err(pq_err)?;
        writer.close().map_err(pq_err)?;
        flush(out, path)
    })
}
