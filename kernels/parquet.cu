// Parquet page decoding on the device (see crates/ember-io/src/parquet/gpu.rs for the host side).
//
// The host reads the footer and page headers, decompresses pages, and turns every RLE /
// bit-packed hybrid stream (definition levels, dictionary indices, PLAIN booleans) into a run
// table: run r covers outputs [run_start[r], run_start[r+1]) and is one of
//   RLE       every output is run_data[r] + run_add[r]
//   PACKED    output k of the run is bits [k*w, (k+1)*w) of the bytes at run_data[r], + run_add[r]
//   SEQUENCE  output k of the run is run_add[r] + k (PLAIN pages: entry k of the values table)
// Run headers are sparse (one per run, not per value), so walking them on the host is cheap; the
// values are expanded here, one thread per output (binary search of the run table). Fixed-width
// values then come from one "values table" (dictionary pages and PLAIN pages, concatenated) by
// index: the same gather serves dictionary and plain pages, mixed within a column chunk as
// writers produce them when a dictionary overflows.
#include "common.cuh"

#define PQ_RUN_RLE 0u
#define PQ_RUN_PACKED 1u
#define PQ_RUN_SEQUENCE 2u

// The segment of output i, given the first output of each segment (sorted, seg_first[0] = 0).
__device__ __forceinline__ u64 pq_segment_of(const u64* seg_first, u64 n_seg, u64 i) {
    u64 lo = 0, hi = n_seg;
    while (hi - lo > 1) {
        const u64 mid = lo + (hi - lo) / 2;
        if (seg_first[mid] <= i) lo = mid;
        else hi = mid;
    }
    return lo;
}

// Expanded value i of a run table. `bytes` is padded by the host so a 5-byte read never leaves it.
extern "C" __global__ void pq_expand_runs(const u64* run_start, const u64* run_data, const u32* run_add,
                                          const u32* run_meta, u64 n_runs, const u8* bytes, u32* out, u64 n) {
    const u64 i = ember_gid();
    if (i >= n) return;
    const u64 lo = pq_segment_of(run_start, n_runs, i);
    const u32 meta = run_meta[lo], kind = meta >> 8, width = meta & 0xffu;
    const u64 k = i - run_start[lo];
    u32 v;
    if (kind == PQ_RUN_RLE) {
        v = (u32)run_data[lo];
    } else if (kind == PQ_RUN_SEQUENCE) {
        v = (u32)k;
    } else {
        const u64 bit = k * width;
        const u8* p = bytes + run_data[lo] + (bit >> 3);
        u64 w = 0;
        for (int b = 0; b < 5; ++b) w |= (u64)p[b] << (8 * b);
        const u64 mask = width >= 32 ? 0xffffffffull : ((1ull << width) - 1);
        v = (u32)((w >> (bit & 7)) & mask);
    }
    out[i] = v + run_add[lo];
}
EMBER_SIM_EXPORT(pq_expand_runs)

// The validity bitmap of definition levels (flat columns: level 1 = present).
extern "C" __global__ void pq_levels_to_bits(const u32* levels, u32* bits, u64 n) {
    const u64 i = ember_gid();
    const bool b = i < n && levels[i] != 0;
    const u32 word = __ballot_sync(0xffffffffu, b);
    if ((threadIdx.x & 31) == 0 && i < n) bits[i >> 5] = word;
}
EMBER_SIM_EXPORT(pq_levels_to_bits)

// The values-table entry of row i: idx[rank[i]] where present (rank = exclusive scan of the
// levels; no levels: every row present, rank = i), `none` where null. An index past the table or
// a rank past the decoded indices is corrupt input: flagged in `err`, never read.
extern "C" __global__ void pq_row_entries(const u32* idx, u64 n_idx, const u32* levels, const u32* rank, u64 entries,
                                          u32 none, u32* rows, u32* err, u64 n) {
    const u64 i = ember_gid();
    if (i >= n) return;
    u32 e = none;
    if (levels == 0 || levels[i] != 0) {
        const u64 r = levels == 0 ? i : rank[i];
        if (r >= n_idx || idx[r] >= entries) {
            atomicOr(err, 1u);
        } else {
            e = idx[r];
        }
    }
    rows[i] = e;
}
EMBER_SIM_EXPORT(pq_row_entries)

