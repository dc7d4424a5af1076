//! Hashing for the CPU engine's hash operators (group-by, join): a fast multiplicative hasher, key
//! columns turned into per-row integer codes, and dense group ids from any number of key
//! columns.
//!
//! A key column becomes one `u64` code per row such that two rows have equal codes exactly when
//! their values are equal, narrowed to the range of the column's codes (less its smallest); in a
//! column with nulls a null is code 0 and every value's code is one higher (one more bit):
//!
//! | key type | code | ordered |
//! |---|---|---|
//! | integers, dates, floats, booleans, decimals of at most 18 digits | the value's order-preserving bits (as sort; int32, int64 and date32 read in place) | yes |
//! | strings of at most 7 bytes (every row) | the bytes and the length (3 bits), packed (Utf8View: read in place from the views) | no |
//! | longer strings, wider decimals | a dictionary number, in order of first appearance | no |
//!
//! The codes of all keys are packed into one `u128` per row when they fit: a direct table when
//! they fit 20 bits (Q1's two one-letter flags), or 24 bits with at least half as many rows as
//! slots (Q18's 6M order keys), built in parallel passes and numbering groups in code order, so
//! groups of ordered keys come out sorted; else hash maps over hash partitions grouped in
//! parallel for large inputs. Keys wider than 128 bits are folded one key at a time (`(group so
//! far, next code)` → group). Hand-written rather than arrow-rs' row format: rows of a few
//! integers are several times cheaper to hash than to encode.
use crate::sort::cpu::{ordered_column, value_bits};
use arrow::array::{Array, ArrayRef, AsArray};
use arrow::buffer::ScalarBuffer;
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::datatypes::{DataType, Date32Type, Decimal128Type, Int32Type, Int64Type};
use ember_core::{Error, Result};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

/// A multiplicative hash for integer keys (SipHash, std's default, is several times slower here
/// and its DoS resistance buys nothing for an operator's own keys). Byte strings are hashed a
/// word at a time.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BuildMul;

impl std::hash::BuildHasher for BuildMul {
    type Hasher = MulHasher;
    fn build_hasher(&self) -> MulHasher {
        MulHasher(0)
    }
}

#[derive(Debug, Default)]
pub(crate) struct MulHasher(u64);

impl std::hash::Hasher for MulHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.write_u64(u64::from_le_bytes(tail) ^ ((bytes.len() as u64) << 56));
    }
    fn write_u128(&mut self, v: u128) {
        let x = (v as u64) ^ ((v >> 64) as u64).rotate_left(29);
        self.0 = (x ^ self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(31);
    }
    fn write_u64(&mut self, v: u64) {
        self.write_u128(v as u128);
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u128(v as u128);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u128(v as u128);
    }
}

/// One key column as per-row codes (see the module doc).
#[derive(Debug)]
pub(crate) struct Codes {
    source: Source,
    /// The smallest code of a valid row: codes are stored as they come and read less it.
    min: u64,
    /// Significant bits of a code less `min`.
    bits: u32,
    nulls: Option<NullBuffer>,
    /// Whether codes order as the values do (integers, dates, floats, booleans, short decimals:
    /// the sort's order-preserving bits), not just compare equal as they do.
    ordered: bool,
}

/// Where a column's codes come from: computed once into a vector, or read in place from the
/// column's values where a code is a couple of operations away from the value (32- and 64-bit
/// integers, dates, short strings of a Utf8View): a 6M-row key column is then not copied into
/// 48 MB of codes before it is grouped.
#[derive(Debug)]
enum Source {
    Owned(Vec<u64>),
    /// Int32 / Date32 values: the sign bit flipped (the order-preserving bits, as sort).
    I32(ScalarBuffer<i32>),
    /// Int64 values, sign bit flipped.
    I64(ScalarBuffer<i64>),
    /// Utf8View views of strings of at most 7 bytes: the bytes and the length, packed.
    ShortViews(ScalarBuffer<u128>),
}

/// Evaluates `$body` with `$raw` bound to a closure from a row number to its raw code (before
/// narrowing), one arm per [`Source`]: the one place a source's code is defined, expanded so
/// that loops over rows get a tight loop per source instead of a `match` per row.
macro_rules! with_raw {
    ($source:expr, $raw:ident => $body:expr) => {
        match $source {
            Source::Owned(v) => {
                let $raw = |i: usize| v[i];
                $body
            }
            Source::I32(v) => {
                let $raw = |i: usize| {
                    $crate::prefetch::ahead(v, i);
                    (v[i] as u32 ^ 0x8000_0000) as u64
                };
                $body
            }
            Source::I64(v) => {
                let $raw = |i: usize| {
                    $crate::prefetch::ahead(v, i);
                    v[i] as u64 ^ (1 << 63)
                };
                $body
            }
            Source::ShortViews(v) => {
                let $raw = |i: usize| {
                    $crate::prefetch::ahead(v, i);
                    short_view_code(v[i])
                };
                $body
            }
        }
    };
}

impl Source {
    /// Row `i`'s code, before narrowing.
    #[inline]
    fn raw(&self, i: usize) -> u64 {
        with_raw!(self, raw => raw(i))
    }

    fn len(&self) -> usize {
        match self {
            Source::Owned(v) => v.len(),
            Source::I32(v) => v.len(),
            Source::I64(v) => v.len(),
            Source::ShortViews(v) => v.len(),
        }
    }
}

/// The code of a Utf8View view of a string of at most 7 bytes: length in the view's low 32
/// bits, the string inline after it, packed as [`strings`] packs bytes and length.
#[inline]
fn short_view_code(v: u128) -> u64 {
    // The length is at most 7 (`short_views` checked): the mask's shift stays under 64, and
    // no branch (a test for the empty string was a third of Q1's key pass).
    let len = (v as u32) & 7;
    // Inline bytes past the length are zero in valid views; mask them anyway.
    let bytes = ((v >> 32) as u64) & ((1u64 << (8 * len)) - 1);
    (bytes << 3) | len as u64
}

