//! The CPU Parquet reader on the `parquet` crate: footers read once, row groups chosen (by
//! selection and statistics), then every (row group, column) pair decoded in parallel.
use super::pages;
use super::prune::{intersect, page_rows, page_rows_matching, row_groups_matching};
use super::strict::StrictBytes;
use super::ParquetReadOptions;
use crate::file::io_error;
use arrow::array::{
    make_array, Array, ArrayRef, AsArray, Decimal128Array, PrimitiveArray, RecordBatch, RecordBatchOptions,
};
use arrow::compute::cast;
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Decimal32Type, Decimal64Type, Field as ArrowField, Schema, SchemaRef,
};
use ember_core::{DType, DataFrame, Error, Field, ReadLocation, Result};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};
use parquet::file::page_index::offset_index::PageLocation;
use rayon::prelude::*;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Reads a Parquet file, or a directory of them, into one CPU frame.
///
/// ```no_run
/// use ember_io::{read_parquet, ParquetReadOptions};
/// use ember_ops::{col, lit};
/// let opts = ParquetReadOptions::default()
///     .with_columns(["l_quantity", "l_shipdate"])
///     .with_predicate(col("l_quantity").lt(lit(5i64)));
/// let df = read_parquet("lineitem.parquet", &opts)?;
/// # Ok::<(), ember_core::Error>(())
/// ```
pub fn read_parquet(path: impl AsRef<Path>, options: &ParquetReadOptions) -> Result<DataFrame> {
    let ds = Dataset::open(path.as_ref())?;
    let groups = ds.selected_groups(options)?;
    let columns = ds.projection(options.columns.as_deref())?;
    ds.check_memory(&groups, &columns, options.memory_limit)?;
    ds.read(&groups, &columns)
}

/// Reads a Parquet file or directory onto `device`: on a GPU (CUDA or Sim) the pages are
/// decoded there (see the module `gpu`), on the CPU this is [`read_parquet`]. GPU work runs in
/// `ctx` when given (its trace then shows the decode), else in a fresh context.
pub fn read_parquet_on(
    path: impl AsRef<Path>,
    options: &ParquetReadOptions,
    device: ember_core::Device,
    ctx: Option<&ember_gpu::ExecContext>,
) -> Result<DataFrame> {
    let Some(gpu) = device.gpu()? else { return read_parquet(path, options) };
    let ds = Dataset::open(path.as_ref())?;
    let groups = ds.selected_groups(options)?;
    let columns = ds.projection(options.columns.as_deref())?;
    // (The host stages the decompressed pages: the same bound applies before any upload.)
    ds.check_memory(&groups, &columns, options.memory_limit)?;
    let df = crate::in_context(gpu, ctx, |ctx| super::gpu::read(ctx, &ds, &groups, &columns))?;
    match options.n_rows {
        Some(n) if n < df.num_rows() => df.slice(0, n),
        _ => Ok(df),
    }
}

/// The columns (names and types) of a Parquet file or dataset, from its footer.
pub fn parquet_schema(path: impl AsRef<Path>) -> Result<Vec<Field>> {
    let ds = Dataset::open(path.as_ref())?;
    ds.fields()
}

/// The row count of each row group of one Parquet file, from its footer alone (the file's
/// data pages are not read): what a task scheduler needs to give each row group its own task.
///
/// ```no_run
/// let rows = ember_io::parquet_row_groups("lineitem.parquet")?;
/// println!("{} row groups, {} rows", rows.len(), rows.iter().sum::<usize>());
/// # Ok::<(), ember_core::Error>(())
/// ```
pub fn parquet_row_groups(path: impl AsRef<Path>) -> Result<Vec<usize>> {
    let file = OpenFile::open(path.as_ref().to_path_buf())?;
    Ok(file.meta.metadata().row_groups().iter().map(|g| g.num_rows().max(0) as usize).collect())
}

/// A chunked reader, as cuDF's: frames of at most about `budget` bytes of column data each (as
/// estimated from the footer: values at ember's width, or the pages' uncompressed size where
/// larger), in file order. Small row groups are read together; a row
/// group larger than the budget is read in row ranges of whole pages of its largest column,
/// about `budget` bytes each, when the file has a page index (each range's read skips the other
/// pages); without one it is one chunk.
///
/// ```no_run
/// use ember_io::{ParquetChunks, ParquetReadOptions};
/// let mut rows = 0;
/// for frame in ParquetChunks::new("big.parquet", &ParquetReadOptions::default(), 256 << 20)? {
///     rows += frame?.num_rows();
/// }
/// # Ok::<(), ember_core::Error>(())
/// ```
#[derive(Debug)]
pub struct ParquetChunks {
    ds: Dataset,
    columns: Vec<usize>,
    chunks: std::vec::IntoIter<Vec<GroupRead>>,
    memory_limit: Option<usize>,
}

