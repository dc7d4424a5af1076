// Stream compaction and gathers: the building blocks of filter (and later sort/join payloads).
// Driven by ember-gpu/src/primitives/compact.rs:
//   compact_count:  per tile of EMBER_BLOCK rows, how many rows are kept (mask bit set and valid);
//   (host) exclusive scan of the tile counts -> tile offsets;
//   compact_write:  the kept row indices, in row order (block scan inside the tile);
//   gather_*:       values, validity bits and strings at those indices.
#include "common.cuh"

__device__ __forceinline__ u32 keep_flag(const u32* mask, const u32* mask_valid, u64 i, u64 n) {
    return (i < n && ember_bit(mask, i) && ember_valid(mask_valid, i)) ? 1u : 0u;
}

extern "C" __global__ void compact_count(const u32* mask, const u32* mask_valid, u64 n, u32* tile_counts) {
    EMBER_SHARED(u32, warp_counts, 32);
    const u64 i = ember_gid();
    const u32 ballot = __ballot_sync(0xffffffffu, keep_flag(mask, mask_valid, i, n));
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) warp_counts[warp] = __popc(ballot);
    __syncthreads();
    if (threadIdx.x == 0) {
        u32 total = 0;
        for (unsigned w = 0; w < (blockDim.x >> 5); ++w) total += warp_counts[w];
        tile_counts[blockIdx.x] = total;
    }
}
EMBER_SIM_EXPORT(compact_count)

extern "C" __global__ void compact_write(const u32* mask, const u32* mask_valid, u64 n, const u32* tile_offsets,
                                         u32* out_indices) {
    EMBER_SHARED(u32, warp_sums, 32);
    const u64 i = ember_gid();
    const u32 keep = keep_flag(mask, mask_valid, i, n);
    u32 total;
    const u32 pos = ember_block_exclusive_scan<u32>(keep, total, warp_sums);
    if (keep) out_indices[tile_offsets[blockIdx.x] + pos] = (u32)i;
}
EMBER_SIM_EXPORT(compact_write)

template <typename T>
__device__ void gather_fixed(const T* in, const u32* idx, T* out, u64 m) {
    const u64 i = ember_gid();
    if (i < m) out[i] = in[idx[i]];
}
#define GATHER(name, T)                                                                       \
    extern "C" __global__ void gather_##name(const T* in, const u32* idx, T* out, u64 m) {     \
        gather_fixed<T>(in, idx, out, m);                                                     \
    }                                                                                         \
    EMBER_SIM_EXPORT(gather_##name)
GATHER(w1, u8)
GATHER(w2, u16)
GATHER(w4, u32)
GATHER(w8, u64)
GATHER(w16, u128)

// Bits at the indices, packed 32 per word with a warp ballot (no atomics).
extern "C" __global__ void gather_bits(const u32* in, const u32* idx, u32* out, u64 m) {
    const u64 i = ember_gid();
    const bool b = i < m && ember_bit(in, idx[i]);
    const u32 word = __ballot_sync(0xffffffffu, b);
    if ((threadIdx.x & 31) == 0 && i < m) out[i >> 5] = word;
}
EMBER_SIM_EXPORT(gather_bits)

// Strings (i64 offsets + bytes): lengths at the indices, then (after a host-driven scan) bytes.
extern "C" __global__ void gather_str_lengths(const i64* offsets, const u32* idx, u64* lengths, u64 m) {
    const u64 i = ember_gid();
    if (i < m) lengths[i] = (u64)(offsets[idx[i] + 1] - offsets[idx[i]]);
}
EMBER_SIM_EXPORT(gather_str_lengths)

extern "C" __global__ void gather_str_bytes(const i64* offsets, const u8* bytes, const u32* idx, const u64* out_offsets,
                                            u8* out_bytes, u64 m) {
    const u64 i = ember_gid();
    if (i >= m) return;
    const i64 s = offsets[idx[i]], e = offsets[idx[i] + 1];
    u8* dst = out_bytes + out_offsets[i];
    for (i64 k = s; k < e; ++k) dst[k - s] = bytes[k];
}
EMBER_SIM_EXPORT(gather_str_bytes)

// out[i] = start + i: the row indices of a slice, gathered like a filter's.
extern "C" __global__ void iota_u32(u32* out, u32 start, u64 n) {
    const u64 i = ember_gid();
    if (i < n) out[i] = start + (u32)i;
}
EMBER_SIM_EXPORT(iota_u32)

// Concatenation (ember-ops/src/concat.rs): bits [0, n) of `src` (null: all set) to bits
// [dst_bit, dst_bit + n) of `dst` (zeroed by the host), one thread per source word.
extern "C" __global__ void concat_bits(const u32* src, u64 n, u32* dst, u64 dst_bit) {
    const u64 w = ember_gid();
    if (w * 32 >= n) return;
    const u64 bits = n - w * 32 < 32 ? n - w * 32 : 32;
    const u32 word = (src ? src[w] : 0xffffffffu) & (bits == 32 ? 0xffffffffu : ((1u << bits) - 1u));
    const u64 at = dst_bit + w * 32;
    const u32 shift = (u32)(at & 31);
    atomicOr(&dst[at >> 5], word << shift);
    if (shift && (word >> (32 - shift))) atomicOr(&dst[(at >> 5) + 1], word >> (32 - shift));
}
EMBER_SIM_EXPORT(concat_bits)

// String offsets of one part, shifted by `delta` (the bytes before it), to dst[0..n].
extern "C" __global__ void rebase_offsets(const i64* src, u64 n, i64 delta, i64* dst) {
    const u64 i = ember_gid();
    if (i < n) dst[i] = src[i] + delta;
}
EMBER_SIM_EXPORT(rebase_offsets)
