//! ember's own CPU decoder of flat Parquet columns into pooled buffers: fixed-width values
//! (INT32, INT64, FLOAT, DOUBLE: [`fixed`]) and strings ([`strings`]), in PLAIN,
//! PLAIN_DICTIONARY and RLE_DICTIONARY pages (BYTE_STREAM_SPLIT too for fixed widths), data
//! pages v1 and v2, uncompressed or snappy, zstd or lz4_raw, required or optional. Every page of a column is decoded in parallel
//! straight into its place in the column's buffers.
//!
//! Hand-written although the `parquet` crate decodes these pages too: the crate decompresses
//! each page into a fresh buffer and grows each output by doubling it, and on SF1 `lineitem` a
//! third of the whole read went to the kernel faulting in and zeroing those fresh pages (perf,
//! session 27; `docs/perf.md`). Here each thread decompresses into one scratch buffer it keeps,
//! and every value is written once, where it stays, in buffers from `ember_core::pool`. [`read`]
//! says `None`, before decoding anything, for what it does not cover (other types, encodings and
//! codecs, nested columns, row selections), and the crate decodes those.
//!
//! Corrupt input is an error naming the row group and page, never a panic: every length is
//! checked against the bytes present, a run of zero values is refused (it would never end), a
//! dictionary index past the dictionary is an error, and strings are checked to be UTF-8. The
//! page headers were already walked and checked for decompression bombs
//! ([`pages::check_chunk`], through `OpenFile::chunk`).
mod fixed;
mod strings;

use super::pages::{self, PageHeader, DATA_PAGE, DATA_PAGE_V2, DICTIONARY_PAGE};
use super::read::{GroupRead, OpenFile};
use arrow::array::ArrayRef;
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::datatypes::DataType;
use parquet::basic::{Compression, Type as Physical};
use rayon::prelude::*;
use std::cell::RefCell;
use std::ops::Range;

// Thrift `Encoding` values.
const PLAIN: i32 = 0;
const PLAIN_DICTIONARY: i32 = 2;
const RLE: i32 = 3;
const RLE_DICTIONARY: i32 = 8;
const BYTE_STREAM_SPLIT: i32 = 9;

/// The one leaf of root column `c`, if the column is flat (no repetition, at most one
/// definition level).
fn flat_leaf(file: &OpenFile, c: usize) -> Option<usize> {
    let descr = file.meta.metadata().file_metadata().schema_descr();
    let mut leaves = (0..descr.num_columns()).filter(|&l| descr.get_column_root_idx(l) == c);
    let (Some(l), None) = (leaves.next(), leaves.next()) else { return None };
    let leaf = descr.column(l);
    (leaf.max_rep_level() == 0 && leaf.max_def_level() <= 1).then_some(l)
}

/// Whether [`read`] decodes column `c` of `file` (unless its pages hold an encoding it does not
/// cover, or a read has row ranges): what the footer alone says.
pub(super) fn covers(file: &OpenFile, c: usize) -> bool {
    let md = file.meta.metadata();
    let Some(l) = flat_leaf(file, c) else { return false };
    let physical = md.file_metadata().schema_descr().column(l).physical_type();
    let dt = file.meta.schema().field(c).data_type();
    md.row_groups().iter().all(|g| {
        matches!(
            g.column(l).compression(),
            Compression::UNCOMPRESSED | Compression::SNAPPY | Compression::ZSTD(_) | Compression::LZ4_RAW
        )
    }) && (is_string(physical, dt) || fixed::covers(physical, dt))
}

fn is_string(physical: Physical, dt: &DataType) -> bool {
    physical == Physical::BYTE_ARRAY && is_string_type(dt)
}

fn is_string_type(dt: &DataType) -> bool {
    matches!(dt, DataType::Utf8View | DataType::Utf8 | DataType::LargeUtf8)
}