impl ParquetChunks {
    /// Chunks of the row groups of `path` that `options` selects.
    pub fn new(path: impl AsRef<Path>, options: &ParquetReadOptions, budget: usize) -> Result<ParquetChunks> {
        let ds = Dataset::open(path.as_ref())?;
        let groups = ds.selected_groups(options)?;
        let columns = ds.projection(options.columns.as_deref())?;
        let mut chunks: Vec<Vec<GroupRead>> = Vec::new();
        let mut used = 0usize;
        let budget = budget.max(1);
        for g in groups {
            let size = columns.iter().fold(0usize, |a, &c| a.saturating_add(ds.read_bytes(&g, c)));
            if let Some(pieces) =
                (size > budget).then(|| page_pieces(&ds.files[g.file], &g, &columns, size, budget)).flatten()
            {
                for piece in pieces {
                    chunks.push(vec![GroupRead { rows: Some(piece), ..g.clone() }]);
                }
                used = budget; // the next group starts a chunk of its own
                continue;
            }
            match chunks.last_mut() {
                Some(last) if used + size <= budget => last.push(g),
                _ => {
                    chunks.push(vec![g]);
                    used = 0;
                }
            }
            used += size;
        }
        Ok(ParquetChunks { ds, columns, chunks: chunks.into_iter(), memory_limit: options.memory_limit })
    }

    /// How many chunks are left to read (progress bars show it as the total).
    pub fn remaining(&self) -> usize {
        self.chunks.len()
    }
}

impl Iterator for ParquetChunks {
    type Item = Result<DataFrame>;
    fn next(&mut self) -> Option<Result<DataFrame>> {
        let groups = self.chunks.next()?;
        Some(
            self.ds
                .check_memory(&groups, &self.columns, self.memory_limit)
                .and_then(|()| self.ds.read(&groups, &self.columns)),
        )
    }
}

/// The rows of `g` cut at page boundaries into pieces of about `budget` bytes (`size`: the bytes
/// of the columns read, spread evenly over the rows read), each at least one page;
/// the boundaries are the pages of the largest column read. `None` without a page index: a
/// piece would then decompress the whole group, so the group stays one chunk.
fn page_pieces(
    file: &OpenFile,
    g: &GroupRead,
    columns: &[usize],
    size: usize,
    budget: usize,
) -> Option<Vec<Vec<Range<usize>>>> {
    let md = file.meta.metadata();
    let descr = md.file_metadata().schema_descr();
    let rg = md.row_group(g.group);
    let leaf = (0..descr.num_columns())
        .filter(|&l| columns.contains(&descr.get_column_root_idx(l)))
        .max_by_key(|&l| rg.column(l).uncompressed_size())?;
    let all = g.footer_rows(file);
    let pages = page_rows(file.page_locations(g.group, leaf)?, all)?;
    let wanted = g.rows.clone().unwrap_or_else(|| std::iter::once(0..all).collect());
    let row_bytes = size as f64 / g.num_rows(file).max(1) as f64;
    let (mut out, mut piece, mut piece_rows) = (Vec::new(), Vec::<Range<usize>>::new(), 0usize);
    for page in pages {
        let part = intersect(&wanted, std::slice::from_ref(&page));
        let n: usize = part.iter().map(|r| r.len()).sum();
        if n == 0 {
            continue;
        }
        if piece_rows > 0 && (piece_rows + n) as f64 * row_bytes > budget as f64 {
            out.push(std::mem::take(&mut piece));
            piece_rows = 0;
        }
        for r in part {
            match piece.last_mut() {
                Some(last) if last.end == r.start => last.end = r.end,
                _ => piece.push(r),
            }
        }
        piece_rows += n;
    }
    if !piece.is_empty() {
        out.push(piece);
    }
    Some(out)
}

/// Bytes of root column `c` in a row group once decoded, as well as the footer tells: the larger
/// of its uncompressed pages (its leaves summed) and its rows at ember's width (strings: the
/// writer's unencoded byte count where it recorded one, plus offsets). Dictionary pages are far
/// smaller than the values they decode to (SF1 `lineitem`: 66 MB of pages, 225 MB decoded).
fn decoded_bytes(ds: &Dataset, file: &OpenFile, rg: &parquet::file::metadata::RowGroupMetaData, c: usize) -> usize {
    let descr = file.meta.metadata().file_metadata().schema_descr();
    let leaves = || (0..descr.num_columns()).filter(|&l| descr.get_column_root_idx(l) == c).map(|l| rg.column(l));
    // Saturating: a corrupt footer's sizes and row counts may be anything up to 2^63.
    let sum = |sizes: &mut dyn Iterator<Item = i64>| sizes.fold(0usize, |a, b| a.saturating_add(b.max(0) as usize));
    let pages = sum(&mut leaves().map(|m| m.uncompressed_size()));
    let rows = rg.num_rows().max(0) as usize;
    let values = match ds.field(c).map(|f| f.dtype) {
        Ok(DType::Utf8) => rows
            .saturating_mul(4)
            .saturating_add(sum(&mut leaves().map(|m| m.unencoded_byte_array_data_bytes().unwrap_or(0)))),
        Ok(t) => t.prim().map_or(0, |p| rows.saturating_mul(p.width())),
        Err(_) => 0,
    };
    pages.max(values.saturating_add(rows.div_ceil(8)))
}

