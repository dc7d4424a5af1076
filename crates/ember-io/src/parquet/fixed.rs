//! The CPU decoder of flat fixed-width columns: INT32, INT64, FLOAT and DOUBLE pages in PLAIN,
//! PLAIN_DICTIONARY and RLE_DICTIONARY encoding, data pages v1 and v2, uncompressed or snappy,
//! zstd or lz4_raw, required or optional. Every page of a column is decoded in parallel straight
//! into its place in one buffer from `ember_core::pool`.
//!
//! Hand-written although the `parquet` crate decodes these pages too: the crate decompresses each
//! page into a fresh buffer and grows each output by doubling it, and on SF1 `lineitem` a third
//! of the whole read went to the kernel faulting in and zeroing those fresh pages (perf, session
//! 27; `docs/perf.md`). Here each thread decompresses into one scratch buffer it keeps, and every
//! value is written once, where it stays. [`read`] says `None`, before decoding anything, for
//! what it does not cover (other types, encodings and codecs, nested columns, row selections),
//! and the crate decodes those.
//!
//! Corrupt input is an error naming the row group and page, never a panic: every length is
//! checked against the bytes present, a run of zero values is refused (it would never end), and
//! a dictionary index past the dictionary is an error. The page headers were already walked and
//! checked for decompression bombs ([`pages::check_chunk`], through `OpenFile::chunk`).
use super::pages::{self, PageHeader, DATA_PAGE, DATA_PAGE_V2, DICTIONARY_PAGE};
use super::read::{GroupRead, OpenFile};
use arrow::array::{make_array, ArrayData, ArrayRef};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::datatypes::{ArrowNativeType, DataType};
use parquet::basic::{Compression, Type as Physical};
use rayon::prelude::*;
use std::cell::RefCell;
use std::ops::Range;

// Thrift `Encoding` values.
const PLAIN: i32 = 0;
const PLAIN_DICTIONARY: i32 = 2;
const RLE: i32 = 3;
const RLE_DICTIONARY: i32 = 8;

/// An Arrow value made from a stored value `S` (4 or 8 bytes, little-endian as Parquet and every
/// target ember builds for): the same bits, or a decimal widened to 128 bits as it is decoded
/// (no second pass over a narrow buffer).
trait Value<S: bytemuck::Pod>: ArrowNativeType + bytemuck::Pod + Send + Sync {
    fn from_stored(s: S) -> Self;
}
impl Value<u32> for u32 {
    fn from_stored(s: u32) -> u32 {
        s
    }
}
impl Value<u64> for u64 {
    fn from_stored(s: u64) -> u64 {
        s
    }
}
impl Value<u32> for i128 {
    fn from_stored(s: u32) -> i128 {
        i128::from(s as i32)
    }
}
impl Value<u64> for i128 {
    fn from_stored(s: u64) -> i128 {
        i128::from(s as i64)
    }
}

/// Column `c` of the row groups of `run`, decoded here; `None` where this decoder does not cover
/// the column (the caller then uses the `parquet` crate). The array has the type the crate would
/// give it (the footer's, with ember's decimal hints), for `normalize` to finish.
pub(super) fn read(file: &OpenFile, run: &[GroupRead], c: usize) -> Option<Result<ArrayRef, String>> {
    if run.is_empty() || run.iter().any(|g| g.rows.is_some()) {
        return None;
    }
    let md = file.meta.metadata();
    let descr = md.file_metadata().schema_descr();
    let mut leaves = (0..descr.num_columns()).filter(|&l| descr.get_column_root_idx(l) == c);
    let (Some(l), None) = (leaves.next(), leaves.next()) else { return None };
    let leaf = descr.column(l);
    if leaf.max_rep_level() != 0 || leaf.max_def_level() > 1 {
        return None;
    }
    let dt = file.meta.schema().field(c).data_type().clone();
    // Only types whose Arrow values are the stored values bit for bit, or decimals (a timestamp's
    // unit or an 8- or 16-bit integer would need converting: the crate does that).
    #[derive(PartialEq)]
    enum Kind {
        Word32,
        Word64,
        Decimal32,
        Decimal64,
    }
    let (kind, dt) = match (leaf.physical_type(), &dt) {
        (Physical::INT32, DataType::Int32 | DataType::UInt32 | DataType::Date32) => (Kind::Word32, dt),
        (Physical::FLOAT, DataType::Float32) => (Kind::Word32, dt),
        (Physical::INT64, DataType::Int64 | DataType::UInt64) => (Kind::Word64, dt),
        (Physical::DOUBLE, DataType::Float64) => (Kind::Word64, dt),
        (Physical::INT32, &DataType::Decimal32(p, s)) => (Kind::Decimal32, DataType::Decimal128(p, s)),
        (Physical::INT64, &DataType::Decimal64(p, s)) => (Kind::Decimal64, DataType::Decimal128(p, s)),
        _ => return None,
    };
    let codecs = run.iter().map(|g| md.row_group(g.group).column(l).compression());
    if !codecs.clone().all(|c| {
        matches!(c, Compression::UNCOMPRESSED | Compression::SNAPPY | Compression::ZSTD(_) | Compression::LZ4_RAW)
    }) {
        return None;
    }
    let column = Column { file, run, leaf: l, optional: leaf.max_def_level() == 1, dt };
    let decoded = match kind {
        Kind::Word32 => column.decode::<u32, u32>(),
        Kind::Word64 => column.decode::<u64, u64>(),
        Kind::Decimal32 => column.decode::<u32, i128>(),
        Kind::Decimal64 => column.decode::<u64, i128>(),
    };
    decoded.transpose()
}

