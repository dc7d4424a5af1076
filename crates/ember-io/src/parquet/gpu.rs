//! The GPU Parquet decoder (CUDA and the simulated device): the host parses footers and page
//! headers and decompresses pages (the `parquet` crate's page reader), walks the run headers of
//! the RLE / bit-packed hybrid streams into run tables, and uploads raw page bytes; the device
//! expands the runs, turns definition levels into validity and ranks, and gathers every value
//! from one values table (`kernels/parquet.cu` says how).
//!
//! Decoded on the device: flat columns of INT32 (int32, uint32, date32, decimal), INT64 (int64,
//! uint64, timestamps, decimal), FLOAT, DOUBLE, BOOLEAN, BYTE_ARRAY (utf8), FIXED_LEN_BYTE_ARRAY
//! (decimal) and INT96 (timestamp[ns]), in PLAIN, PLAIN_DICTIONARY and RLE_DICTIONARY pages, v1
//! and v2; BYTE_STREAM_SPLIT pages of fixed-width columns and DELTA_BINARY_PACKED pages of INT32 /
//! INT64 columns too (the host walks only block and miniblock headers; the device unpacks the
//! deltas, scans them and writes the values into the values table). A PLAIN byte-array page is
//! indexed on the host (one walk over its length prefixes; the device copies the bytes); a
//! DELTA_LENGTH_BYTE_ARRAY page's lengths are decoded and scanned into string offsets on the
//! device. A DELTA_BYTE_ARRAY page (each string a prefix of the one before plus its own suffix)
//! has its prefix and suffix lengths decoded on the host (short integer streams, which place
//! every rebuilt string in the table) and its strings rebuilt on the device, a thread per byte
//! following the chain of prefixes (`pq_dba_fill`). Any other encoding, type, or a nested column
//! is decoded by the CPU path and uploaded, with a log line (target `ember::io`) naming the
//! column and why.
use super::prune::page_rows;
use super::read::{Dataset, GroupRead};
use arrow::datatypes::{DataType, TimeUnit};
use ember_core::{Column, DType, DataFrame, Device, DeviceColumn, Error, ReadLocation, Result};
use ember_gpu::primitives::scan::{exclusive_scan, scan_into, ScanType};
use ember_gpu::{DeviceBuffer, ExecContext, Kernel, KernelArg, LaunchConfig};
use ember_ops::executor::{Executor, GpuExecutor, Indices};
use parquet::basic::{Encoding, Type as Physical};
use parquet::column::page::{Page, PageReader};
use parquet::file::serialized_reader::SerializedPageReader;
use rayon::prelude::*;
use std::sync::Arc;

const BLOCK: u32 = 256;
const RUN_RLE: u32 = 0;
const RUN_PACKED: u32 = 1;
const RUN_SEQUENCE: u32 = 2;