/// Column `c` of the row groups of `run`, decoded here; `None` where this decoder does not cover
/// the column (the caller then uses the `parquet` crate). The array has the type the crate would
/// give it (the footer's, with ember's hints), except decimals, which come as `Decimal128`.
pub(super) fn read(file: &OpenFile, run: &[GroupRead], c: usize) -> Option<Result<ArrayRef, String>> {
    if run.is_empty() || run.iter().any(|g| g.rows.is_some()) || !covers(file, c) {
        return None;
    }
    let l = flat_leaf(file, c)?;
    let leaf = file.meta.metadata().file_metadata().schema_descr().column(l);
    let dt = file.meta.schema().field(c).data_type().clone();
    let column = Column { file, run, leaf: l, optional: leaf.max_def_level() == 1, dt };
    let decoded = if is_string(leaf.physical_type(), &column.dt) {
        strings::decode(&column)
    } else {
        fixed::decode(&column, leaf.physical_type())?
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
    /// The type the crate would give the column.
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

/// A dictionary page.
struct DictPage {
    number: usize,
    header: PageHeader,
    body: Range<usize>,
}

/// The pages of a column, walked: every chunk's bytes and codec, its dictionary page, and the
/// data pages in row order.
struct Walk {
    chunks: Vec<Vec<u8>>,
    codecs: Vec<Compression>,
    dictionaries: Vec<Option<DictPage>>,
    pages: Vec<Page>,
    rows: usize,
}

thread_local! {
    /// Each rayon thread's buffer for decompressed pages, kept between pages so that it is
    /// faulted in once.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Column<'_> {
    /// Reads every chunk and walks its page headers. `Ok(None)`: an encoding this decoder does
    /// not cover (found before any value is decoded).
    fn walk(&self) -> Result<Option<Walk>, String> {
        let md = self.file.meta.metadata();
        let mut w =
            Walk { chunks: Vec::new(), codecs: Vec::new(), dictionaries: Vec::new(), pages: Vec::new(), rows: 0 };
        for (k, g) in self.run.iter().enumerate() {
            let (_, bytes, _) = self.file.chunk(g.group, self.leaf)?;
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
                        if dictionary.is_some() || rows > 0 {
                            return Err(at(number)("a second dictionary page, or one after data pages".into()));
                        }
                        dictionary = Some(DictPage { number, header, body: start..end });
                    }
                    DATA_PAGE | DATA_PAGE_V2 => {
                        let split = header.encoding == BYTE_STREAM_SPLIT && !is_string_type(&self.dt);
                        if !(split || matches!(header.encoding, PLAIN | PLAIN_DICTIONARY | RLE_DICTIONARY))
                            || (header.page_type == DATA_PAGE && self.optional && header.def_encoding != RLE)
                        {
                            return Ok(None);
                        }
                        let n = usize::try_from(header.rows.unwrap_or(-1))
                            .map_err(|_| at(number)("a data page without a valid value count".into()))?;
                        w.pages.push(Page { chunk: k, number, header, body: start..end, rows: n });
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
            w.rows += rows;
            w.chunks.push(bytes);
            w.codecs.push(md.row_group(g.group).column(self.leaf).compression());
            w.dictionaries.push(dictionary);
        }
        Ok(Some(w))
    }

    /// Decodes every data page of `w` in parallel, each into its own part of one pooled buffer of
    /// `w.rows` values: `page(p, aux, part)` decodes page `p` (`aux`: what else the page owns,
    /// one item of `aux` per page) and returns its validity (`None`: every value present). The
    /// values, and the column's nulls.
    fn decode_pages<T: arrow::datatypes::ArrowNativeType + bytemuck::Pod + Send, A: Send>(
        &self,
        w: &Walk,
        aux: Vec<A>,
        page: impl Fn(&Page, A, &mut [T]) -> Result<Option<BooleanBuffer>, String> + Sync,
    ) -> Result<(arrow::buffer::ScalarBuffer<T>, Option<NullBuffer>), String> {
        let mut outcomes: Vec<Result<Option<BooleanBuffer>, String>> = Vec::new();
        let values = ember_core::pool::filled_with::<T>(w.rows, |out| {
            outcomes = w
                .pages
                .par_iter()
                .zip(aux)
                .zip(split_mut(out, w.pages.iter().map(|p| p.rows)))
                .map(|((p, aux), out)| {
                    page(p, aux, out)
                        .map_err(|m| format!("row group {}, page {}: {m}", self.run[p.chunk].group, p.number))
                })
                .collect();
        });
        let validity: Vec<Option<BooleanBuffer>> = outcomes.into_iter().collect::<Result<_, _>>()?;
        let nulls = validity.iter().any(Option::is_some).then(|| {
            let mut bits = arrow::array::BooleanBufferBuilder::new(w.rows);
            for (p, v) in w.pages.iter().zip(&validity) {
                match v {
                    Some(v) => bits.append_buffer(v),
                    None => bits.append_n(p.rows, true),
                }
            }
            NullBuffer::new(bits.finish())
        });
        Ok((values, nulls))
    }

    /// The front of one data page: its validity (`None`: every value present), how many values
    /// are present, and the encoded values, decompressed into `dst` (resized to fit when it is
    /// the thread's scratch; else it must hold the page's values, and uncompressed ones are
    /// copied in too when `copy`).
    fn front<'a>(
        &self,
        p: &Page,
        body: &'a [u8],
        codec: Compression,
        dst: &'a mut [u8],
        copy: bool,
    ) -> Result<(Option<BooleanBuffer>, usize, &'a [u8]), String> {
        let h = &p.header;
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
                decompress(codec, &body[all..], size.ok_or("an uncompressed size below the levels'")?, dst, copy)?
            } else {
                decompress(Compression::UNCOMPRESSED, &body[all..], body.len() - all, dst, copy)?
            };
            (&body[..def], values)
        } else {
            let size = usize::try_from(h.uncompressed).map_err(|_| "a negative uncompressed size".to_string())?;
            let data = decompress(codec, body, size, dst, copy)?;
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
        Ok((validity.filter(|_| present < p.rows), present, values))
    }
}