// out[i] = table[rows[i]] (`none` rows: zero), for 4-, 8- and 16-byte values.
#define PQ_TAKE(NAME, T)                                                                                  \
    extern "C" __global__ void NAME(const T* table, const u32* rows, u32 none, T* out, u64 n) {            \
        const u64 i = ember_gid();                                                                        \
        if (i < n) out[i] = rows[i] == none ? T(0) : table[rows[i]];                                      \
    }                                                                                                     \
    EMBER_SIM_EXPORT(NAME)
PQ_TAKE(pq_take_w4, u32)
PQ_TAKE(pq_take_w8, u64)
PQ_TAKE(pq_take_w16, u128)

// Booleans: the table holds one u32 (0 or 1) per entry; out is a bitmap.
extern "C" __global__ void pq_take_bool(const u32* table, const u32* rows, u32 none, u32* bits, u64 n) {
    const u64 i = ember_gid();
    const bool b = i < n && rows[i] != none && table[rows[i]] != 0;
    const u32 word = __ballot_sync(0xffffffffu, b);
    if ((threadIdx.x & 31) == 0 && i < n) bits[i >> 5] = word;
}
EMBER_SIM_EXPORT(pq_take_bool)

// Widening conversions of a values table into 16-byte decimals or nanosecond timestamps.
extern "C" __global__ void pq_i32_to_i128(const i32* in, i128* out, u64 n) {
    const u64 i = ember_gid();
    if (i < n) out[i] = (i128)in[i];
}
EMBER_SIM_EXPORT(pq_i32_to_i128)

extern "C" __global__ void pq_i64_to_i128(const i64* in, i128* out, u64 n) {
    const u64 i = ember_gid();
    if (i < n) out[i] = (i128)in[i];
}
EMBER_SIM_EXPORT(pq_i64_to_i128)

// FIXED_LEN_BYTE_ARRAY decimals: `width` (1..16) big-endian two's-complement bytes each.
extern "C" __global__ void pq_flba_to_i128(const u8* in, u32 width, i128* out, u64 n) {
    const u64 i = ember_gid();
    if (i >= n) return;
    const u8* p = in + i * width;
    u128 v = (p[0] & 0x80) ? ~(u128)0 : (u128)0;  // sign extension
    for (u32 b = 0; b < width; ++b) v = (v << 8) | p[b];
    out[i] = (i128)v;
}
EMBER_SIM_EXPORT(pq_flba_to_i128)

// INT96 timestamps (8 bytes of nanoseconds in the day, then a 4-byte Julian day, little-endian)
// to nanoseconds since the epoch, wrapping as arrow-rs does outside the i64 range.
extern "C" __global__ void pq_int96_to_ns(const u32* in, i64* out, u64 n) {
    const u64 i = ember_gid();
    if (i >= n) return;
    const u64 nanos = (u64)in[3 * i] | ((u64)in[3 * i + 1] << 32);
    const i64 day = (i64)in[3 * i + 2] - 2440588;  // Julian day of 1970-01-01
    out[i] = (i64)((u64)day * 86400000000000ull + nanos);
}
EMBER_SIM_EXPORT(pq_int96_to_ns)

// Strings: a table of (start, length) entries in `table_bytes`; the `none` entry is empty.
extern "C" __global__ void pq_str_lengths(const u32* entry_len, const u32* rows, u32 none, u64* lengths, u64 n) {
    const u64 i = ember_gid();
    if (i < n) lengths[i] = rows[i] == none ? 0 : entry_len[rows[i]];
}
EMBER_SIM_EXPORT(pq_str_lengths)