impl Codes {
    /// Bits of a row's code with its null bit (if the column has nulls).
    pub(crate) fn width(&self) -> u32 {
        self.bits + u32::from(self.nulls.is_some())
    }

    /// Row `i`'s code, within [`Codes::width`] bits. In a column with nulls a null is 0 and a
    /// value's code is one more than without: nulls come first, as in the group-by's order.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> u128 {
        match &self.nulls {
            None => (self.source.raw(i) - self.min) as u128,
            Some(nulls) if nulls.is_null(i) => 0,
            Some(_) => (self.source.raw(i) - self.min) as u128 + 1,
        }
    }

    /// Shifts each of `out`'s words left by [`Codes::width`] and puts the code of row
    /// `start + j` into word `j`'s low bits: one key of a run of rows packed in a tight loop
    /// per source (the caller checked that the packed width fits 64 bits).
    fn shift_in(&self, start: usize, out: &mut [u64]) {
        self.shift_in_as(start, out, self.min, self.width())
    }

    /// [`Codes::shift_in`] with codes read less `min` in `w` bits (a chunk's own narrowing).
    fn shift_in_as(&self, start: usize, out: &mut [u64], min: u64, w: u32) {
        with_raw!(&self.source, raw => self.shift_with(start, out, min, w, raw))
    }

    /// The raw codes of rows `start .. start + out.len()` written to `out`, and the smallest and
    /// largest of the valid rows' (`(u64::MAX, 0)`: none): one read of the column for both.
    fn raw_range_into(&self, start: usize, out: &mut [u64]) -> (u64, u64) {
        with_raw!(&self.source, raw => self.raw_range_with(start, out, raw))
    }

    #[inline(always)]
    fn raw_range_with(&self, start: usize, out: &mut [u64], raw: impl Fn(usize) -> u64) -> (u64, u64) {
        let (mut lo, mut hi) = (u64::MAX, 0);
        match &self.nulls {
            None => {
                for (j, o) in out.iter_mut().enumerate() {
                    let c = raw(start + j);
                    *o = c;
                    lo = lo.min(c);
                    hi = hi.max(c);
                }
            }
            Some(nulls) => {
                for (j, o) in out.iter_mut().enumerate() {
                    let c = raw(start + j);
                    *o = c;
                    if nulls.is_valid(start + j) {
                        lo = lo.min(c);
                        hi = hi.max(c);
                    }
                }
            }
        }
        (lo, hi)
    }

    /// Shifts each of `out`'s words left by `w` and puts in the code of `raws[j]` (row
    /// `start + j`'s raw code, from [`Codes::raw_range_into`]) less `min`: as
    /// [`Codes::shift_in_as`], from codes already read.
    fn shift_in_raw(&self, start: usize, raws: &[u64], out: &mut [u64], min: u64, w: u32) {
        match &self.nulls {
            None => {
                for (o, &r) in out.iter_mut().zip(raws) {
                    *o = (*o << w) | r.wrapping_sub(min);
                }
            }
            Some(nulls) => {
                for (j, (o, &r)) in out.iter_mut().zip(raws).enumerate() {
                    let code = if nulls.is_valid(start + j) { r.wrapping_sub(min) + 1 } else { 0 };
                    *o = (*o << w) | code;
                }
            }
        }
    }

    #[inline(always)]
    fn shift_with(&self, start: usize, out: &mut [u64], min: u64, w: u32, raw: impl Fn(usize) -> u64) {
        match &self.nulls {
            None => {
                for (j, o) in out.iter_mut().enumerate() {
                    *o = (*o << w) | (raw(start + j) - min);
                }
            }
            Some(nulls) => {
                for (j, o) in out.iter_mut().enumerate() {
                    let i = start + j;
                    let code = if nulls.is_valid(i) { raw(i) - min + 1 } else { 0 };
                    *o = (*o << w) | code;
                }
            }
        }
    }

    /// Narrows `bits` to the range of the valid rows' codes (dates of a few years need 12 bits,
    /// not 32), so more keys pack into one word or a direct table.
    fn narrowed(mut self) -> Codes {
        let len = self.source.len();
        let (lo, hi) = (0..len.div_ceil(DIRECT_CHUNK_ROWS))
            .into_par_iter()
            .map(|c| {
                let rows = c * DIRECT_CHUNK_ROWS..((c + 1) * DIRECT_CHUNK_ROWS).min(len);
                with_raw!(&self.source, raw => self.range_of(rows, raw))
            })
            .reduce(|| (u64::MAX, 0), |a, b| (a.0.min(b.0), a.1.max(b.1)));
        if lo <= hi {
            self.min = lo;
            self.bits = self.bits.min(bits_for(hi - lo));
        }
        self
    }

    /// The smallest and largest raw code of the valid rows in `rows` (`(u64::MAX, 0)`: none).
    #[inline(always)]
    fn range_of(&self, rows: std::ops::Range<usize>, raw: impl Fn(usize) -> u64) -> (u64, u64) {
        let (mut lo, mut hi) = (u64::MAX, 0);
        for i in rows {
            if self.nulls.as_ref().is_none_or(|n| n.is_valid(i)) {
                let c = raw(i);
                lo = lo.min(c);
                hi = hi.max(c);
            }
        }
        (lo, hi)
    }

    /// Dense ids `0..count` as codes (a previous grouping, folded with the next key; a
    /// [`SKIPPED`] row gets code 0, as the next grouping skips it again).
    fn dense(ids: &[u32], count: usize) -> Codes {
        let bits = bits_for(count as u64);
        let codes = ids.par_iter().map(|&x| if x == SKIPPED { 0 } else { x as u64 }).collect();
        Codes { source: Source::Owned(codes), min: 0, bits, nulls: None, ordered: false }
    }

    /// The codes of `a`'s values.
    pub(crate) fn of(a: &ArrayRef) -> Result<Codes> {
        Codes::of_with(a, false)
    }

    /// The codes of `a`'s values; with `rank`, a string dictionary is numbered in the strings'
    /// order (bytewise, as the sort orders them) rather than by first appearance, so its codes
    /// are [ordered](Codes::ordered): the distinct strings are sorted once, and groups of such
    /// keys can then be put in order by their codes.
    pub(crate) fn of_with(a: &ArrayRef, rank: bool) -> Result<Codes> {
        Ok(Codes::raw(a, rank)?.narrowed())
    }

    /// [`Codes::of_with`] before narrowing: every code at its type's full width.
    fn raw(a: &ArrayRef, rank: bool) -> Result<Codes> {
        let nulls = a.logical_nulls().filter(|n| n.null_count() > 0);
        let in_place = match a.data_type() {
            DataType::Int32 => Some(Source::I32(a.as_primitive::<Int32Type>().values().clone())),
            DataType::Date32 => Some(Source::I32(a.as_primitive::<Date32Type>().values().clone())),
            DataType::Int64 => Some(Source::I64(a.as_primitive::<Int64Type>().values().clone())),
            _ => None,
        };
        if let (Some(source), Some(bits)) = (in_place, value_bits(a.data_type())) {
            return Ok(Codes { source, min: 0, bits, nulls, ordered: true });
        }
        if let Some(bits) = value_bits(a.data_type()) {
            let source = Source::Owned(ordered_column(a));
            return Ok(Codes { source, min: 0, bits, nulls, ordered: true });
        }
        let dictionary = |codes: Vec<u64>, distinct: usize| Codes {
            source: Source::Owned(codes),
            min: 0,
            bits: bits_for(distinct as u64),
            nulls: None,
            ordered: false,
        };
        let mut out = match a.data_type() {
            DataType::Utf8 => strings(a.as_string::<i32>().iter().map(|s| s.map(str::as_bytes)), a.len(), rank),
            DataType::LargeUtf8 => strings(a.as_string::<i64>().iter().map(|s| s.map(str::as_bytes)), a.len(), rank),
            DataType::Utf8View => {
                short_views(a.as_string_view()).unwrap_or_else(|| view_strings(a.as_string_view(), rank))
            }
            DataType::Decimal128(..) => {
                let mut dict: HashMap<i128, u64, BuildMul> = HashMap::default();
                let codes = a
                    .as_primitive::<Decimal128Type>()
                    .values()
                    .iter()
                    .map(|v| {
                        let next = dict.len() as u64;
                        *dict.entry(*v).or_insert(next)
                    })
                    .collect();
                dictionary(codes, dict.len())
            }
            t => return Err(Error::Unsupported(format!("{t} as a grouping or join key"))),
        };
        out.nulls = nulls;
        Ok(out)
    }
}

