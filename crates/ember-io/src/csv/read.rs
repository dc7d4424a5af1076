//! The CPU CSV reader: record-aligned chunks (see `split.rs`) decoded in parallel by `arrow-csv`,
//! then the conversions `arrow-csv` does not do (custom boolean words, lenient parsing).
use super::split::{chunk_bounds, in_quotes_at, line_of, next_record_start, record_starts};
use super::CsvReadOptions;
use crate::file::read_all;
use arrow::array::{Array, ArrayRef, BooleanBuilder, RecordBatch, StringArray};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Field as ArrowField, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow_csv::reader::Format;
use arrow_csv::ReaderBuilder;
use ember_core::{DType, DataFrame, Error, Field, ReadLocation, Result};
use rayon::prelude::*;
use std::path::Path;
use std::sync::Arc;

/// Reads a CSV file into a CPU frame.
///
/// ```
/// use ember_io::{read_csv_bytes, CsvReadOptions};
/// use ember_core::DType;
/// let opts = CsvReadOptions::default().with_dtype("b", DType::Float64).with_null_values(["NA"]);
/// let df = read_csv_bytes(b"a,b\n1,NA\n2,2.5\n", "mem.csv", &opts)?;
/// assert_eq!(df.fields()[1].dtype, DType::Float64);
/// let bad = read_csv_bytes(b"a\n1\nx\n", "mem.csv", &CsvReadOptions::default().with_dtype("a", DType::Int64));
/// assert_eq!(bad.unwrap_err().to_string(), "mem.csv: line 3, column \"a\": \"x\" is not a valid int64");
/// # Ok::<(), ember_core::Error>(())
/// ```
pub fn read_csv(path: impl AsRef<Path>, options: &CsvReadOptions) -> Result<DataFrame> {
    let path = path.as_ref();
    let large = std::fs::metadata(path).is_ok_and(|m| m.len() >= super::stream::STREAM_MIN_BYTES);
    if large {
        if let Some(df) = super::stream::read(path, options, super::stream::WINDOW_BYTES)? {
            return Ok(df);
        }
    }
    read_whole(path, options)
}

/// [`read_csv`] with the whole file in memory while it is decoded.
pub(super) fn read_whole(path: &Path, options: &CsvReadOptions) -> Result<DataFrame> {
    let data = read_all(path)?;
    let name = path.display().to_string();
    let (schema, batches) = {
        let layout = Layout::new(&data, &name, options)?;
        (layout.out_schema(), layout.read_batches()?)
    };
    // The file's bytes go before the columns are joined: the peak holds one of the two.
    drop(data);
    crate::assemble::concat_frames(schema, batches)
}

/// Reads a CSV file onto `device`: on a GPU (CUDA or Sim) the records are split and the fields
/// parsed there (see the module `gpu`); on the CPU this is [`read_csv`]. GPU work runs in `ctx`
/// when given, else in a fresh context.
pub fn read_csv_on(
    path: impl AsRef<Path>,
    options: &CsvReadOptions,
    device: ember_core::Device,
    ctx: Option<&ember_gpu::ExecContext>,
) -> Result<DataFrame> {
    let path = path.as_ref();
    if device.gpu()?.is_none() {
        return read_csv(path, options);
    }
    let data = read_all(path)?;
    read_csv_bytes_on(&data, &path.display().to_string(), options, device, ctx)
}

/// [`read_csv_on`] for bytes held in memory.
pub fn read_csv_bytes_on(
    data: &[u8],
    name: &str,
    options: &CsvReadOptions,
    device: ember_core::Device,
    ctx: Option<&ember_gpu::ExecContext>,
) -> Result<DataFrame> {
    let Some(gpu) = device.gpu()? else { return read_csv_bytes(data, name, options) };
    let layout = Layout::new(data, name, options)?;
    match crate::in_context(gpu, ctx, |ctx| super::gpu::read(ctx, &layout))? {
        Some(df) => match options.n_rows {
            Some(n) if n < df.num_rows() => df.slice(0, n),
            _ => Ok(df),
        },
        // Input the device path does not take, or malformed input: the CPU path reads it (or
        // names the line and column of the error).
        None => layout.read()?.to(device),
    }
}

