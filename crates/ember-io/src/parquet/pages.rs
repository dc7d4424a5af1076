//! The page headers of one column chunk, checked before any page is decompressed or decoded.
//!
//! The `parquet` crate trusts a page header's sizes: it allocates the declared uncompressed size
//! (up to 2 GiB a page) before decompressing, and its GZIP and LZ4-frame codecs inflate until the
//! stream ends, however far past the declared size that is (a gzip stream grows up to 1032×, an
//! LZ4 frame up to 255×: a 100 MB page could become 100 GB and end the process). A reader must
//! turn such a **decompression bomb** into an error that names the page, so every column chunk a
//! task reads (`OpenFile::chunks`: the CPU decode, the GPU page walk and the chunked reader all
//! read through it) has its headers walked here first, and a chunk is refused when:
//!
//! * a header or a page's bytes run past the chunk, or a header is not valid thrift;
//! * a page declares more uncompressed bytes than its codec can produce from its compressed bytes
//!   ([`max_output`]: each codec's largest possible expansion);
//! * the pages together declare more uncompressed bytes than the footer's total for the chunk
//!   (what the chunked reader budgets by and a user can see before reading);
//! * a GZIP or LZ4-frame page inflates past its declared size (checked by inflating it into a
//!   small scratch buffer and stopping at the declared size plus one byte; pages that could not
//!   overshoot by more than [`OVERSHOOT_SLACK`] are not inflated twice);
//! * the data pages of a flat column promise more values than the row group has rows (cargo fuzz
//!   found a header promising ~2^31 values in a 4-row group: the crate decodes a page's levels
//!   before its first batch, minutes of work).
//!
//! Hand-written rather than the crate's: its `PageHeader` and thrift decoder are crate-private.
//! Only the fields the checks need are read; every other field is skipped by the compact
//! protocol's rules, with each skip bounded by the bytes left (a declared length past the end is
//! an error at once, never a loop).
use parquet::basic::Compression;
use std::io::Read;

/// A page's bytes read by the checks: its type and sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct PageHeader {
    /// Thrift `PageType`: 0 data v1, 1 index, 2 dictionary, 3 data v2.
    pub(super) page_type: i32,
    pub(super) uncompressed: i64,
    pub(super) compressed: i64,
    /// Data pages: `num_values` (v1: levels, so rows for a flat column) or `num_rows` (v2).
    pub(super) rows: Option<i64>,
    /// Data page v2: the level bytes in front of the data, never compressed.
    pub(super) v2_levels: i64,
    /// Data page v2: `is_compressed` (default true).
    pub(super) v2_compressed: bool,
    /// Data page v2: the definition levels' bytes (part of `v2_levels`).
    pub(super) v2_def_len: i64,
    /// Data pages: the values' `Encoding` (thrift value); dictionary pages: the dictionary's.
    pub(super) encoding: i32,
    /// Data page v1: the definition levels' `Encoding` (thrift value).
    pub(super) def_encoding: i32,
    /// Dictionary pages: the entries.
    pub(super) dict_values: Option<i64>,
    /// The header's own length in bytes.
    pub(super) header_len: usize,
}

pub(super) const DATA_PAGE: i32 = 0;
pub(super) const DICTIONARY_PAGE: i32 = 2;
pub(super) const DATA_PAGE_V2: i32 = 3;

/// A page that could inflate at most this many bytes past its declared size is not inflated
/// twice to check it (the crate's own size check catches it, after at most this much memory).
pub(super) const OVERSHOOT_SLACK: u64 = 1 << 20;

/// The most bytes `codec` can produce from `compressed` bytes; `None` where there is no
/// bound worth checking (uncompressed, or a codec this build cannot decode).
///
/// Snappy: a 3-byte copy writes at most 64 bytes (21.3×). LZ4 (block, frame, Hadoop): each
/// match-length byte adds at most 255. Gzip / deflate: at most 258 bytes per ~2 bits (1032×).
/// Zstd: an RLE block turns 4 bytes into at most 128 KiB (32768×). A small constant covers
/// headers.
pub(super) fn max_output(codec: Compression, compressed: u64) -> Option<u64> {
    let ratio = match codec {
        Compression::SNAPPY => 22,
        Compression::LZ4 | Compression::LZ4_RAW => 256,
        Compression::GZIP(_) => 1032,
        Compression::ZSTD(_) => 32768,
        _ => return None,
    };
    Some(compressed.saturating_mul(ratio).saturating_add(1024))
}

