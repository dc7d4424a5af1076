//! The CPU engine's join hash table: a multimap from packed keys to build rows, open addressing
//! with linear probing over one slot array `[(key, first row)]`, the further rows of a key chained
//! in row order through `next`.
//!
//! Large builds run in parallel without locks: the top bits of a key's hash choose one of `P`
//! partitions, each partition owns a contiguous range of slots (probing wraps inside it), the
//! rows are scattered to their partitions (stable: in row order), and each partition's rows are
//! inserted by one thread into its own slots. A probe computes the same slot from the hash.
//! Hand-written rather than `std`'s `HashMap`: one cache line per lookup (key and row side by
//! side), a build split across cores, and no per-key allocation for duplicate keys.
//!
//! Dense keys skip hashing: when the build's valid keys (one `u64` word) span at most
//! [`DIRECT_SPAN_PER_ROW`] values per build row, each key's first row sits at `key - min` of an
//! array ([`Direct`]). TPC-H's keys are dense, and a probe side sorted by its key (`lineitem` by
//! order key, `partsupp` by part key) then reads that array in order instead of at random.
use super::keys::{KeyWord, Keys};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

/// No row.
pub(crate) const NONE: u32 = u32::MAX;

/// Builds below this many rows run on one thread (the scatter would cost more than it saves).
const PARALLEL_BUILD: usize = 1 << 16;

/// A hash multimap from the valid keys of a build side to its rows.
pub(crate) struct Table<K> {
    /// `(key, first row)`; a slot whose row is `NONE` is empty.
    slots: Vec<(K, u32)>,
    /// Build row -> the next row with the same key (`NONE`: the last).
    next: Vec<AtomicU32>,
    /// `hash >> shift` is a key's home slot.
    shift: u32,
    /// Slots per partition, less one (a power of two less one).
    part_mask: usize,
    /// Small builds: one bit per `hash >> filter_shift`, set for the keys present. A probe that
    /// mostly misses (a semi join against a few hundred parts) then takes a predictable branch
    /// instead of a probe loop whose length the branch predictor cannot guess.
    filter: Vec<u64>,
    filter_shift: u32,
    /// Dense keys: the first row of each key indexed by the key (the slots are then unused).
    direct: Option<Direct>,
}

/// The first build row of each key `min + k` at `heads[k]` (`NONE`: no row).
struct Direct {
    min: u64,
    heads: Vec<u32>,
}

/// A build whose keys span at most this many values per row taking part (plus
/// [`DIRECT_SPAN_SLACK`]) is indexed directly: 4 bytes per value of the span, against the hash
/// table's 32 per row.
const DIRECT_SPAN_PER_ROW: u64 = 8;

/// Span allowed beyond [`DIRECT_SPAN_PER_ROW`] times the rows (small builds).
const DIRECT_SPAN_SLACK: u64 = 4096;

/// Most key-range parts a direct build is split into (each scans all the build's keys).
const DIRECT_MAX_PARTS: usize = 4;

/// Filter bits per build row (a false positive about one probe in 16 that should miss).
const FILTER_BITS_PER_ROW: usize = 16;

/// Builds above this many rows have no filter (at 16 bits a row it would outgrow a 512 KiB L2).
const FILTER_MAX_ROWS: usize = 1 << 18;

impl<K: KeyWord> Table<K> {
    /// The table of `keys`' valid rows.
    pub(crate) fn build(keys: &Keys<'_>) -> Table<K> {
        Table::build_direct(keys).unwrap_or_else(|| Table::build_hashed(keys))
    }

    /// The hash table of `keys`' valid rows.
    fn build_hashed(keys: &Keys<'_>) -> Table<K> {
        // Sized by the rows that take part; `next` is indexed by row number.
        let (n, rows_taking_part) = (keys.len(), keys.count());
        let capacity = (2 * rows_taking_part).next_power_of_two().max(16);
        let shift = 64 - capacity.trailing_zeros();
        let mut parts =
            if rows_taking_part < PARALLEL_BUILD { 1 } else { (rayon::current_num_threads() * 4).next_power_of_two() };
        parts = parts.min(capacity / 16);
        let rows = (parts > 1).then(|| partition_rows::<K>(keys, shift, capacity / parts, parts));
        // Probing wraps inside a partition, so a partition must keep an empty slot: if one got as
        // many rows as it has slots (keys whose hashes crowd one partition), build it whole.
        if rows.as_ref().is_some_and(|rows| rows.iter().any(|r| r.len() >= capacity / parts)) {
            parts = 1;
        }
        let mut table = Table {
            slots: vec![(K::ZERO, NONE); capacity],
            next: (0..n).into_par_iter().map(|_| AtomicU32::new(NONE)).collect(),
            shift,
            part_mask: capacity / parts - 1,
            filter: Vec::new(),
            filter_shift: 64,
            direct: None,
        };
        let (next, mask) = (&table.next, table.part_mask);
        match rows {
            Some(rows) if parts > 1 => {
                table.slots.par_chunks_mut(capacity / parts).zip(rows.par_iter()).for_each(|(slots, rows)| {
                    for &row in rows.iter().rev() {
                        insert(slots, next, shift, mask, keys.get(row as usize), row);
                    }
                });
            }
            _ => {
                for row in (0..n).rev().filter(|&i| keys.is_valid(i)) {
                    insert(&mut table.slots, next, shift, mask, keys.get(row), row as u32);
                }
            }
        }
        table.build_filter(rows_taking_part);
        table
    }

