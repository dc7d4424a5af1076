//! The CPU CSV reader's fast path: a piece of plain records (no carriage return or blank line in
//! it; quoted fields as RFC 4180 has them) whose columns are all `Int32`, `Int64`, `Float64`,
//! `Decimal128`, `Date32` or `Utf8`, decoded without `arrow-csv`. Fields are found 64 bytes at a
//! time (bit masks of the delimiters, newlines and quotes; a prefix XOR of the quotes tells which
//! bytes are inside quotes), then each column is parsed from its fields.
//!
//! Hand-written although `arrow-csv` decodes these files: its byte-at-a-time record reader and
//! per-field parsers were three quarters of a read of TPC-H `lineitem` (perf, session 28), and
//! pandas read that file in half ember's time. This path is optimistic and narrow: it accepts
//! only values in a strict form (`-?[0-9]{1,18}` integers, `-?[0-9]*.?[0-9]*` floats,
//! `-?[0-9]+(.[0-9]+)?` decimals within their precision and scale, ISO `YYYY-MM-DD` dates, empty
//! fields as nulls, quoted strings whose quotes are doubled inside) and says `None` for anything
//! else in the piece, which `arrow-csv` then decodes (or names as an error). What it accepts it decodes to what
//! `arrow-csv` gives: floats are parsed correctly rounded (Rust's parser, as `arrow-csv`'s
//! `lexical-core`: one answer), dates by the proleptic Gregorian calendar.
use super::CsvReadOptions;
use arrow::array::{
    ArrayRef, BooleanBufferBuilder, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Schema};
use std::sync::Arc;

/// Whether the fast path can take records of `schema` read with `opts` (before looking at bytes).
pub(super) fn applies(schema: &Schema, opts: &CsvReadOptions) -> bool {
    opts.escape.is_none()
        && opts.comment.is_none()
        && opts.n_rows.is_none()
        && opts.null_values.len() == 1
        && opts.null_values[0].is_empty()
        && opts.delimiter != b'\n'
        && opts.delimiter != b'\r'
        && schema.fields().iter().all(|f| match f.data_type() {
            DataType::Int32 | DataType::Int64 | DataType::Float64 | DataType::Date32 | DataType::Utf8 => true,
            &DataType::Decimal128(p, s) => s >= 0 && s as u8 <= p,
            _ => false,
        })
}