/// Bits to hold values `0..=max`.
fn bits_for(max: u64) -> u32 {
    (64 - max.leading_zeros()).max(1)
}

/// Codes of short strings read in place from Utf8View's views (see [`short_view_code`]); `None`
/// when some string is longer than 7 bytes.
fn short_views(a: &arrow::array::StringViewArray) -> Option<Codes> {
    let views = a.views();
    let max_len = views.par_iter().map(|&v| v as u32).max().unwrap_or(0);
    if max_len > 7 {
        return None;
    }
    let source = Source::ShortViews(views.clone());
    Some(Codes { source, min: 0, bits: 8 * max_len + 3, nulls: None, ordered: false })
}

/// Past this many distinct views, [`view_strings`] stops keeping them if they are more than twice
/// the distinct strings.
const VIEW_CACHE_PROBE: usize = 4096;

/// Dictionary codes of a Utf8View column's strings, in order of first appearance (null slots
/// as the empty string; the caller applies the nulls). Equal views are equal strings (the same
/// inline bytes, or the same length, prefix and buffer bytes), so a row whose 16-byte view was
/// seen before takes that view's code with no string hashed or compared. Strings of at most 12
/// bytes are inline, and a column gathered from another (a join's output: Q16's `p_type`) or
/// decoded from a Parquet dictionary repeats the views of equal strings. Where the views turn out
/// mostly distinct (long strings each stored once), the view map is dropped and the strings are
/// coded alone, as [`strings`] does.
///
/// A long column is coded in parallel parts, each with dictionaries of its own, merged in part
/// order into the codes one pass would give (each part's new strings in their order of first
/// appearance), then each part's codes renumbered.
fn view_strings(a: &arrow::array::StringViewArray, rank: bool) -> Codes {
    const PART: usize = 1 << 15;
    let n = a.len();
    let parts = rayon::current_num_threads().min(n / PART).max(1);
    if parts == 1 {
        let (codes, by_bytes, _) = view_strings_in(a, 0..n);
        return dictionary_codes(codes, &by_bytes, rank);
    }
    let per = n.div_ceil(parts);
    let mut locals: Vec<(Vec<u64>, Vec<&[u8]>)> = (0..parts)
        .into_par_iter()
        .map(|p| {
            let (codes, _, order) = view_strings_in(a, p * per..((p + 1) * per).min(n));
            (codes, order)
        })
        .collect();
    let mut by_bytes: HashMap<&[u8], u64, BuildMul> = HashMap::with_capacity_and_hasher(1 << 10, BuildMul);
    let global: Vec<Vec<u64>> = locals
        .iter()
        .map(|(_, order)| {
            order
                .iter()
                .map(|s| {
                    let next = by_bytes.len() as u64;
                    *by_bytes.entry(s).or_insert(next)
                })
                .collect()
        })
        .collect();
    locals.par_iter_mut().zip(&global).for_each(|((codes, _), to)| codes.iter_mut().for_each(|c| *c = to[*c as usize]));
    let codes = locals.into_iter().flat_map(|(codes, _)| codes).collect();
    dictionary_codes(codes, &by_bytes, rank)
}