#[derive(Debug)]
pub(super) struct OpenFile {
    pub(super) path: PathBuf,
    pub(super) meta: ArrowReaderMetadata,
    /// `meta` with the page index, read when a predicate first needs it (`None`: the file has
    /// none, or it could not be read, which only costs the pruning).
    paged: OnceLock<Option<ArrowReaderMetadata>>,
    /// Open for positioned reads of column chunks ([`OpenFile::chunks`]), from any thread.
    file: std::fs::File,
    len: u64,
}

/// Every column chunk's physical type is its schema column's. The decoders read values by the
/// schema's type: a chunk whose metadata says otherwise (a FLOAT column holding DOUBLE pages,
/// found by mutation) would decode as garbage on one path and zeros on another. pyarrow refuses
/// such a file too.
fn chunk_types_match(md: &parquet::file::metadata::ParquetMetaData) -> std::result::Result<(), (ReadLocation, String)> {
    let schema = md.file_metadata().schema_descr();
    for (g, rg) in md.row_groups().iter().enumerate() {
        for (l, chunk) in rg.columns().iter().enumerate() {
            let declared = schema.column(l).physical_type();
            if chunk.column_type() != declared {
                let at = ReadLocation {
                    row_group: Some(g),
                    column: Some(schema.column(l).path().string()),
                    ..Default::default()
                };
                return Err((
                    at,
                    format!("the column chunk holds {} values, the schema declares {declared}", chunk.column_type()),
                ));
            }
        }
    }
    Ok(())
}

impl OpenFile {
    /// Opens a Parquet file and reads its footer (only the footer: column chunks are read by
    /// the tasks that decode them).
    pub(super) fn open(path: PathBuf) -> Result<OpenFile> {
        let file = std::fs::File::open(&path).map_err(|e| io_error(&path, e))?;
        let len = file.metadata().map_err(|e| io_error(&path, e))?.len();
        let mut magic = [0u8; 4];
        if len < 4 || read_at(&file, &mut magic, 0).is_err() || &magic != b"PAR1" {
            return Err(Error::Read {
                path: path.display().to_string(),
                at: Box::new(ReadLocation { byte: Some(0), ..Default::default() }),
                message: "not a Parquet file (it does not start with PAR1)".into(),
            });
        }
        let meta = guarded(|| {
            let md = parquet::file::metadata::ParquetMetaDataReader::new()
                .parse_and_finish(&file)
                .map_err(|e| e.to_string())?;
            arrow_metadata(md)
        })
        .map_err(|e| Error::Read {
            path: path.display().to_string(),
            at: Box::default(),
            message: format!("not a readable Parquet file: {e}"),
        })?;
        chunk_types_match(meta.metadata()).map_err(|(at, message)| Error::Read {
            path: path.display().to_string(),
            at: Box::new(at),
            message,
        })?;
        Ok(OpenFile { path, meta, paged: OnceLock::new(), file, len })
    }

    /// The footer with the page index (column and offset indexes), read from the file on first
    /// use; `None` when the file has no page index or it is unreadable (then nothing is pruned
    /// by pages, with a log line).
    pub(super) fn paged(&self) -> Option<&ArrowReaderMetadata> {
        self.paged
            .get_or_init(|| {
                let md = self.meta.metadata();
                let indexed =
                    md.row_groups().iter().any(|rg| rg.columns().iter().any(|c| c.offset_index_range().is_some()));
                if !indexed {
                    return None;
                }
                let loaded = guarded(|| {
                    let mut reader = ParquetMetaDataReader::new_with_metadata((**md).clone())
                        .with_page_index_policy(PageIndexPolicy::Optional);
                    reader.read_page_indexes(&self.file).map_err(|e| e.to_string())?;
                    let md = reader.finish().map_err(|e| e.to_string())?;
                    arrow_metadata(md)
                });
                loaded
                    .map_err(|e| tracing::info!(target: "ember::io", file = %self.name(), "page index not used: {e}"))
                    .ok()
            })
            .as_ref()
    }