/// The records of `data` (whole records; the last may lack its newline) as one batch of the
/// `projection` of `schema`, or `None` when the fast path does not take them.
pub(super) fn decode(
    data: &[u8],
    schema: &Schema,
    projection: &[usize],
    delimiter: u8,
    quote: u8,
) -> Option<RecordBatch> {
    if data.is_empty() || u32::try_from(data.len()).is_err() {
        return None;
    }
    let columns = schema.fields().len();
    let Fields { ends, quotes, wide } = field_ends(data, delimiter, quote, columns)?;
    // Quotes the quoted strings below account for: every quote of the piece must be one of
    // theirs (a quote inside an unquoted field is text to arrow-csv, not an opening quote as the
    // split took it; numbers and dates refuse quotes).
    let mut accounted = 0usize;
    let rows = (ends.len() - 1) / columns;
    // Strings are cut from the piece at ASCII bytes: valid UTF-8 when the piece is.
    if wide
        && projection.iter().any(|&c| schema.field(c).data_type() == &DataType::Utf8)
        && std::str::from_utf8(data).is_err()
    {
        return None;
    }
    // `ends[i]` is where field i - 1 ends (`ends[0]` is -1, wrapped): field i starts just after.
    let field = |r: usize, c: usize| {
        let i = r * columns + c;
        ends[i].wrapping_add(1) as usize..ends[i + 1] as usize
    };
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(projection.len());
    for &c in projection {
        let mut valid = Validity::new(rows);
        let array: ArrayRef = match schema.field(c).data_type() {
            DataType::Int64 => {
                let v = values(rows, |r| &data[field(r, c)], &mut valid, int)?;
                Arc::new(Int64Array::new(ScalarBuffer::from(v), valid.finish()))
            }
            DataType::Int32 => {
                let v = values(rows, |r| &data[field(r, c)], &mut valid, |f| i32::try_from(int(f)?).ok())?;
                Arc::new(Int32Array::new(ScalarBuffer::from(v), valid.finish()))
            }
            DataType::Float64 => {
                let v = values(rows, |r| &data[field(r, c)], &mut valid, float)?;
                Arc::new(Float64Array::new(ScalarBuffer::from(v), valid.finish()))
            }
            DataType::Date32 => {
                let v = values(rows, |r| &data[field(r, c)], &mut valid, date)?;
                Arc::new(Date32Array::new(ScalarBuffer::from(v), valid.finish()))
            }
            &DataType::Decimal128(precision, scale) => {
                let mut v = Vec::with_capacity(rows);
                for r in 0..rows {
                    let f = &data[field(r, c)];
                    v.push(if valid.push(!f.is_empty()) { decimal(f, precision, scale)? } else { 0 });
                }
                let a = Decimal128Array::new(ScalarBuffer::from(v), valid.finish());
                Arc::new(a.with_precision_and_scale(precision, scale).ok()?)
            }
            DataType::Utf8 => {
                let mut offsets = Vec::with_capacity(rows + 1);
                offsets.push(0i32);
                let mut bytes = Vec::with_capacity((0..rows).map(|r| field(r, c).len()).sum::<usize>() + SHORT);
                for r in 0..rows {
                    let at = field(r, c);
                    let f = &data[at.clone()];
                    if quotes > 0 && f.first() == Some(&quote) {
                        accounted += unquote(f, quote, Some(&mut bytes))?;
                        valid.push(f.len() > 2);
                    } else {
                        valid.push(!f.is_empty());
                        append(&mut bytes, data, at);
                    }
                    offsets.push(i32::try_from(bytes.len()).ok()?);
                }
                // SAFETY: the offsets start at 0 and ascend to the bytes' length; each string is
                // a field of the piece (valid UTF-8) cut at ASCII delimiters, newlines and
                // quotes, so valid UTF-8.
                let offsets = unsafe { OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)) };
                // SAFETY: as above; the nulls have one bit per row.
                Arc::new(unsafe { StringArray::new_unchecked(offsets, bytes.into(), valid.finish()) })
            }
            _ => return None,
        };
        arrays.push(array);
    }
    if accounted != quotes {
        // The quoted strings of the columns not read.
        for c in (0..columns).filter(|c| !projection.contains(c)) {
            for r in 0..rows {
                let f = &data[field(r, c)];
                if f.first() == Some(&quote) {
                    accounted += unquote(f, quote, None)?;
                }
            }
        }
        if accounted != quotes {
            return None;
        }
    }
    let projected = Arc::new(schema.project(projection).ok()?);
    let opts = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(projected, arrays, &opts).ok()
}

/// Column values parsed from each row's field (`field(r)`) by `parse`, an empty field a null
/// (recorded in `valid`, the value zero); `None` if any field does not parse.
fn values<'d, T: Default>(
    rows: usize,
    field: impl Fn(usize) -> &'d [u8],
    valid: &mut Validity,
    parse: impl Fn(&[u8]) -> Option<T>,
) -> Option<Vec<T>> {
    let mut v = Vec::with_capacity(rows);
    for r in 0..rows {
        let f = field(r);
        v.push(if valid.push(!f.is_empty()) { parse(f)? } else { T::default() });
    }
    Some(v)
}

/// Longest string [`append`] copies as one fixed-size block.
const SHORT: usize = 32;

/// Appends `data[at]` to `out`. A string of at most [`SHORT`] bytes (most CSV strings) is copied
/// as one 32-byte block, past its end in both buffers when they have the room (the bytes after
/// it are overwritten by the next string or never read): a `memcpy` call per string was a tenth
/// of a `lineitem` read.
#[inline(always)]
fn append(out: &mut Vec<u8>, data: &[u8], at: std::ops::Range<usize>) {
    let n = at.len();
    if n <= SHORT && at.start + SHORT <= data.len() && out.capacity() - out.len() >= SHORT {
        // SAFETY: `SHORT` bytes are readable from `at.start` and writable at `out`'s end (both
        // checked above); the first `n` written are `data[at]`, initialised.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr().add(at.start), out.as_mut_ptr().add(out.len()), SHORT);
            out.set_len(out.len() + n);
        }
    } else {
        out.extend_from_slice(&data[at]);
    }
}

/// Validity bits, built only once a null is seen.
struct Validity {
    bits: Option<BooleanBufferBuilder>,
    rows: usize,
    at: usize,
}