/// One column of a run of row groups.
struct Column<'a> {
    file: &'a OpenFile,
    run: &'a [GroupRead],
    leaf: usize,
    /// Definition levels present (max level 1); else every value is present.
    optional: bool,
    /// The array's type (decimals already as `Decimal128`).
    dt: DataType,
}

/// A data page: where its bytes are, and which rows it holds.
struct Page {
    /// Its chunk, in the run's order.
    chunk: usize,
    /// Its number in the chunk, counting every page (for errors).
    number: usize,
    header: PageHeader,
    body: Range<usize>,
    rows: usize,
}

thread_local! {
    /// Each rayon thread's buffer for decompressed pages, kept between pages so that it is
    /// faulted in once.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Column<'_> {
    /// `Ok(None)`: a page this decoder does not cover (found before any value is decoded).
    fn decode<S: bytemuck::Pod, T: Value<S>>(&self) -> Result<Option<ArrayRef>, String> {
        let md = self.file.meta.metadata();
        let mut chunks = Vec::with_capacity(self.run.len());
        let mut codecs = Vec::with_capacity(self.run.len());
        let mut pages = Vec::new();
        let mut dictionaries = Vec::with_capacity(self.run.len());
        let mut total = 0usize;
        for (k, g) in self.run.iter().enumerate() {
            let (_, bytes, _) = self.file.chunk(g.group, self.leaf)?;
            let codec = md.row_group(g.group).column(self.leaf).compression();
            let at = |number: usize| move |m: String| format!("row group {}, page {number}: {m}", g.group);
            let mut dictionary = None;
            let (mut at_byte, mut number, mut rows) = (0usize, 0usize, 0usize);
            while at_byte < bytes.len() {
                let header = pages::parse_header(&bytes[at_byte..]).map_err(at(number))?;
                let start = at_byte + header.header_len;
                let end = usize::try_from(header.compressed)
                    .ok()
                    .and_then(|n| start.checked_add(n))
                    .filter(|&e| e <= bytes.len())
                    .ok_or_else(|| at(number)("the page runs past its column chunk".into()))?;
                match header.page_type {
                    DICTIONARY_PAGE => {
                        if !matches!(header.encoding, PLAIN | PLAIN_DICTIONARY) {
                            return Ok(None);
                        }
                        if dictionary.is_some() || !pages.iter().all(|p: &Page| p.chunk != k) {
                            return Err(at(number)("a second dictionary page, or one after data pages".into()));
                        }
                        let values = SCRATCH.with_borrow_mut(|scratch| {
                            let data = decompress(codec, &bytes[start..end], header.uncompressed, scratch)?;
                            let n = usize::try_from(header.dict_values.unwrap_or(-1))
                                .map_err(|_| "a dictionary page without a valid entry count".to_string())?;
                            let mut values = vec![T::zeroed(); n];
                            plain::<S, T>(data, &mut values)?;
                            Ok::<_, String>(values)
                        });
                        dictionary = Some(values.map_err(at(number))?);
                    }
                    DATA_PAGE | DATA_PAGE_V2 => {
                        if !matches!(header.encoding, PLAIN | PLAIN_DICTIONARY | RLE_DICTIONARY)
                            || (header.page_type == DATA_PAGE && self.optional && header.def_encoding != RLE)
                        {
                            return Ok(None);
                        }
                        let n = usize::try_from(header.rows.unwrap_or(-1))
                            .map_err(|_| at(number)("a data page without a valid value count".into()))?;
                        pages.push(Page { chunk: k, number, header, body: start..end, rows: n });
                        rows = rows.saturating_add(n);
                    }
                    _ => {}
                }
                at_byte = end;
                number += 1;
            }
            let expected = g.footer_rows(self.file);
            if rows != expected {
                return Err(format!(
                    "row group {}: the pages hold {rows} values, the footer calls for {expected} rows",
                    g.group
                ));
            }
            total += rows;
            chunks.push(bytes);
            codecs.push(codec);
            dictionaries.push(dictionary);
        }

        // Every page into its own part of one pooled buffer, in parallel.
        let mut outcomes: Vec<Result<Option<BooleanBuffer>, String>> = Vec::new();
        let values = ember_core::pool::filled_with::<T>(total, |out| {
            let mut parts = Vec::with_capacity(pages.len());
            let mut rest = out;
            for p in &pages {
                let (part, tail) = std::mem::take(&mut rest).split_at_mut(p.rows);
                parts.push(part);
                rest = tail;
            }
            outcomes = pages
                .par_iter()
                .zip(parts)
                .map(|(p, out)| {
                    let body = &chunks[p.chunk][p.body.clone()];
                    self.page::<S, T>(p, body, codecs[p.chunk], dictionaries[p.chunk].as_deref(), out)
                        .map_err(|m| format!("row group {}, page {}: {m}", self.run[p.chunk].group, p.number))
                })
                .collect();
        });
        let validity: Vec<Option<BooleanBuffer>> = outcomes.into_iter().collect::<Result<_, _>>()?;
        let nulls = validity.iter().any(Option::is_some).then(|| {
            let mut bits = arrow::array::BooleanBufferBuilder::new(total);
            for (p, v) in pages.iter().zip(&validity) {
                match v {
                    Some(v) => bits.append_buffer(v),
                    None => bits.append_n(p.rows, true),
                }
            }
            NullBuffer::new(bits.finish())
        });
        let data = ArrayData::builder(self.dt.clone()).len(total).add_buffer(values.into_inner()).nulls(nulls);
        Ok(Some(make_array(data.build().map_err(|e| e.to_string())?)))
    }

    /// Decodes one data page into `out` (its rows); the page's validity, `None` when every value
    /// is present.
    fn page<S: bytemuck::Pod, T: Value<S>>(
        &self,
        p: &Page,
        body: &[u8],
        codec: Compression,
        dictionary: Option<&[T]>,
        out: &mut [T],
    ) -> Result<Option<BooleanBuffer>, String> {
        let h = &p.header;
        SCRATCH.with_borrow_mut(|bytes| {
            // The definition levels, and the encoded values after them.
            let (levels, values): (&[u8], &[u8]) = if h.page_type == DATA_PAGE_V2 {
                let (Ok(def), Ok(all)) = (usize::try_from(h.v2_def_len), usize::try_from(h.v2_levels)) else {
                    return Err("negative level lengths".into());
                };
                if all > body.len() || def > all || (def > 0 && !self.optional) || all != def {
                    return Err("level lengths that do not fit the page or the column".into());
                }
                let values = if h.v2_compressed {
                    let size = usize::try_from(h.uncompressed).ok().and_then(|u| u.checked_sub(all));
                    decompress(
                        codec,
                        &body[all..],
                        size.ok_or("an uncompressed size below the levels'")? as i64,
                        bytes,
                    )?
                } else {
                    &body[all..]
                };
                (&body[..def], values)
            } else {
                let data = decompress(codec, body, h.uncompressed, bytes)?;
                if self.optional {
                    let n = data.get(..4).ok_or("the page ends inside its level length")?;
                    let n = u32::from_le_bytes(n.try_into().expect("4 bytes")) as usize;
                    let levels = data.get(4..4 + n).ok_or("the levels run past the page")?;
                    (levels, &data[4 + n..])
                } else {
                    (&[][..], data)
                }
            };
            let validity = if self.optional { Some(def_levels(levels, p.rows)?) } else { None };
            let present = validity.as_ref().map_or(p.rows, |v| v.count_set_bits());
            let validity = validity.filter(|_| present < p.rows);
            // The present values, packed into the front of `out`, then spread to their rows.
            let packed = &mut out[..present];
            if h.encoding == PLAIN {
                plain::<S, T>(values, packed)?;
            } else {
                let dictionary = dictionary.ok_or("a dictionary-encoded page and no dictionary page")?;
                let (&width, runs) = values.split_first().ok_or("an empty dictionary-encoded page")?;
                hybrid(runs, u32::from(width), packed, dictionary)?;
            }
            if let Some(v) = &validity {
                spread(out, present, v);
            }
            Ok(validity)
        })
    }
}