    /// The page locations (offset index) of leaf `l` in row group `g`, when [`OpenFile::paged`]
    /// has them.
    pub(super) fn page_locations(&self, g: usize, l: usize) -> Option<&[PageLocation]> {
        Some(self.paged()?.metadata().page_index()?.page_locations(g, l)?.as_slice())
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    pub(super) fn error(&self, at: ReadLocation, message: impl ToString) -> Error {
        Error::Read { path: self.name(), at: Box::new(at), message: message.to_string() }
    }

    /// The column chunks of leaf columns `leaves` in row groups `rgs`, read from the file: what
    /// decoding them needs and no more. A chunk whose footer offsets lie outside the file is
    /// an error naming its row group. With `paged`, the pages will be found by the offset index
    /// (to skip some): its locations must then be the data pages the header walk found.
    pub(super) fn chunks(
        &self,
        rgs: &[usize],
        leaves: &[usize],
        paged: bool,
    ) -> std::result::Result<StrictBytes, String> {
        let mut ranges = Vec::with_capacity(rgs.len() * leaves.len());
        for &g in rgs {
            for &l in leaves {
                let (start, buf, data_pages) = self.chunk(g, l)?;
                if let Some(locations) = self.page_locations(g, l).filter(|_| paged) {
                    let agree = locations.len() == data_pages.len()
                        && locations.iter().zip(&data_pages).all(|(loc, &(at, size))| {
                            u64::try_from(loc.offset).ok() == Some(start + at as u64)
                                && usize::try_from(loc.compressed_page_size).ok() == Some(size)
                        });
                    if !agree {
                        return Err(format!("row group {g}: the offset index does not match the column chunk's pages"));
                    }
                }
                ranges.push((start, bytes::Bytes::from(buf)));
            }
        }
        Ok(StrictBytes::new(ranges, self.len))
    }

    /// The bytes of the chunk of leaf column `l` in row group `g`, its pages checked
    /// ([`pages::check_chunk`]): the chunk's start in the file, its bytes, and its data pages.
    pub(super) fn chunk(
        &self,
        g: usize,
        l: usize,
    ) -> std::result::Result<(u64, Vec<u8>, Vec<pages::DataPage>), String> {
        let md = self.meta.metadata();
        let descr = md.file_metadata().schema_descr();
        let cc = md.row_group(g).column(l);
        // As the crate's `byte_range` (which asserts instead of failing): a chunk starts at its
        // dictionary page when it has one.
        let start = cc.dictionary_page_offset().unwrap_or_else(|| cc.data_page_offset());
        let size = cc.compressed_size();
        let end = start.checked_add(size);
        let (Ok(start), Ok(size)) = (u64::try_from(start), usize::try_from(size)) else {
            return Err(format!("row group {g}: a column chunk has a negative offset or size"));
        };
        if end.is_none_or(|e| e as u64 > self.len) {
            return Err(format!(
                "row group {g}: the column chunk at byte {start} ({size} bytes) runs past the end of the {}-byte file",
                self.len
            ));
        }
        let buf = read_vec_at(&self.file, size, start).map_err(|e| format!("reading the column chunk: {e}"))?;
        let info = pages::ChunkInfo {
            codec: cc.compression(),
            rows: md.row_group(g).num_rows().max(0) as u64,
            flat: descr.column(l).max_rep_level() == 0,
            footer_uncompressed: cc.uncompressed_size().max(0) as u64,
        };
        let data_pages = pages::check_chunk(&buf, info).map_err(|(page, m)| match page {
            Some(p) => format!("row group {g}, page {p}: {m}"),
            None => format!("row group {g}: {m}"),
        })?;
        Ok((start, buf, data_pages))
    }

    /// [`OpenFile::chunks`] of every leaf of root column `c`.
    pub(super) fn column_chunks(
        &self,
        rgs: &[usize],
        c: usize,
        paged: bool,
    ) -> std::result::Result<StrictBytes, String> {
        let descr = self.meta.metadata().file_metadata().schema_descr();
        let leaves: Vec<usize> = (0..descr.num_columns()).filter(|&l| descr.get_column_root_idx(l) == c).collect();
        self.chunks(rgs, &leaves, paged)
    }
}

/// Fills `buf` from byte `at` of `file` (a positioned read: tasks share the handle).
fn read_at(file: &std::fs::File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

/// `len` bytes from byte `at` of `file`, read into a buffer that is not zeroed first (a
/// positioned read fills it; zeroing every column chunk first was a memset pass over the whole
/// file's worth of chunks, about 5% of a `lineitem` read).
fn read_vec_at(file: &std::fs::File, len: usize, at: u64) -> std::io::Result<Vec<u8>> {
    use std::os::fd::AsRawFd;
    let mut buf: Vec<u8> = Vec::new();
    buf.try_reserve_exact(len).map_err(|_| std::io::Error::from(std::io::ErrorKind::OutOfMemory))?;
    while buf.len() < len {
        let done = buf.len();
        let offset = libc::off_t::try_from(at + done as u64).map_err(|_| std::io::ErrorKind::InvalidInput)?;
        // SAFETY: the destination is the vector's own spare capacity, `len - done` bytes from
        // its initialised end (reserved above); `pread` writes at most that many bytes there and
        // nothing reads them before it returns.
        let n = unsafe { libc::pread(file.as_raw_fd(), buf.as_mut_ptr().add(done).cast(), len - done, offset) };
        match n {
            n if n < 0 => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            // SAFETY: `pread` initialised the `n` bytes after the first `done` (n <= len - done).
            n => unsafe { buf.set_len(done + n as usize) },
        }
    }
    Ok(buf)
}

/// One file or a directory of files with one schema.
#[derive(Debug)]
pub(super) struct Dataset {
    pub(super) files: Vec<OpenFile>,
}

impl Dataset {
    pub(super) fn open(path: &Path) -> Result<Dataset> {
        let paths = if path.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| io_error(path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && matches!(p.extension().and_then(|e| e.to_str()), Some("parquet" | "pq"))
                        && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect();
            v.sort();
            if v.is_empty() {
                return Err(Error::InvalidArgument(format!("{}: no .parquet files in the directory", path.display())));
            }
            v
        } else {
            vec![path.to_path_buf()]
        };
        let files: Vec<OpenFile> = paths.into_par_iter().map(OpenFile::open).collect::<Result<_>>()?;
        let first = files[0].meta.schema();
        for f in &files[1..] {
            if f.meta.schema().fields() != first.fields() {
                return Err(f.error(
                    ReadLocation::default(),
                    format!("its schema differs from {}'s, the dataset's first file", files[0].name()),
                ));
            }
        }
        Ok(Dataset { files })
    }

    pub(super) fn arrow_schema(&self) -> &SchemaRef {
        self.files[0].meta.schema()
    }

    fn fields(&self) -> Result<Vec<Field>> {
        (0..self.arrow_schema().fields().len()).map(|c| self.field(c)).collect()
    }

    pub(super) fn field(&self, c: usize) -> Result<Field> {
        let f = &self.arrow_schema().fields()[c];
        let dtype = ember_type(f.data_type()).ok_or_else(|| {
            self.files[0].error(
                ReadLocation { column: Some(f.name().clone()), ..Default::default() },
                format!("Parquet/Arrow type {} is not supported by ember yet", f.data_type()),
            )
        })?;
        Ok(Field { name: f.name().clone(), dtype, nullable: f.is_nullable() })
    }

    /// Root column indices to read, in file order.
    pub(super) fn projection(&self, columns: Option<&[String]>) -> Result<Vec<usize>> {
        let schema = self.arrow_schema();
        let out: Vec<usize> = match columns {
            None => (0..schema.fields().len()).collect(),
            Some(cols) => {
                for c in cols {
                    if schema.index_of(c).is_err() {
                        return Err(Error::ColumnNotFound {
                            name: c.clone(),
                            available: schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", "),
                        });
                    }
                }
                (0..schema.fields().len()).filter(|&i| cols.contains(schema.field(i).name())).collect()
            }
        };
        for &c in &out {
            self.field(c)?;
        }
        Ok(out)
    }

    /// Row groups to read: selected, not excluded by statistics, enough for `n_rows`; each with
    /// the row ranges its page index keeps.
    pub(super) fn selected_groups(&self, options: &ParquetReadOptions) -> Result<Vec<GroupRead>> {
        let mut out = Vec::new();
        let mut rows = 0usize;
        for (fi, f) in self.files.iter().enumerate() {
            let n = f.meta.metadata().num_row_groups();
            let mut groups: Vec<usize> = match &options.row_groups {
                None => (0..n).collect(),
                Some(sel) => {
                    if let Some(&bad) = sel.iter().find(|&&g| g >= n) {
                        return Err(Error::InvalidArgument(format!(
                            "{}: row group {bad} asked for, the file has {n}",
                            f.name()
                        )));
                    }
                    sel.clone()
                }
            };
            if let Some(p) = &options.predicate {
                groups = row_groups_matching(&f.meta, p, &groups).map_err(|e| f.error(ReadLocation::default(), e))?;
            }
            let paged = options.predicate.as_ref().and_then(|p| Some((p, f.paged()?)));
            for group in groups {
                if options.n_rows.is_some_and(|n| rows >= n) {
                    return Ok(out);
                }
                let read =
                    GroupRead { file: fi, group, rows: paged.and_then(|(p, m)| page_rows_matching(m, p, group)) };
                let n = read.num_rows(f);
                if n > 0 {
                    rows = rows.saturating_add(n);
                    out.push(read);
                }
            }
        }
        Ok(out)
    }

    /// Bytes column `c` of `g` decodes to: [`decoded_bytes`] of the whole group, for the rows read.
    fn read_bytes(&self, g: &GroupRead, c: usize) -> usize {
        let file = &self.files[g.file];
        let all = decoded_bytes(self, file, file.meta.metadata().row_group(g.group), c) as u128;
        (all * g.num_rows(file) as u128 / g.footer_rows(file).max(1) as u128) as usize
    }

    /// An error naming the largest (row group, column) when `columns` of `groups` would decode
    /// to more than `limit` bytes (default: [`crate::file::available_memory`]), by the footer's
    /// sizes ([`decoded_bytes`]); checked before any page is read.
    pub(super) fn check_memory(&self, groups: &[GroupRead], columns: &[usize], limit: Option<usize>) -> Result<()> {
        let (limit, what) = match limit {
            Some(l) => (l, "the memory limit"),
            None => match crate::file::available_memory() {
                Some(a) => (a, "the memory available (MemAvailable + SwapFree)"),
                None => return Ok(()),
            },
        };
        let mut total = 0usize;
        let mut largest = (0usize, 0usize, 0usize); // (bytes, index in groups, column)
        for (i, g) in groups.iter().enumerate() {
            for &c in columns {
                let bytes = self.read_bytes(g, c);
                total = total.saturating_add(bytes);
                if bytes > largest.0 {
                    largest = (bytes, i, c);
                }
            }
        }
        if total <= limit {
            return Ok(());
        }
        let (bytes, i, c) = largest;
        let at = ReadLocation {
            row_group: Some(groups[i].group),
            column: Some(self.arrow_schema().field(c).name().clone()),
            ..Default::default()
        };
        Err(self.files[groups[i].file].error(
            at,
            format!(
                "the read would decode to at least {total} bytes, more than {what} ({limit} bytes; \
                 ParquetReadOptions::memory_limit sets it); its largest column chunk here decodes to {bytes} bytes. \
                 Read fewer columns or row groups, or in chunks (ParquetChunks)"
            ),
        ))
    }

    /// Decodes `columns` of `groups`, every (group, column) pair in parallel.
    pub(super) fn read(&self, groups: &[GroupRead], columns: &[usize]) -> Result<DataFrame> {
        let schema = self.arrow_schema();
        let out_fields: Vec<Field> = columns.iter().map(|&c| self.field(c)).collect::<Result<_>>()?;
        let out_schema = Arc::new(Schema::new(
            columns
                .iter()
                .zip(&out_fields)
                .map(|(&c, f)| ArrowField::new(&f.name, arrow_type(schema.field(c).data_type(), f.dtype), true))
                .collect::<Vec<_>>(),
        ));
        // Tasks: (run of row groups of one file, column). Whole-column runs avoid a concatenation
        // (a second copy of every value); runs are split only as far as the cores need, and not
        // at all when ember's own decoder takes every column (it decodes a run's pages in
        // parallel).
        let own = self.files.iter().all(|f| columns.iter().all(|&c| super::decode::covers(f, c)));
        let per_file = if own { 1 } else { (2 * rayon::current_num_threads()).div_ceil(columns.len().max(1)) };
        let runs = group_runs(groups, per_file);
        let tasks: Vec<(usize, usize)> = (0..runs.len()).flat_map(|r| columns.iter().map(move |&c| (r, c))).collect();
        let arrays: Vec<ArrayRef> = tasks
            .par_iter()
            .map(|&(r, c)| {
                let run = runs[r];
                let file = &self.files[run[0].file];
                let at = ReadLocation {
                    row_group: (run.len() == 1).then(|| run[0].group),
                    column: Some(schema.field(c).name().clone()),
                    ..Default::default()
                };
                // Flat fixed-width and string columns by ember's own decoder (`decode/mod.rs` says why), the rest by the crate.
                let arr =
                    guarded(|| super::decode::read(file, run, c).unwrap_or_else(|| read_column_chunk(file, run, c)))
                        .map_err(|m| file.error(at.clone(), m))?;
                normalize(arr).map_err(|e| file.error(at, e))
            })
            .collect::<Result<_>>()?;
        let mut batches = Vec::with_capacity(runs.len());
        // Per run, also with no columns (a row count still comes from the footer).
        for (r, run) in runs.iter().enumerate() {
            let rows: usize = run.iter().map(|g| g.num_rows(&self.files[g.file])).sum();
            let cols = arrays[r * columns.len()..(r + 1) * columns.len()].to_vec();
            let opts = RecordBatchOptions::new().with_row_count(Some(rows));
            batches.push(RecordBatch::try_new_with_options(out_schema.clone(), cols, &opts)?);
        }
        if batches.len() == 1 {
            return DataFrame::from_record_batch(&batches[0]);
        }
        let df = crate::assemble::concat_frames(out_schema, batches)?;
        Ok(df)
    }
}

/// The footer as the `parquet` crate's Arrow reader takes it, decimals stored as INT32 / INT64
/// hinted to `Decimal32` / `Decimal64`: the crate then hands over its decoded buffer as is (for
/// `Decimal128` it widens every value on one thread into a fresh 16-byte buffer, whose page
/// faults cost as much as the decode), and [`normalize`] widens it into a pooled buffer in
/// parallel parts. SF1 `l_quantity` alone: 0.16 -> 0.07 s. (Utf8 read as `Utf8View` was
/// measured too: no faster on `lineitem`, and larger for short strings, so strings stay Utf8.)
fn arrow_metadata(md: parquet::file::metadata::ParquetMetaData) -> std::result::Result<ArrowReaderMetadata, String> {
    use parquet::basic::Type as Physical;
    let md = Arc::new(md);
    let plain = ArrowReaderMetadata::try_new(md.clone(), ArrowReaderOptions::new()).map_err(|e| e.to_string())?;
    let schema = plain.schema();
    // The physical type of each top-level primitive column, by name.
    let descr = md.file_metadata().schema_descr();
    let physical = |name: &str| {
        (0..descr.num_columns())
            .map(|l| descr.column(l))
            .find(|c| c.path().parts().len() == 1 && c.path().parts()[0] == name)
            .map(|c| c.physical_type())
    };
    let hint = |f: &ArrowField| -> Option<DataType> {
        match f.data_type() {
            DataType::Decimal128(p, s) => match physical(f.name())? {
                Physical::INT32 => Some(DataType::Decimal32(*p, *s)),
                Physical::INT64 => Some(DataType::Decimal64(*p, *s)),
                _ => None,
            },
            _ => None,
        }
    };
    if !schema.fields().iter().any(|f| hint(f).is_some()) {
        return Ok(plain);
    }
    let fields: Vec<ArrowField> = schema
        .fields()
        .iter()
        .map(|f| match hint(f) {
            Some(t) => f.as_ref().clone().with_data_type(t),
            None => f.as_ref().clone(),
        })
        .collect();
    let hinted = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    ArrowReaderMetadata::try_new(md, ArrowReaderOptions::new().with_schema(hinted)).map_err(|e| e.to_string())
}

/// Runs `f`, turning a panic inside the `parquet` crate into an error message: corrupt input
/// reaches `expect`s there (cargo fuzz found "Decoder for dict should have been set" for a
/// dictionary-encoded page without a dictionary page), and a reader must not abort the caller.
pub(super) fn guarded<T>(f: impl FnOnce() -> std::result::Result<T, String>) -> std::result::Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            Err(format!("corrupt data (the parquet crate stopped: {what})"))
        }
    }
}

