//! The CPU CSV reader over a large file, a window of records at a time: the file's bytes are never
//! all in memory, only the decoded columns are (the whole-file read holds both while it decodes).
//!
//! It is an optimistic path. It takes files whose records can be cut anywhere a newline is outside
//! quotes (no escape character, no comment lines, no `n_rows`, no byte range) and whose header and
//! type-inference sample fit in the first window. Any decode error sends the file to the
//! whole-file reader ([`super::read::read_csv`]'s fallback), which reads it again and names the
//! line and column, so errors are the same on both paths.
use super::read::Layout;
use super::split::{count, in_quotes_at, record_starts};
use super::CsvReadOptions;
use crate::assemble::{string_bytes, Assembler};
use crate::file::io_error;
use ember_core::{DataFrame, Result};
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Files below this size are read whole (the saving is small and one window is the whole file).
pub(super) const STREAM_MIN_BYTES: u64 = 128 << 20;
/// Bytes read per window.
pub(super) const WINDOW_BYTES: usize = 8 << 20;

/// The frame of `path` read a window at a time, or `None` when this path does not take the file
/// or met an error (the caller then reads it whole).
pub(super) fn read(path: &Path, options: &CsvReadOptions, window: usize) -> Result<Option<DataFrame>> {
    let streamable = options.escape.is_none()
        && options.comment.is_none()
        && options.n_rows.is_none()
        && options.byte_range.is_none()
        && (options.schema.is_some() || options.infer_schema_length.is_some());
    if !streamable {
        return Ok(None);
    }
    let name = path.display().to_string();
    let mut file = File::open(path).map_err(|e| io_error(path, e))?;
    let mut buf: Vec<u8> = Vec::with_capacity(window + (1 << 20));
    let quote_byte = options.quote.unwrap_or(0);
    let quote = Some(quote_byte);
    let (mut eof, mut quotes) = fill(&mut file, &mut buf, window, quote_byte, path)?;
    // Quote-aware splitting only where the window holds quotes.
    let split_quote = |quotes: usize| (quotes > 0).then_some(quote_byte);
    // The first window: the skipped rows, the header and the inference sample decide the layout,
    // from a copy of just those records (the window's buffer is reused).
    let Some(cut) = last_record_end(&buf, split_quote(quotes), eof) else { return Ok(None) };
    let sample = if options.schema.is_some() { 0 } else { options.infer_schema_length.unwrap_or(0) };
    let records = options.skip_rows + options.has_header as usize + sample;
    let starts = record_starts(&buf[..cut], quote);
    let head_end = match starts.get(records) {
        Some(&end) => end,
        None if eof => cut,
        None => return Ok(None), // the sample is longer than a window
    };
    let head = buf[..head_end].to_vec();
    let layout = Layout::new(&head, &name, options)?;
    let schema = layout.out_schema();
    // Each window's columns are appended to the frame's as soon as they are decoded (their
    // memory then serves the next window), into buffers sized from the first window's rows and
    // string bytes per file byte.
    let file_len = file.metadata().map_err(|e| io_error(path, e))?.len() as usize;
    let mut frame: Option<Assembler> = None;
    let mut start = layout.start;
    let mut cut = cut;
    // The buffer the next window is read into: the one before last, its pages already mapped.
    let mut spare = Vec::new();
    loop {
        // The next window is read from the file while this one is decoded.
        let (decoded, next) = std::thread::scope(|scope| {
            let spare = std::mem::take(&mut spare);
            let reader = (!eof).then(|| scope.spawn(|| read_window(&mut file, spare, window, quote_byte, path)));
            let decoded = layout.over(&buf, start, cut, quotes == 0).read_batches();
            (decoded, reader.map(|r| r.join()))
        });
        let batches = match decoded {
            Ok(b) => b,
            Err(_) => return Ok(None),
        };
        let frame = frame.get_or_insert_with(|| {
            let scale = |n: usize| (n as f64 * file_len as f64 / (cut - start).max(1) as f64 * 1.02) as usize + 1024;
            let rows = batches.iter().map(|b| b.num_rows()).sum();
            let bytes: Vec<usize> = (0..schema.fields().len()).map(|c| scale(string_bytes(&batches, c))).collect();
            Assembler::new(schema.clone(), scale(rows), &bytes)
        });
        frame.push(batches)?;
        let Some(next) = next else { break }; // (at the end of the file every record was cut)
        let (mut next, next_eof, next_quotes) = next.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        // The cut-off record goes in the room in front of the next window's bytes.
        let carry = &buf[cut..];
        quotes = next_quotes + count(carry, quote_byte);
        start = match CARRY_ROOM.checked_sub(carry.len()) {
            Some(at) => {
                next[at..CARRY_ROOM].copy_from_slice(carry);
                at
            }
            None => {
                let mut joined = carry.to_vec();
                joined.extend_from_slice(&next[CARRY_ROOM..]);
                next = joined;
                0
            }
        };
        spare = std::mem::replace(&mut buf, next);
        eof = next_eof;
        match last_record_end(&buf[start..], split_quote(quotes), eof) {
            Some(c) => cut = start + c,
            None => return Ok(None), // one record longer than a window
        }
    }
    match frame {
        Some(frame) => Ok(Some(frame.finish()?)),
        None => Ok(Some(crate::assemble::concat_frames(schema, Vec::new())?)),
    }
}