/// The device path of [`read_csv_bytes_on`] alone: `None` where it hands the input to the CPU
/// path (options it does not take, malformed input). For tests and tools that want to know.
pub fn decode_csv_on_gpu(
    ctx: &ember_gpu::ExecContext,
    data: &[u8],
    name: &str,
    options: &CsvReadOptions,
) -> Result<Option<DataFrame>> {
    super::gpu::read(ctx, &Layout::new(data, name, options)?)
}

/// Reads CSV bytes held in memory; `name` is the file name errors show.
pub fn read_csv_bytes(data: &[u8], name: &str, options: &CsvReadOptions) -> Result<DataFrame> {
    let layout = Layout::new(data, name, options)?;
    layout.read()
}

/// The columns (names and types) [`read_csv`] would return, from the header and the inference
/// sample only.
pub fn csv_schema(path: impl AsRef<Path>, options: &CsvReadOptions) -> Result<Vec<Field>> {
    let path = path.as_ref();
    let data = read_all(path)?;
    Ok(Layout::new(&data, &path.display().to_string(), options)?.out_fields)
}

/// How one output column is finished after `arrow-csv` decoded it.
#[derive(Debug, Clone)]
pub(super) enum Finish {
    /// As decoded.
    Keep,
    /// Read as text; the user's true/false words make the booleans.
    Bool,
    /// Read as text; cast to the type, unparsable values null.
    Lenient(DataType),
}