/// Splits `groups` into runs of consecutive groups of one file, about `per_file` runs per file.
fn group_runs(groups: &[GroupRead], per_file: usize) -> Vec<&[GroupRead]> {
    groups
        .chunk_by(|a, b| a.file == b.file)
        .flat_map(|gs| gs.chunks(gs.len().div_ceil(per_file.max(1)).max(1)))
        .collect()
}

/// One row group to read, and which of its rows.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct GroupRead {
    /// The file, in [`Dataset::files`].
    pub(super) file: usize,
    /// The row group, in that file.
    pub(super) group: usize,
    /// Only these rows of the group (sorted, disjoint ranges), where the page index excludes
    /// some pages; `None`: all.
    pub(super) rows: Option<Vec<Range<usize>>>,
}

impl GroupRead {
    /// The group's row count in its footer (`file`: the group's file).
    pub(super) fn footer_rows(&self, file: &OpenFile) -> usize {
        file.meta.metadata().row_group(self.group).num_rows().max(0) as usize
    }

    /// How many rows are read (`file`: the group's file).
    pub(super) fn num_rows(&self, file: &OpenFile) -> usize {
        match &self.rows {
            Some(ranges) => ranges.iter().map(|r| r.len()).sum(),
            None => self.footer_rows(file),
        }
    }
}