extern "C" __global__ void pq_str_copy(const u64* entry_start, const u32* entry_len, const u8* table_bytes,
                                       const u32* rows, u32 none, const u64* out_offsets, u8* out_bytes, u64 n) {
    const u64 i = ember_gid();
    if (i >= n || rows[i] == none) return;
    const u8* src = table_bytes + entry_start[rows[i]];
    u8* dst = out_bytes + out_offsets[i];
    const u32 len = entry_len[rows[i]];
    for (u32 k = 0; k < len; ++k) dst[k] = src[k];
}
EMBER_SIM_EXPORT(pq_str_copy)

// BYTE_STREAM_SPLIT pages: segment s (one page) holds seg_count[s] values of `width` bytes as
// `width` streams of seg_count[s] bytes at bytes + seg_stream[s] (byte 0 of every value, then
// byte 1, ...). Value k is written whole to values-table entry seg_entry[s] + k. One thread per
// value (seg_first: the exclusive prefix of the counts).
extern "C" __global__ void pq_bss_merge(const u64* seg_first, const u64* seg_stream, const u64* seg_entry,
                                        const u64* seg_count, u64 n_seg, const u8* bytes, u32 width, u8* table,
                                        u64 n) {
    const u64 i = ember_gid();
    if (i >= n) return;
    const u64 s = pq_segment_of(seg_first, n_seg, i);
    const u64 k = i - seg_first[s], count = seg_count[s];
    const u8* src = bytes + seg_stream[s] + k;
    u8* dst = table + (seg_entry[s] + k) * width;
    for (u32 b = 0; b < width; ++b) dst[b] = src[(u64)b * count];
}
EMBER_SIM_EXPORT(pq_bss_merge)

// DELTA_BINARY_PACKED pages, step 1: every value's delta, from a run table as pq_expand_runs's
// but 64-bit: run r covers outputs [run_start[r], run_start[r+1]); output k of the run is bits
// [k*w, (k+1)*w) of the bytes at run_data[r] (w = run_width[r], 0..64; w = 0 reads nothing) plus
// run_add[r], wrapping. A page's first value is a run of one with w = 0 and the value as its add;
// each miniblock is a run with the block's min delta as its add. `bytes` is padded by the host so
// a 9-byte read at the last bit never leaves it.
extern "C" __global__ void pq_delta_expand(const u64* run_start, const u64* run_data, const u64* run_add,
                                           const u32* run_width, u64 n_runs, const u8* bytes, u64* out, u64 n) {
    const u64 i = ember_gid();
    if (i >= n) return;
    const u64 r = pq_segment_of(run_start, n_runs, i);
    const u32 width = run_width[r];
    u64 v = 0;
    if (width > 0) {
        const u64 bit = (i - run_start[r]) * width;
        const u8* p = bytes + run_data[r] + (bit >> 3);
        u64 lo = 0;
        for (int b = 0; b < 8; ++b) lo |= (u64)p[b] << (8 * b);
        const u32 shift = (u32)(bit & 7);
        v = lo >> shift;
        if (shift > 0) v |= (u64)p[8] << (64 - shift);
        if (width < 64) v &= (1ull << width) - 1;
    }
    out[i] = v + run_add[r];
}
EMBER_SIM_EXPORT(pq_delta_expand)

// DELTA_BINARY_PACKED pages, step 2, after an exclusive scan S of the deltas d: value j of page p
// (outputs [page_first[p], page_first[p+1])) is S[j] + d[j] - S[page_first[p]] (the page's first
// value plus the deltas after it, wrapping as the encoder did), written as its low `width` (4 or
// 8) bytes to values-table entry page_entry[p] + (j - page_first[p]).
extern "C" __global__ void pq_delta_finish(const u64* page_first, const u64* page_entry, u64 n_pages,
                                           const u64* deltas, const u64* scan, u32 width, u8* table, u64 n) {
    const u64 j = ember_gid();
    if (j >= n) return;
    const u64 p = pq_segment_of(page_first, n_pages, j);
    const u64 v = scan[j] + deltas[j] - scan[page_first[p]];
    const u64 e = page_entry[p] + (j - page_first[p]);
    if (width == 4) reinterpret_cast<u32*>(table)[e] = (u32)v;
    else reinterpret_cast<u64*>(table)[e] = v;
}
EMBER_SIM_EXPORT(pq_delta_finish)