/// Moves the first `present` values of `out` to the rows `validity` marks, zeroing the others.
fn spread<T: bytemuck::Pod>(out: &mut [T], present: usize, validity: &BooleanBuffer) {
    let mut k = present;
    let slices: Vec<(usize, usize)> = validity.set_slices().collect();
    let mut end = out.len();
    for &(a, b) in slices.iter().rev() {
        out[b..end].fill(T::zeroed());
        k -= b - a;
        out.copy_within(k..k + (b - a), a);
        end = a;
    }
    out[..end].fill(T::zeroed());
}

/// Fills `out` with the first `out.len()` PLAIN values in `bytes` (stored as `S`, not
/// necessarily aligned).
fn plain<S: bytemuck::Pod, T: Value<S>>(bytes: &[u8], out: &mut [T]) -> Result<(), String> {
    let (n, size) = (out.len(), std::mem::size_of::<S>());
    let need = n.checked_mul(size).filter(|&b| b <= bytes.len()).ok_or_else(|| {
        format!("the page holds {} bytes of values, {n} values of {size} bytes were expected", bytes.len())
    })?;
    let bytes = &bytes[..need];
    if std::mem::size_of::<T>() == size {
        // The same bits: one copy.
        bytemuck::cast_slice_mut::<T, u8>(out).copy_from_slice(bytes);
    } else {
        for (o, b) in out.iter_mut().zip(bytes.chunks_exact(size)) {
            *o = T::from_stored(bytemuck::pod_read_unaligned(b));
        }
    }
    Ok(())
}