    /// The directly indexed table of `keys`, when they are `u64` words of a dense enough range
    /// ([`DIRECT_SPAN_PER_ROW`]). Large builds split the key range among a few threads: each
    /// scans every row (last first, so chains run in row order) and links those in its part.
    fn build_direct(keys: &Keys<'_>) -> Option<Table<K>> {
        let (n, count) = (keys.len(), keys.count());
        K::ZERO.narrow()?;
        let (lo, span) = keys.span(1);
        if span > DIRECT_SPAN_PER_ROW * count as u64 + DIRECT_SPAN_SLACK {
            return None;
        }
        let next: Vec<AtomicU32> = (0..n).into_par_iter().map(|_| AtomicU32::new(NONE)).collect();
        let mut heads = vec![NONE; span as usize];
        // Each part reads every key, so parts only spread the scattered writes: a few suffice.
        let parts = if count < PARALLEL_BUILD { 1 } else { rayon::current_num_threads().clamp(1, DIRECT_MAX_PARTS) };
        let part_len = (span as usize).div_ceil(parts).max(1);
        heads.par_chunks_mut(part_len).enumerate().for_each(|(p, heads)| {
            let first = (p * part_len) as u64;
            for i in (0..n).rev().filter(|&i| keys.is_valid(i)) {
                let k = keys.get::<u64>(i) - lo;
                if let Some(head) = k.checked_sub(first).and_then(|k| heads.get_mut(k as usize)) {
                    next[i].store(*head, Ordering::Relaxed);
                    *head = i as u32;
                }
            }
        });
        Some(Table {
            slots: Vec::new(),
            next,
            shift: 64,
            part_mask: 0,
            filter: Vec::new(),
            filter_shift: 64,
            direct: Some(Direct { min: lo, heads }),
        })
    }

    /// Sets the filter bits of the keys present, for builds of at most [`FILTER_MAX_ROWS`].
    fn build_filter(&mut self, rows: usize) {
        if rows > FILTER_MAX_ROWS {
            return;
        }
        let bits = (rows * FILTER_BITS_PER_ROW).next_power_of_two().max(64);
        self.filter = vec![0u64; bits / 64];
        self.filter_shift = 64 - bits.trailing_zeros();
        for &(key, row) in &self.slots {
            if row != NONE {
                let b = (key.hash() >> self.filter_shift) as usize;
                self.filter[b / 64] |= 1 << (b % 64);
            }
        }
    }

    /// The first build row whose key is `key` (`NONE`: none).
    #[inline(always)]
    pub(crate) fn first(&self, key: K) -> u32 {
        if let Some(d) = &self.direct {
            let k = key.narrow().unwrap_or_default().wrapping_sub(d.min);
            return d.heads.get(k as usize).copied().unwrap_or(NONE);
        }
        let hash = key.hash();
        if !self.filter.is_empty() {
            let b = (hash >> self.filter_shift) as usize;
            if self.filter[b / 64] & (1 << (b % 64)) == 0 {
                return NONE;
            }
        }
        let mut slot = (hash >> self.shift) as usize;
        let base = slot & !self.part_mask;
        loop {
            let (k, row) = self.slots[slot];
            if row == NONE || k == key {
                return row;
            }
            slot = base | ((slot + 1) & self.part_mask);
        }
    }

    /// The build row after `row` with the same key (`NONE`: none).
    #[inline(always)]
    pub(crate) fn next(&self, row: u32) -> u32 {
        self.next[row as usize].load(Ordering::Relaxed)
    }
}

/// Inserts `row` into one partition's slots (`slots`: that partition's range, or the whole table
/// when it has one partition). Rows are inserted last first, so chains run in row order.
fn insert<K: KeyWord>(slots: &mut [(K, u32)], next: &[AtomicU32], shift: u32, mask: usize, key: K, row: u32) {
    let mut slot = (key.hash() >> shift) as usize & mask;
    loop {
        let (k, head) = &mut slots[slot];
        if *head == NONE {
            *k = key;
            *head = row;
            return;
        }
        if *k == key {
            next[row as usize].store(*head, Ordering::Relaxed);
            *head = row;
            return;
        }
        slot = (slot + 1) & mask;
    }
}