/// One column of a run of row groups, decoded by the `parquet` crate into one array. Row ranges
/// become the crate's row selection: with the offset index it skips the pages outside them
/// without decompressing them.
pub(super) fn read_column_chunk(file: &OpenFile, run: &[GroupRead], c: usize) -> std::result::Result<ArrayRef, String> {
    let rgs: Vec<usize> = run.iter().map(|g| g.group).collect();
    let paged = run.iter().any(|g| g.rows.is_some());
    let bytes = file.column_chunks(&rgs, c, paged)?;
    let descr = file.meta.metadata().file_metadata().schema_descr_ptr();
    let rows: usize = run.iter().map(|g| g.num_rows(file)).sum();
    let meta = match file.paged() {
        Some(m) if paged => m.clone(),
        _ => file.meta.clone(),
    };
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(bytes, meta)
        .with_projection(ProjectionMask::roots(&descr, [c]))
        .with_row_groups(rgs.clone())
        .with_batch_size(rows.max(1));
    if paged {
        let mut base = 0;
        let mut ranges = Vec::new();
        for g in run {
            let n = g.footer_rows(file);
            match &g.rows {
                Some(r) => ranges.extend(r.iter().map(|r| base + r.start..base + r.end)),
                None => ranges.push(base..base + n),
            }
            base += n;
        }
        builder = builder.with_row_selection(RowSelection::from_consecutive_ranges(ranges.into_iter(), base));
    }
    let reader = builder.build().map_err(|e| e.to_string())?;
    let mut parts: Vec<ArrayRef> = Vec::new();
    let mut total = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        total += batch.num_rows();
        // Pages that claim more values than the footer's rows (cargo fuzz: a page header
        // promising ~2^31 values in a 4-row group) would otherwise be decoded batch after batch.
        if total > rows {
            return Err(format!("the pages hold more values than the footer's {rows} rows"));
        }
        parts.push(batch.column(0).clone());
    }
    if total != rows {
        return Err(format!("decoded {total} values, the footer and page index call for {rows} rows"));
    }
    match parts.len() {
        1 => Ok(parts.remove(0)),
        0 => Ok(arrow::array::new_empty_array(file.meta.schema().field(c).data_type())),
        _ => arrow::compute::concat(&parts.iter().map(|a| a.as_ref()).collect::<Vec<_>>()).map_err(|e| e.to_string()),
    }
}

