//! Strings (BYTE_ARRAY columns read as `Utf8View`, `Utf8` or `LargeUtf8`): every row's 16-byte view written
//! into one pooled buffer. A PLAIN page is decompressed straight into its own range of one pooled
//! byte buffer, which the views of its long strings (over 12 bytes) point into; strings of up to
//! 12 bytes live in their views. A dictionary's entries become views once, and a
//! dictionary-encoded page is a gather of those views (its strings are never copied). A column
//! read as `Utf8` or `LargeUtf8` (pyarrow's and polars' files) is then laid out as offsets and one byte buffer from the views ([`to_utf8`],
//! in parallel parts).
use super::{hybrid, split_mut, spread, values_size, with_scratch, Column, Page, PLAIN};
use arrow::array::builder::make_view;
use arrow::array::{Array, ArrayRef, GenericStringArray, OffsetSizeTrait, StringViewArray};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::DataType;
use rayon::prelude::*;
use std::sync::Arc;

/// `column` (BYTE_ARRAY, read as `Utf8View`, `Utf8` or `LargeUtf8`) decoded; `Ok(None)`: an encoding this
/// decoder does not cover, or 4 GiB or more of PLAIN strings (a view's offset is 32 bits).
pub(super) fn decode(column: &Column) -> Result<Option<ArrayRef>, String> {
    let Some(views) = decode_views(column)? else { return Ok(None) };
    Ok(Some(match column.dt {
        DataType::Utf8 => to_utf8::<i32>(&views)?,
        DataType::LargeUtf8 => to_utf8::<i64>(&views)?,
        _ => Arc::new(views),
    }))
}

/// The column as string views.
fn decode_views(column: &Column) -> Result<Option<StringViewArray>, String> {
    let Some(w) = column.walk()? else { return Ok(None) };
    // Buffer 0: the PLAIN pages' values, decompressed, each page in its own place; then one
    // buffer per dictionary.
    let place = |p: &Page| if p.header.encoding == PLAIN { values_size(&p.header) } else { 0 };
    let plain_bytes: usize = w.pages.iter().map(place).sum();
    if plain_bytes > u32::MAX as usize {
        return Ok(None);
    }
    let mut buffers: Vec<Buffer> = Vec::with_capacity(1 + w.dictionaries.len());
    let mut dictionaries = Vec::with_capacity(w.dictionaries.len());
    for (k, d) in w.dictionaries.iter().enumerate() {
        let Some(d) = d else {
            dictionaries.push(None);
            continue;
        };
        let at = |m: String| format!("row group {}, page {}: {m}", column.run[k].group, d.number);
        let size = values_size(&d.header);
        let mut bytes = vec![0u8; size];
        super::decompress(w.codecs[k], &w.chunks[k][d.body.clone()], size, &mut bytes, true).map_err(at)?;
        let n = usize::try_from(d.header.dict_values.unwrap_or(-1))
            .map_err(|_| at("a dictionary page without a valid entry count".into()))?;
        let block = u32::try_from(1 + buffers.len()).map_err(|_| at("too many dictionaries".into()))?;
        let mut views = vec![0u128; n];
        plain_views(&bytes, block, 0, &mut views).map_err(at)?;
        dictionaries.push(Some(views));
        buffers.push(Buffer::from_vec(bytes));
    }
    let mut decoded = Err(String::new());
    let spill = ember_core::pool::filled_with::<u8>(plain_bytes, |spill| {
        let base = spill.as_ptr() as usize;
        let places = split_mut(spill, w.pages.iter().map(place));
        decoded = column.decode_pages::<u128, &mut [u8]>(&w, places, |p, place, out| {
            let body = &w.chunks[p.chunk][p.body.clone()];
            let codec = w.codecs[p.chunk];
            let (validity, present) = if p.header.encoding == PLAIN {
                let (validity, present, values) = column.front(p, body, codec, place, true)?;
                // The values were decompressed (or copied) into this page's place in buffer 0.
                let offset = values.as_ptr() as usize - base;
                plain_views(values, 0, offset, &mut out[..present])?;
                (validity, present)
            } else {
                with_scratch(values_size(&p.header), |dst| {
                    let (validity, present, values) = column.front(p, body, codec, dst, false)?;
                    let dictionary =
                        dictionaries[p.chunk].as_deref().ok_or("a dictionary-encoded page and no dictionary page")?;
                    let (&width, runs) = values.split_first().ok_or("an empty dictionary-encoded page")?;
                    hybrid(runs, u32::from(width), &mut out[..present], dictionary)?;
                    Ok::<_, String>((validity, present))
                })?
            };
            if let Some(v) = &validity {
                spread(out, present, v);
            }
            Ok(validity)
        });
    });
    let (views, nulls) = decoded?;
    buffers.insert(0, spill.into_inner());
    // Dictionary views were made with block `1 + k` counting only the buffers before buffer 0
    // was inserted: the insertion shifts them to exactly those indices.
    // SAFETY: every view was made by `make_view` from a slice of the buffer it names (at the
    // offset it records), or is zero (an empty string, for a null row); every such slice was
    // checked to be UTF-8 (`plain_views`).
    let array = unsafe { StringViewArray::new_unchecked(views, buffers.into(), nulls) };
    Ok(Some(array))
}