/// What one column chunk is checked against.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChunkInfo {
    pub(super) codec: Compression,
    /// The row group's rows.
    pub(super) rows: u64,
    /// A flat column (no repetition): a data page's values are rows.
    pub(super) flat: bool,
    /// The footer's `total_uncompressed_size` for the chunk (headers included); 0: unknown.
    pub(super) footer_uncompressed: u64,
}

/// A data page's start in its column chunk and its size, header included.
pub(super) type DataPage = (usize, usize);

/// Walks the pages of one column chunk (`chunk`: its bytes, from its first page to its end).
/// `Ok`: each data page's start in the chunk and size, header included (what an offset index
/// records). `Err((page, message))`: page `page` (0-based, counting every page) or the chunk as
/// a whole (`None`) is corrupt or a decompression bomb.
pub(super) fn check_chunk(chunk: &[u8], info: ChunkInfo) -> Result<Vec<DataPage>, (Option<usize>, String)> {
    let mut data_pages = Vec::new();
    let mut at = 0usize;
    let mut declared = 0u64;
    let mut rows = 0u64;
    let mut page = 0usize;
    while at < chunk.len() {
        let h = parse_header(&chunk[at..]).map_err(|m| (Some(page), format!("corrupt page header: {m}")))?;
        let (Ok(compressed), Ok(uncompressed)) = (u64::try_from(h.compressed), u64::try_from(h.uncompressed)) else {
            return Err((Some(page), "corrupt page header: a negative page size".into()));
        };
        let body = at + h.header_len;
        let end = (body as u64).checked_add(compressed).filter(|&e| e <= chunk.len() as u64).ok_or_else(|| {
            (
                Some(page),
                format!(
                    "the page's {compressed} bytes run past the end of its column chunk ({} bytes left)",
                    chunk.len() - body
                ),
            )
        })? as usize;
        if matches!(h.page_type, DATA_PAGE | DICTIONARY_PAGE | DATA_PAGE_V2) {
            check_page(&chunk[body..end], &h, info).map_err(|m| (Some(page), m))?;
            declared = declared.saturating_add(uncompressed);
        }
        if matches!(h.page_type, DATA_PAGE | DATA_PAGE_V2) {
            data_pages.push((at, end - at));
        }
        if let (true, Some(n)) = (info.flat, h.rows) {
            rows = rows.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
            if rows > info.rows {
                return Err((
                    Some(page),
                    format!("the page headers promise more values than the footer's {} rows", info.rows),
                ));
            }
        }
        at = end;
        page += 1;
    }
    if info.footer_uncompressed > 0 && declared > info.footer_uncompressed {
        return Err((
            None,
            format!(
                "decompression bomb: the pages declare {declared} uncompressed bytes, more than the footer's {} for \
                 the column chunk",
                info.footer_uncompressed
            ),
        ));
    }
    Ok(data_pages)
}