/// The definition levels (0 or 1, bit width 1) of `rows` rows, as validity bits.
fn def_levels(levels: &[u8], rows: usize) -> Result<BooleanBuffer, String> {
    let mut bits = arrow::array::BooleanBufferBuilder::new(rows);
    runs(levels, 1, rows, |run| match run {
        Run::Repeated { value, len } => {
            bits.append_n(len, value != 0);
            Ok(())
        }
        Run::Packed { bytes, len } => {
            bits.append_packed_range(0..len, bytes);
            Ok(())
        }
    })?;
    Ok(bits.finish())
}

/// A run of the RLE / bit-packed hybrid encoding: `len` values still wanted from it.
enum Run<'a> {
    Repeated {
        value: u32,
        len: usize,
    },
    /// Bit-packed values, least significant bit first; `bytes` holds at least `len` of them.
    Packed {
        bytes: &'a [u8],
        len: usize,
    },
}

/// Walks the runs of `count` values of `width` bits in `buf`, calling `f` for each.
fn runs<'a>(
    buf: &'a [u8],
    width: u32,
    count: usize,
    mut f: impl FnMut(Run<'a>) -> Result<(), String>,
) -> Result<(), String> {
    if width > 32 {
        return Err(format!("a bit width of {width}"));
    }
    let (mut at, mut done) = (0usize, 0usize);
    while done < count {
        let header = uleb128(buf, &mut at)?;
        if header & 1 == 1 {
            let values = usize::try_from(header >> 1).ok().and_then(|g| g.checked_mul(8)).unwrap_or(usize::MAX);
            if values == 0 {
                return Err("an empty bit-packed run".into());
            }
            let len = values.min(count - done);
            // Writers may end the last run early: only the values wanted must be present.
            let need = (len * width as usize).div_ceil(8);
            let bytes = buf.get(at..at + need).ok_or("a bit-packed run past the end of its page")?;
            f(Run::Packed { bytes, len })?;
            at = at.saturating_add(values / 8 * width as usize).min(buf.len());
            done += len;
        } else {
            let len = usize::try_from(header >> 1).unwrap_or(usize::MAX);
            if len == 0 {
                return Err("an empty run".into());
            }
            let k = (width as usize).div_ceil(8);
            let raw = buf.get(at..at + k).ok_or("a run's value past the end of its page")?;
            let value = raw.iter().rev().fold(0u32, |v, &b| (v << 8) | u32::from(b));
            if width < 32 && value >> width != 0 {
                return Err(format!("a run value {value} wider than {width} bits"));
            }
            at += k;
            let len = len.min(count - done);
            f(Run::Repeated { value, len })?;
            done += len;
        }
    }
    Ok(())
}

