//! CSV: [`read_csv`] (options: [`CsvReadOptions`]) and [`write_csv`].
//!
//! The reader follows RFC 4180 (quoted fields hold delimiters, doubled quotes and newlines), takes
//! CRLF or LF line ends and skips a UTF-8 byte-order mark. Types come from an explicit schema, or
//! are inferred from the first `infer_schema_length` records (integers as `Int64`, then `Float64`,
//! `Bool`, `Date32` for `YYYY-MM-DD`, timestamps, else `Utf8`), with per-column overrides.
//! A value that does not parse as its column's type is [`ember_core::Error::Read`] naming the line
//! and the column, unless `ignore_errors` asks for a null instead.
mod fast;
mod gpu;
mod read;
mod split;
mod stream;
mod write;

pub use read::{csv_schema, decode_csv_on_gpu, read_csv, read_csv_bytes, read_csv_bytes_on, read_csv_on};
pub use write::{write_csv, CsvWriteOptions};

use ember_core::{DType, Field};
use serde::{Deserialize, Serialize};

/// How to read a CSV file. Every option has a builder method; the defaults read a
/// comma-separated file with a header and `"` quotes, inferring types from 1000 records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsvReadOptions {
    /// The first record (after `skip_rows`) names the columns (default true); without one,
    /// columns are `column_1`, `column_2`, ...
    pub has_header: bool,
    /// Field separator (default `,`).
    pub delimiter: u8,
    /// Quote character (default `"`; `None`: no quoting, except that a NUL byte, which text
    /// files do not hold, still quotes: arrow-csv cannot turn quoting off). Inside quotes, a
    /// doubled quote is one quote character.
    pub quote: Option<u8>,
    /// An escape character inside quotes (e.g. `\`), besides doubled quotes (default none).
    pub escape: Option<u8>,
    /// Lines starting with this byte are skipped (default none).
    pub comment: Option<u8>,
    /// Records skipped before the header (default 0).
    pub skip_rows: usize,
    /// Read at most this many data records (default all).
    pub n_rows: Option<usize>,
    /// Every column's name and type, in file order (default: inferred).
    pub schema: Option<Vec<Field>>,
    /// Types for some columns by name, over the inferred ones.
    pub dtypes: Vec<(String, DType)>,
    /// Records read to infer types (default 1000; `None`: the whole file).
    pub infer_schema_length: Option<usize>,
    /// Only these columns (output in file order; default all).
    pub columns: Option<Vec<String>>,
    /// Values read as null (default: the empty field).
    pub null_values: Vec<String>,
    /// Values read as `true` in `Bool` columns (default `true`, any case).
    pub true_values: Vec<String>,
    /// Values read as `false` in `Bool` columns (default `false`, any case).
    pub false_values: Vec<String>,
    /// A value that does not parse as its column's type becomes null instead of an error.
    pub ignore_errors: bool,
    /// Only records that start in `[offset, offset + len)` of the file (cuDF's `byte_range`):
    /// reading consecutive ranges reads every record once.
    pub byte_range: Option<(usize, usize)>,
}

impl Default for CsvReadOptions {
    fn default() -> Self {
        CsvReadOptions {
            has_header: true,
            delimiter: b',',
            quote: Some(b'"'),
            escape: None,
            comment: None,
            skip_rows: 0,
            n_rows: None,
            schema: None,
            dtypes: Vec::new(),
            infer_schema_length: Some(1000),
            columns: None,
            null_values: vec![String::new()],
            true_values: Vec::new(),
            false_values: Vec::new(),
            ignore_errors: false,
            byte_range: None,
        }
    }
}

impl CsvReadOptions {
    /// Whether the first record is a header.
    pub fn with_header(mut self, has_header: bool) -> Self {
        self.has_header = has_header;
        self
    }
    /// The field separator.
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }
    /// The quote character (`None`: no quoting).
    pub fn with_quote(mut self, quote: Option<u8>) -> Self {
        self.quote = quote;
        self
    }
    /// An escape character inside quotes.
    pub fn with_escape(mut self, escape: u8) -> Self {
        self.escape = Some(escape);
        self
    }
    /// Skip lines starting with `comment`.
    pub fn with_comment(mut self, comment: u8) -> Self {
        self.comment = Some(comment);
        self
    }
    /// Skip `n` records before the header.
    pub fn with_skip_rows(mut self, n: usize) -> Self {
        self.skip_rows = n;
        self
    }
    /// Read at most `n` data records.
    pub fn with_n_rows(mut self, n: usize) -> Self {
        self.n_rows = Some(n);
        self
    }
    /// Every column's name and type, in file order.
    pub fn with_schema(mut self, schema: Vec<Field>) -> Self {
        self.schema = Some(schema);
        self
    }
    /// The type of one column (over the inferred one).
    pub fn with_dtype(mut self, column: &str, dtype: DType) -> Self {
        self.dtypes.push((column.into(), dtype));
        self
    }
    /// Records read to infer types (`None`: all).
    pub fn with_infer_schema_length(mut self, n: Option<usize>) -> Self {
        self.infer_schema_length = n;
        self
    }
    /// Only these columns.
    pub fn with_columns<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.columns = Some(columns.into_iter().map(Into::into).collect());
        self
    }
    /// The values read as null (replacing the default, the empty field).
    pub fn with_null_values<S: Into<String>>(mut self, values: impl IntoIterator<Item = S>) -> Self {
        self.null_values = values.into_iter().map(Into::into).collect();
        self
    }
    /// The values read as `true` and `false` in `Bool` columns (exact match).
    pub fn with_bool_values<S: Into<String>>(
        mut self,
        true_values: impl IntoIterator<Item = S>,
        false_values: impl IntoIterator<Item = S>,
    ) -> Self {
        self.true_values = true_values.into_iter().map(Into::into).collect();
        self.false_values = false_values.into_iter().map(Into::into).collect();
        self
    }
    /// Unparsable values become null instead of an error.
    pub fn with_ignore_errors(mut self, on: bool) -> Self {
        self.ignore_errors = on;
        self
    }
    /// Only records starting in `[offset, offset + len)`.
    pub fn with_byte_range(mut self, offset: usize, len: usize) -> Self {
        self.byte_range = Some((offset, len));
        self
    }
}