/// The valid rows of `keys` grouped by partition (`hash >> shift` divided by the partition size),
/// each group in row order: per-chunk counts, then each chunk scatters into its own ranges.
fn partition_rows<K: KeyWord>(keys: &Keys<'_>, shift: u32, part_size: usize, parts: usize) -> Vec<Vec<u32>> {
    let part_of = |row: usize| (keys.get::<K>(row).hash() >> shift) as usize / part_size;
    let chunk = keys.len().div_ceil(rayon::current_num_threads() * 4).max(1 << 12);
    let per_chunk: Vec<Vec<Vec<u32>>> = (0..keys.len())
        .into_par_iter()
        .step_by(chunk)
        .map(|start| {
            let mut out = vec![Vec::new(); parts];
            for row in (start..(start + chunk).min(keys.len())).filter(|&i| keys.is_valid(i)) {
                out[part_of(row)].push(row as u32);
            }
            out
        })
        .collect();
    (0..parts)
        .into_par_iter()
        .map(|p| {
            let mut rows = Vec::with_capacity(per_chunk.iter().map(|c| c[p].len()).sum());
            per_chunk.iter().for_each(|c| rows.extend_from_slice(&c[p]));
            rows
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array};
    use std::collections::HashMap;
    use std::sync::Arc;

    /// Every valid row is found under its key, chains run in row order, and absent keys miss, on
    /// one partition and on the parallel build's many (with duplicates and nulls).
    #[test]
    fn chains_hold_every_row_in_order() {
        for n in [0usize, 1, 17, 1000, PARALLEL_BUILD + 4321] {
            let values: Vec<Option<i64>> =
                (0..n).map(|i| (i % 11 != 3).then_some(((i as i64).wrapping_mul(7919) % 5003) << 20)).collect();
            let arrays = [Arc::new(Int64Array::from(values.clone())) as ArrayRef];
            let keys = Keys::new(&arrays, n, None).unwrap();
            let table = Table::<u64>::build(&keys);
            let mut want: HashMap<i64, Vec<u32>> = HashMap::new();
            for (i, v) in values.iter().enumerate() {
                if let Some(v) = v {
                    want.entry(*v).or_default().push(i as u32);
                }
            }
            for (v, rows) in &want {
                let mut got = Vec::new();
                let mut row = table.first(keys.get(rows[0] as usize));
                while row != NONE {
                    got.push(row);
                    row = table.next(row);
                }
                assert_eq!(&got, rows, "key {v}, {n} rows");
            }
            let absent = [Arc::new(Int64Array::from(vec![1i64, -5, 5003 << 20])) as ArrayRef];
            let absent = Keys::new(&absent, 3, None).unwrap();
            assert!((0..3).all(|i| table.first(absent.get::<u64>(i)) == NONE), "{n} rows");
        }
    }

    /// Dense keys are indexed directly (one part and the parallel build's several): every valid
    /// row is found under its key, chains run in row order, keys below, above and inside the
    /// range that are absent miss, and a selection leaves the other rows out.
    #[test]
    fn dense_keys_are_indexed_directly() {
        for n in [1usize, 100, PARALLEL_BUILD + 777] {
            let values: Vec<Option<i64>> =
                (0..n).map(|i| (i % 13 != 5).then_some(1000 + ((i * 37) % (n / 2 + 1)) as i64 * 2)).collect();
            let arrays = [Arc::new(Int64Array::from(values.clone())) as ArrayRef];
            let selected = arrow::buffer::BooleanBuffer::from_iter((0..n).map(|i| i % 7 != 0));
            for sel in [None, Some(&selected)] {
                let keys = Keys::new(&arrays, n, sel).unwrap();
                let table = Table::<u64>::build(&keys);
                assert!(table.direct.is_some(), "{n} rows");
                let mut want: HashMap<i64, Vec<u32>> = HashMap::new();
                for (i, v) in values.iter().enumerate() {
                    if let (Some(v), true) = (v, sel.is_none_or(|s| s.value(i))) {
                        want.entry(*v).or_default().push(i as u32);
                    }
                }
                for (v, rows) in &want {
                    let mut got = Vec::new();
                    let mut row = table.first(*v as u64);
                    while row != NONE {
                        got.push(row);
                        row = table.next(row);
                    }
                    assert_eq!(&got, rows, "key {v}, {n} rows");
                }
                // Odd keys are never present; 999 is below the range, and far above it.
                for absent in [999i64, 1001, 1003, 1000 + n as i64 * 4, i64::MAX, -1] {
                    assert_eq!(table.first(absent as u64), NONE, "{absent}, {n} rows");
                }
            }
        }
    }

    /// Keys whose hashes all fall in one partition of the parallel build: that partition would
    /// fill up (and a probe in it never end), so the table is built whole; every key is found.
    #[test]
    fn keys_crowding_one_partition_are_built_whole() {
        let n = PARALLEL_BUILD + 1000;
        let capacity = (2 * n).next_power_of_two();
        let parts = (rayon::current_num_threads() * 4).next_power_of_two().min(capacity / 16);
        let shift = 64 - capacity.trailing_zeros();
        let crowded: Vec<i64> =
            (0i64..).filter(|&k| ((k as u64).hash() >> shift) as usize / (capacity / parts) == 0).take(n).collect();
        let arrays = [Arc::new(Int64Array::from(crowded.clone())) as ArrayRef];
        let keys = Keys::new(&arrays, n, None).unwrap();
        let table = Table::<u64>::build_hashed(&keys);
        assert!(table.direct.is_none());
        assert!(crowded.iter().enumerate().all(|(i, &k)| table.first(k as u64) == i as u32));
        assert_eq!(table.first(-1i64 as u64), NONE);
    }
}