/// The size checks of one page (`body`: its compressed bytes).
fn check_page(body: &[u8], h: &PageHeader, info: ChunkInfo) -> Result<(), String> {
    // Data page v2 keeps its levels uncompressed in front of the data.
    let (levels, compressed) =
        if h.page_type == DATA_PAGE_V2 { (h.v2_levels.max(0) as u64, h.v2_compressed) } else { (0, true) };
    if !compressed || levels > body.len() as u64 || levels > h.uncompressed as u64 {
        return Ok(()); // nothing is inflated (the crate reports inconsistent level lengths)
    }
    let data = &body[levels as usize..];
    let declared = h.uncompressed as u64 - levels;
    let Some(most) = max_output(info.codec, data.len() as u64) else { return Ok(()) };
    if declared > most {
        return Err(format!(
            "decompression bomb: the page declares {} uncompressed bytes from {} {:?} bytes, more than that codec \
             can produce",
            h.uncompressed,
            data.len(),
            info.codec
        ));
    }
    // Only the gzip and LZ4-frame codecs of the crate inflate without a bound; the others write
    // into a buffer of the declared size.
    let stream: Box<dyn Read + '_> = match info.codec {
        Compression::GZIP(_) => Box::new(flate2::read::MultiGzDecoder::new(data)),
        Compression::LZ4 if data.starts_with(&[0x04, 0x22, 0x4d, 0x18]) => {
            Box::new(lz4_flex::frame::FrameDecoder::new(data))
        }
        _ => return Ok(()),
    };
    if most - declared <= OVERSHOOT_SLACK {
        return Ok(());
    }
    let inflated = inflated_up_to(stream, declared + 1);
    if inflated > declared {
        return Err(format!(
            "decompression bomb: the page's {:?} stream inflates past the {} bytes its header declares",
            info.codec, h.uncompressed
        ));
    }
    Ok(())
}

/// Bytes `stream` yields, reading no more than `limit` (a decode error ends the count: the
/// crate reports corrupt streams itself).
fn inflated_up_to(stream: impl Read, limit: u64) -> u64 {
    let mut scratch = vec![0u8; 64 << 10];
    let mut limited = stream.take(limit);
    let mut total = 0u64;
    loop {
        match limited.read(&mut scratch) {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n as u64,
        }
    }
}

/// Parses one thrift-compact `PageHeader` at the start of `buf`. An integer field is read
/// whatever its integer wire type (i16, i32 or i64: one zigzag varint each), as the `parquet`
/// crate reads it: the GPU decoder reads headers through the crate, and the two paths must see
/// the same page (a fuzzed header whose encoding came as an i16 was skipped here and read as
/// PLAIN, while the crate read BYTE_STREAM_SPLIT). A data or dictionary page without its
/// encoding is an error, not PLAIN by default.
pub(super) fn parse_header(buf: &[u8]) -> Result<PageHeader, String> {
    let mut r = Compact { buf, at: 0 };
    let mut h = PageHeader { v2_compressed: true, ..Default::default() };
    let mut seen = [false; 3];
    let mut encoded = false;
    r.fields(0, |r, id, ty| {
        match (id, ty) {
            (1, I16 | I32 | I64) => (h.page_type, seen[0]) = (r.int()? as i32, true),
            (2, I16 | I32 | I64) => (h.uncompressed, seen[1]) = (r.int()?, true),
            (3, I16 | I32 | I64) => (h.compressed, seen[2]) = (r.int()?, true),
            // DataPageHeader: 1 num_values, 2 encoding, 3 definition level encoding.
            (5, STRUCT) => r.fields(1, |r, id, ty| {
                match (id, ty) {
                    (1, I16 | I32 | I64) => h.rows = Some(r.int()?),
                    (2, I16 | I32 | I64) => (h.encoding, encoded) = (r.int()? as i32, true),
                    (3, I16 | I32 | I64) => h.def_encoding = r.int()? as i32,
                    _ => r.skip(ty, 1)?,
                }
                Ok(())
            })?,
            // DictionaryPageHeader: 1 num_values, 2 encoding.
            (7, STRUCT) => r.fields(1, |r, id, ty| {
                match (id, ty) {
                    (1, I16 | I32 | I64) => h.dict_values = Some(r.int()?),
                    (2, I16 | I32 | I64) => (h.encoding, encoded) = (r.int()? as i32, true),
                    _ => r.skip(ty, 1)?,
                }
                Ok(())
            })?,
            // DataPageHeaderV2: 3 num_rows, 4 encoding, 5 / 6 level byte lengths, 7 is_compressed.
            (8, STRUCT) => r.fields(1, |r, id, ty| {
                match (id, ty) {
                    (3, I16 | I32 | I64) => h.rows = Some(r.int()?),
                    (4, I16 | I32 | I64) => (h.encoding, encoded) = (r.int()? as i32, true),
                    (5, I16 | I32 | I64) => {
                        h.v2_def_len = r.int()?;
                        h.v2_levels = h.v2_levels.saturating_add(h.v2_def_len);
                    }
                    (6, I16 | I32 | I64) => h.v2_levels = h.v2_levels.saturating_add(r.int()?),
                    (7, TRUE | FALSE) => h.v2_compressed = ty == TRUE,
                    _ => r.skip(ty, 1)?,
                }
                Ok(())
            })?,
            _ => r.skip(ty, 0)?,
        }
        Ok(())
    })?;
    if seen != [true; 3] {
        return Err("a required field (type, uncompressed or compressed size) is missing".into());
    }
    if matches!(h.page_type, DATA_PAGE | DICTIONARY_PAGE | DATA_PAGE_V2) && !encoded {
        return Err("a page header without its encoding".into());
    }
    h.header_len = r.at;
    Ok(h)
}