/// The strings of `a` as a `Utf8` (`O = i32`) or `LargeUtf8` (`i64`) array: offsets and one byte
/// buffer (pooled), written in parallel parts of 64K rows. An error past 2 GiB of strings in a
/// `Utf8` column (its offsets are 32 bits, as the crate would fail too; `ParquetChunks` reads
/// such a column in pieces).
fn to_utf8<O: OffsetSizeTrait + bytemuck::Pod>(a: &StringViewArray) -> Result<ArrayRef, String> {
    const PART: usize = 64 * 1024;
    let views = a.views();
    let len = |v: u128| v as u32 as usize;
    let totals: Vec<usize> = views.par_chunks(PART).map(|c| c.iter().map(|&v| len(v)).sum()).collect();
    let total: usize = totals.iter().sum();
    let Some(last) = O::from_usize(total) else {
        return Err(format!("{total} bytes of strings, more than a Utf8 column holds (2 GiB): read in chunks"));
    };
    let starts: Vec<usize> = totals
        .iter()
        .scan(0, |at, &t| {
            let s = *at;
            *at += t;
            Some(s)
        })
        .collect();
    let n = views.len();
    let offsets = ember_core::pool::filled_with::<O>(n + 1, |out| {
        out[n] = last;
        out[..n].par_chunks_mut(PART).zip(views.par_chunks(PART)).zip(&starts).for_each(|((o, v), &at)| {
            let mut at = at;
            for (o, &v) in o.iter_mut().zip(v) {
                *o = O::usize_as(at); // at <= total, which fits (checked above)
                at += len(v);
            }
        })
    });
    let buffers = a.data_buffers();
    let bytes = ember_core::pool::filled_with::<u8>(total, |out| {
        split_mut(out, totals.iter().copied()).into_par_iter().zip(views.par_chunks(PART)).for_each(|(out, v)| {
            let mut at = 0;
            for &v in v {
                let n = len(v);
                if n <= 12 {
                    // A short string is in its view, after the length: all 12 bytes are copied
                    // where there is room (a fixed-size move, not a `memcpy` call; the next
                    // string overwrites the excess).
                    let inline = v.to_le_bytes();
                    match out.get_mut(at..at + 12) {
                        Some(dst) => dst.copy_from_slice(&inline[4..16]),
                        None => out[at..at + n].copy_from_slice(&inline[4..4 + n]),
                    }
                } else {
                    // A long one: buffer index in bits 64..96, offset in bits 96..128.
                    let (buffer, from) = ((v >> 64) as u32 as usize, (v >> 96) as u32 as usize);
                    out[at..at + n].copy_from_slice(&buffers[buffer][from..from + n]);
                }
                at += n;
            }
        })
    });
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets.into_inner()));
    // SAFETY: the offsets start at 0, grow by each string's length and end at the bytes' length;
    // the bytes are the view array's strings, each checked to be UTF-8 when it was decoded.
    let strings = unsafe { GenericStringArray::<O>::new_unchecked(offsets, bytes.into_inner(), a.nulls().cloned()) };
    Ok(Arc::new(strings))
}

/// Fills `out` with the views of the first `out.len()` PLAIN strings in `bytes` (each a 4-byte
/// length and its bytes), which are at byte `offset` of buffer `block`. Checks that each is
/// UTF-8 (at once for a page that is all ASCII, length prefixes included).
fn plain_views(bytes: &[u8], block: u32, offset: usize, out: &mut [u128]) -> Result<(), String> {
    let ascii = bytes.is_ascii();
    let mut at = 0usize;
    for (i, o) in out.iter_mut().enumerate() {
        let len = bytes.get(at..at + 4).ok_or_else(|| format!("the page ends inside string {i}'s length"))?;
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        at += 4;
        let s = bytes.get(at..at + len).ok_or_else(|| format!("string {i} runs past the end of its page"))?;
        if !ascii && std::str::from_utf8(s).is_err() {
            return Err(format!("string {i} is not valid UTF-8"));
        }
        let from = u32::try_from(offset + at).map_err(|_| "strings past 4 GiB".to_string())?;
        *o = make_view(s, block, from);
        at += len;
    }
    Ok(())
}
