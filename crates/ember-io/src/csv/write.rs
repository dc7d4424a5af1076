//! The CSV writer (`arrow-csv`'s, on the CPU), writing under a temporary name.
use crate::file::{flush, write_atomically};
use ember_core::{DataFrame, Result};
use std::path::Path;

/// How to write a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvWriteOptions {
    /// Write the column names first (default true).
    pub has_header: bool,
    /// Field separator (default `,`).
    pub delimiter: u8,
    /// The text of a null (default: the empty field).
    pub null_value: String,
}

impl Default for CsvWriteOptions {
    fn default() -> Self {
        CsvWriteOptions { has_header: true, delimiter: b',', null_value: String::new() }
    }
}

/// Writes `df` (downloading it first if it is on a GPU) as CSV: values as text, decimals exact,
/// dates `YYYY-MM-DD`, fields quoted where they hold the delimiter, a quote or a newline.
///
/// ```
/// use ember_io::{read_csv, write_csv, CsvReadOptions, CsvWriteOptions};
/// let df = ember_io::read_csv_bytes(b"a,b\n1,x\n", "mem", &CsvReadOptions::default())?;
/// let path = std::env::temp_dir().join(format!("ember-write-csv-{}.csv", std::process::id()));
/// write_csv(&df, &path, &CsvWriteOptions::default())?;
/// assert_eq!(std::fs::read_to_string(&path)?, "a,b\n1,x\n");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_csv(df: &DataFrame, path: impl AsRef<Path>, options: &CsvWriteOptions) -> Result<()> {
    let path = path.as_ref();
    let batch = df.to_record_batch()?;
    write_atomically(path, |out| {
        let mut writer = arrow_csv::WriterBuilder::new()
            .with_header(options.has_header)
            .with_delimiter(options.delimiter)
            .with_null(options.null_value.clone())
            .build(&mut *out);
        writer.write(&batch)?;
        drop(writer);
        flush(out, path)
    })
}