// Thrift compact protocol type codes.
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;
/// Nesting deeper than this is corrupt (a page header nests three levels).
const MAX_DEPTH: usize = 16;

/// A thrift compact-protocol reader over a byte slice; every read is bounds-checked.
struct Compact<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Compact<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.buf.get(self.at).ok_or("the header runs past the end of the column chunk")?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a varint longer than ten bytes".into())
    }

    /// A zigzag-encoded integer (i16, i32 or i64).
    fn int(&mut self) -> Result<i64, String> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn advance(&mut self, n: u64) -> Result<(), String> {
        let left = (self.buf.len() - self.at) as u64;
        if n > left {
            return Err(format!("a field of {n} bytes runs past the end of the column chunk"));
        }
        self.at += n as usize;
        Ok(())
    }

    /// Reads a struct's fields up to its stop byte, calling `f(reader, id, type)` for each; `f`
    /// must consume the field's value (bools carry theirs in the type).
    fn fields(
        &mut self,
        depth: usize,
        mut f: impl FnMut(&mut Self, i16, u8) -> Result<(), String>,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("structs nested too deeply".into());
        }
        let mut last = 0i16;
        loop {
            let b = self.byte()?;
            if b == 0 {
                return Ok(());
            }
            let ty = b & 0x0f;
            let id = match b >> 4 {
                0 => i16::try_from(self.int()?).map_err(|_| "a field id out of range")?,
                delta => last.wrapping_add(i16::from(delta)),
            };
            last = id;
            f(self, id, ty)?;
        }
    }

    /// Skips one value of type `ty` (a field's: bools are in the type byte).
    fn skip(&mut self, ty: u8, depth: usize) -> Result<(), String> {
        self.skip_value(ty, depth, false)
    }

    /// Skips a value; `in_collection`: a bool element is a byte of its own.
    fn skip_value(&mut self, ty: u8, depth: usize, in_collection: bool) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("values nested too deeply".into());
        }
        match ty {
            TRUE | FALSE if in_collection => self.advance(1),
            TRUE | FALSE => Ok(()),
            BYTE => self.advance(1),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.advance(8),
            BINARY => {
                let n = self.varint()?;
                self.advance(n)
            }
            LIST | SET => {
                let b = self.byte()?;
                let n = match b >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                // Every element takes at least one byte: a count past the bytes left fails at once.
                if n > (self.buf.len() - self.at) as u64 {
                    return Err(format!("a list of {n} elements runs past the end of the column chunk"));
                }
                (0..n).try_for_each(|_| self.skip_value(b & 0x0f, depth + 1, true))
            }
            MAP => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                let kv = self.byte()?;
                if n > (self.buf.len() - self.at) as u64 {
                    return Err(format!("a map of {n} entries runs past the end of the column chunk"));
                }
                (0..n).try_for_each(|_| {
                    self.skip_value(kv >> 4, depth + 1, true)?;
                    self.skip_value(kv & 0x0f, depth + 1, true)
                })
            }
            STRUCT => self.fields(depth + 1, |r, _, ty| r.skip(ty, depth + 1)),
            other => Err(format!("unknown thrift type {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::basic::{GzipLevel, ZstdLevel};
    use std::io::Write;

    /// Thrift compact writing, only what the tests' headers need.
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn int_field(out: &mut Vec<u8>, delta: u8, v: i64) {
        out.push(delta << 4 | I32);
        varint(out, ((v << 1) ^ (v >> 63)) as u64);
    }

    /// A data page v1 header: type, sizes, a DataPageHeader with `num_values` and encodings, and
    /// (`junk`) an unknown binary field and a statistics-like struct to skip.
    fn v1_header(uncompressed: i64, compressed: i64, values: i64, junk: bool) -> Vec<u8> {
        let mut h = Vec::new();
        int_field(&mut h, 1, 0);
        int_field(&mut h, 1, uncompressed);
        int_field(&mut h, 1, compressed);
        h.push(2 << 4 | STRUCT); // field 5
        int_field(&mut h, 1, values);
        int_field(&mut h, 1, 0);
        int_field(&mut h, 1, 3);
        int_field(&mut h, 1, 3);
        if junk {
            h.push(1 << 4 | STRUCT); // field 5 of DataPageHeader: statistics
            h.push(1 << 4 | BINARY);
            varint(&mut h, 3);
            h.extend_from_slice(b"max");
            h.push(1 << 4 | LIST);
            h.push(3 << 4 | TRUE);
            h.extend_from_slice(&[1, 2, 1]);
            h.push(0);
        }
        h.push(0);
        if junk {
            h.push(0x0f << 4 | BINARY); // field 24, unknown to the reader
            varint(&mut h, 2);
            h.extend_from_slice(b"zz");
        }
        h.push(0);
        h
    }

    fn info(codec: Compression, rows: u64) -> ChunkInfo {
        ChunkInfo { codec, rows, flat: true, footer_uncompressed: 0 }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn parses_headers_and_skips_unknown_fields() {
        for junk in [false, true] {
            let h = v1_header(300, 120, 17, junk);
            let p = parse_header(&h).unwrap();
            assert_eq!((p.page_type, p.uncompressed, p.compressed, p.rows), (0, 300, 120, Some(17)));
            assert_eq!(p.header_len, h.len());
        }
    }

    #[test]
    fn integer_fields_of_any_integer_type_are_read_and_the_encoding_is_required() {
        // The data page header of fuzz round 18336: its encoding (9, BYTE_STREAM_SPLIT) came as
        // an i16 field, which the parquet crate reads as the encoding.
        let h = parse_header(&[
            0x15, 0x00, 0x15, 0x2c, 0x15, 0x2c, 0x2c, 0x15, 0x04, 0x14, 0x12, 0x15, 0x06, 0x15, 0x06, 0x00, 0x00,
        ])
        .unwrap();
        assert_eq!((h.page_type, h.compressed, h.rows, h.encoding, h.def_encoding), (DATA_PAGE, 22, Some(2), 9, 3));
        assert_eq!(h.header_len, 17);
        // Without the encoding field: an error, not PLAIN.
        let e =
            parse_header(&[0x15, 0x00, 0x15, 0x2c, 0x15, 0x2c, 0x2c, 0x15, 0x04, 0x25, 0x06, 0x15, 0x06, 0x00, 0x00])
                .unwrap_err();
        assert!(e.contains("encoding"), "{e}");
    }

    #[test]
    fn truncated_or_garbage_headers_are_errors_not_loops() {
        let h = v1_header(300, 120, 17, true);
        for cut in 0..h.len() {
            assert!(parse_header(&h[..cut]).is_err(), "cut at {cut}");
        }
        // A list declaring two billion binaries in a few bytes (cargo fuzz's slow input).
        let mut g = vec![0x0f << 4 | LIST, 0xf0 | BINARY];
        varint(&mut g, 2_000_000_000);
        g.extend_from_slice(&[1, 2, 3]);
        let t = std::time::Instant::now();
        assert!(parse_header(&g).unwrap_err().contains("2000000000 elements"));
        assert!(t.elapsed().as_millis() < 100);
        // Missing required sizes.
        assert!(parse_header(&[1 << 4 | I32, 0, 0]).unwrap_err().contains("required"));
    }

    #[test]
    fn chunk_walk_counts_rows_and_bounds_pages() {
        let mut chunk = v1_header(10, 10, 6, false);
        chunk.extend_from_slice(&[0; 10]);
        chunk.extend(v1_header(10, 10, 4, true));
        chunk.extend_from_slice(&[0; 10]);
        let (h1, h2) = (v1_header(10, 10, 6, false).len(), v1_header(10, 10, 4, true).len());
        // Both data pages, where they start and how long they are with their headers.
        assert_eq!(
            check_chunk(&chunk, info(Compression::UNCOMPRESSED, 10)),
            Ok(vec![(0, h1 + 10), (h1 + 10, h2 + 10)])
        );
        let (page, m) = check_chunk(&chunk, info(Compression::UNCOMPRESSED, 9)).unwrap_err();
        assert_eq!(page, Some(1));
        assert!(m.contains("more values than the footer's 9 rows"), "{m}");
        // Nested columns count levels, not rows.
        assert!(check_chunk(&chunk, ChunkInfo { flat: false, ..info(Compression::UNCOMPRESSED, 9) }).is_ok());
        let (page, m) = check_chunk(&chunk[..chunk.len() - 1], info(Compression::UNCOMPRESSED, 10)).unwrap_err();
        assert_eq!(page, Some(1));
        assert!(m.contains("run past the end"), "{m}");
    }

    #[test]
    fn declared_sizes_beyond_the_codec_are_bombs() {
        for (codec, ratio) in
            [(Compression::SNAPPY, 22), (Compression::LZ4_RAW, 256), (Compression::ZSTD(ZstdLevel::default()), 32768)]
        {
            let body = [0u8; 100];
            let ok = 100 * ratio + 1024;
            for (declared, bomb) in [(ok, false), (ok + 1, true)] {
                let mut chunk = v1_header(declared, 100, 1, false);
                chunk.extend_from_slice(&body);
                let r = check_chunk(&chunk, info(codec, 1));
                assert_eq!(r.is_err(), bomb, "{codec:?} declaring {declared}: {r:?}");
                if let Err((page, m)) = r {
                    assert_eq!(page, Some(0));
                    assert!(m.contains("decompression bomb") && m.contains("more than that codec"), "{m}");
                }
            }
        }
    }

    #[test]
    fn gzip_pages_that_inflate_past_their_header_are_bombs() {
        let zeros = vec![0u8; 16 << 20];
        let body = gzip(&zeros);
        let gz = Compression::GZIP(GzipLevel::default());
        let page = |declared: i64| {
            let mut chunk = v1_header(declared, body.len() as i64, 1, false);
            chunk.extend_from_slice(&body);
            chunk
        };
        assert!(check_chunk(&page(16 << 20), info(gz, 1)).is_ok());
        let (p, m) = check_chunk(&page(1 << 20), info(gz, 1)).unwrap_err();
        assert_eq!(p, Some(0));
        assert!(m.contains("inflates past the 1048576 bytes"), "{m}");
        // A page too small to overshoot by much is left to the crate's own size check.
        let small = gzip(&[0u8; 1000]);
        let mut chunk = v1_header(10, small.len() as i64, 1, false);
        chunk.extend_from_slice(&small);
        assert!(check_chunk(&chunk, info(gz, 1)).is_ok());
    }

    #[test]
    fn pages_declaring_more_than_the_footer_are_bombs() {
        let mut chunk = v1_header(500, 10, 1, false);
        chunk.extend_from_slice(&[0; 10]);
        let z = Compression::ZSTD(ZstdLevel::default());
        assert!(check_chunk(&chunk, ChunkInfo { footer_uncompressed: 500, ..info(z, 1) }).is_ok());
        let (p, m) = check_chunk(&chunk, ChunkInfo { footer_uncompressed: 499, ..info(z, 1) }).unwrap_err();
        assert_eq!(p, None);
        assert!(m.contains("more than the footer's 499"), "{m}");
    }
}