/// Decodes `columns` of `groups` onto the GPU of `ctx`.
pub(super) fn read(ctx: &ExecContext, ds: &Dataset, groups: &[GroupRead], columns: &[usize]) -> Result<DataFrame> {
    // Host work (page reads, decompression, run headers) for every column in parallel.
    let prepared: Vec<Result<Prepared, Fallback>> = columns
        .par_iter()
        .map(|&c| {
            // Corrupt pages can reach a panic inside the `parquet` crate: an error, not an abort.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prepare(ds, groups, c))).unwrap_or_else(|_| {
                let column = ds.arrow_schema().field(c).name().clone();
                Err(ds.files[0].error(
                    ReadLocation { column: Some(column), ..Default::default() },
                    "corrupt data (the parquet crate stopped)",
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(columns.len());
    let device = Device::of_gpu(ctx.gpu());
    for (&c, prep) in columns.iter().zip(prepared) {
        let field = ds.field(c)?;
        let col = match prep {
            Ok(p) => {
                let col = decode(ctx, &p, p.decoded_rows).map_err(|e| match e {
                    Error::Read { message, .. } => ds.files[0]
                        .error(ReadLocation { column: Some(field.name.clone()), ..Default::default() }, message),
                    other => other,
                })?;
                match &p.select {
                    Some(rows) => select_rows(ctx, col, rows)?,
                    None => col,
                }
            }
            Err(Fallback(why)) => {
                tracing::info!(target: "ember::io", column = %field.name, "decoded on the CPU and uploaded: {why}");
                let host = ds.read(groups, &[c])?;
                DeviceColumn::upload(ctx, host.columns()[0].to_arrow()?.as_ref())?
            }
        };
        out.push((field.name, Column::Device(col)));
    }
    if out.is_empty() {
        return ds.read(groups, columns)?.to(device);
    }
    DataFrame::from_columns(out, device)
}

/// Why a column goes to the CPU path.
struct Fallback(String);

/// How a column's values table becomes its output values.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// 4- or 8-byte values as they are.
    Fixed(usize),
    /// INT32 / INT64 / FIXED_LEN_BYTE_ARRAY(w) widened to 16-byte decimals.
    I32Decimal,
    I64Decimal,
    FlbaDecimal(usize),
    /// INT96 to nanoseconds.
    Int96,
    Bool,
    Str,
}

impl Kind {
    /// Bytes per entry of the values table as stored in the file.
    fn stored_width(self) -> usize {
        match self {
            Kind::Fixed(w) | Kind::FlbaDecimal(w) => w,
            Kind::I32Decimal => 4,
            Kind::I64Decimal => 8,
            Kind::Int96 => 12,
            Kind::Bool | Kind::Str => 0,
        }
    }
}

/// A run table (see `kernels/parquet.cu`).
#[derive(Default)]
struct Runs {
    start: Vec<u64>,
    data: Vec<u64>,
    add: Vec<u32>,
    meta: Vec<u32>,
    total: u64,
}

impl Runs {
    fn push(&mut self, count: u64, data: u64, add: u32, kind: u32, width: u32) {
        if count == 0 {
            return;
        }
        self.start.push(self.total);
        self.data.push(data);
        self.add.push(add);
        self.meta.push((kind << 8) | width);
        self.total += count;
    }
}

/// Everything the device needs for one column.
struct Prepared {
    kind: Kind,
    dtype: DType,
    arrow_type: DataType,
    optional: bool,
    /// Bytes the packed runs point into.
    stream: Vec<u8>,
    levels: Runs,
    indices: Runs,
    /// The values table: fixed-width entries (`kind.stored_width()` bytes each), or string bytes.
    table: Vec<u8>,
    entries: u64,
    /// Strings: each entry's start in `table` and length.
    str_start: Vec<u64>,
    str_len: Vec<u32>,
    physical: Physical,
    /// BYTE_STREAM_SPLIT pages, merged into their reserved table entries on the device.
    split: SplitPages,
    /// DELTA_BINARY_PACKED pages, decoded into their reserved table entries on the device.
    delta: DeltaPages,
    /// DELTA_LENGTH_BYTE_ARRAY pages: their lengths (a DELTA_BINARY_PACKED stream per page, its
    /// `page_entry` the page's first string entry), and per page where its bytes start in `table`
    /// and how many there are. The device fills the pages' reserved `str_start` / `str_len`.
    str_delta: DeltaPages,
    str_page_base: Vec<u64>,
    str_page_bytes: Vec<u64>,
    /// DELTA_BYTE_ARRAY pages' strings, rebuilt from prefixes and suffixes on the device.
    prefixed: PrefixPages,
    /// Rows of the pages decoded.
    decoded_rows: usize,
    /// Where the page index skipped pages: the rows of the read among those decoded (a page
    /// decoded for some rows holds others too). `None`: all of them.
    select: Option<Vec<u32>>,
}

/// DELTA_BYTE_ARRAY strings (see `pq_dba_fill`), one entry per string of every such page: its
/// running byte count, where it is rebuilt in the table, where its suffix is, its prefix length,
/// its length, and the previous string of its page with a shorter prefix (`u64::MAX`: none).
#[derive(Default)]
struct PrefixPages {
    first: Vec<u64>,
    dst: Vec<u64>,
    src: Vec<u64>,
    prefix: Vec<u32>,
    len: Vec<u32>,
    pse: Vec<u64>,
    bytes: u64,
}

/// BYTE_STREAM_SPLIT pages (see `pq_bss_merge`): per page, the first value's index among all
/// such values, where its streams start in `stream`, its first table entry and its count.
#[derive(Default)]
struct SplitPages {
    first: Vec<u64>,
    stream: Vec<u64>,
    entry: Vec<u64>,
    count: Vec<u64>,
    total: u64,
}

/// DELTA_BINARY_PACKED pages (see `pq_delta_expand` / `pq_delta_finish`): a 64-bit run table
/// over all their values (a page's first value, then its miniblocks) and, per page, its first
/// value's index and first table entry.
#[derive(Default)]
struct DeltaPages {
    run_start: Vec<u64>,
    run_data: Vec<u64>,
    run_add: Vec<u64>,
    run_width: Vec<u32>,
    page_first: Vec<u64>,
    page_entry: Vec<u64>,
    total: u64,
}

impl DeltaPages {
    fn run(&mut self, count: u64, data: u64, add: u64, width: u32) {
        self.run_start.push(self.total);
        self.run_data.push(data);
        self.run_add.push(add);
        self.run_width.push(width);
        self.total += count;
    }
}

fn kind_of(physical: Physical, type_length: i32, dtype: DType) -> Option<Kind> {
    Some(match (physical, dtype) {
        (Physical::INT32, DType::Int32 | DType::UInt32 | DType::Date32) => Kind::Fixed(4),
        (Physical::FLOAT, DType::Float32) => Kind::Fixed(4),
        (Physical::INT64, DType::Int64 | DType::UInt64 | DType::Timestamp(_)) => Kind::Fixed(8),
        (Physical::DOUBLE, DType::Float64) => Kind::Fixed(8),
        (Physical::INT32, DType::Decimal128 { .. }) => Kind::I32Decimal,
        (Physical::INT64, DType::Decimal128 { .. }) => Kind::I64Decimal,
        (Physical::FIXED_LEN_BYTE_ARRAY, DType::Decimal128 { .. }) if (1..=16).contains(&type_length) => {
            Kind::FlbaDecimal(type_length as usize)
        }
        (Physical::INT96, DType::Timestamp(TimeUnit::Nanosecond)) => Kind::Int96,
        (Physical::BOOLEAN, DType::Bool) => Kind::Bool,
        (Physical::BYTE_ARRAY, DType::Utf8) => Kind::Str,
        _ => return None,
    })
}

/// Rows `rows` of a decoded column (pages decoded whole, the row ranges of the read cut out).
fn select_rows(ctx: &ExecContext, col: DeviceColumn, rows: &[u32]) -> Result<DeviceColumn> {
    let frame = DataFrame::from_columns(vec![("c".to_string(), Column::Device(col))], Device::of_gpu(ctx.gpu()))?;
    let indices = Indices::Device { buf: ctx.upload(rows)?, len: rows.len() };
    GpuExecutor::new(ctx).gather(&frame, &indices)?.columns()[0].as_device().cloned()
}

/// Host side of one column: pages read and decompressed, run headers walked, bytes gathered.
/// `Ok(Err(_))`: the column goes to the CPU path; `Err(_)`: the file is bad.
fn prepare(ds: &Dataset, groups: &[GroupRead], c: usize) -> Result<Result<Prepared, Fallback>> {
    let field = ds.field(c)?;
    let file0 = &ds.files[0];
    let descr = file0.meta.metadata().file_metadata().schema_descr();
    if descr.num_columns() != ds.arrow_schema().fields().len() {
        return Ok(Err(Fallback("the file has nested columns".into())));
    }
    let leaf = descr.column(c);
    if leaf.max_rep_level() != 0 || leaf.max_def_level() > 1 {
        return Ok(Err(Fallback("a nested or repeated column".into())));
    }
    let Some(kind) = kind_of(leaf.physical_type(), leaf.type_length(), field.dtype) else {
        return Ok(Err(Fallback(format!(
            "{:?} as {} is not decoded on the GPU yet",
            leaf.physical_type(),
            field.dtype
        ))));
    };
    let arrow_type = match field.dtype {
        DType::Utf8 => DataType::Utf8,
        t => t.to_arrow(),
    };
    let mut p = Prepared::new(kind, field.dtype, arrow_type, leaf.max_def_level() == 1, leaf.physical_type());
    // Row numbers only for a read with row ranges (a whole read keeps every decoded row).
    let ranged = groups.iter().any(|g| g.rows.is_some());
    let mut select: Vec<u32> = Vec::new();
    // The pages are read and decompressed a window of row groups at a time, the groups of a
    // window in parallel (a column's row groups are independent; without this the widest column
    // alone, read one group after another, is the whole read's critical path on a many-core
    // host); the bookkeeping below then walks them in order. A window bounds the decompressed
    // pages held at once to a few groups' worth.
    let window = rayon::current_num_threads().max(1);
    for (read, group_pages) in groups.chunks(window).flat_map(|w| {
        let pages: Vec<Result<GroupPages>> = w.par_iter().map(|r| read_pages(ds, r, c, &field.name)).collect();
        w.iter().zip(pages)
    }) {
        let GroupPages { pages, decoded, rows } = group_pages?;
        let (file, g) = (&ds.files[read.file], read.group);
        let at = ReadLocation { row_group: Some(g), column: Some(field.name.clone()), ..Default::default() };
        let bad = |page: Option<usize>, m: String| file.error(ReadLocation { page, ..at.clone() }, m);
        let mut dict_base: Option<u32> = None;
        let mut rows_seen = 0u64;
        for (page_no, page) in pages {
            let res = match page {
                Page::DictionaryPage { buf, num_values, encoding, .. } => {
                    if !matches!(encoding, Encoding::PLAIN | Encoding::PLAIN_DICTIONARY) {
                        return Ok(Err(Fallback(format!("a {encoding:?} dictionary page"))));
                    }
                    dict_base = Some(p.entries as u32);
                    p.append_plain(&buf, num_values as u64).map_err(PageError::Bad)
                }
                Page::DataPage { buf, num_values, encoding, def_level_encoding, .. } => {
                    let mut pos = 0;
                    let present = if p.optional {
                        if def_level_encoding != Encoding::RLE {
                            return Ok(Err(Fallback(format!("{def_level_encoding:?} definition levels"))));
                        }
                        let len = buf
                            .get(..4)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                            .ok_or_else(|| bad(Some(page_no), "page too short for its levels".into()))?;
                        let levels =
                            buf.get(4..4 + len).ok_or_else(|| bad(Some(page_no), "levels past the page".into()))?;
                        pos = 4 + len;
                        p.levels_page(levels, num_values as u64).map_err(|m| bad(Some(page_no), m))?
                    } else {
                        num_values as u64
                    };
                    rows_seen += num_values as u64;
                    p.values_page(&buf[pos..], encoding, present, dict_base)
                }
                Page::DataPageV2 { buf, num_values, encoding, def_levels_byte_len, rep_levels_byte_len, .. } => {
                    let (r, d) = (rep_levels_byte_len as usize, def_levels_byte_len as usize);
                    let levels = buf.get(r..r + d).ok_or_else(|| bad(Some(page_no), "levels past the page".into()))?;
                    let present = if p.optional {
                        p.levels_page(levels, num_values as u64).map_err(|m| bad(Some(page_no), m))?
                    } else {
                        num_values as u64
                    };
                    rows_seen += num_values as u64;
                    p.values_page(&buf[r + d..], encoding, present, dict_base)
                }
            };
            match res {
                Ok(()) => {}
                Err(PageError::Fallback(why)) => return Ok(Err(Fallback(why))),
                Err(PageError::Bad(m)) => return Err(bad(Some(page_no), m)),
            }
        }
        let decoded = decoded.unwrap_or_else(|| std::iter::once(0..rows).collect());
        let expected: usize = decoded.iter().map(|r| r.len()).sum();
        if rows_seen != expected as u64 {
            return Err(bad(
                None,
                format!("pages hold {rows_seen} values, the footer and offset index say {expected} rows"),
            ));
        }
        // Where each wanted row is among the rows decoded (every wanted row is in a kept page).
        let wanted =
            if ranged { read.rows.clone().unwrap_or_else(|| std::iter::once(0..rows).collect()) } else { vec![] };
        let (mut before, mut k) = (p.decoded_rows, 0);
        for row in wanted.into_iter().flatten() {
            while decoded.get(k).is_some_and(|d| d.end <= row) {
                before += decoded[k].len();
                k += 1;
            }
            let d = decoded.get(k).filter(|d| d.start <= row);
            let d = d.ok_or_else(|| Error::Internal(format!("row {row} of row group {g} is in no page decoded")))?;
            let at = u32::try_from(before + row - d.start)
                .map_err(|_| Error::InvalidArgument("more than 2^32 rows in one GPU Parquet read".into()))?;
            select.push(at);
        }
        p.decoded_rows += expected;
    }
    // Rows decoded and rows wanted are the same when no page held rows outside the ranges.
    if ranged && select.len() != p.decoded_rows {
        p.select = Some(select);
    }
    Ok(Ok(p))
}

/// One row group's pages of one column, read and decompressed, in file order with their page
/// numbers; the row ranges of the data pages kept (`None`: every page, the whole group); and
/// the group's rows.
struct GroupPages {
    pages: Vec<(usize, Page)>,
    decoded: Option<Vec<std::ops::Range<usize>>>,
    rows: usize,
}

/// Reads and decompresses the pages of column `c` in `read`'s row group, skipping the data pages
/// outside its row ranges (by the offset index, which `chunks` checked against the pages).
fn read_pages(ds: &Dataset, read: &GroupRead, c: usize, column: &str) -> Result<GroupPages> {
    let (file, g) = (&ds.files[read.file], read.group);
    let at = ReadLocation { row_group: Some(g), column: Some(column.to_string()), ..Default::default() };
    let bad = |page: Option<usize>, m: String| file.error(ReadLocation { page, ..at.clone() }, m);
    let rg = file.meta.metadata().row_group(g);
    let rows = rg.num_rows().max(0) as usize;
    let paged = read.rows.is_some();
    let bytes = file.chunks(&[g], &[c], paged).map_err(|e| bad(None, e))?;
    // With row ranges, `ranges` holds each data page's rows.
    let locations = file.page_locations(g, c).filter(|_| paged);
    let ranges = locations.and_then(|l| page_rows(l, rows));
    let locations = locations.filter(|_| ranges.is_some()).map(<[_]>::to_vec);
    let mut reader = SerializedPageReader::new(Arc::new(bytes), rg.column(c), rows, locations)
        .map_err(|e| bad(None, e.to_string()))?;
    let mut decoded: Vec<std::ops::Range<usize>> = Vec::new();
    let mut pages = Vec::new();
    let (mut data_page, mut page_no) = (0, 0);
    loop {
        if let (Some(ranges), Some(wanted)) = (&ranges, &read.rows) {
            let Some(next) = reader.peek_next_page().map_err(|e| bad(Some(page_no), e.to_string()))? else {
                break;
            };
            if !next.is_dict {
                let range = ranges
                    .get(data_page)
                    .ok_or_else(|| bad(Some(page_no), "a data page past the offset index".into()))?
                    .clone();
                data_page += 1;
                if !wanted.iter().any(|w| w.start < range.end && range.start < w.end) {
                    reader.skip_next_page().map_err(|e| bad(Some(page_no), e.to_string()))?;
                    page_no += 1;
                    continue;
                }
                decoded.push(range);
            }
        }
        let Some(page) = reader.get_next_page().map_err(|e| bad(Some(page_no), e.to_string()))? else { break };
        pages.push((page_no, page));
        page_no += 1;
    }
    Ok(GroupPages { pages, decoded: ranges.is_some().then_some(decoded), rows })
}

enum PageError {
    Fallback(String),
    Bad(String),
}

impl From<String> for PageError {
    fn from(m: String) -> Self {
        PageError::Bad(m)
    }
}

impl Prepared {
    /// Nothing read yet.
    fn new(kind: Kind, dtype: DType, arrow_type: DataType, optional: bool, physical: Physical) -> Prepared {
        Prepared {
            kind,
            dtype,
            arrow_type,
            optional,
            stream: Vec::new(),
            levels: Runs::default(),
            indices: Runs::default(),
            table: Vec::new(),
            entries: 0,
            str_start: Vec::new(),
            str_len: Vec::new(),
            physical,
            split: SplitPages::default(),
            delta: DeltaPages::default(),
            str_delta: DeltaPages::default(),
            str_page_base: Vec::new(),
            str_page_bytes: Vec::new(),
            prefixed: PrefixPages::default(),
            decoded_rows: 0,
            select: None,
        }
    }

    /// Definition levels of one page (bit width 1): their runs, and how many are present.
    fn levels_page(&mut self, levels: &[u8], count: u64) -> Result<u64, String> {
        let before = self.levels.start.len();
        let base = self.stream.len() as u64;
        self.stream.extend_from_slice(levels);
        hybrid_runs(levels, 1, count, base, 0, &mut self.levels)?;
        // Present values: RLE runs of 1, and the set bits of packed runs.
        let mut present = 0;
        for r in before..self.levels.start.len() {
            let n = if r + 1 < self.levels.start.len() { self.levels.start[r + 1] } else { self.levels.total }
                - self.levels.start[r];
            if self.levels.meta[r] >> 8 == RUN_RLE {
                if self.levels.data[r] > 1 {
                    return Err(format!("definition level {} in a flat column", self.levels.data[r]));
                }
                present += self.levels.data[r] * n;
            } else {
                let off = self.levels.data[r] as usize;
                let bytes = &self.stream[off..off + (n as usize).div_ceil(8)];
                let full = n as usize / 8;
                present += bytes[..full].iter().map(|b| b.count_ones() as u64).sum::<u64>();
                if !n.is_multiple_of(8) {
                    present += (bytes[full] & ((1u8 << (n % 8)) - 1)).count_ones() as u64;
                }
            }
        }
        Ok(present)
    }

    /// The values of one page: `present` of them, in `encoding`.
    fn values_page(
        &mut self,
        values: &[u8],
        encoding: Encoding,
        present: u64,
        dict: Option<u32>,
    ) -> Result<(), PageError> {
        match encoding {
            Encoding::PLAIN => {
                if self.kind == Kind::Bool {
                    let need = (present as usize).div_ceil(8);
                    let bits = values.get(..need).ok_or_else(|| "booleans past the page".to_string())?;
                    let base = self.stream.len() as u64;
                    self.stream.extend_from_slice(bits);
                    self.indices.push(present, base, 0, RUN_PACKED, 1);
                    return Ok(());
                }
                let first = self.entries as u32;
                self.append_plain(values, present)?;
                self.indices.push(present, 0, first, RUN_SEQUENCE, 0);
                Ok(())
            }
            Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY => {
                let base_entry = dict.ok_or_else(|| "a dictionary-encoded page without a dictionary".to_string())?;
                let (&width, runs) = values.split_first().ok_or_else(|| "empty dictionary-index page".to_string())?;
                if width > 32 {
                    return Err(format!("dictionary index width {width}").into());
                }
                let base = self.stream.len() as u64;
                self.stream.extend_from_slice(runs);
                hybrid_runs(runs, width as u32, present, base, base_entry, &mut self.indices)?;
                Ok(())
            }
            Encoding::BYTE_STREAM_SPLIT if !matches!(self.kind, Kind::Bool | Kind::Str | Kind::Int96) => {
                let w = self.kind.stored_width();
                // Exactly the values' bytes: the streams' stride is the value count, so bytes past
                // them mean a page of wider values than the column's (the CPU path refuses it too).
                let need = (present as usize).checked_mul(w).filter(|&n| n == values.len()).ok_or_else(|| {
                    format!("a BYTE_STREAM_SPLIT page of {} bytes for {present} values of {w} bytes", values.len())
                })?;
                let sp = &mut self.split;
                sp.first.push(sp.total);
                sp.stream.push(self.stream.len() as u64);
                sp.entry.push(self.entries);
                sp.count.push(present);
                sp.total += present;
                self.stream.extend_from_slice(&values[..need]);
                let first = self.reserve(present)?;
                self.indices.push(present, 0, first, RUN_SEQUENCE, 0);
                Ok(())
            }
            Encoding::DELTA_LENGTH_BYTE_ARRAY if self.kind == Kind::Str => {
                let d = &mut self.str_delta;
                d.page_first.push(d.total);
                d.page_entry.push(self.entries);
                let used = delta_runs(values, present, self.stream.len() as u64, d)?;
                self.stream.extend_from_slice(&values[..used]);
                // The bytes as a whole are checked here; that every string starts on a character
                // boundary (so each is valid UTF-8 alone) is checked on the device.
                let bytes = &values[used..];
                if std::str::from_utf8(bytes).is_err() {
                    return Err("invalid UTF-8 in a utf8 column".to_string().into());
                }
                self.str_page_base.push(self.table.len() as u64);
                self.str_page_bytes.push(bytes.len() as u64);
                self.table.extend_from_slice(bytes);
                self.str_start.resize(self.str_start.len() + present as usize, 0);
                self.str_len.resize(self.str_len.len() + present as usize, 0);
                let first = self.reserve(present)?;
                self.indices.push(present, 0, first, RUN_SEQUENCE, 0);
                Ok(())
            }
            Encoding::DELTA_BYTE_ARRAY if self.kind == Kind::Str => {
                // The prefix and suffix lengths are short integer streams: decoded here, so the
                // rebuilt strings' places in the table are known; the bytes are the device's.
                let (prefix, used) = host_deltas(values, present)?;
                let (suffix, more) = host_deltas(&values[used..], present)?;
                self.prefixed_page(&prefix, &suffix, &values[used + more..])?;
                Ok(())
            }
            Encoding::DELTA_BINARY_PACKED if matches!(self.physical, Physical::INT32 | Physical::INT64) => {
                let base = self.stream.len() as u64;
                let first_entry = self.entries;
                let d = &mut self.delta;
                d.page_first.push(d.total);
                d.page_entry.push(first_entry);
                delta_runs(values, present, base, d)?;
                self.stream.extend_from_slice(values);
                let first = self.reserve(present)?;
                self.indices.push(present, 0, first, RUN_SEQUENCE, 0);
                Ok(())
            }
            other => Err(PageError::Fallback(format!("{other:?} pages"))),
        }
    }

    /// A DELTA_BYTE_ARRAY page of strings with these prefix and suffix lengths and suffix
    /// `bytes`: the suffixes go into the table, then room for the rebuilt strings, which become
    /// the page's entries; the device fills them (`fill_prefix_pages`). Lengths that cannot be
    /// (negative, a prefix longer than the string before, suffixes that do not add up to the
    /// page's bytes) are an error here.
    fn prefixed_page(&mut self, prefix: &[i64], suffix: &[i64], bytes: &[u8]) -> Result<(), String> {
        let suffix_base = self.table.len() as u64;
        self.table.extend_from_slice(bytes);
        let out_base = self.table.len() as u64;
        let d = &mut self.prefixed;
        let page_first = d.dst.len();
        let (mut prev_len, mut used, mut out) = (0u64, 0u64, 0u64);
        // The strings with shorter prefixes than the next, nearest last (for `pse`).
        let mut shorter: Vec<usize> = Vec::new();
        for (i, (&p, &s)) in prefix.iter().zip(suffix).enumerate() {
            if p < 0 || s < 0 || p as u64 > prev_len {
                return Err(format!(
                    "DELTA_BYTE_ARRAY string {i}: a prefix of {p} bytes of a {prev_len}-byte string and a suffix of {s}"
                ));
            }
            let (p, s) = (p as u64, s as u64);
            let len = p + s;
            if used + s > bytes.len() as u64 || len > u32::MAX as u64 {
                return Err("DELTA_BYTE_ARRAY suffixes past their page's bytes".into());
            }
            while shorter.last().is_some_and(|&t| prefix[t] as u64 >= p) {
                shorter.pop();
            }
            d.pse.push(shorter.last().map_or(u64::MAX, |&t| (page_first + t) as u64));
            shorter.push(i);
            d.first.push(d.bytes);
            d.dst.push(out_base + out);
            d.src.push(suffix_base + used);
            d.prefix.push(p as u32);
            d.len.push(len as u32);
            d.bytes += len;
            self.str_start.push(out_base + out);
            self.str_len.push(len as u32);
            (used, out, prev_len) = (used + s, out + len, len);
        }
        if used != bytes.len() as u64 {
            return Err("DELTA_BYTE_ARRAY suffix lengths that do not add up to their page's bytes".into());
        }
        // Shared prefixes can make the strings far longer than the page (each up to the page's
        // bytes): room that cannot be had is an error, not an abort.
        self.table
            .try_reserve(out as usize)
            .map_err(|_| format!("DELTA_BYTE_ARRAY strings of {out} bytes rebuilt from one page: out of memory"))?;
        self.table.resize(self.table.len() + out as usize, 0);
        // (A string entry takes no table bytes: `reserve` only counts the entries.)
        let first = self.reserve(prefix.len() as u64)?;
        self.indices.push(prefix.len() as u64, 0, first, RUN_SEQUENCE, 0);
        Ok(())
    }

    /// `count` zeroed entries at the end of the values table, filled on the device; the first's
    /// index.
    fn reserve(&mut self, count: u64) -> Result<u32, String> {
        let first = self.entries;
        let bytes = (count as usize).checked_mul(self.kind.stored_width()).ok_or("a page too large")?;
        self.table.resize(self.table.len() + bytes, 0);
        self.entries += count;
        if self.entries > u32::MAX as u64 - 1 {
            return Err("more than 2^32 - 2 values in one column".into());
        }
        Ok(first as u32)
    }

    /// `count` PLAIN values appended to the values table.
    fn append_plain(&mut self, values: &[u8], count: u64) -> Result<(), String> {
        if self.kind == Kind::Bool {
            // A boolean "dictionary" does not exist; PLAIN booleans go through `values_page`.
            return Err("a dictionary page in a boolean column".into());
        }
        if self.kind == Kind::Str {
            // Walk the 4-byte length prefixes: entry k is (start, length) in the table bytes.
            let base = self.table.len() as u64;
            let mut pos = 0usize;
            for _ in 0..count {
                let len = values
                    .get(pos..pos + 4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .ok_or_else(|| "string length past the page".to_string())?;
                let end = (pos + 4).checked_add(len as usize).filter(|&e| e <= values.len());
                let end = end.ok_or_else(|| "string bytes past the page".to_string())?;
                if std::str::from_utf8(&values[pos + 4..end]).is_err() {
                    return Err("invalid UTF-8 in a utf8 column".into());
                }
                self.str_start.push(base + pos as u64 + 4);
                self.str_len.push(len);
                pos = end;
            }
            self.table.extend_from_slice(&values[..pos]);
            self.entries += count;
            return Ok(());
        }
        let w = self.kind.stored_width();
        let need = (count as usize).checked_mul(w).filter(|&n| n <= values.len());
        let need = need.ok_or_else(|| format!("{count} values of {w} bytes past the page"))?;
        self.table.extend_from_slice(&values[..need]);
        self.entries += count;
        if self.entries > u32::MAX as u64 - 1 {
            return Err("more than 2^32 - 2 values in one column".into());
        }
        Ok(())
    }
}

/// Walks the run headers of an RLE / bit-packed hybrid stream of `count` values of `width` bits
/// (`stream_base`: where `buf` starts in the column's stream bytes; `add`: added to every value).
fn hybrid_runs(buf: &[u8], width: u32, count: u64, stream_base: u64, add: u32, runs: &mut Runs) -> Result<(), String> {
    let mut pos = 0usize;
    let mut done = 0u64;
    let value_bytes = (width as usize).div_ceil(8);
    while done < count {
        let header = uleb128(buf, &mut pos)?;
        if header & 1 == 1 {
            let groups = header >> 1;
            let n = groups.checked_mul(8).ok_or("bit-packed run too long")?;
            let bytes = (groups as usize).checked_mul(width as usize).ok_or("bit-packed run too long")?;
            if n == 0 || pos.checked_add(bytes).is_none_or(|e| e > buf.len()) {
                return Err(format!("a bit-packed run of {n} values past the end of its stream"));
            }
            let take = n.min(count - done);
            runs.push(take, stream_base + pos as u64, add, RUN_PACKED, width);
            pos += bytes;
            done += take;
        } else {
            let n = header >> 1;
            let v = buf.get(pos..pos + value_bytes).ok_or("an RLE value past the end of its stream")?;
            let mut value = 0u64;
            for (i, b) in v.iter().enumerate() {
                value |= (*b as u64) << (8 * i);
            }
            if n == 0 {
                return Err("an empty RLE run".into());
            }
            let take = n.min(count - done);
            runs.push(take, value, add, RUN_RLE, width);
            pos += value_bytes;
            done += take;
        }
    }
    Ok(())
}

/// Walks the block and miniblock headers of a DELTA_BINARY_PACKED stream of `count` values into
/// `d`'s run table (`stream_base`: where `buf` starts in the column's stream bytes). Only headers
/// are read: the deltas stay packed for the device. Returns the stream's length in `buf` (what
/// follows is a DELTA_LENGTH_BYTE_ARRAY page's bytes).
fn delta_runs(buf: &[u8], count: u64, stream_base: u64, d: &mut DeltaPages) -> Result<usize, String> {
    let mut pos = 0usize;
    let block = uleb128(buf, &mut pos)?;
    let miniblocks = uleb128(buf, &mut pos)?;
    let total = uleb128(buf, &mut pos)?;
    let first = zigzag(uleb128(buf, &mut pos)?);
    if block == 0 || block % 128 != 0 || miniblocks == 0 || block % miniblocks != 0 || (block / miniblocks) % 32 != 0 {
        return Err(format!("a DELTA_BINARY_PACKED header of {miniblocks} miniblocks in blocks of {block} values"));
    }
    if total != count {
        return Err(format!("a DELTA_BINARY_PACKED page of {total} values where its levels say {count}"));
    }
    if count == 0 {
        return Ok(pos);
    }
    let per_miniblock = block / miniblocks;
    d.run(1, 0, first as u64, 0);
    let mut left = count - 1;
    while left > 0 {
        let min_delta = zigzag(uleb128(buf, &mut pos)?) as u64;
        let widths = buf.get(pos..pos + miniblocks as usize).ok_or("miniblock widths past the end of the page")?;
        pos += miniblocks as usize;
        for &w in widths {
            if left == 0 {
                break; // the last block's unused miniblocks are not stored
            }
            if w > 64 {
                return Err(format!("a miniblock bit width of {w}"));
            }
            let n = per_miniblock.min(left);
            let bytes = (per_miniblock as usize * w as usize) / 8;
            if pos.checked_add(((n * w as u64).div_ceil(8)) as usize).is_none_or(|e| e > buf.len()) {
                return Err("a miniblock past the end of the page".into());
            }
            d.run(n, stream_base + pos as u64, min_delta, w as u32);
            pos = (pos + bytes).min(buf.len());
            left -= n;
        }
    }
    Ok(pos)
}

/// The `count` values of a DELTA_BINARY_PACKED stream at the start of `buf`, decoded on the host
/// (`delta_runs`' run table, unpacked and summed as `pq_delta_expand` / `pq_delta_finish` do), and
/// the stream's length.
fn host_deltas(buf: &[u8], count: u64) -> Result<(Vec<i64>, usize), String> {
    let mut d = DeltaPages::default();
    let used = delta_runs(buf, count, 0, &mut d)?;
    let byte = |k: usize| buf.get(k).copied().unwrap_or(0) as u64;
    let mut out = Vec::with_capacity(count as usize);
    let mut value = 0u64;
    for r in 0..d.run_start.len() {
        let n = d.run_start.get(r + 1).copied().unwrap_or(d.total) - d.run_start[r];
        let width = d.run_width[r] as u64;
        for t in 0..n {
            let mut raw = 0u64;
            if width > 0 {
                let bit = t * width;
                let at = d.run_data[r] as usize + (bit / 8) as usize;
                let lo = (0..8).fold(0u64, |v, b| v | byte(at + b) << (8 * b));
                let shift = bit % 8;
                raw = lo >> shift;
                if shift > 0 {
                    raw |= byte(at + 8) << (64 - shift);
                }
                if width < 64 {
                    raw &= (1u64 << width) - 1;
                }
            }
            let delta = raw.wrapping_add(d.run_add[r]);
            // The first run is the first value itself.
            value = if r == 0 { delta } else { value.wrapping_add(delta) };
            out.push(value as i64);
        }
    }
    Ok((out, used))
}

fn zigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

fn uleb128(buf: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or("a run header past the end of its stream")?;
        *pos += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("a run header longer than 10 bytes".into())
}

fn upload_runs(ctx: &ExecContext, r: &Runs) -> Result<[DeviceBuffer; 4]> {
    Ok([ctx.upload(&r.start)?, ctx.upload(&r.data)?, ctx.upload(&r.add)?, ctx.upload(&r.meta)?])
}

fn expand(ctx: &ExecContext, r: &Runs, stream: &DeviceBuffer) -> Result<DeviceBuffer> {
    let n = r.total as usize;
    let out = ctx.alloc(n * 4)?;
    if n > 0 {
        let [start, data, add, meta] = upload_runs(ctx, r)?;
        ctx.launch(
            Kernel::new("parquet", "pq_expand_runs"),
            LaunchConfig::for_elems(n, BLOCK),
            &[
                (&start).into(),
                (&data).into(),
                (&add).into(),
                (&meta).into(),
                KernelArg::U64(r.start.len() as u64),
                stream.into(),
                (&out).into(),
                KernelArg::U64(n as u64),
            ],
        )?;
    }
    Ok(out)
}

/// The `n` entries of a stored values table converted by kernel `name` (`width` bytes out each;
/// FIXED_LEN_BYTE_ARRAY passes its byte width).
fn widen(
    ctx: &ExecContext,
    stored: &DeviceBuffer,
    n: usize,
    name: &str,
    width: usize,
    flba: Option<u32>,
) -> Result<DeviceBuffer> {
    let out = ctx.alloc(n * width)?;
    if n > 0 {
        let mut args: Vec<KernelArg<'_>> = vec![stored.into()];
        args.extend(flba.map(KernelArg::U32));
        args.push((&out).into());
        args.push(KernelArg::U64(n as u64));
        ctx.launch(Kernel::named("parquet", name), LaunchConfig::for_elems(n, BLOCK), &args)?;
    }
    Ok(out)
}

/// Writes the BYTE_STREAM_SPLIT pages' values into their reserved entries of `table`.
fn fill_split(ctx: &ExecContext, p: &Prepared, stream: &DeviceBuffer, table: &DeviceBuffer) -> Result<()> {
    let sp = &p.split;
    if sp.total == 0 {
        return Ok(());
    }
    let [first, at, entry, count] = [&sp.first, &sp.stream, &sp.entry, &sp.count].map(|v| ctx.upload(v));
    ctx.launch(
        Kernel::new("parquet", "pq_bss_merge"),
        LaunchConfig::for_elems(sp.total as usize, BLOCK),
        &[
            (&first?).into(),
            (&at?).into(),
            (&entry?).into(),
            (&count?).into(),
            KernelArg::U64(sp.first.len() as u64),
            stream.into(),
            KernelArg::U32(p.kind.stored_width() as u32),
            table.into(),
            KernelArg::U64(sp.total),
        ],
    )?;
    Ok(())
}

/// Decodes the DELTA_BINARY_PACKED pages of `d` into `table` (entries of `width` bytes; page
/// `p`'s values from entry `page_entry[p]` on): deltas unpacked, one exclusive scan (wrapping
/// u64, no read-back), then each value as its page's first value plus the deltas after it.
fn fill_delta(
    ctx: &ExecContext,
    d: &DeltaPages,
    page_entry: &[u64],
    stream: &DeviceBuffer,
    table: &DeviceBuffer,
    width: usize,
) -> Result<()> {
    if d.total == 0 {
        return Ok(());
    }
    let n = d.total as usize;
    let cfg = LaunchConfig::for_elems(n, BLOCK);
    let deltas = ctx.alloc(n * 8)?;
    let (start, data, add) = (ctx.upload(&d.run_start)?, ctx.upload(&d.run_data)?, ctx.upload(&d.run_add)?);
    let bits = ctx.upload(&d.run_width)?;
    ctx.launch(
        Kernel::new("parquet", "pq_delta_expand"),
        cfg,
        &[
            (&start).into(),
            (&data).into(),
            (&add).into(),
            (&bits).into(),
            KernelArg::U64(d.run_start.len() as u64),
            stream.into(),
            (&deltas).into(),
            KernelArg::U64(n as u64),
        ],
    )?;
    let scan = ctx.alloc(n * 8)?;
    scan_into(ctx, &deltas, &scan, n, ScanType::U64)?;
    let (page_first, page_entry) = (ctx.upload(&d.page_first)?, ctx.upload(page_entry)?);
    ctx.launch(
        Kernel::new("parquet", "pq_delta_finish"),
        cfg,
        &[
            (&page_first).into(),
            (&page_entry).into(),
            KernelArg::U64(d.page_first.len() as u64),
            (&deltas).into(),
            (&scan).into(),
            KernelArg::U32(width as u32),
            table.into(),
            KernelArg::U64(n as u64),
        ],
    )?;
    Ok(())
}

/// The DELTA_LENGTH_BYTE_ARRAY pages' strings: their lengths decoded (as `fill_delta`, into a
/// u64 per string), scanned into offsets, and written into the pages' reserved `starts` / `lens`
/// entries. Lengths that do not add up to their page's bytes (error bit 2) or a string that
/// starts inside a character (bit 4) are flagged in `err`.
fn fill_length_pages(
    ctx: &ExecContext,
    p: &Prepared,
    stream: &DeviceBuffer,
    table: &DeviceBuffer,
    starts: &DeviceBuffer,
    lens: &DeviceBuffer,
    err: &DeviceBuffer,
) -> Result<()> {
    let d = &p.str_delta;
    if d.total == 0 {
        return Ok(());
    }
    let n = d.total as usize;
    // Lengths in stream order (each page's first at its first value's index), then offsets.
    let lengths = ctx.alloc(n * 8)?;
    fill_delta(ctx, d, &d.page_first, stream, &lengths, 8)?;
    let offsets = ctx.alloc(n * 8)?;
    scan_into(ctx, &lengths, &offsets, n, ScanType::U64)?;
    let [first, entry, base, bytes] =
        [&d.page_first, &d.page_entry, &p.str_page_base, &p.str_page_bytes].map(|v| ctx.upload(v));
    ctx.launch(
        Kernel::new("parquet", "pq_dlba_fill"),
        LaunchConfig::for_elems(n, BLOCK),
        &[
            (&first?).into(),
            (&entry?).into(),
            (&base?).into(),
            (&bytes?).into(),
            KernelArg::U64(d.page_first.len() as u64),
            (&lengths).into(),
            (&offsets).into(),
            table.into(),
            starts.into(),
            lens.into(),
            err.into(),
            KernelArg::U64(n as u64),
        ],
    )?;
    Ok(())
}

/// The DELTA_BYTE_ARRAY pages' strings rebuilt in their reserved table bytes (`pq_dba_fill`) and
/// checked to be valid UTF-8 each (`pq_dba_check`, error bit 4).
fn fill_prefix_pages(ctx: &ExecContext, p: &Prepared, table: &DeviceBuffer, err: &DeviceBuffer) -> Result<()> {
    let d = &p.prefixed;
    let n = d.first.len();
    if n == 0 {
        return Ok(());
    }
    let [first, dst, src, pse] = [&d.first, &d.dst, &d.src, &d.pse].map(|v| ctx.upload(v));
    let (first, dst, src, pse) = (first?, dst?, src?, pse?);
    let (prefix, len) = (ctx.upload(&d.prefix)?, ctx.upload(&d.len)?);
    if d.bytes > 0 {
        ctx.launch(
            Kernel::new("parquet", "pq_dba_fill"),
            LaunchConfig::for_elems(d.bytes as usize, BLOCK),
            &[
                (&first).into(),
                (&dst).into(),
                (&src).into(),
                (&prefix).into(),
                (&pse).into(),
                KernelArg::U64(n as u64),
                table.into(),
                KernelArg::U64(d.bytes),
            ],
        )?;
    }
    ctx.launch(
        Kernel::new("parquet", "pq_dba_check"),
        LaunchConfig::for_elems(n, BLOCK),
        &[(&dst).into(), (&len).into(), KernelArg::U64(n as u64), table.into(), err.into()],
    )?;
    Ok(())
}

/// Device side of one column.
fn decode(ctx: &ExecContext, p: &Prepared, rows: usize) -> Result<DeviceColumn> {
    let cfg = LaunchConfig::for_elems(rows.max(1), BLOCK);
    let mut stream_bytes = p.stream.clone();
    stream_bytes.extend_from_slice(&[0u8; 16]); // a 9-byte read at the last bit never leaves it
    let stream = ctx.upload_bytes(&stream_bytes)?;
    // Levels: validity bits, and each row's rank among the present ones.
    let (levels, rank, validity) = if p.optional {
        if p.levels.total != rows as u64 {
            return Err(Error::Internal(format!("{} levels for {rows} rows", p.levels.total)));
        }
        let levels = expand(ctx, &p.levels, &stream)?;
        // (The present count is known on the host: the scan needs no read-back.)
        let rank = ctx.alloc(rows.max(1) * 4)?;
        scan_into(ctx, &levels, &rank, rows, ScanType::U32)?;
        let bits = ctx.alloc(rows.div_ceil(32) * 4)?;
        if rows > 0 {
            ctx.launch(
                Kernel::new("parquet", "pq_levels_to_bits"),
                cfg,
                &[(&levels).into(), (&bits).into(), KernelArg::U64(rows as u64)],
            )?;
        }
        (Some(levels), Some(rank), Some(Arc::new(bits)))
    } else {
        (None, None, None)
    };
    let idx = expand(ctx, &p.indices, &stream)?;
    // Booleans: the index stream is the values; a two-entry table maps them.
    let entries = if p.kind == Kind::Bool { 2 } else { p.entries };
    let none = entries as u32;
    let row_entries = ctx.alloc(rows * 4)?;
    let err = ctx.alloc_zeroed(4)?;
    if rows > 0 {
        ctx.launch(
            Kernel::new("parquet", "pq_row_entries"),
            cfg,
            &[
                (&idx).into(),
                KernelArg::U64(p.indices.total),
                levels.as_ref().into(),
                rank.as_ref().into(),
                KernelArg::U64(entries),
                KernelArg::U32(none),
                (&row_entries).into(),
                (&err).into(),
                KernelArg::U64(rows as u64),
            ],
        )?;
    }
    let gpu = ctx.gpu().clone();
    let column = match p.kind {
        Kind::Str => {
            let table = ctx.upload_bytes(&p.table)?;
            let starts = ctx.upload(&p.str_start)?;
            let lens = ctx.upload(&p.str_len)?;
            fill_length_pages(ctx, p, &stream, &table, &starts, &lens, &err)?;
            fill_prefix_pages(ctx, p, &table, &err)?;
            let lengths = ctx.alloc(rows * 8)?;
            if rows > 0 {
                ctx.launch(
                    Kernel::new("parquet", "pq_str_lengths"),
                    cfg,
                    &[
                        (&lens).into(),
                        (&row_entries).into(),
                        KernelArg::U32(none),
                        (&lengths).into(),
                        KernelArg::U64(rows as u64),
                    ],
                )?;
            }
            let (offsets, total) = exclusive_scan(ctx, &lengths, rows, ScanType::U64)?;
            let bytes = ctx.alloc(total as usize)?;
            if rows > 0 && total > 0 {
                ctx.launch(
                    Kernel::new("parquet", "pq_str_copy"),
                    cfg,
                    &[
                        (&starts).into(),
                        (&lens).into(),
                        (&table).into(),
                        (&row_entries).into(),
                        KernelArg::U32(none),
                        (&offsets).into(),
                        (&bytes).into(),
                        KernelArg::U64(rows as u64),
                    ],
                )?;
            }
            DeviceColumn::try_new(
                gpu,
                p.dtype,
                p.arrow_type.clone(),
                rows,
                Arc::new(bytes),
                Some(Arc::new(offsets)),
                validity,
            )?
        }
        Kind::Bool => {
            let table = ctx.upload(&[0u32, 1u32])?;
            let bits = ctx.alloc(rows.div_ceil(32) * 4)?;
            if rows > 0 {
                ctx.launch(
                    Kernel::new("parquet", "pq_take_bool"),
                    cfg,
                    &[
                        (&table).into(),
                        (&row_entries).into(),
                        KernelArg::U32(none),
                        (&bits).into(),
                        KernelArg::U64(rows as u64),
                    ],
                )?;
            }
            DeviceColumn::try_new(gpu, p.dtype, p.arrow_type.clone(), rows, Arc::new(bits), None, validity)?
        }
        kind => {
            let stored = ctx.upload_bytes(&p.table)?;
            fill_split(ctx, p, &stream, &stored)?;
            fill_delta(ctx, &p.delta, &p.delta.page_entry, &stream, &stored, p.kind.stored_width())?;
            let n = p.entries as usize;
            let (table, width) = match kind {
                Kind::Fixed(w) => (stored, w),
                Kind::I32Decimal => (widen(ctx, &stored, n, "pq_i32_to_i128", 16, None)?, 16),
                Kind::I64Decimal => (widen(ctx, &stored, n, "pq_i64_to_i128", 16, None)?, 16),
                Kind::FlbaDecimal(w) => (widen(ctx, &stored, n, "pq_flba_to_i128", 16, Some(w as u32))?, 16),
                Kind::Int96 => (widen(ctx, &stored, n, "pq_int96_to_ns", 8, None)?, 8),
                Kind::Bool | Kind::Str => unreachable!("handled above"),
            };
            let name = match width {
                4 => "pq_take_w4",
                8 => "pq_take_w8",
                _ => "pq_take_w16",
            };
            let values = ctx.alloc(rows * width)?;
            if rows > 0 {
                ctx.launch(
                    Kernel::named("parquet", name),
                    cfg,
                    &[
                        (&table).into(),
                        (&row_entries).into(),
                        KernelArg::U32(none),
                        (&values).into(),
                        KernelArg::U64(rows as u64),
                    ],
                )?;
            }
            DeviceColumn::try_new(gpu, p.dtype, p.arrow_type.clone(), rows, Arc::new(values), None, validity)?
        }
    };
    // One read of the error word: an index past the table or more present rows than values
    // (bit 1), string lengths past their page (2), a string starting inside a character (4).
    let flags = if rows > 0 || p.str_delta.total > 0 || !p.prefixed.first.is_empty() {
        ctx.download::<u32>(&err, 1)?[0]
    } else {
        0
    };
    if flags != 0 {
        let message = if flags & 1 != 0 {
            "a dictionary index or value position past the decoded values (corrupt pages)"
        } else if flags & 2 != 0 {
            "DELTA_LENGTH_BYTE_ARRAY lengths that do not add up to their page's bytes (corrupt pages)"
        } else {
            "invalid UTF-8 in a utf8 column"
        };
        return Err(Error::Read { path: String::new(), at: Box::default(), message: message.into() });
    }
    Ok(column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(kind: Kind, entries: u64, table: Vec<u8>) -> Prepared {
        Prepared { table, entries, ..Prepared::new(kind, DType::Int64, DataType::Int64, false, Physical::INT64) }
    }

    #[test]
    fn run_headers_and_corrupt_streams() {
        let mut runs = Runs::default();
        // RLE 3 x 5 (width 3: one value byte), then one bit-packed group of 8 values.
        hybrid_runs(&[6, 5, 3, 0b1000_1000, 0b1100_0110, 0b1111_1010], 3, 11, 100, 2, &mut runs).unwrap();
        assert_eq!(runs.start, vec![0, 3]);
        assert_eq!(runs.data, vec![5, 103]);
        assert_eq!(runs.add, vec![2, 2]);
        assert_eq!(runs.meta, vec![3, (RUN_PACKED << 8) | 3]);
        assert_eq!(runs.total, 11);
        for bad in [&[0u8][..], &[3, 0], &[0x80; 11], &[2]] {
            assert!(hybrid_runs(bad, 8, 4, 0, 0, &mut Runs::default()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn delta_headers_and_corrupt_delta_streams() {
        // Blocks of 128 values in 4 miniblocks; 5 values; first 7 (zigzag 14); one block: min
        // delta -1 (zigzag 1), widths 2, 0, 0, 0; miniblock 0 holds 32 two-bit deltas (8 bytes).
        let mut page = vec![0x80, 0x01, 4, 5, 14, 1, 2, 0, 0, 0];
        page.extend_from_slice(&[0b1110_0100, 0, 0, 0, 0, 0, 0, 0]);
        let mut d = DeltaPages::default();
        delta_runs(&page, 5, 100, &mut d).unwrap();
        assert_eq!(d.run_start, vec![0, 1]);
        assert_eq!(d.run_width, vec![0, 2]);
        assert_eq!(d.run_add, vec![7, u64::MAX]);
        assert_eq!(d.run_data, vec![0, 110]);
        assert_eq!(d.total, 5);
        // Only the bytes the 4 deltas need (one) must be there.
        assert!(delta_runs(&page[..11], 5, 0, &mut DeltaPages::default()).is_ok());
        for cut in 0..11 {
            assert!(delta_runs(&page[..cut], 5, 0, &mut DeltaPages::default()).is_err(), "cut at {cut}");
        }
        assert!(delta_runs(&page, 6, 0, &mut DeltaPages::default()).unwrap_err().contains("6"), "count mismatch");
        let mut wide = page.clone();
        wide[6] = 65;
        assert!(delta_runs(&wide, 5, 0, &mut DeltaPages::default()).unwrap_err().contains("65"));
        let mut odd = page.clone();
        odd[2] = 3; // 128 values in 3 miniblocks
        assert!(delta_runs(&odd, 5, 0, &mut DeltaPages::default()).is_err());
    }

    /// A DELTA_LENGTH_BYTE_ARRAY page of `bytes` whose lengths are `first` then `first + 1`.
    fn length_page(first: u8, bytes: &[u8]) -> Vec<u8> {
        // Blocks of 128 in 4 miniblocks, 2 values, the first `first` (zigzag), one block of min
        // delta 1 (zigzag 2) and bit widths 0: no miniblock bytes.
        let mut page = vec![0x80, 0x01, 4, 2, first * 2, 2, 0, 0, 0, 0];
        page.extend_from_slice(bytes);
        page
    }

    fn strings(page: &[u8]) -> Result<Vec<String>> {
        strings_in(page, Encoding::DELTA_LENGTH_BYTE_ARRAY)
    }

    /// The two strings of a page in `encoding`, decoded on the simulated device.
    fn strings_in(page: &[u8], encoding: Encoding) -> Result<Vec<String>> {
        let ctx = ExecContext::new(ember_gpu::Gpu::sim().unwrap());
        let mut p = prepared(Kind::Str, 0, Vec::new());
        p.dtype = DType::Utf8;
        p.arrow_type = DataType::Utf8;
        if let Err(PageError::Bad(m) | PageError::Fallback(m)) = p.values_page(page, encoding, 2, None) {
            return Err(Error::Internal(m));
        }
        let col = decode(&ctx, &p, 2)?;
        let arr = col.to_arrow(&ctx)?;
        let arr = arrow::array::AsArray::as_string::<i32>(arr.as_ref());
        Ok(arr.iter().map(|s| s.unwrap().to_string()).collect())
    }

    #[test]
    fn length_pages_decode_and_corrupt_lengths_are_errors() {
        assert_eq!(strings(&length_page(2, b"abxyz")).unwrap(), ["ab", "xyz"]);
        assert_eq!(strings(&length_page(0, b"q")).unwrap(), ["", "q"]);
        // Lengths adding up to more or fewer bytes than the page holds.
        for bytes in [&b"abxy"[..], b"abxyzz"] {
            let e = strings(&length_page(2, bytes)).unwrap_err().to_string();
            assert!(e.contains("do not add up"), "{e}");
        }
        // "é" + "b" is valid UTF-8 as a whole, but lengths 1 and 2 split the "é".
        let e = strings(&length_page(1, "éb".as_bytes())).unwrap_err().to_string();
        assert!(e.contains("invalid UTF-8"), "{e}");
        // Invalid bytes in the page: refused on the host.
        assert!(strings(&length_page(1, &[b'a', 0xff, b'b'])).unwrap_err().to_string().contains("UTF-8"));
    }

    /// A DELTA_BYTE_ARRAY page of two strings: prefix lengths `prefix`, suffix lengths
    /// `suffix`, then the suffix bytes.
    fn prefix_page(prefix: [i64; 2], suffix: [i64; 2], bytes: &[u8]) -> Vec<u8> {
        // Two DELTA_BINARY_PACKED streams of two values: the first value, then one block whose
        // min delta is the difference and whose bit widths are 0.
        let zigzag = |v: i64| ((v << 1) ^ (v >> 63)) as u8;
        let two = |[a, b]: [i64; 2]| vec![0x80, 0x01, 4, 2, zigzag(a), zigzag(b - a), 0, 0, 0, 0];
        let mut page = two(prefix);
        page.extend(two(suffix));
        page.extend_from_slice(bytes);
        page
    }

    #[test]
    fn prefix_pages_decode_and_corrupt_ones_are_errors() {
        let dba =
            |prefix, suffix, bytes: &[u8]| strings_in(&prefix_page(prefix, suffix, bytes), Encoding::DELTA_BYTE_ARRAY);
        assert_eq!(dba([0, 2], [3, 1], b"abcX").unwrap(), ["abc", "abX"]);
        assert_eq!(dba([0, 3], [3, 0], b"abc").unwrap(), ["abc", "abc"]);
        // "é" and "è" share their first byte: the prefix ends inside a character.
        assert_eq!(dba([0, 1], [2, 1], &[0xC3, 0xA9, 0xA8]).unwrap(), ["é", "è"]);
        let e = dba([0, 1], [2, 1], &[0xC3, 0xA9, b'x']).unwrap_err().to_string();
        assert!(e.contains("invalid UTF-8"), "{e}");
        for (prefix, suffix, bytes, says) in [
            ([0, 4], [3, 1], &b"abcX"[..], "a prefix of 4 bytes of a 3-byte string"),
            ([1, 0], [1, 1], b"ab", "a prefix of 1 bytes of a 0-byte string"),
            ([0, 0], [1, 1], b"abc", "do not add up"),
            ([0, 0], [2, 2], b"abc", "past their page's bytes"),
            ([0, -1], [1, 1], b"ab", "a prefix of -1"),
        ] {
            let e = dba(prefix, suffix, bytes).unwrap_err().to_string();
            assert!(e.contains(says), "{prefix:?} {suffix:?}: {e}");
        }
    }

    #[test]
    fn a_dictionary_index_past_the_table_is_an_error_not_a_read() {
        let ctx = ExecContext::new(ember_gpu::Gpu::sim().unwrap());
        let mut p = prepared(Kind::Fixed(8), 1, 5i64.to_le_bytes().to_vec());
        p.indices.push(4, 7, 0, RUN_RLE, 8); // index 7 of a one-entry table
        assert!(matches!(decode(&ctx, &p, 4), Err(Error::Read { .. })));
        let mut ok = prepared(Kind::Fixed(8), 1, 5i64.to_le_bytes().to_vec());
        ok.indices.push(4, 0, 0, RUN_RLE, 8);
        let col = decode(&ctx, &ok, 4).unwrap();
        assert_eq!(ctx.download::<i64>(col.values(), 4).unwrap(), vec![5; 4]);
    }
}