impl Validity {
    fn new(rows: usize) -> Validity {
        Validity { bits: None, rows, at: 0 }
    }

    /// Records one row; returns `valid`.
    #[inline(always)]
    fn push(&mut self, valid: bool) -> bool {
        if !valid && self.bits.is_none() {
            let mut b = BooleanBufferBuilder::new(self.rows);
            b.append_n(self.at, true);
            self.bits = Some(b);
        }
        if let Some(b) = &mut self.bits {
            b.append(valid);
        }
        self.at += 1;
        valid
    }

    fn finish(self) -> Option<NullBuffer> {
        self.bits.map(|mut b| NullBuffer::new(b.finish()))
    }
}

/// Appends the text of quoted field `f` (`"..."`, a quote inside doubled) to `out` if given;
/// `None` for anything else (a lone quote inside, text after the closing quote), which
/// `arrow-csv` decides.
/// The quotes it held.
fn unquote(f: &[u8], quote: u8, mut out: Option<&mut Vec<u8>>) -> Option<usize> {
    let inner = f.strip_prefix(&[quote])?.strip_suffix(&[quote])?;
    let mut rest = inner;
    let mut quotes = 2;
    while let Some(i) = memchr::memchr(quote, rest) {
        if rest.get(i + 1) != Some(&quote) {
            return None;
        }
        if let Some(out) = out.as_deref_mut() {
            out.extend_from_slice(&rest[..=i]);
        }
        rest = &rest[i + 2..];
        quotes += 2;
    }
    if let Some(out) = out {
        out.extend_from_slice(rest);
    }
    Some(quotes)
}

/// A piece's fields: where each ends, and what the split saw on the way.
struct Fields {
    /// The end of every field (the offset of the delimiter or newline after it), record after
    /// record, after a first `u32::MAX` (the end of "field -1").
    ends: Vec<u32>,
    /// Quotes in the piece.
    quotes: usize,
    /// Whether some byte is not ASCII (the piece must then be checked for valid UTF-8).
    wide: bool,
}

/// The fields of `data`, delimiters and newlines inside quotes skipped. `None` unless every
/// record has exactly `columns` fields, no line is blank, no quote is left open and the piece
/// holds no carriage return.
///
/// Each 64-byte block's field ends are written eight at a time without looking at how many there
/// are (a row of `lineitem` has a field every 8 bytes): no branch per field. The records are
/// checked once afterwards: the ends at `columns`, `2 * columns`, ... must be newlines, and there
/// must be no other newline, so every record has `columns` fields.
fn field_ends(data: &[u8], delimiter: u8, quote: u8, columns: usize) -> Option<Fields> {
    let mut ends: Vec<u32> = Vec::with_capacity(data.len() / 4 + 64);
    ends.push(u32::MAX);
    let (mut quotes, mut newlines, mut odd, mut wide) = (0usize, 0usize, 0u64, 0u64);
    // Whether the previous block ended inside quotes (all ones) or not.
    let mut carry = 0u64;
    let mut block_of = |b: usize, block: &[u8; 64]| {
        let m = masks(block, delimiter, quote);
        quotes += m.quote.count_ones() as usize;
        (odd, wide) = (odd | m.cr, wide | m.high);
        // Bit i of `inside`: byte i is inside quotes (an opening quote counts as inside, its
        // closing quote as outside; a doubled quote toggles twice): a prefix XOR of the quotes.
        let mut inside = m.quote;
        for shift in [1, 2, 4, 8, 16, 32] {
            inside ^= inside << shift;
        }
        inside ^= carry;
        carry = 0u64.wrapping_sub(inside >> 63);
        newlines += (m.newline & !inside).count_ones() as usize;
        let mut all = (m.delimiter | m.newline) & !inside;
        let count = all.count_ones() as usize;
        ends.reserve(64);
        let at = (b * 64) as u32;
        let out = ends.spare_capacity_mut();
        // Eight ends written whatever the count (past it they are never read), then the rest.
        for slot in &mut out[..8] {
            slot.write(at + all.trailing_zeros());
            all &= all.wrapping_sub(1);
        }
        for slot in out.iter_mut().take(count).skip(8) {
            slot.write(at + all.trailing_zeros());
            all &= all.wrapping_sub(1);
        }
        // SAFETY: the first `count` spare slots (at most 64, all reserved) were written above.
        unsafe { ends.set_len(ends.len() + count) };
    };
    let blocks = data.chunks_exact(64);
    let tail = blocks.remainder();
    let full = blocks.len();
    for (b, block) in blocks.enumerate() {
        block_of(b, block.try_into().expect("64 bytes"));
    }
    if !tail.is_empty() {
        // The last bytes, padded with an ASCII byte that is none of the four.
        let pad = (0u8..128).find(|p| ![b'\n', b'\r', delimiter, quote].contains(p)).expect("a free byte");
        let mut last = [pad; 64];
        last[..tail.len()].copy_from_slice(tail);
        block_of(full, &last);
    }
    if carry != 0 || odd != 0 {
        return None; // a quote left open, or a carriage return
    }
    if data.last() != Some(&b'\n') {
        // The last record, without its newline.
        ends.push(data.len() as u32);
        newlines += 1;
    }
    let fields = ends.len() - 1;
    if fields == 0 || !fields.is_multiple_of(columns) || newlines != fields / columns {
        return None;
    }
    let newline_at = |e: u32| data.get(e as usize).is_none_or(|&b| b == b'\n');
    if !ends.iter().skip(columns).step_by(columns).all(|&e| newline_at(e)) {
        return None;
    }
    // One column: every end is a newline, and two in a row are a blank line.
    if columns == 1 && ends.windows(2).any(|w| w[1] == w[0].wrapping_add(1)) {
        return None;
    }
    Some(Fields { ends, quotes, wide: wide != 0 })
}

