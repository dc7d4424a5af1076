// LSD radix sort of (key, u32 value) pairs, 8 bits per pass, stable. Driven by
// ember-gpu/src/primitives/radix_sort.rs; per pass:
//   radix_hist_*:    per tile of EMBER_BLOCK keys, the count of each digit, written digit-major
//                    (hist[digit * tiles + tile]) so that
//   (host) exclusive scan of hist gives every (digit, tile) its first output position;
//   radix_scatter_*: each key's rank among the equal digits of its tile (warp ballots for the
//                    lanes with the same digit, then a per-digit prefix over the warps), plus the
//                    (digit, tile) offset: its output position. Equal digits keep their order.
// One key per thread and a 256-thread block (one thread per digit value) keep it simple; a tuned
// version (several keys per thread, decoupled look-back "onesweep") is the next step on a GPU.
#include "common.cuh"

#define RADIX 256
static_assert(EMBER_BLOCK == RADIX, "the radix kernels give each of the block's threads one digit value");

template <typename K>
__device__ __forceinline__ u32 radix_digit(K key, u32 shift) {
    return (u32)(key >> shift) & (RADIX - 1);
}

template <typename K>
__device__ void radix_hist(const K* keys, u64 n, u32 shift, u32* hist) {
    EMBER_SHARED(u32, counts, RADIX);
    counts[threadIdx.x] = 0;
    __syncthreads();
    const u64 i = ember_gid();
    if (i < n) atomicAdd(&counts[radix_digit(keys[i], shift)], 1u);
    __syncthreads();
    hist[(u64)threadIdx.x * gridDim.x + blockIdx.x] = counts[threadIdx.x];
}

template <typename K>
__device__ void radix_scatter(const K* keys, const u32* vals, u64 n, u32 shift, const u32* offsets, K* keys_out,
                              u32* vals_out) {
    // [warp][digit]: the warp's count of the digit, then the count in the warps before it.
    EMBER_SHARED(u32, warp_digit, (EMBER_BLOCK / 32) * RADIX);
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    for (unsigned k = threadIdx.x; k < nwarps * RADIX; k += blockDim.x) warp_digit[k] = 0;
    __syncthreads();
    const u64 i = ember_gid();
    const bool live = i < n;
    const K key = live ? keys[i] : K(0);
    const u32 d = radix_digit(key, shift);
    u32 peers = __ballot_sync(0xffffffffu, live);  // live lanes with the same digit
    for (int b = 0; b < 8; ++b) {
        const u32 bit = (d >> b) & 1u;
        const u32 ones = __ballot_sync(0xffffffffu, bit);
        peers &= bit ? ones : ~ones;
    }
    const u32 below = peers & ((1u << lane) - 1u);
    if (live && below == 0) warp_digit[warp * RADIX + d] = __popc(peers);  // the digit's first lane
    __syncthreads();
    u32 run = 0;  // thread t turns digit t's per-warp counts into an exclusive prefix
    for (unsigned w = 0; w < nwarps; ++w) {
        const u32 c = warp_digit[w * RADIX + threadIdx.x];
        warp_digit[w * RADIX + threadIdx.x] = run;
        run += c;
    }
    __syncthreads();
    if (live) {
        const u32 pos = offsets[(u64)d * gridDim.x + blockIdx.x] + warp_digit[warp * RADIX + d] + __popc(below);
        keys_out[pos] = key;
        vals_out[pos] = vals[i];
    }
}

#define RADIX_KERNELS(name, K)                                                                                       \
    extern "C" __global__ void __launch_bounds__(EMBER_BLOCK) radix_hist_##name(const K* keys, u64 n, u32 shift,     \
                                                                                u32* hist) {                         \
        radix_hist<K>(keys, n, shift, hist);                                                                         \
    }                                                                                                                \
    EMBER_SIM_EXPORT(radix_hist_##name)                                                                              \
    extern "C" __global__ void __launch_bounds__(EMBER_BLOCK)                                                        \
        radix_scatter_##name(const K* keys, const u32* vals, u64 n, u32 shift, const u32* offsets, K* keys_out,      \
                             u32* vals_out) {                                                                        \
        radix_scatter<K>(keys, vals, n, shift, offsets, keys_out, vals_out);                                         \
    }                                                                                                                \
    EMBER_SIM_EXPORT(radix_scatter_##name)

RADIX_KERNELS(u32, u32)
RADIX_KERNELS(u64, u64)