/// Fills `out` from the `width`-bit values of the hybrid encoding in `buf`, each value `i` as
/// `dictionary[i]` (an index past the dictionary is an error).
fn hybrid<T: Copy>(buf: &[u8], width: u32, out: &mut [T], dictionary: &[T]) -> Result<(), String> {
    let past = |i: u32| format!("a dictionary index {i} past the dictionary's {} entries", dictionary.len());
    let unpack = unpacker(width);
    let w = width as usize;
    let mut k = 0;
    runs(buf, width, out.len(), |run| {
        match run {
            Run::Repeated { value, len } => {
                out[k..k + len].fill(*dictionary.get(value as usize).ok_or_else(|| past(value))?);
                k += len;
            }
            Run::Packed { bytes, len } => {
                // Eight values at a time from their `w` bytes: read in place where 40 bytes are
                // there, else from a padded copy (the last groups; a page may cut them short).
                let mut padded: [u8; 40];
                for (g, dst) in out[k..k + len].chunks_mut(8).enumerate() {
                    let at = g * w;
                    let group: &[u8; 40] = match bytes.get(at..at + 40) {
                        Some(b) => b.try_into().expect("40 bytes"),
                        None => {
                            let src = &bytes[at.min(bytes.len())..(at + w).min(bytes.len())];
                            padded = [0; 40];
                            padded[..src.len()].copy_from_slice(src);
                            &padded
                        }
                    };
                    let idx = unpack(group);
                    let most = idx[..dst.len()].iter().copied().max().unwrap_or(0);
                    if most as usize >= dictionary.len() {
                        return Err(past(most));
                    }
                    for (o, &i) in dst.iter_mut().zip(&idx) {
                        *o = dictionary[i as usize];
                    }
                }
                k += len;
            }
        }
        Ok(())
    })
}

/// Unpacks eight values from a padded group of bytes.
type Unpack = fn(&[u8; 40]) -> [u32; 8];

/// The unpacker of eight `width`-bit values (a group's `width` bytes at the front of a 40-byte
/// array), compiled for each width so that every shift and mask is a constant.
fn unpacker(width: u32) -> Unpack {
    fn unpack<const W: usize>(group: &[u8; 40]) -> [u32; 8] {
        let mask = if W == 0 { 0 } else { u64::MAX >> (64 - W) };
        // A value spans at most 5 bytes (7 + 32 bits): one unaligned 8-byte read each.
        std::array::from_fn(|j| {
            let bit = j * W;
            let word = u64::from_le_bytes(group[bit / 8..bit / 8 + 8].try_into().expect("8 bytes"));
            ((word >> (bit % 8)) & mask) as u32
        })
    }
    macro_rules! table {
        ($($w:literal)*) => { [$(unpack::<$w> as Unpack),*] };
    }
    const TABLE: [Unpack; 33] =
        table!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
    TABLE[width.min(32) as usize]
}

fn uleb128(buf: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at).ok_or("a run header past the end of its page")?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("a run header longer than ten bytes".into())
}