/// [`view_strings`]' one pass over `rows`: their codes, the dictionary, and its strings in code
/// order.
#[allow(clippy::type_complexity)]
fn view_strings_in(
    a: &arrow::array::StringViewArray,
    rows: std::ops::Range<usize>,
) -> (Vec<u64>, HashMap<&[u8], u64, BuildMul>, Vec<&[u8]>) {
    let views = &a.views()[rows.clone()];
    let bytes = |i: usize| -> &[u8] {
        if a.is_null(i) {
            b""
        } else {
            a.value(i).as_bytes()
        }
    };
    let mut by_bytes: HashMap<&[u8], u64, BuildMul> = HashMap::with_capacity_and_hasher(1 << 10, BuildMul);
    let mut order: Vec<&[u8]> = Vec::new();
    let mut by_view: Option<HashMap<u128, u64, BuildMul>> = Some(HashMap::with_capacity_and_hasher(1 << 10, BuildMul));
    let mut codes = Vec::with_capacity(views.len());
    for (i, &view) in rows.zip(views) {
        let mut code_of = |i: usize| {
            let next = by_bytes.len() as u64;
            let s = bytes(i);
            *by_bytes.entry(s).or_insert_with(|| {
                order.push(s);
                next
            })
        };
        let code = match by_view.as_mut() {
            Some(seen) => match seen.get(&view) {
                Some(&c) => c,
                None => {
                    let c = code_of(i);
                    seen.insert(view, c);
                    c
                }
            },
            None => code_of(i),
        };
        codes.push(code);
        if by_view.as_ref().is_some_and(|seen| seen.len() > VIEW_CACHE_PROBE && seen.len() > 2 * by_bytes.len()) {
            by_view = None;
        }
    }
    (codes, by_bytes, order)
}

/// Codes numbered by a dictionary of distinct strings (`dict`: each string's code), as
/// [`Codes`]; with `rank` renumbered in the strings' order first (see [`Codes::of_with`]).
fn dictionary_codes(mut codes: Vec<u64>, dict: &HashMap<&[u8], u64, BuildMul>, rank: bool) -> Codes {
    if rank {
        let mut by_string: Vec<(&[u8], u64)> = dict.iter().map(|(s, &c)| (*s, c)).collect();
        by_string.par_sort_unstable();
        let mut rank_of = vec![0u64; by_string.len()];
        for (r, &(_, c)) in by_string.iter().enumerate() {
            rank_of[c as usize] = r as u64;
        }
        codes.par_iter_mut().for_each(|c| *c = rank_of[*c as usize]);
    }
    Codes { source: Source::Owned(codes), min: 0, bits: bits_for(dict.len() as u64), nulls: None, ordered: rank }
}

/// Codes of strings: packed bytes and length when every string has at most 7 bytes, else a
/// dictionary in order of first appearance. Null slots get code 0.
fn strings<'a>(values: impl Iterator<Item = Option<&'a [u8]>> + Clone, n: usize, rank: bool) -> Codes {
    let max_len = values.clone().map(|s| s.map_or(0, <[u8]>::len)).max().unwrap_or(0);
    if max_len <= 7 {
        let codes = values
            .map(|s| {
                let s = s.unwrap_or_default();
                let mut w = [0u8; 8];
                w[..s.len()].copy_from_slice(s);
                (u64::from_le_bytes(w) << 3) | s.len() as u64
            })
            .collect();
        return Codes {
            source: Source::Owned(codes),
            min: 0,
            bits: 8 * max_len as u32 + 3,
            nulls: None,
            ordered: false,
        };
    }
    dictionary_of(values, n, rank)
}

/// Dictionary codes of strings (null slots as the empty string), in order of first appearance or,
/// with `rank`, in string order.
fn dictionary_of<'a>(values: impl Iterator<Item = Option<&'a [u8]>>, n: usize, rank: bool) -> Codes {
    let mut dict: HashMap<&[u8], u64, BuildMul> = HashMap::with_capacity_and_hasher(n.min(1 << 16), BuildMul);
    let codes = values
        .map(|s| {
            let next = dict.len() as u64;
            *dict.entry(s.unwrap_or_default()).or_insert(next)
        })
        .collect();
    dictionary_codes(codes, &dict, rank)
}

/// Each row's rank among the distinct strings of `a` (bytewise order, the sort's; a null slot
/// ranks as the empty string, and the caller applies the nulls) and the bits a rank needs, or
/// `None` if `a` is not a string column: a string key made an integer one, so a sort packs it
/// with its other keys into one word (Q16's final sort by a count and two strings).
pub(crate) fn string_ranks(a: &ArrayRef) -> Option<(Vec<u64>, u32)> {
    let codes = match a.data_type() {
        DataType::Utf8View => view_strings(a.as_string_view(), true),
        DataType::Utf8 => dictionary_of(a.as_string::<i32>().iter().map(|s| s.map(str::as_bytes)), a.len(), true),
        DataType::LargeUtf8 => dictionary_of(a.as_string::<i64>().iter().map(|s| s.map(str::as_bytes)), a.len(), true),
        _ => return None,
    };
    match codes.source {
        Source::Owned(ranks) => Some((ranks, codes.bits)),
        _ => None,
    }
}

/// The group id of a row outside the selection (see [`group_rows`]).
pub(crate) const SKIPPED: u32 = u32::MAX;

/// Rows grouped by equal keys: each row's group and each group's first row. Groups of a direct
/// table are numbered in the order of their packed codes (the keys' order when every key's codes
/// are ordered: [`Groups::sorted`]); hash-map groups in order of first appearance within each
/// hash partition (one partition for small inputs).
#[derive(Debug)]
pub(crate) struct Groups {
    /// The group of each row; [`SKIPPED`] for a row outside the selection.
    pub ids: Vec<u32>,
    /// The first row of each group.
    pub first_rows: Vec<u32>,
    /// Whether the groups are numbered in the order of their keys (ascending, nulls first).
    pub sorted: bool,
}