/// `out` split into consecutive parts of the given lengths (which sum to at most its length).
fn split_mut<T>(out: &mut [T], lens: impl Iterator<Item = usize>) -> Vec<&mut [T]> {
    let mut parts = Vec::new();
    let mut rest = out;
    for n in lens {
        let (part, tail) = std::mem::take(&mut rest).split_at_mut(n);
        parts.push(part);
        rest = tail;
    }
    parts
}

/// The bytes a data page's values take decompressed (v2: without its levels).
fn values_size(h: &PageHeader) -> usize {
    let levels = if h.page_type == DATA_PAGE_V2 { h.v2_levels.max(0) } else { 0 };
    usize::try_from(h.uncompressed.saturating_sub(levels)).unwrap_or(0)
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
    /// Bit-packed values, least significant bit first: the first `len` in `bytes` (the rest of
    /// the page, which holds at least those).
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
            if buf.len() - at < need {
                return Err("a bit-packed run past the end of its page".into());
            }
            f(Run::Packed { bytes: &buf[at..], len })?;
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

/// `src` decompressed (exactly `size` bytes): into `dst`, or, uncompressed, `src` itself
/// unless `copy`. `dst` is grown to `size` when shorter (the thread's scratch only grows, zeroed
/// once as it grows: never cleared between pages).
fn decompress<'a>(
    codec: Compression,
    src: &'a [u8],
    size: usize,
    dst: &'a mut [u8],
    copy: bool,
) -> Result<&'a [u8], String> {
    if codec == Compression::UNCOMPRESSED {
        let src =
            src.get(..size).ok_or_else(|| format!("an uncompressed page of {} bytes, {size} declared", src.len()))?;
        if !copy {
            return Ok(src);
        }
        let dst = dst.get_mut(..size).ok_or("a page larger than its place")?;
        dst.copy_from_slice(src);
        return Ok(dst);
    }
    let dst = dst.get_mut(..size).ok_or("a page larger than its place")?;
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
    Ok(dst)
}

/// Runs `f` with the thread's scratch buffer, grown to at least `size` bytes.
fn with_scratch<R>(size: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    SCRATCH.with_borrow_mut(|s| {
        if s.len() < size {
            s.resize(size, 0);
        }
        f(s)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parquet::read::{GroupRead, OpenFile};
    use arrow::array::{
        Array, Date32Array, Decimal128Array, Float32Array, Float64Array, Int32Array, Int64Array, LargeStringArray,
        RecordBatch, StringArray, StringViewArray,
    };
    use arrow::datatypes::{Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::{WriterProperties, WriterVersion};
    use std::sync::Arc;

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
                Field::new("s", DataType::Utf8View, true),
                Arc::new(StringViewArray::from_iter((0..n).map(|i| {
                    let s = ["", "a", "zeta", "Grüße, longer than twelve", "日本語", "tw3lve bytes", "thirteen byte"]
                        [i % 7];
                    (!null_at(i))
                        .then(|| format!("{s}{}", if i % 3 == 0 { (i % 50).to_string() } else { String::new() }))
                }))),
            ),
            (
                Field::new("s8", DataType::Utf8, true),
                Arc::new(StringArray::from_iter((0..n).map(|i| {
                    let s = ["x", "", "long enough to be past twelve bytes", "ünï"][i % 4];
                    (i % 5 != 2).then(|| format!("{s}{}", i % 17))
                }))),
            ),
            (
                Field::new("s64", DataType::LargeUtf8, true),
                Arc::new(LargeStringArray::from_iter((0..n).map(|i| (i % 9 != 4).then(|| "ab".repeat(i % 11))))),
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
                        let theirs = crate::parquet::read::read_column_chunk(&file, &run, c).unwrap();
                        // (decimals come as the crate's Decimal32 / Decimal64, widened by normalize)
                        let theirs = crate::parquet::read::normalize(theirs).unwrap();
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
        // BYTE_STREAM_SPLIT pages of every fixed-width column (strings cannot be split).
        for version in [WriterVersion::PARQUET_1_0, WriterVersion::PARQUET_2_0] {
            let mut props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_dictionary_enabled(false)
                .set_writer_version(version)
                .set_encoding(parquet::basic::Encoding::PLAIN)
                .set_data_page_row_count_limit(300)
                .set_write_batch_size(100);
            for f in b.schema().fields().iter().filter(|f| !is_string_type(f.data_type())) {
                props =
                    props.set_column_encoding(f.name().as_str().into(), parquet::basic::Encoding::BYTE_STREAM_SPLIT);
            }
            let path = dir.join(format!("split-{version:?}.parquet"));
            write(&path, &b, props.build());
            let file = OpenFile::open(path).unwrap();
            let run = [GroupRead { file: 0, group: 0, rows: None }];
            for (c, f) in b.schema().fields().iter().enumerate().filter(|(_, f)| !is_string_type(f.data_type())) {
                let ours = read(&file, &run, c).unwrap_or_else(|| panic!("{} not covered", f.name())).unwrap();
                let theirs =
                    crate::parquet::read::normalize(crate::parquet::read::read_column_chunk(&file, &run, c).unwrap());
                assert_eq!(ours.to_data(), theirs.unwrap().to_data(), "split {version:?} {}", f.name());
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
}