/// Bit masks of a 64-byte block (bit `i`: byte `i`).
#[derive(Default)]
struct Masks {
    delimiter: u64,
    newline: u64,
    quote: u64,
    /// Carriage returns.
    cr: u64,
    /// Bytes past ASCII.
    high: u64,
}

/// The [`Masks`] of `block`.
fn masks(block: &[u8; 64], delimiter: u8, quote: u8) -> Masks {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
        // SAFETY: SSE2 is part of every x86_64 target; each load reads 16 of the block's 64
        // bytes (unaligned loads).
        unsafe {
            let dv = _mm_set1_epi8(delimiter as i8);
            let nv = _mm_set1_epi8(b'\n' as i8);
            let qv = _mm_set1_epi8(quote as i8);
            let rv = _mm_set1_epi8(b'\r' as i8);
            let mut m = Masks::default();
            for k in 0..4 {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * k) as *const __m128i);
                let bits = |x: __m128i| (_mm_movemask_epi8(x) as u16 as u64) << (16 * k);
                m.delimiter |= bits(_mm_cmpeq_epi8(v, dv));
                m.newline |= bits(_mm_cmpeq_epi8(v, nv));
                m.quote |= bits(_mm_cmpeq_epi8(v, qv));
                m.cr |= bits(_mm_cmpeq_epi8(v, rv));
                m.high |= bits(v);
            }
            m
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut m = Masks::default();
        for (i, &x) in block.iter().enumerate() {
            m.delimiter |= u64::from(x == delimiter) << i;
            m.newline |= u64::from(x == b'\n') << i;
            m.quote |= u64::from(x == quote) << i;
            m.cr |= u64::from(x == b'\r') << i;
            m.high |= u64::from(x >= 0x80) << i;
        }
        m
    }
}

/// `-?[0-9]{1,18}` as an integer (18 digits cannot overflow).
fn int(f: &[u8]) -> Option<i64> {
    let (neg, digits) = match f.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, f),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v = 0i64;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(if neg { -v } else { v })
}

/// `-?[0-9]*(\.[0-9]*)?` with at least one digit, correctly rounded.
fn float(f: &[u8]) -> Option<f64> {
    let digits = f.strip_prefix(b"-").unwrap_or(f);
    // One pass: the digits as an integer (while it has at most 15 of them) and how many follow
    // the point; any other byte refuses the field.
    let (mut m, mut count, mut scale, mut dot) = (0u64, 0usize, 0usize, false);
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d <= 9 {
            if count < 15 {
                m = m * 10 + u64::from(d);
            }
            count += 1;
            scale += usize::from(dot);
        } else if b == b'.' && !dot {
            dot = true;
        } else {
            return None;
        }
    }
    if count == 0 {
        return None;
    }
    // Clinger's fast path: at most 15 digits make an integer exact in an f64, and a power of
    // ten up to 1e22 is exact too, so one IEEE division rounds correctly: the bits of any correct
    // parser (Rust's below, arrow-csv's lexical-core). Longer numbers go to Rust's parser.
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22,
    ];
    if count <= 15 {
        let v = m as f64 / POW10[scale];
        return Some(if digits.len() < f.len() { -v } else { v });
    }
    // ASCII digits, '-' and '.': valid UTF-8.
    std::str::from_utf8(f).ok()?.parse().ok()
}

