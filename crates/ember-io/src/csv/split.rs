//! Record boundaries in CSV bytes, quote-aware (RFC 4180: a quoted field may hold the delimiter,
//! doubled quotes and newlines).
//!
//! Parallel splitting, as the GPU decoder does it: cut the bytes into equal pieces, count the
//! quote characters of each piece in parallel, and combine the counts by a prefix (exclusive scan
//! of parities), which tells whether each piece starts inside a quoted field; each cut then moves
//! to the first newline outside quotes. A doubled quote (`""`) toggles the parity twice, so it
//! needs no special case. A quote character in the middle of an unquoted field (`5" pipe`), which
//! RFC 4180 does not allow, can mislead the parity; the reader decodes such files in one piece
//! when a chunk fails (see `read.rs`).
use rayon::prelude::*;

/// Whether `data[..pos]` ends inside a quoted field.
pub(crate) fn in_quotes_at(data: &[u8], pos: usize, quote: Option<u8>) -> bool {
    quote.is_some_and(|q| count(&data[..pos], q) % 2 == 1)
}

/// How many bytes of `data` are `b`.
pub(crate) fn count(data: &[u8], b: u8) -> usize {
    // 64-byte blocks counted in a byte each: the compiler turns the block into byte compares and
    // subtractions 16 lanes wide. (`filter().count()` over the whole slice widened every byte
    // to a 64-bit lane, four bytes a step: a fifth of a CSV read; and memchr's iterator is slower
    // for dense bytes such as newlines.)
    let blocks = data.chunks_exact(64);
    let tail = blocks.remainder().iter().filter(|&&x| x == b).count();
    blocks.map(|block| block.iter().fold(0u8, |n, &x| n + u8::from(x == b)) as usize).sum::<usize>() + tail
}

/// The start of the first record at or after `pos` (a record starts at 0 or after a newline
/// outside quotes), given whether `pos` is inside quotes; `data.len()` if none.
pub(crate) fn next_record_start(data: &[u8], pos: usize, mut in_quotes: bool, quote: Option<u8>) -> usize {
    if pos == 0 {
        return 0;
    }
    let mut i = pos;
    // A cut right after a newline is already a record start.
    if !in_quotes && data.get(pos - 1) == Some(&b'\n') {
        return pos;
    }
    loop {
        let hit = match quote {
            Some(q) => memchr::memchr2(b'\n', q, &data[i..]),
            None => memchr::memchr(b'\n', &data[i..]),
        };
        let Some(off) = hit else { return data.len() };
        let at = i + off;
        if data[at] == b'\n' && !in_quotes {
            return at + 1;
        }
        if data[at] != b'\n' {
            in_quotes = !in_quotes;
        }
        i = at + 1;
    }
}

/// Cuts `data` into about `pieces` ranges that each start at a record start: `[0, b1, ..., len]`.
pub(crate) fn chunk_bounds(data: &[u8], pieces: usize, quote: Option<u8>) -> Vec<usize> {
    let len = data.len();
    let pieces = pieces.clamp(1, len.max(1));
    let cuts: Vec<usize> = (0..=pieces).map(|i| i * len / pieces).collect();
    // Quote parity at each cut: per-piece counts in parallel, then a prefix.
    let starts_in_quotes: Vec<bool> = match quote {
        None => vec![false; pieces],
        Some(q) => {
            let odd: Vec<bool> = cuts.par_windows(2).map(|w| count(&data[w[0]..w[1]], q) % 2 == 1).collect();
            let mut state = false;
            odd.iter()
                .map(|&o| {
                    let at = state;
                    state ^= o;
                    at
                })
                .collect()
        }
    };
    let mut bounds: Vec<usize> = (0..pieces)
        .into_par_iter()
        .map(|i| if i == 0 { 0 } else { next_record_start(data, cuts[i], starts_in_quotes[i], quote) })
        .collect();
    bounds.push(len);
    bounds.dedup();
    bounds
}

/// Every record start in `data` (sequential; the error path uses it to find a failing row).
pub(crate) fn record_starts(data: &[u8], quote: Option<u8>) -> Vec<usize> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        out.push(pos);
        pos = next_record_start(data, pos + 1, in_quote_after(data, pos, quote), quote);
    }
    out
}

/// Whether the byte at `pos` (a record start) opens a quote: the state just after it.
fn in_quote_after(data: &[u8], pos: usize, quote: Option<u8>) -> bool {
    quote.is_some_and(|q| data[pos] == q)
}

/// The 1-based line of byte `pos`.
pub(crate) fn line_of(data: &[u8], pos: usize) -> u64 {
    count(&data[..pos.min(data.len())], b'\n') as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial(data: &[u8]) -> Vec<usize> {
        let mut v = record_starts(data, Some(b'"'));
        v.push(data.len());
        v
    }

    #[test]
    fn quoted_newlines_do_not_end_records() {
        let data = b"a,b\n\"x\ny\",1\n\"p\"\"\n\",2\nlast,3";
        assert_eq!(record_starts(data, Some(b'"')), vec![0, 4, 12, 21]);
        // Whatever the piece count, every bound is a record start.
        let all = serial(data);
        for pieces in 1..=data.len() {
            let b = chunk_bounds(data, pieces, Some(b'"'));
            assert!(b.iter().all(|x| all.contains(x)), "pieces={pieces}: {b:?} vs {all:?}");
            assert_eq!((b[0], *b.last().unwrap()), (0, data.len()));
        }
    }

    #[test]
    fn counts_match_a_plain_count_at_every_length() {
        // Every length around the 64-byte blocks, and a block of nothing but the byte (its
        // per-block counter must not wrap).
        let data: Vec<u8> =
            (0..700u32).map(|i| if i % 7 == 0 || (300..364).contains(&i) { b'"' } else { b'a' }).collect();
        for len in 0..data.len() {
            for start in [0, 1, 63] {
                let d = &data[start.min(len)..len];
                assert_eq!(count(d, b'"'), d.iter().filter(|&&x| x == b'"').count(), "{start}..{len}");
            }
        }
        assert_eq!(count(&[b'"'; 256], b'"'), 256);
    }

    #[test]
    fn without_quoting_every_newline_ends_a_record() {
        let data = b"\"a\n\"b\n";
        assert_eq!(record_starts(data, None), vec![0, 3]);
        assert_eq!(chunk_bounds(data, 3, None), vec![0, 3, 6]);
        assert_eq!(line_of(data, 3), 2);
    }
}