/// Everything decided before decoding.
pub(super) struct Layout<'a> {
    pub(super) name: &'a str,
    pub(super) data: &'a [u8],
    pub(super) opts: &'a CsvReadOptions,
    /// Where records to decode start and end.
    pub(super) start: usize,
    pub(super) end: usize,
    /// The quote byte every path uses (NUL when quoting is off).
    pub(super) quote: Option<u8>,
    /// Whether `data[start..end]` is known to hold no quote byte (counted as the file was read):
    /// its records are then split at every newline without counting quotes again.
    unquoted: bool,
    format: Format,
    /// Every file column, with the type `arrow-csv` decodes it as.
    pub(super) read_schema: SchemaRef,
    /// File column index of each output column.
    pub(super) projection: Vec<usize>,
    pub(super) out_fields: Vec<Field>,
    pub(super) finish: Vec<Finish>,
    /// Whether each output column's type was inferred (an error then says how to fix it).
    inferred: Vec<bool>,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl<'a> Layout<'a> {
    pub(super) fn new(data: &'a [u8], name: &'a str, opts: &'a CsvReadOptions) -> Result<Layout<'a>> {
        let read_err = |at: ReadLocation, message: String| Error::Read { path: name.into(), at: Box::new(at), message };
        // arrow-csv always quotes: "no quoting" is the NUL byte as the quote, which text files do
        // not hold. The split and the GPU decoder use the same byte, so every path agrees.
        let quote_byte = opts.quote.unwrap_or(0);
        let quote = Some(quote_byte);
        let mut pos = if data.starts_with(BOM) { BOM.len() } else { 0 };
        let next = |p: usize| next_record_start(data, p + 1, in_quotes_at(data, p + 1, quote), quote);
        for _ in 0..opts.skip_rows {
            pos = next(pos).max(pos);
        }
        // Comment lines before the header are not the header.
        while opts.comment.is_some() && pos < data.len() && Some(data[pos]) == opts.comment {
            pos = next(pos);
        }
        let mut format = Format::default().with_header(false).with_delimiter(opts.delimiter);
        format = format.with_quote(quote_byte);
        if let Some(e) = opts.escape {
            format = format.with_escape(e);
        }
        if let Some(c) = opts.comment {
            format = format.with_comment(c);
        }
        if !(opts.null_values.len() == 1 && opts.null_values[0].is_empty()) {
            let alts: Vec<String> = opts.null_values.iter().map(|v| regex::escape(v)).collect();
            let pattern = if alts.is_empty() { "a^".to_string() } else { format!("^(?:{})$", alts.join("|")) };
            let re = regex::Regex::new(&pattern).map_err(|e| Error::InvalidArgument(format!("null values: {e}")))?;
            format = format.with_null_regex(re);
        }

        // Header names and inferred types, from the header and the sample.
        let sample = &data[pos..];
        let infer_format = format.clone().with_header(opts.has_header);
        let (inferred_schema, _) = infer_format
            .infer_schema(sample, if opts.schema.is_some() { Some(0) } else { opts.infer_schema_length })
            .map_err(|e| {
                // The csv crate counts lines from the sample's start, 1-based.
                let m = arrow_message(&e);
                let (line, m) = match m.rfind(" at line ") {
                    Some(i) => match m[i + 9..].trim().parse::<u64>() {
                        Ok(n) => (line_of(data, pos) + n - 1, m[..i].to_string()),
                        Err(_) => (line_of(data, pos), m),
                    },
                    None => (line_of(data, pos), m),
                };
                read_err(ReadLocation { line: Some(line), ..Default::default() }, m)
            })?;
        let data_start = if opts.has_header && pos < data.len() { next(pos) } else { pos };
        let mut fields: Vec<Field> = match &opts.schema {
            Some(s) => s.clone(),
            None => inferred_schema
                .fields()
                .iter()
                .map(|f| {
                    let dtype = match f.data_type() {
                        DataType::Null => DType::Utf8,
                        dt => DType::from_arrow(dt).unwrap_or(DType::Utf8),
                    };
                    Field { name: f.name().clone(), dtype, nullable: true }
                })
                .collect(),
        };
        if opts.schema.is_some() && opts.has_header && inferred_schema.fields().len() != fields.len() {
            return Err(read_err(
                ReadLocation { line: Some(line_of(data, pos)), ..Default::default() },
                format!(
                    "the header has {} fields but the schema given has {}",
                    inferred_schema.fields().len(),
                    fields.len()
                ),
            ));
        }
        let mut inferred = vec![opts.schema.is_none(); fields.len()];
        for (col, dtype) in &opts.dtypes {
            let available = fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ");
            let f = fields
                .iter_mut()
                .find(|f| &f.name == col)
                .ok_or_else(|| Error::ColumnNotFound { name: col.clone(), available })?;
            f.dtype = *dtype;
            if let Some(i) = fields.iter().position(|f| &f.name == col) {
                inferred[i] = false;
            }
        }
        let projection: Vec<usize> = match &opts.columns {
            None => (0..fields.len()).collect(),
            Some(cols) => {
                for c in cols {
                    if !fields.iter().any(|f| &f.name == c) {
                        return Err(Error::ColumnNotFound {
                            name: c.clone(),
                            available: fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
                        });
                    }
                }
                (0..fields.len()).filter(|&i| cols.contains(&fields[i].name)).collect()
            }
        };
        let custom_bools = !opts.true_values.is_empty() || !opts.false_values.is_empty();
        let finish_of = |dtype: DType| match dtype {
            DType::Utf8 => Finish::Keep,
            DType::Bool if custom_bools => Finish::Bool,
            t if opts.ignore_errors => Finish::Lenient(t.to_arrow()),
            _ => Finish::Keep,
        };
        let read_fields: Vec<ArrowField> = fields
            .iter()
            .map(|f| {
                let dt = match finish_of(f.dtype) {
                    Finish::Keep => f.dtype.to_arrow(),
                    Finish::Bool | Finish::Lenient(_) => DataType::Utf8,
                };
                ArrowField::new(&f.name, dt, true)
            })
            .collect();
        let finish = projection.iter().map(|&i| finish_of(fields[i].dtype)).collect();
        let out_fields: Vec<Field> = projection.iter().map(|&i| fields[i].clone()).collect();
        let inferred: Vec<bool> = projection.iter().map(|&i| inferred[i]).collect();

        let (mut start, mut end) = (data_start, data.len());
        if let Some((offset, len)) = opts.byte_range {
            let at = |p: usize| {
                let p = p.clamp(data_start, data.len());
                next_record_start(data, p, in_quotes_at(data, p, quote), quote)
            };
            (start, end) = (at(offset), at(offset.saturating_add(len)));
        }
        Ok(Layout {
            name,
            data,
            opts,
            start,
            end,
            quote,
            unquoted: false,
            format,
            read_schema: Arc::new(Schema::new(read_fields)),
            projection,
            out_fields,
            finish,
            inferred,
        })
    }

    pub(super) fn read(&self) -> Result<DataFrame> {
        crate::assemble::concat_frames(self.out_schema(), self.read_batches()?)
    }

    /// The same layout over other bytes (a window of the file that starts at a record), decoding
    /// `data[start..end]`, which holds no quote byte if `unquoted`.
    pub(super) fn over<'b>(&self, data: &'b [u8], start: usize, end: usize, unquoted: bool) -> Layout<'b>
    where
        'a: 'b,
    {
        Layout {
            name: self.name,
            data,
            opts: self.opts,
            start,
            end,
            quote: self.quote,
            unquoted,
            format: self.format.clone(),
            read_schema: self.read_schema.clone(),
            projection: self.projection.clone(),
            out_fields: self.out_fields.clone(),
            finish: self.finish.clone(),
            inferred: self.inferred.clone(),
        }
    }

    /// The output columns as an Arrow schema.
    pub(super) fn out_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.out_fields.iter().map(|f| ArrowField::new(&f.name, f.dtype.to_arrow(), true)).collect::<Vec<_>>(),
        ))
    }

    /// The decoded and finished batches, in file order.
    pub(super) fn read_batches(&self) -> Result<Vec<RecordBatch>> {
        let body = &self.data[self.start..self.end];
        // Escapes and comment lines can hide quotes from the parity count: one piece then.
        let splittable = self.opts.escape.is_none() && self.opts.comment.is_none() && self.opts.n_rows.is_none();
        // Plain pieces of simple columns by the fast path (`fast.rs`), the rest by arrow-csv. The
        // fast path's pieces are about 1 MiB, so that a piece's field ends (read once per
        // column) stay in cache.
        let fast = super::fast::applies(&self.read_schema, self.opts);
        let pieces = match (splittable, fast) {
            (false, _) => 1,
            (true, true) => (body.len() >> 20).max(1),
            (true, false) => (body.len() / (4 << 20)).clamp(1, 4 * rayon::current_num_threads()),
        };
        let split_quote = if self.unquoted { None } else { self.quote };
        let bounds: Vec<usize> = chunk_bounds(body, pieces, split_quote).iter().map(|b| b + self.start).collect();
        let decoded: Vec<std::result::Result<Vec<RecordBatch>, ArrowError>> = bounds
            .par_windows(2)
            .map(|w| {
                let quote = self.quote.unwrap_or(0);
                let plain = fast.then(|| {
                    super::fast::decode(
                        &self.data[w[0]..w[1]],
                        &self.read_schema,
                        &self.projection,
                        self.opts.delimiter,
                        quote,
                    )
                });
                match plain.flatten() {
                    Some(batch) => Ok(vec![batch]),
                    None => self.decode(w[0], w[1], &self.projection, self.opts.n_rows),
                }
            })
            .collect();
        let batches = if decoded.iter().any(|r| r.is_err()) {
            // A chunk failed: decode in one piece (a stray quote may have misled the split); if
            // that fails too, find the first failing record and column.
            self.decode(self.start, self.end, &self.projection, self.opts.n_rows)
                .map_err(|e| self.locate(self.start, self.end, &e))?
        } else {
            decoded.into_iter().flat_map(|r| r.unwrap_or_default()).collect()
        };
        let mut rows_before = 0;
        let mut finished = Vec::with_capacity(batches.len());
        for b in &batches {
            finished.push(self.finish_batch(b, rows_before)?);
            rows_before += b.num_rows();
        }
        Ok(finished)
    }

    /// Decodes the records in `data[a..b]` (at most `limit`).
    fn decode(
        &self,
        a: usize,
        b: usize,
        projection: &[usize],
        limit: Option<usize>,
    ) -> std::result::Result<Vec<RecordBatch>, ArrowError> {
        let mut builder = ReaderBuilder::new(self.read_schema.clone())
            .with_format(self.format.clone())
            .with_batch_size(64 * 1024)
            .with_projection(projection.to_vec());
        if let Some(n) = limit {
            builder = builder.with_bounds(0, n);
        }
        let mut decoder = builder.build_decoder();
        // csv-core drops a byte-order mark at the start of its input; a record that starts with
        // one mid-file (at a chunk's start) is data. An empty line first (skipped) keeps it.
        decoder.decode(b"\n")?;
        let mut buf = &self.data[a..b];
        let mut out = Vec::new();
        loop {
            let consumed = decoder.decode(buf)?;
            buf = &buf[consumed..];
            if consumed == 0 || decoder.capacity() == 0 {
                match decoder.flush()? {
                    Some(batch) => out.push(batch),
                    None if buf.is_empty() || consumed == 0 => break,
                    None => {}
                }
            }
        }
        Ok(out)
    }

    /// The first failing record of `data[a..b]` (by bisection over record starts), its column,
    /// and why: the typed error for a decode failure.
    fn locate(&self, a: usize, b: usize, err: &ArrowError) -> Error {
        let starts: Vec<usize> = record_starts(&self.data[a..b], self.quote).iter().map(|s| s + a).collect();
        let end_of = |m: usize| if m < starts.len() { starts[m] } else { b };
        // Records decode independently, so records `lo..m` alone decide: each step decodes half
        // of what is left, and the whole search costs about two decodes of the range.
        let fails = |lo: usize, m: usize| self.decode(starts[lo], end_of(m), &self.projection, None).is_err();
        let (mut lo, mut hi) = (0, starts.len());
        if starts.is_empty() || !fails(lo, hi) {
            return self.error_at(a, None, arrow_message(err));
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fails(lo, mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        let (ra, rb) = (starts[hi - 1], end_of(hi));
        let one = |p: &[usize]| self.decode(ra, rb, p, None);
        let whole = one(&self.projection).err();
        let message = whole.as_ref().map_or_else(|| arrow_message(err), arrow_message);
        // A parse error belongs to a column (the first that fails alone); a ragged record or bad
        // UTF-8 to the record.
        let failing: Vec<usize> = self.projection.iter().copied().filter(|&c| one(&[c]).is_err()).collect();
        let parse_error = matches!(whole, Some(ArrowError::ParseError(_)));
        if !failing.is_empty() && (parse_error || failing.len() < self.projection.len()) {
            let col = failing[0];
            let out = self.projection.iter().position(|&p| p == col).unwrap_or(0);
            let f = &self.out_fields[out];
            let value = self.raw_value(ra, rb, col).unwrap_or_default();
            return self.error_at(ra, Some(&f.name), self.bad_value(&value, f.dtype, self.inferred[out]));
        }
        if message.contains("UTF-8") {
            let col =
                field_number(&message).and_then(|k| self.read_schema.fields().get(k - 1).map(|f| f.name().clone()));
            return self.error_at(ra, col.as_deref(), "invalid UTF-8".into());
        }
        self.error_at(ra, None, message)
    }

    /// Field `col` of the one record in `data[a..b]`, as text.
    fn raw_value(&self, a: usize, b: usize, col: usize) -> Option<String> {
        let text_schema = Arc::new(Schema::new(
            self.read_schema
                .fields()
                .iter()
                .map(|f| ArrowField::new(f.name(), DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let mut decoder = ReaderBuilder::new(text_schema)
            .with_format(self.format.clone().with_null_regex(regex::Regex::new("a^").ok()?))
            .with_projection(vec![col])
            .build_decoder();
        decoder.decode(b"\n").ok()?;
        decoder.decode(&self.data[a..b]).ok()?;
        decoder.decode(&[]).ok()?;
        let batch = decoder.flush().ok()??;
        let arr = batch.column(0).as_any().downcast_ref::<StringArray>()?;
        (arr.len() == 1).then(|| arr.value(0).to_string())
    }

    fn bad_value(&self, value: &str, dtype: DType, inferred: bool) -> String {
        let hint = if inferred {
            format!(
                " (the type was inferred from the first {} records; give a schema, a dtype for this column, or a longer infer_schema_length)",
                self.opts.infer_schema_length.map_or("all".into(), |n| n.to_string())
            )
        } else {
            String::new()
        };
        format!("{value:?} is not a valid {dtype}{hint}")
    }

    fn error_at(&self, byte: usize, column: Option<&str>, message: String) -> Error {
        Error::Read {
            path: self.name.into(),
            at: Box::new(ReadLocation {
                line: Some(line_of(self.data, byte)),
                column: column.map(str::to_string),
                ..Default::default()
            }),
            message,
        }
    }

    /// Custom booleans and lenient casts; `rows_before` locates a bad value's record.
    fn finish_batch(&self, batch: &RecordBatch, rows_before: usize) -> Result<RecordBatch> {
        if self.finish.iter().all(|f| matches!(f, Finish::Keep)) {
            return Ok(batch.clone());
        }
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
        for (i, (arr, finish)) in batch.columns().iter().zip(&self.finish).enumerate() {
            columns.push(match finish {
                Finish::Keep => arr.clone(),
                Finish::Lenient(dt) => cast_with_options(arr, dt, &CastOptions { safe: true, ..Default::default() })?,
                Finish::Bool => {
                    let text = arr
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .ok_or_else(|| Error::Internal("custom boolean column not read as text".into()))?;
                    let mut out = BooleanBuilder::with_capacity(text.len());
                    for (r, v) in text.iter().enumerate() {
                        match v {
                            None => out.append_null(),
                            Some(s) if self.opts.true_values.iter().any(|t| t == s) => out.append_value(true),
                            Some(s) if self.opts.false_values.iter().any(|t| t == s) => out.append_value(false),
                            Some(_) if self.opts.ignore_errors => out.append_null(),
                            Some(s) => {
                                let at = self.nth_record_start(rows_before + r);
                                return Err(self.error_at(
                                    at,
                                    Some(&self.out_fields[i].name),
                                    format!("{s:?} is neither a true nor a false value"),
                                ));
                            }
                        }
                    }
                    Arc::new(out.finish())
                }
            });
        }
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(
                self.out_fields.iter().map(|f| ArrowField::new(&f.name, f.dtype.to_arrow(), true)).collect::<Vec<_>>(),
            )),
            columns,
        )?)
    }

    /// The byte where data record `n` (0-based, as `arrow-csv` counts: blank lines skipped)
    /// starts.
    fn nth_record_start(&self, n: usize) -> usize {
        let body = &self.data[self.start..self.end];
        record_starts(body, self.quote)
            .into_iter()
            .filter(|&s| !matches!(body.get(s..s + 1), Some(b"\n") | Some(b"\r")))
            .nth(n)
            .map_or(self.start, |s| s + self.start)
    }
}

/// An arrow error's text without its "Csv error: " prefix.
fn arrow_message(e: &ArrowError) -> String {
    match e {
        ArrowError::CsvError(m) | ArrowError::ParseError(m) => m.clone(),
        other => other.to_string(),
    }
}

/// `n` from "... field n" in arrow-csv's UTF-8 error (1-based).
fn field_number(message: &str) -> Option<usize> {
    let rest = &message[message.rfind("field ")? + 6..];
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}