/// Room left at the front of each window after the first for the record the previous window
/// cut off (a longer record costs a copy of the window).
const CARRY_ROOM: usize = 1 << 16;

/// The next `window` bytes of `file` (or fewer at its end) after [`CARRY_ROOM`] bytes of room,
/// in `buf` (emptied first); whether the file ended, and the quote bytes read.
fn read_window(
    file: &mut File,
    mut buf: Vec<u8>,
    window: usize,
    quote: u8,
    path: &Path,
) -> Result<(Vec<u8>, bool, usize)> {
    buf.clear();
    buf.reserve(CARRY_ROOM + window);
    buf.resize(CARRY_ROOM, 0);
    let (eof, quotes) = fill(file, &mut buf, window, quote, path)?;
    Ok((buf, eof, quotes))
}

/// Bytes read at a time by [`fill`], counted while they are in cache.
const READ_STEP: usize = 1 << 20;

/// Appends up to `window` bytes of `file` to `buf`; whether the file ended, and how many of the
/// bytes are `quote`. The bytes are counted a step at a time just after they land, while they
/// are in cache: a window without quotes is then split at newlines alone, and its bytes are not
/// read once more to count them.
fn fill(file: &mut File, buf: &mut Vec<u8>, window: usize, quote: u8, path: &Path) -> Result<(bool, usize)> {
    let before = buf.len();
    let mut quotes = 0;
    while buf.len() - before < window {
        let at = buf.len();
        let step = READ_STEP.min(window - (at - before));
        let read = file.by_ref().take(step as u64).read_to_end(buf).map_err(|e| io_error(path, e))?;
        quotes += count(&buf[at..], quote);
        if read < step {
            return Ok((true, quotes));
        }
    }
    Ok((buf.len() == before, quotes))
}

