// String kernels beyond comparison (kernels/compare.cu): SQL LIKE, character length and
// character slices. Strings are Arrow large-utf8: i64 offsets and bytes. Characters are Unicode
// scalar values: a byte starts one unless it is a UTF-8 continuation byte (10xxxxxx).
#include "common.cuh"

__device__ __forceinline__ bool starts_char(u8 b) { return (b & 0xc0) != 0x80; }

// Bytes of the character whose first byte is b (1 for a stray continuation byte).
__device__ __forceinline__ i64 char_bytes(u8 b) {
    if (b < 0x80) return 1;
    if ((b >> 5) == 6) return 2;
    if ((b >> 4) == 14) return 3;
    if ((b >> 3) == 30) return 4;
    return 1;
}

__device__ __forceinline__ void write_bits(bool b, u32* out_bits, u64 i, u64 n) {
    const u32 word = __ballot_sync(0xffffffffu, b);
    if ((threadIdx.x & 31) == 0 && i < n) out_bits[i >> 5] = word;
}

// Whether s[0..len) matches the pattern tokens (EMBER_ABI_LIKE_* wildcards, else bytes): the
// classic single-backtrack wildcard match (on a mismatch, the last `%` absorbs one more
// character), linear in practice and O(len * plen) at worst; `_` consumes one whole character.
__device__ bool like_match(const u8* s, i64 len, const u16* pat, i64 plen) {
    i64 si = 0, pi = 0, star = -1, resume = 0;
    while (si < len) {
        if (pi < plen && pat[pi] == EMBER_ABI_LIKE_ANY) {
            star = pi++;
            resume = si;
        } else if (pi < plen && (pat[pi] == EMBER_ABI_LIKE_ONE || pat[pi] == s[si])) {
            si += pat[pi] == EMBER_ABI_LIKE_ONE ? char_bytes(s[si]) : 1;
            ++pi;
        } else if (star >= 0) {
            pi = star + 1;
            resume += char_bytes(s[resume]);
            si = resume;
        } else {
            return false;
        }
    }
    while (pi < plen && pat[pi] == EMBER_ABI_LIKE_ANY) ++pi;
    return pi == plen && si == len;
}

extern "C" __global__ void str_like(const i64* off, const u8* bytes, const u16* pat, u64 plen, u32* out, u64 n) {
    const u64 i = ember_gid();
    bool r = false;
    if (i < n) r = like_match(bytes + off[i], off[i + 1] - off[i], pat, (i64)plen);
    write_bits(r, out, i, n);
}
EMBER_SIM_EXPORT(str_like)

__device__ __forceinline__ i64 count_chars(const u8* s, i64 len) {
    i64 c = 0;
    for (i64 k = 0; k < len; ++k) c += starts_char(s[k]) ? 1 : 0;
    return c;
}

extern "C" __global__ void str_len_chars(const i64* off, const u8* bytes, u32* out, u64 n) {
    const u64 i = ember_gid();
    if (i < n) out[i] = (u32)count_chars(bytes + off[i], off[i + 1] - off[i]);
}
EMBER_SIM_EXPORT(str_len_chars)

// The byte offset of character `c` of s (len if there are fewer characters).
__device__ __forceinline__ i64 char_offset(const u8* s, i64 len, i64 c) {
    i64 seen = 0;
    for (i64 k = 0; k < len; ++k) {
        if (starts_char(s[k])) {
            if (seen == c) return k;
            ++seen;
        }
    }
    return len;
}

// Characters [start, start + length) of each string (arrow-rs substring_by_char's rules: a
// negative start counts from the end and clamps at 0; `has_length` 0: to the end). Writes each
// row's source byte offset and byte length; null rows (validity) get length 0.
extern "C" __global__ void str_slice_bounds(const i64* off, const u8* bytes, const u32* validity, i64 start,
                                            u32 has_length, u64 length, i64* src, u64* lengths, u64 n) {
    const u64 i = ember_gid();
    if (i >= n) return;
    const u8* s = bytes + off[i];
    const i64 len = off[i + 1] - off[i];
    i64 b = 0, e = 0;
    if (ember_valid(validity, i)) {
        i64 first;
        if (start >= 0) {
            first = start;
        } else {
            const i64 chars = count_chars(s, len);
            first = chars + start < 0 ? 0 : chars + start;
        }
        b = char_offset(s, len, first);
        e = len;
        if (has_length) {
            const i64 rest = (i64)(length > (u64)len ? (u64)len : length);
            e = b + char_offset(s + b, len - b, rest);
        }
    }
    src[i] = off[i] + b;
    lengths[i] = (u64)(e - b);
}
EMBER_SIM_EXPORT(str_slice_bounds)

// Copies each row's byte range to its output offset (from an exclusive scan of the lengths).
extern "C" __global__ void str_copy_ranges(const u8* bytes, const i64* src, const u64* out_offsets, u8* out, u64 n) {
    const u64 i = ember_gid();
    if (i >= n) return;
    const u64 o = out_offsets[i], len = out_offsets[i + 1] - o;
    for (u64 k = 0; k < len; ++k) out[o + k] = bytes[src[i] + k];
}
EMBER_SIM_EXPORT(str_copy_ranges)