impl Groups {
    /// The last row of each group.
    pub fn last_rows(&self) -> Vec<u32> {
        let mut last = vec![0u32; self.first_rows.len()];
        for (i, &id) in self.ids.iter().enumerate() {
            if id != SKIPPED {
                last[id as usize] = i as u32;
            }
        }
        last
    }
}

/// Largest direct table (`u32` slots) [`group_rows`] uses for keys that fit its index: keys of
/// up to 20 bits always, wider ones up to this many bits when the rows are at least half as
/// many as the slots (Q18's 6M order keys: 23 bits, a 32 MiB table, several times faster than
/// hashing).
const DIRECT_MAX_BITS: u32 = 24;

/// Groups rows `0..n` by the values of `keys` (a null equals a null). With `selected`, only
/// the rows it sets take part (a filter fused into the grouping): the others get [`SKIPPED`].
pub(crate) fn group_rows(keys: &[ArrayRef], n: usize, selected: Option<&BooleanBuffer>) -> Result<Groups> {
    Ok(group_key_codes(key_codes(keys, false)?, n, selected, false)?.0)
}

/// The codes of each key column, not narrowed yet (see [`group_key_codes`], [`ChunkKeys`]); with
/// `rank`, string dictionaries numbered in string order.
pub(crate) fn key_codes(keys: &[ArrayRef], rank: bool) -> Result<Vec<Codes>> {
    keys.iter().map(|k| Codes::raw(k, rank)).collect()
}

/// [`group_rows`] of codes from [`key_codes`]. With `in_order` (a group-by that lists its
/// groups in key order, its string keys coded in string order), the second value is the groups'
/// order when every key's codes are ordered and they pack into 128 bits (the groups sorted by
/// their packed codes, an integer sort) — `None` when [`Groups::sorted`] says they are in order
/// already, or when the caller must sort them by their keys' values.
pub(crate) fn group_key_codes(
    codes: Vec<Codes>,
    n: usize,
    selected: Option<&BooleanBuffer>,
    in_order: bool,
) -> Result<(Groups, Option<Vec<u32>>)> {
    let codes: Vec<Codes> = codes.into_iter().map(Codes::narrowed).collect();
    let codes: Vec<&Codes> = codes.iter().collect();
    let groups = group_codes(&codes, n, selected)?;
    let packs = codes.iter().all(|c| c.ordered) && codes.iter().map(|c| c.width()).sum::<u32>() <= 128;
    if !in_order || groups.sorted || !packs {
        return Ok((groups, None));
    }
    let first: Vec<u128> = groups.first_rows.par_iter().map(|&r| packed_at(&codes, r as usize)).collect();
    let order = crate::sort::cpu::sort_packed(&first);
    Ok((groups, Some(order)))
}

/// Key codes for a group-by that numbers its rows a chunk at a time (`groupby::direct`). Codes
/// are narrowed within each chunk (for its direct table), not over whole columns: Q1's two flag columns are 192 MB of
/// string views, and a pass over them only to learn their range cost as much as numbering the
/// rows. Each chunk's groups are named by their keys' full codes packed into a `u128`, which
/// order as the keys do when every key's codes are ordered.
pub(crate) struct ChunkKeys {
    codes: Vec<Codes>,
}

/// One chunk's rows numbered by their keys: each row's group in the chunk ([`SKIPPED`] outside
/// the selection), and each group's full packed key and first row.
pub(crate) struct ChunkGroups {
    pub ids: Vec<u32>,
    pub keys: Vec<u128>,
    pub firsts: Vec<u32>,
}

impl ChunkKeys {
    /// The keys of `codes` (from [`key_codes`]), unless their full widths exceed 128 bits.
    pub(crate) fn new(codes: Vec<Codes>) -> std::result::Result<ChunkKeys, Vec<Codes>> {
        if codes.iter().map(Codes::width).sum::<u32>() > 128 {
            return Err(codes);
        }
        Ok(ChunkKeys { codes })
    }

    /// The codes back, for [`group_key_codes`].
    pub(crate) fn into_codes(self) -> Vec<Codes> {
        self.codes
    }

    /// Whether packed keys order as the keys do (ascending, nulls first).
    pub(crate) fn ordered(&self) -> bool {
        self.codes.iter().all(|c| c.ordered)
    }