/// `-?[0-9]+(\.[0-9]+)?` with at most `scale` decimals and `precision` digits in all (once
/// padded to the scale), as the integer of a `Decimal128(precision, scale)`.
fn decimal(f: &[u8], precision: u8, scale: i8) -> Option<i128> {
    let digits = f.strip_prefix(b"-").unwrap_or(f);
    let (whole, fraction) = match memchr::memchr(b'.', digits) {
        Some(i) => (&digits[..i], &digits[i + 1..]),
        None => (digits, &digits[digits.len()..]),
    };
    let scale = usize::try_from(scale).ok()?;
    let dot = digits.len() > whole.len();
    if whole.is_empty() || (dot && fraction.is_empty()) || fraction.len() > scale {
        return None;
    }
    // (leading zeros do not count towards the precision)
    let significant = whole.iter().position(|&b| b != b'0').map_or(0, |i| whole.len() - i);
    if significant + scale > usize::from(precision) {
        return None;
    }
    let mut v = 0i128;
    for &b in whole.iter().chain(fraction) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i128::from(d);
    }
    v *= 10i128.pow((scale - fraction.len()) as u32);
    Some(if digits.len() < f.len() { -v } else { v })
}

/// `YYYY-MM-DD` as days since 1970-01-01, for a real calendar date (years 0001-9999).
fn date(f: &[u8]) -> Option<i32> {
    let f: &[u8; 10] = f.try_into().ok()?;
    if (f[4], f[7]) != (b'-', b'-') {
        return None;
    }
    // The eight digits in one word (year, month, day; the first in the low byte), each checked
    // and turned into its value at once, then combined in pairs (SWAR): no branch per byte.
    let head = u64::from_le_bytes(f[..8].try_into().ok()?);
    let x = (head & 0xffff_ffff) | ((head >> 8) & 0xffff_0000_0000) | u64::from(f[8]) << 48 | u64::from(f[9]) << 56;
    // 0x30-0x39: high nibble 3, and adding 6 keeps it 3.
    const HIGH: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const THREES: u64 = 0x3030_3030_3030_3030;
    if x & HIGH != THREES || (x + 0x0606_0606_0606_0606) & HIGH != THREES {
        return None;
    }
    let pairs = ((x - THREES) * 10 + ((x - THREES) >> 8)) & 0x00ff_00ff_00ff_00ff;
    let y = (pairs & 0xff) as i32 * 100 + (pairs >> 16 & 0xff) as i32;
    let (m, d) = ((pairs >> 32 & 0xff) as usize, (pairs >> 48 & 0xff) as i32);
    const LENGTH: [i32; 13] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if y == 0 || !(1..=12).contains(&m) || d < 1 || d > LENGTH[m] {
        return None;
    }
    if m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) {
        return None;
    }
    // Days from the civil date, counting years from March (so that February 29th ends one):
    // eras of 400 years, years of the era, days of the year from March 1st.
    let m = m as i32;
    let y = y - i32::from(m <= 2);
    let (era, year) = (y / 400, y % 400);
    let day_of_year = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let day_of_era = year * 365 + year / 4 - year / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_as_arrow_parses_them_or_not_at_all() {
        use arrow::array::types::{Date32Type, Float64Type, Int64Type};
        use arrow::compute::kernels::cast_utils::Parser;
        for s in ["0", "-0", "17", "-123456789012345678", "000042"] {
            assert_eq!(int(s.as_bytes()), Int64Type::parse(s), "{s}");
        }
        for s in ["", "-", "+1", "1.0", "1234567890123456789", "1a", " 1"] {
            assert_eq!(int(s.as_bytes()), None, "{s}");
        }
        for s in [
            "0",
            "-0.0",
            "17.00",
            "21168.23",
            ".5",
            "5.",
            "0.1",
            "-0.3",
            "999999999999999",
            "99999999999999.9",
            ".000000000000001",
            "9007199254740993",
            "123456.789012345678901",
            "1234567890123456",
        ] {
            let ours = float(s.as_bytes()).unwrap();
            assert_eq!(ours.to_bits(), Float64Type::parse(s).unwrap().to_bits(), "{s}");
        }
        for s in ["", ".", "-", "1e5", "inf", "NaN", "1.2.3", "1,5"] {
            assert_eq!(float(s.as_bytes()), None, "{s}");
        }
        let dec = |s: &str, p: u8, sc: i8| {
            arrow::compute::kernels::cast_utils::parse_decimal::<arrow::datatypes::Decimal128Type>(s, p, sc).ok()
        };
        for (s, p, sc) in [
            ("17.00", 15, 2),
            ("21168.23", 15, 2),
            ("-0.04", 15, 2),
            ("0.1", 15, 2),
            ("5", 15, 2),
            ("-5", 15, 0),
            ("0005.5", 4, 2),
            ("99.99", 4, 2),
            ("1234567890123456789012345678.1234567890", 38, 10),
        ] {
            assert_eq!(decimal(s.as_bytes(), p, sc), dec(s, p, sc), "{s} ({p}, {sc})");
        }
        for (s, p, sc) in [
            ("1.234", 15, 2),
            ("100.00", 4, 2),
            (".5", 15, 2),
            ("5.", 15, 2),
            ("", 15, 2),
            ("-", 15, 2),
            ("1e3", 15, 2),
            ("1.-2", 15, 2),
        ] {
            assert_eq!(decimal(s.as_bytes(), p, sc), None, "{s} ({p}, {sc})");
        }
        for s in [
            "1970-01-01",
            "1996-03-13",
            "2000-02-29",
            "2000-03-01",
            "1900-03-01",
            "1904-02-29",
            "0001-01-01",
            "0400-12-31",
            "9999-12-31",
            "1969-12-31",
            "1600-03-01",
        ] {
            assert_eq!(date(s.as_bytes()), Date32Type::parse(s), "{s}");
        }
        for s in [
            "1900-02-29",
            "2001-02-29",
            "1996-13-01",
            "1996-00-10",
            "1996-01-32",
            "1996-1-13",
            "96-01-13",
            "1996-01-13T00:00",
        ] {
            assert_eq!(date(s.as_bytes()), None, "{s}");
        }
        // Every month of years spread over 0001-9999, days 0-32: ours where arrow's is a date.
        for y in (1..=9999).step_by(7).chain([1900, 2000, 2100, 2400]) {
            for m in 0..=13 {
                for d in 0..=32 {
                    let s = format!("{y:04}-{m:02}-{d:02}");
                    assert_eq!(date(s.as_bytes()), Date32Type::parse(&s), "{s}");
                }
            }
        }
    }

    #[test]
    fn fields_are_found_across_blocks_and_odd_records_are_refused() {
        let schema = Schema::new(vec![
            arrow::datatypes::Field::new("a", DataType::Int64, true),
            arrow::datatypes::Field::new("b", DataType::Utf8, true),
            arrow::datatypes::Field::new("c", DataType::Float64, true),
            arrow::datatypes::Field::new("d", DataType::Date32, true),
        ]);
        let mut text = String::new();
        for i in 0..200 {
            let s = match i % 9 {
                0 => String::new(),
                1 => format!("\"a, \"\"{i}\"\"\nb\""),
                2 => "\"\"".to_string(),
                _ => "ß".repeat(i % 13),
            };
            let f = if i % 11 == 0 { String::new() } else { format!("{}.{}", i, i % 7) };
            text.push_str(&format!("{},{s},{f},19{:02}-0{}-1{}\n", i as i64 - 50, i % 100, i % 9 + 1, i % 10));
        }
        let b = decode(text.as_bytes(), &schema, &[0, 1, 2, 3], b',', b'"').unwrap();
        // arrow-csv itself as the oracle.
        let reader = arrow_csv::ReaderBuilder::new(Arc::new(schema.clone()))
            .with_header(false)
            .build(std::io::Cursor::new(text.clone().into_bytes()))
            .unwrap();
        let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
        let slow = arrow::compute::concat_batches(&Arc::new(schema.clone()), &batches).unwrap();
        assert_eq!(b.num_rows(), 200);
        for c in 0..4 {
            assert_eq!(b.column(c).to_data(), slow.column(c).to_data(), "column {c}");
        }
        // Without the last newline; a projection.
        let p = decode(text.trim_end().as_bytes(), &schema, &[2, 0], b',', b'"').unwrap();
        assert_eq!((p.num_rows(), p.column(1).to_data()), (200, slow.column(0).to_data()));
        // Refused: a quote inside an unquoted field or after a quoted one, a lone quote in a
        // quoted field, an open quote, a quoted number, a carriage return, a blank line, a short
        // or long record, a bad value.
        for bad in [
            "1,x\"y,2.0,1990-01-01\n",
            "1,\"x\"y,2.0,1990-01-01\n",
            "1,\"x\"y\",2.0,1990-01-01\n",
            "1,\"x,2.0,1990-01-01\n",
            "\"1\",x,2.0,1990-01-01\n",
            "1,x,2.0,1990-01-01\r\n",
            "1,x,2.0,1990-01-01\n\n",
            "1,x,2.0\n",
            "1,x,2,1990-01-01,5\n",
            "1,x,2e1,1990-01-01\n",
        ] {
            assert!(decode(bad.as_bytes(), &schema, &[0, 1, 2, 3], b',', b'"').is_none(), "{bad:?}");
        }
    }

    #[test]
    fn random_records_decode_as_arrow_csv_decodes_them() {
        // Tokens per type, some outside the fast path's forms (then it must say None, or agree).
        let ints = ["0", "-5", "17", "123456789012345678", "", "+3", "007", "1.0", "x", "\"4\""];
        let floats = ["0.5", "-0.0", "17.00", ".25", "5.", "", "1e3", "NaN", "-", "12345678901234567.5", "3"];
        let dates = ["1996-03-13", "2000-02-29", "", "1900-02-29", "1996-3-13", "2024-12-31"];
        let decimals = ["17.00", "-0.04", "5", "123456789012.34", "", "1.234", "1e2", ".5", "10000000000000.00"];
        let strings = ["", "plain", "\"a,b\"", "\"say \"\"hi\"\"\"", "\"multi\nline\"", "ünï", "x\"y", "\"\""];
        let schema = Schema::new(vec![
            arrow::datatypes::Field::new("i", DataType::Int64, true),
            arrow::datatypes::Field::new("f", DataType::Float64, true),
            arrow::datatypes::Field::new("d", DataType::Date32, true),
            arrow::datatypes::Field::new("s", DataType::Utf8, true),
            arrow::datatypes::Field::new("m", DataType::Decimal128(15, 2), true),
        ]);
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut pick = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut taken, mut refused) = (0, 0);
        for round in 0..400 {
            // Mostly tokens the fast path takes, some rounds with any token.
            let wild = round % 4 == 0;
            let mut text = String::new();
            for _ in 0..1 + pick(40) {
                let t = |pick: &mut dyn FnMut(usize) -> usize, tokens: &[&str], good: usize| {
                    tokens[pick(if wild { tokens.len() } else { good })].to_string()
                };
                let row = [
                    t(&mut pick, &ints, 5),
                    t(&mut pick, &floats, 6),
                    t(&mut pick, &dates, 3),
                    t(&mut pick, &strings, 6),
                    t(&mut pick, &decimals, 5),
                ];
                text.push_str(&row.join(","));
                text.push('\n');
            }
            let projection = if round % 3 == 0 { vec![3, 0] } else { vec![0, 1, 2, 3, 4] };
            let fast = decode(text.as_bytes(), &schema, &projection, b',', b'"');
            let slow = arrow_csv::ReaderBuilder::new(Arc::new(schema.clone()))
                .with_header(false)
                .with_projection(projection.clone())
                .build(std::io::Cursor::new(text.clone().into_bytes()))
                .unwrap()
                .collect::<Result<Vec<RecordBatch>, _>>();
            assert!(wild || fast.is_some(), "refused plain records: {text:?}");
            match fast {
                Some(b) => {
                    let slow = slow.unwrap_or_else(|e| panic!("fast path read what arrow-csv refuses ({e}): {text:?}"));
                    let slow = arrow::compute::concat_batches(&b.schema(), &slow).unwrap();
                    assert_eq!(b, slow, "{text:?}");
                    taken += 1;
                }
                None => refused += 1,
            }
        }
        assert!(taken > 200 && refused > 20, "{taken} taken, {refused} refused");
    }
}