// DELTA_LENGTH_BYTE_ARRAY pages, after their lengths are decoded (lengths[j], a u64 per string in
// stream order) and scanned (offsets): string j of page p (strings [page_first[p],
// page_first[p+1])) is table bytes [page_base[p] + offsets[j] - offsets[page_first[p]], + lengths[j]),
// written to string entry page_entry[p] + (j - page_first[p]). Corrupt input is flagged in `err`,
// never read past: a string past its page's bytes, or lengths not adding up to them (bit 2); a
// non-empty string starting on a UTF-8 continuation byte (bit 4: the page's bytes were validated
// whole on the host, so strings that start on character boundaries are each valid).
extern "C" __global__ void pq_dlba_fill(const u64* page_first, const u64* page_entry, const u64* page_base,
                                        const u64* page_bytes, u64 n_pages, const u64* lengths, const u64* offsets,
                                        const u8* table, u64* str_start, u32* str_len, u32* err, u64 n) {
    const u64 j = ember_gid();
    if (j >= n) return;
    const u64 p = pq_segment_of(page_first, n_pages, j);
    const u64 bytes = page_bytes[p];
    u64 off = offsets[j] - offsets[page_first[p]];
    u64 len = lengths[j];
    const u64 last = (p + 1 < n_pages ? page_first[p + 1] : n) - 1;
    if (len > bytes || off > bytes - len || (j == last && off + len != bytes)) {
        atomicOr(err, 2u);
        off = 0;
        len = 0;
    }
    const u64 start = page_base[p] + off;
    if (len > 0 && (table[start] & 0xc0u) == 0x80u) atomicOr(err, 4u);
    const u64 e = page_entry[p] + (j - page_first[p]);
    str_start[e] = start;
    str_len[e] = (u32)len;
}
EMBER_SIM_EXPORT(pq_dlba_fill)

// DELTA_BYTE_ARRAY pages. String i is the first prefix[i] bytes of string i - 1, then its own
// suffix (table bytes from src[i]); the host decoded the prefix and suffix lengths (small integer
// streams), checked them, and reserved len[i] = prefix[i] + suffix length bytes at dst[i] for each
// string. One thread per output byte b (first[i]: the strings' running byte counts): byte j of
// string i is the suffix byte of the latest string k <= i whose prefix[k] <= j (strings between
// copied it down). The search walks pse[k] (the previous string of the page with a shorter
// prefix: those in between have prefixes at least prefix[k], longer than j as well), so it takes
// as many steps as the prefixes nest, not one per string; a page's first string has prefix 0.
extern "C" __global__ void pq_dba_fill(const u64* first, const u64* dst, const u64* src, const u32* prefix,
                                       const u64* pse, u64 n, u8* table, u64 bytes) {
    const u64 b = ember_gid();
    if (b >= bytes) return;
    const u64 i = pq_segment_of(first, n, b);
    const u64 j = b - first[i];
    u64 k = i;
    if (j < prefix[i]) {
        k = i - 1;
        while (j < prefix[k]) k = pse[k];
    }
    table[dst[i] + j] = table[src[k] + (j - prefix[k])];
}
EMBER_SIM_EXPORT(pq_dba_fill)

// DELTA_BYTE_ARRAY strings, after pq_dba_fill: each must be valid UTF-8 on its own (a common
// prefix may end inside a character that the suffix completes, so the pieces cannot be checked
// apart); error bit 4 if not.
extern "C" __global__ void pq_dba_check(const u64* dst, const u32* len, u64 n, const u8* table, u32* err) {
    const u64 i = ember_gid();
    if (i >= n) return;
    if (!ember_utf8_valid(table + dst[i], len[i])) atomicOr(err, 4u);
}
EMBER_SIM_EXPORT(pq_dba_check)