    /// Rows `start .. start + len` (those `selected` sets) numbered by key: through `table`, a
    /// direct table of `table.len()` (a power of two) unused entries, left unused again, when
    /// the chunk's keys narrowed to its range fit it; else by a hash map of their full codes
    /// (strings of several lengths: `"MAIL"` and `"REG AIR"` differ in their high bytes).
    /// `None` when the chunk has more than `max_groups` groups.
    pub(crate) fn number(
        &self,
        start: usize,
        len: usize,
        selected: Option<&BooleanBuffer>,
        table: &mut [u32],
        max_groups: usize,
    ) -> Option<ChunkGroups> {
        // Each key's raw codes, read once (with their range) and kept for the table's slots:
        // decoding a view twice cost more than storing its code.
        let mut raws = vec![vec![0u64; len]; self.codes.len()];
        let mut narrowed = Vec::with_capacity(self.codes.len());
        let mut bits = 0;
        for (c, raw) in self.codes.iter().zip(raws.iter_mut()) {
            let (lo, hi) = c.raw_range_into(start, raw);
            // No valid row: every code is the null's.
            let (lo, w) = if lo > hi { (0, 1) } else { (lo, bits_for(hi - lo) + u32::from(c.nulls.is_some())) };
            bits += w;
            narrowed.push((lo, w));
        }
        let codes: Vec<&Codes> = self.codes.iter().collect();
        let skipped = |i: usize| selected.is_some_and(|s| !s.value(i));
        let (mut keys, mut firsts) = (Vec::new(), Vec::new());
        let mut ids = vec![SKIPPED; len];
        if 1usize.checked_shl(bits).is_some_and(|slots| slots <= table.len()) {
            let mut slots = vec![0u64; len];
            for ((c, &(lo, w)), raw) in self.codes.iter().zip(&narrowed).zip(&raws) {
                c.shift_in_raw(start, raw, &mut slots, lo, w);
            }
            let mut used = Vec::new();
            for (j, (&k, id)) in slots.iter().zip(ids.iter_mut()).enumerate() {
                if skipped(start + j) {
                    continue;
                }
                let local = &mut table[k as usize];
                if *local == u32::MAX {
                    *local = used.len() as u32;
                    used.push(k as u32);
                    firsts.push((start + j) as u32);
                }
                *id = *local;
            }
            for &k in &used {
                table[k as usize] = u32::MAX;
            }
            if used.len() > max_groups {
                return None;
            }
            keys = firsts.iter().map(|&r| packed_at(&codes, r as usize)).collect();
        } else {
            let mut map: HashMap<u128, u32, BuildMul> = HashMap::with_hasher(BuildMul);
            for (j, id) in ids.iter_mut().enumerate() {
                let i = start + j;
                if skipped(i) {
                    continue;
                }
                let k = packed_at(&codes, i);
                *id = *map.entry(k).or_insert_with(|| {
                    keys.push(k);
                    firsts.push(i as u32);
                    keys.len() as u32 - 1
                });
                if keys.len() > max_groups {
                    return None;
                }
            }
        }
        Some(ChunkGroups { ids, keys, firsts })
    }
}

/// [`group_rows`] over key codes.
fn group_codes(codes: &[&Codes], n: usize, selected: Option<&BooleanBuffer>) -> Result<Groups> {
    if n > u32::MAX as usize {
        return Err(Error::InvalidArgument(format!("grouping {n} rows: row numbers are 32-bit")));
    }
    let width = |c: &&Codes| c.width();
    let total: u32 = codes.iter().map(width).sum();
    if total > 128 {
        // Fold: the groups of the first keys that fit, then one key at a time.
        let mut split = 0;
        let mut bits = 0;
        while split < codes.len() && bits + width(&codes[split]) <= 128 {
            bits += width(&codes[split]);
            split += 1;
        }
        let mut groups = group_codes(&codes[..split.max(1)], n, selected)?;
        for c in &codes[split.max(1)..] {
            let so_far = Codes::dense(&groups.ids, groups.first_rows.len());
            groups = group_codes(&[&so_far, c], n, selected)?;
        }
        return Ok(groups);
    }
    if total <= 20 || (total <= DIRECT_MAX_BITS && (1usize << total) <= 2 * n) {
        return Ok(direct_groups(codes, n, total, selected));
    }
    if total <= 64 {
        return Ok(hash_groups(&pack::<u64>(codes, n), selected));
    }
    Ok(hash_groups(&pack::<u128>(codes, n), selected))
}

/// Row `i`'s codes packed into one word (the caller checked that their widths fit).
#[inline]
fn packed_at(codes: &[&Codes], i: usize) -> u128 {
    let mut k = 0u128;
    for c in codes {
        k = (k << c.width()) | c.get(i);
    }
    k
}

/// Rows per task of the parallel passes of [`direct_groups`].
const DIRECT_CHUNK_ROWS: usize = 1 << 14;

/// Groups of keys of `total` bits by a direct table of `1 << total` slots, in three parallel
/// passes without locks: each slot's first row (`fetch_min`, skipped when the slot already holds
/// a smaller row, as it nearly always does), the occupied slots numbered in slot order, then each
/// row's group read from its slot. Groups come out in the order of their packed codes: sorted by
/// key when every key's codes are ordered, and the group-by's sort of the groups is skipped.
/// Keys are packed a chunk of rows at a time, one key after another ([`Codes::shift_in`]).
fn direct_groups(codes: &[&Codes], n: usize, total: u32, selected: Option<&BooleanBuffer>) -> Groups {
    let skipped = |i: usize| selected.is_some_and(|s| !s.value(i));
    let keys_of = |start: usize, keys: &mut [u64]| {
        keys.fill(0);
        for c in codes {
            c.shift_in(start, keys);
        }
    };
    let first: Vec<AtomicU32> = (0..1usize << total).into_par_iter().map(|_| AtomicU32::new(u32::MAX)).collect();
    (0..n.div_ceil(DIRECT_CHUNK_ROWS)).into_par_iter().for_each(|c| {
        let start = c * DIRECT_CHUNK_ROWS;
        let mut keys = vec![0u64; DIRECT_CHUNK_ROWS.min(n - start)];
        keys_of(start, &mut keys);
        for (j, &k) in keys.iter().enumerate() {
            let i = start + j;
            let slot = &first[k as usize];
            if (i as u32) < slot.load(Ordering::Relaxed) && !skipped(i) {
                slot.fetch_min(i as u32, Ordering::Relaxed);
            }
        }
    });
    // Each occupied slot's first row becomes its group number.
    let mut slots: Vec<u32> = first.into_par_iter().map(AtomicU32::into_inner).collect();
    let mut first_rows = Vec::new();
    for slot in slots.iter_mut().filter(|s| **s != u32::MAX) {
        first_rows.push(*slot);
        *slot = first_rows.len() as u32 - 1;
    }
    let mut ids = vec![0u32; n];
    ids.par_chunks_mut(DIRECT_CHUNK_ROWS).enumerate().for_each(|(c, out)| {
        let start = c * DIRECT_CHUNK_ROWS;
        let mut keys = vec![0u64; out.len()];
        keys_of(start, &mut keys);
        for (j, (id, &k)) in out.iter_mut().zip(&keys).enumerate() {
            *id = if skipped(start + j) { SKIPPED } else { slots[k as usize] };
        }
    });
    Groups { ids, first_rows, sorted: codes.iter().all(|c| c.ordered) }
}