/// The ember type of a column read as `dt`, after [`normalize`].
fn ember_type(dt: &DataType) -> Option<DType> {
    match dt {
        DataType::Dictionary(_, v) => ember_type(v),
        DataType::Timestamp(u, _) => Some(DType::Timestamp(*u)),
        DataType::Date64 => Some(DType::Date32),
        DataType::Float16 => Some(DType::Float32),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => Some(DType::Decimal128 { precision: *p, scale: *s }),
        other => DType::from_arrow(other).ok(),
    }
}

/// The Arrow type [`normalize`] makes of `dt` (strings keep their layout: ember reads `Utf8`,
/// `LargeUtf8` and `Utf8View` alike).
fn arrow_type(dt: &DataType, dtype: DType) -> DataType {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => dt.clone(),
        _ => dtype.to_arrow(),
    }
}

/// Arrow arrays as ember holds them: dictionaries decoded, time zones dropped (values stay UTC
/// instants), `Date64` as days, `Float16` widened, `Decimal32` / `Decimal64` widened to
/// `Decimal128`.
pub(super) fn normalize(arr: ArrayRef) -> std::result::Result<ArrayRef, String> {
    let dt = arr.data_type().clone();
    let Some(target) = ember_type(&dt) else { return Err(format!("type {dt} is not supported by ember yet")) };
    Ok(match &dt {
        DataType::Timestamp(u, Some(_)) => {
            let data = arr.to_data().into_builder().data_type(DataType::Timestamp(*u, None));
            make_array(data.build().map_err(|e| e.to_string())?)
        }
        DataType::Decimal32(p, s) => widen_decimal(arr.as_primitive::<Decimal32Type>(), *p, *s)?,
        DataType::Decimal64(p, s) => widen_decimal(arr.as_primitive::<Decimal64Type>(), *p, *s)?,
        DataType::Dictionary(..) | DataType::Date64 | DataType::Float16 => {
            cast(&arr, &target.to_arrow()).map_err(|e| e.to_string())?
        }
        _ => arr,
    })
}

/// A `Decimal32` / `Decimal64` array as `Decimal128`, written into a pooled buffer in parallel
/// parts (arrow's `cast` writes a fresh buffer on one thread).
fn widen_decimal<T>(arr: &PrimitiveArray<T>, p: u8, s: i8) -> std::result::Result<ArrayRef, String>
where
    T: ArrowPrimitiveType,
    T::Native: Into<i128> + Sync,
{
    const PART: usize = 64 * 1024;
    let values = arr.values();
    let out = ember_core::pool::filled_with(values.len(), |out: &mut [i128]| {
        out.par_chunks_mut(PART).zip(values.par_chunks(PART)).for_each(|(o, v)| {
            for (o, &v) in o.iter_mut().zip(v) {
                *o = v.into();
            }
        })
    });
    let wide =
        Decimal128Array::new(out, arr.nulls().cloned()).with_precision_and_scale(p, s).map_err(|e| e.to_string())?;
    Ok(Arc::new(wide))
}