/// The end of the last complete record of `buf` (which starts at a record start): everything
/// at the end of the file, else just past the last newline outside quotes. `None` when no
/// newline outside quotes is found.
fn last_record_end(buf: &[u8], quote: Option<u8>, eof: bool) -> Option<usize> {
    if eof {
        return Some(buf.len());
    }
    let mut end = buf.len();
    while let Some(i) = memchr::memrchr(b'\n', &buf[..end]) {
        if !in_quotes_at(buf, i, quote) {
            return Some(i + 1);
        }
        end = i;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv::read_csv_bytes;

    fn temp_file(name: &str, data: &[u8]) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("ember-stream-{}-{name}", std::process::id()));
        std::fs::write(&p, data).unwrap();
        p
    }

    /// Records with quoted delimiters, doubled quotes and newlines, nulls, CRLF line ends.
    fn sample_file(rows: usize) -> Vec<u8> {
        let mut s = String::from("id,name,score,flag\r\n");
        for i in 0..rows {
            let name = match i % 5 {
                0 => format!("\"multi\nline {i}\""),
                1 => format!("\"comma, {i}\""),
                2 => format!("\"say \"\"hi\"\" {i}\""),
                3 => String::new(),
                _ => format!("plain{i}"),
            };
            let score = if i % 7 == 0 { String::new() } else { format!("{}.{}", i, i % 10) };
            s.push_str(&format!("{i},{name},{score},{}\r\n", i % 2 == 0));
        }
        s.into_bytes()
    }

    #[test]
    fn windows_read_what_the_whole_file_reads() {
        let data = sample_file(3000);
        let path = temp_file("ok.csv", &data);
        // (The default inference sample, 1000 records, needs a window of about 30 KB.)
        for (opts, windows) in [
            (CsvReadOptions::default(), vec![40_000, 1 << 20]),
            (CsvReadOptions::default().with_infer_schema_length(Some(10)), vec![300, 4096]),
            (CsvReadOptions::default().with_columns(["score", "name"]), vec![40_000]),
        ] {
            let whole = read_csv_bytes(&data, "mem.csv", &opts).unwrap();
            for window in windows {
                let streamed = read(&path, &opts, window).unwrap().expect("streamable");
                assert_eq!(streamed.num_rows(), 3000);
                assert_eq!(streamed.to_record_batch().unwrap(), whole.to_record_batch().unwrap(), "window {window}");
            }
        }
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn records_longer_than_the_carry_room_are_carried_whole() {
        // Records of ~75 KB (past CARRY_ROOM) cut off at the ends of 250 KB windows.
        let mut data = String::from("id,text\n");
        for i in 0..12 {
            data.push_str(&format!("{i},\"{}\"\n", "x,\n".repeat(25_000 + i * 11)));
        }
        let path = temp_file("long.csv", data.as_bytes());
        // (a sample of one record: it must fit in the first window)
        let opts = CsvReadOptions::default().with_infer_schema_length(Some(1));
        let whole = read_csv_bytes(data.as_bytes(), "mem.csv", &opts).unwrap();
        let streamed = read(&path, &opts, 250_000).unwrap().expect("streamable");
        assert_eq!(streamed.num_rows(), 12);
        assert_eq!(streamed.to_record_batch().unwrap(), whole.to_record_batch().unwrap());
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn what_windows_cannot_read_goes_to_the_whole_file_reader() {
        // A bad value past the first window: the windows give up; the whole-file reader names it.
        let mut data = sample_file(2000);
        data.extend_from_slice(b"2000,x,notanumber,true\n");
        let path = temp_file("bad.csv", &data);
        let opts = CsvReadOptions::default();
        assert!(read(&path, &opts, 4096).unwrap().is_none());
        let e = super::super::read::read_whole(&path, &opts).unwrap_err().to_string();
        assert!(e.contains("notanumber") && e.contains("score"), "{e}");
        // An inference sample longer than the window, and options the windows do not take.
        assert!(read(&path, &opts, 300).unwrap().is_none());
        assert!(read(&path, &CsvReadOptions::default().with_n_rows(5), 4096).unwrap().is_none());
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn the_last_record_ends_at_a_newline_outside_quotes() {
        let q = Some(b'"');
        assert_eq!(last_record_end(b"a,b\n1,2\n3,", q, false), Some(8));
        assert_eq!(last_record_end(b"a,b\n1,\"x\ny", q, false), Some(4));
        assert_eq!(last_record_end(b"a,b\n1,2", q, true), Some(7));
        assert_eq!(last_record_end(b"\"a\nb", q, false), None);
    }
}