/// The codes of each row packed into one `K` (the caller checked that their widths fit).
fn pack<K: Copy + Default + Send + Sync + TryFrom<u128>>(codes: &[&Codes], n: usize) -> Vec<K> {
    (0..n).into_par_iter().map(|i| K::try_from(packed_at(codes, i)).unwrap_or_default()).collect()
}
/// Rows per partition below which [`hash_groups`] uses one hash map.
const PARTITION_MIN_ROWS: usize = 1 << 17;

/// Groups of packed keys by hash maps: one map for few rows; else the rows are split by hash into
/// partitions (a key's rows all land in one) grouped in parallel, each in row order, and the
/// partitions' groups numbered one after the other. Rows outside `selected` are skipped.
fn hash_groups<K: Copy + Eq + std::hash::Hash + Into<u128> + Send + Sync>(
    packed: &[K],
    selected: Option<&BooleanBuffer>,
) -> Groups {
    let n = packed.len();
    let parts = if n < PARTITION_MIN_ROWS { 1 } else { (rayon::current_num_threads() * 4).next_power_of_two() };
    let part_of = |k: K| -> usize {
        use std::hash::{BuildHasher, Hasher};
        let mut h = BuildMul.build_hasher();
        h.write_u128(k.into());
        (h.finish() >> 40) as usize & (parts - 1)
    };
    let ids: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
    let firsts: Vec<Vec<u32>> = (0..parts)
        .into_par_iter()
        .map(|p| {
            let mut map: HashMap<K, u32, BuildMul> = HashMap::with_capacity_and_hasher(1024, BuildMul);
            let mut first_rows = Vec::new();
            for (i, &k) in packed.iter().enumerate() {
                if (parts > 1 && part_of(k) != p) || selected.is_some_and(|s| !s.value(i)) {
                    continue;
                }
                let next = first_rows.len() as u32;
                let id = *map.entry(k).or_insert_with(|| {
                    first_rows.push(i as u32);
                    next
                });
                ids[i].store(id, Ordering::Relaxed);
            }
            first_rows
        })
        .collect();
    let mut offsets = Vec::with_capacity(parts);
    let mut total = 0u32;
    for f in &firsts {
        offsets.push(total);
        total += f.len() as u32;
    }
    let ids = ids
        .into_par_iter()
        .zip(packed.par_iter())
        .enumerate()
        .map(|(i, (id, &k))| {
            if selected.is_some_and(|s| !s.value(i)) {
                SKIPPED
            } else {
                id.into_inner() + if parts > 1 { offsets[part_of(k)] } else { 0 }
            }
        })
        .collect();
    Groups { ids, first_rows: firsts.concat(), sorted: false }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use std::sync::Arc;

    /// Utf8View codes are equal exactly when the strings are: inline and buffered strings, the
    /// same string behind different views (two buffers) and behind one view (a gather), nulls,
    /// and enough distinct long strings that the view map is dropped part way.
    #[test]
    fn view_codes_equal_exactly_when_strings_do() {
        use arrow::array::StringViewArray;
        for distinct in [5usize, 3 * VIEW_CACHE_PROBE] {
            let words: Vec<Option<String>> = (0..4 * distinct)
                .map(|i| match i % 7 {
                    0 => None,
                    1 => Some(format!("s{}", i % 3)),
                    _ => Some(format!("a string longer than twelve bytes #{}", (i * 7919) % distinct)),
                })
                .collect();
            // Two arrays of the same strings (different buffers), concatenated, then gathered.
            let half = StringViewArray::from_iter(words.iter().map(|w| w.as_deref()));
            let both = arrow::compute::concat(&[&half, &half]).unwrap();
            let idx = arrow::array::UInt32Array::from_iter_values((0..both.len() as u32).rev().step_by(3));
            let a = arrow::compute::take(&both, &idx, None).unwrap();
            let codes = Codes::of(&a).unwrap();
            let a = a.as_string_view();
            let mut by_string = std::collections::HashMap::new();
            for i in 0..a.len() {
                let key = a.is_valid(i).then(|| a.value(i));
                assert_eq!(*by_string.entry(key).or_insert(codes.get(i)), codes.get(i), "row {i}");
            }
            let distinct_codes: std::collections::HashSet<u128> = (0..a.len()).map(|i| codes.get(i)).collect();
            assert_eq!(distinct_codes.len(), by_string.len(), "{distinct} strings");
        }
    }

    #[test]
    fn parallel_view_codes_are_the_one_pass_codes() {
        // Parts coded apart and merged give exactly the codes (first-appearance order) and the
        // ranks of one pass, nulls, inline and long strings included.
        use arrow::array::StringViewArray;
        let n = 5 * (1 << 15) + 123;
        let a = StringViewArray::from_iter((0..n).map(|i| match i % 13 {
            0 => None,
            1..=4 => Some(format!("s{}", (i * 31) % 97)),
            _ => Some(format!("a string longer than twelve bytes #{}", (i * 7919) % (2000 + i / 50))),
        }));
        let (one_pass, dict, _) = view_strings_in(&a, 0..n);
        for rank in [false, true] {
            let got = view_strings(&a, rank);
            let want = dictionary_codes(one_pass.clone(), &dict, rank);
            assert!((0..n).all(|i| got.get(i) == want.get(i)), "rank {rank}");
            assert_eq!((got.bits, got.ordered), (want.bits, want.ordered));
        }
    }

    #[test]
    fn keys_wider_than_128_bits_are_folded_one_at_a_time() {
        // Three i64 keys spanning their whole range (64 bits each after narrowing), one with nulls.
        let a: ArrayRef = Arc::new(Int64Array::from(vec![i64::MIN, i64::MAX, i64::MIN, i64::MIN, 0]));
        let b: ArrayRef = Arc::new(Int64Array::from(vec![Some(i64::MAX), Some(i64::MIN), Some(i64::MAX), None, None]));
        let c: ArrayRef = Arc::new(Int64Array::from(vec![0, i64::MIN, 0, 0, i64::MAX]));
        let s: ArrayRef = Arc::new(StringArray::from(vec!["a long key", "x", "a long key", "a long key", "x"]));
        let keys = [a, b, c, s];
        let g = group_rows(&keys, 5, None).unwrap();
        assert_eq!(g.first_rows, vec![0, 1, 3, 4]);
        assert_eq!(g.ids, vec![0, 1, 0, 2, 3]);
        assert_eq!(g.last_rows(), vec![2, 1, 3, 4]);
        // Rows 0 and 3 left out: row 2 now starts the first group.
        let selected = BooleanBuffer::from(vec![false, true, true, false, true]);
        let g = group_rows(&keys, 5, Some(&selected)).unwrap();
        assert_eq!(g.first_rows, vec![1, 2, 4]);
        assert_eq!(g.ids, vec![SKIPPED, 0, 1, SKIPPED, 2]);
        assert_eq!(g.last_rows(), vec![1, 2, 4]);
    }

    /// A chunk numbers its rows by key exactly: short Utf8View strings (empty, one byte, seven
    /// bytes, nulls) beside an integer key with nulls, through the direct table (one-byte
    /// strings, a small integer range) and through the hash map (seven-byte strings, or integers
    /// spread over half the `i64` range), rows outside the selection skipped.
    #[test]
    fn chunk_numbering_groups_equal_keys_exactly() {
        use arrow::array::StringViewArray;
        let n = 5000;
        let (short, long) = (&["", "A", "N", "R"][..], &["", "A", "N", "R", "1234567", "MAIL"][..]);
        for (words, spread) in [(short, 3i64), (long, 3), (short, i64::MAX / 2)] {
            let s: ArrayRef = Arc::new(StringViewArray::from_iter(
                (0..n).map(|i| (i % 17 != 3).then(|| words[(i / 7) % words.len()])),
            ));
            let x: ArrayRef = Arc::new(Int64Array::from_iter(
                (0..n as i64).map(|i| (i % 13 != 0).then_some((i % 3) * spread - spread)),
            ));
            let keys = ChunkKeys::new(key_codes(&[s.clone(), x.clone()], false).unwrap()).ok().unwrap();
            let selected = BooleanBuffer::from_iter((0..n).map(|i| i % 5 != 2));
            let (start, len) = (123, 4000);
            let mut table = vec![u32::MAX; 1 << 16];
            let got = keys.number(start, len, Some(&selected), &mut table, 1024).unwrap();
            assert!(table.iter().all(|&t| t == u32::MAX), "the table is left unused");
            let (sv, xv) = (s.as_string_view(), x.as_primitive::<arrow::datatypes::Int64Type>());
            let mut by_key = std::collections::HashMap::new();
            for j in 0..len {
                let i = start + j;
                if !selected.value(i) {
                    assert_eq!(got.ids[j], SKIPPED);
                    continue;
                }
                let key = (sv.is_valid(i).then(|| sv.value(i)), xv.is_valid(i).then(|| xv.value(i)));
                let id = *by_key.entry(key).or_insert(got.ids[j]);
                assert_eq!(id, got.ids[j], "row {i}, {words:?}, spread {spread}");
                if got.firsts[id as usize] as usize == i {
                    assert_eq!(got.keys[id as usize], packed_at(&keys.codes.iter().collect::<Vec<_>>(), i));
                }
            }
            assert_eq!(by_key.len(), got.keys.len(), "{words:?}, spread {spread}");
        }
    }

    #[test]
    fn every_path_skips_the_rows_outside_the_selection() {
        // A direct table (few bits), chunks numbering their groups in parallel (few bits, many
        // rows), a direct table sized by the rows (22 bits, 3M rows), and the partitioned hash
        // maps (wide keys, past PARTITION_MIN_ROWS).
        for (n, spread) in [(1000usize, 7i64), (400_000, 5000), (3 << 20, 1 << 21), (300_000, i64::MAX / 3)] {
            let keys: ArrayRef = Arc::new(Int64Array::from_iter((0..n as i64).map(|i| {
                if i % 11 == 0 {
                    None
                } else {
                    Some((i * 7919) % spread)
                }
            })));
            let selected = BooleanBuffer::from_iter((0..n).map(|i| i % 3 != 1));
            let all = group_rows(std::slice::from_ref(&keys), n, None).unwrap();
            // Equal keys, and only they, share a group.
            let values = keys.as_any().downcast_ref::<Int64Array>().unwrap();
            let mut by_key = std::collections::HashMap::new();
            for i in 0..n {
                let key = values.is_valid(i).then(|| values.value(i));
                assert_eq!(*by_key.entry(key).or_insert(all.ids[i]), all.ids[i], "row {i} of {n}");
            }
            assert_eq!(by_key.len(), all.first_rows.len(), "{n} rows");
            let some = group_rows(&[keys], n, Some(&selected)).unwrap();
            // The selected rows are grouped as in the full grouping (same partition of rows).
            let mut pairs = std::collections::HashMap::new();
            for i in 0..n {
                if selected.value(i) {
                    assert_ne!(some.ids[i], SKIPPED);
                    assert_eq!(*pairs.entry(all.ids[i]).or_insert(some.ids[i]), some.ids[i], "row {i}");
                } else {
                    assert_eq!(some.ids[i], SKIPPED);
                }
            }
            assert_eq!(pairs.len(), some.first_rows.len());
            // Each group's first row is its first selected row.
            let mut seen = vec![false; some.first_rows.len()];
            for (i, &id) in some.ids.iter().enumerate() {
                if id != SKIPPED && !std::mem::replace(&mut seen[id as usize], true) {
                    assert_eq!(some.first_rows[id as usize] as usize, i);
                }
            }
        }
    }
}