/// `src` decompressed into `scratch` (or `src` itself, uncompressed); exactly `size` bytes.
fn decompress<'a>(codec: Compression, src: &'a [u8], size: i64, scratch: &'a mut Vec<u8>) -> Result<&'a [u8], String> {
    let size = usize::try_from(size).map_err(|_| "a negative uncompressed size".to_string())?;
    if codec == Compression::UNCOMPRESSED {
        return src.get(..size).ok_or_else(|| format!("an uncompressed page of {} bytes, {size} declared", src.len()));
    }
    // The buffer only grows (zeroed once, as it grows): never cleared between pages.
    if scratch.len() < size {
        scratch.resize(size, 0);
    }
    let dst = &mut scratch[..size];
    let written = match codec {
        Compression::SNAPPY => snap::raw::Decoder::new().decompress(src, dst).map_err(|e| e.to_string()),
        Compression::LZ4_RAW => lz4_flex::block::decompress_into(src, dst).map_err(|e| e.to_string()),
        Compression::ZSTD(_) => zstd::bulk::decompress_to_buffer(src, dst).map_err(|e| e.to_string()),
        other => Err(format!("codec {other:?}")),
    }
    .map_err(|e| format!("the page does not decompress: {e}"))?;
    if written != size {
        return Err(format!("the page decompressed to {written} bytes, its header declares {size}"));
    }
    Ok(&scratch[..size])
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        Array, Date32Array, Decimal128Array, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    };
    use arrow::datatypes::{Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::{WriterProperties, WriterVersion};
    use std::sync::Arc;

    /// A batch of every covered type: nullable columns with scattered nulls, a page's worth of
    /// nulls, no nulls at all, and a required column.
    fn batch(n: usize) -> RecordBatch {
        let null_at = |i: usize| i % 7 == 3 || (1000..1400).contains(&i);
        let cols: Vec<(Field, ArrayRef)> = vec![
            (
                Field::new("i32", DataType::Int32, true),
                Arc::new(Int32Array::from_iter((0..n).map(|i| (!null_at(i)).then_some((i as i32 * 7919) % 50)))),
            ),
            (
                Field::new("i64", DataType::Int64, true),
                Arc::new(Int64Array::from_iter((0..n).map(|i| (!null_at(i)).then_some(i as i64 * 1_000_003 - 9)))),
            ),
            (
                Field::new("f32", DataType::Float32, true),
                Arc::new(Float32Array::from_iter((0..n).map(|i| Some(i as f32 / 3.0)))),
            ),
            (
                Field::new("f64", DataType::Float64, true),
                Arc::new(Float64Array::from_iter((0..n).map(|i| (i % 5 != 0).then_some((i % 13) as f64 - 0.5)))),
            ),
            (
                Field::new("date", DataType::Date32, false),
                Arc::new(Date32Array::from_iter_values((0..n).map(|i| (i % 3000) as i32))),
            ),
            (
                Field::new("d9", DataType::Decimal128(9, 2), true),
                Arc::new(
                    Decimal128Array::from_iter(
                        (0..n).map(|i| (!null_at(i)).then_some((i as i128 % 97) * 12345 - 600_000)),
                    )
                    .with_precision_and_scale(9, 2)
                    .unwrap(),
                ),
            ),
            (
                Field::new("d15", DataType::Decimal128(15, 2), false),
                Arc::new(
                    Decimal128Array::from_iter_values((0..n).map(|i| (i as i128 % 1013) * -99_999_999_937 + 5))
                        .with_precision_and_scale(15, 2)
                        .unwrap(),
                ),
            ),
            (
                Field::new("all_null", DataType::Int64, true),
                Arc::new(Int64Array::from_iter((0..n).map(|_| None::<i64>))),
            ),
        ];
        let (fields, arrays): (Vec<_>, Vec<_>) = cols.into_iter().unzip();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
    }

    fn write(path: &std::path::Path, b: &RecordBatch, props: WriterProperties) {
        let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), b.schema(), Some(props)).unwrap();
        w.write(b).unwrap();
        w.close().unwrap();
    }

    #[test]
    fn every_page_kind_decodes_as_the_crate_decodes_it() {
        let dir = std::env::temp_dir().join(format!("ember-fixed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let n = 5003;
        let b = batch(n);
        let mut cases = 0;
        for codec in [
            Compression::UNCOMPRESSED,
            Compression::SNAPPY,
            Compression::ZSTD(Default::default()),
            Compression::LZ4_RAW,
        ] {
            for dictionary in [false, true] {
                for version in [WriterVersion::PARQUET_1_0, WriterVersion::PARQUET_2_0] {
                    let props = WriterProperties::builder()
                        .set_compression(codec)
                        .set_dictionary_enabled(dictionary)
                        .set_writer_version(version)
                        // (v2 files fall back to DELTA_BINARY_PACKED otherwise: see below)
                        .set_encoding(parquet::basic::Encoding::PLAIN)
                        .set_max_row_group_row_count(Some(2048))
                        .set_data_page_row_count_limit(300)
                        .set_write_batch_size(100)
                        .build();
                    let path = dir.join(format!("{cases}.parquet"));
                    write(&path, &b, props);
                    let file = OpenFile::open(path).unwrap();
                    let groups = file.meta.metadata().num_row_groups();
                    assert!(groups >= 3);
                    let run: Vec<GroupRead> =
                        (0..groups).map(|group| GroupRead { file: 0, group, rows: None }).collect();
                    for c in 0..b.num_columns() {
                        let case = format!("{codec:?} dictionary {dictionary} {version:?} column {c}");
                        let ours = read(&file, &run, c).unwrap_or_else(|| panic!("{case}: not covered")).unwrap();
                        let theirs = super::super::read::read_column_chunk(&file, &run, c).unwrap();
                        // (decimals come as the crate's Decimal32 / Decimal64, widened by normalize)
                        let theirs = super::super::read::normalize(theirs).unwrap();
                        assert_eq!(ours.data_type(), b.column(c).data_type(), "{case}");
                        assert_eq!(ours.to_data(), theirs.to_data(), "{case}");
                        assert_eq!(ours.len(), n);
                        // One row group alone too.
                        let one = read(&file, &run[1..2], c).unwrap().unwrap();
                        assert_eq!(one.to_data(), theirs.slice(2048, 2048).to_data(), "{case}, row group 1");
                    }
                    cases += 1;
                }
            }
        }
        // An encoding this decoder does not cover is left to the crate, before any decoding.
        let path = dir.join("delta.parquet");
        let props = WriterProperties::builder()
            .set_dictionary_enabled(false)
            .set_column_encoding("i64".into(), parquet::basic::Encoding::DELTA_BINARY_PACKED)
            .build();
        write(&path, &b, props);
        let file = OpenFile::open(path).unwrap();
        let run = [GroupRead { file: 0, group: 0, rows: None }];
        assert!(read(&file, &run, 1).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hybrid_runs_decode_and_corrupt_runs_are_errors() {
        let decode = |buf: &[u8], width: u32, n: usize| {
            let mut out = vec![0u32; n];
            hybrid(buf, width, &mut out, &[0, 10, 20, 30, 40, 50, 60]).map(|()| out)
        };
        // An RLE run of 5 threes, then bit-packed groups of 3-bit values 0..6 and 6, 5, ..., 0.
        let mut buf = vec![5 << 1, 3, 2 << 1 | 1];
        let pack = |vals: [u32; 8]| vals.iter().enumerate().fold(0u32, |acc, (j, &v)| acc | (v << (3 * j)));
        buf.extend_from_slice(&pack([0, 1, 2, 3, 4, 5, 6, 0]).to_le_bytes()[..3]);
        buf.extend_from_slice(&pack([6, 5, 4, 3, 2, 1, 0, 6]).to_le_bytes()[..3]);
        let want = [30, 30, 30, 30, 30, 0, 10, 20, 30, 40, 50, 60, 0, 60, 50, 40, 30, 20, 10, 0, 60];
        assert_eq!(decode(&buf, 3, 21).unwrap(), want);
        // Fewer values wanted than the runs hold: only those (a writer may end early).
        assert_eq!(decode(&buf, 3, 15).unwrap(), want[..15]);
        assert_eq!(decode(&buf[..buf.len() - 2], 3, 15).unwrap(), want[..15]);
        // Width 0 (a one-entry dictionary): runs without value bytes.
        assert_eq!(decode(&[1 << 1 | 1, 3 << 1], 0, 11).unwrap(), [0; 11]);
        // An index past the dictionary is an error.
        assert!(decode(&[2 << 1, 7], 3, 2).unwrap_err().contains("index 7 past"));
        // A zero-length run would never end; a run past the page; a value wider than the width.
        assert!(decode(&[0, 1], 3, 4).unwrap_err().contains("empty run"));
        assert!(decode(&[1], 3, 4).unwrap_err().contains("empty bit-packed run"));
        assert!(decode(&[3, 0xff], 3, 8).unwrap_err().contains("past the end"));
        assert!(decode(&[4 << 1, 9], 3, 4).unwrap_err().contains("wider"));
        assert!(decode(&[2, 1], 33, 1).unwrap_err().contains("bit width"));
    }

    #[test]
    fn spread_moves_values_to_their_rows() {
        let mut out = [1u32, 2, 3, 9, 9, 9];
        let v = BooleanBuffer::from(vec![false, true, false, true, true, false]);
        spread(&mut out, 3, &v);
        assert_eq!(out, [0, 1, 0, 2, 3, 0]);
    }
}
