// Device-wide exclusive scan (prefix sum), three phases driven by ember-gpu/src/primitives/scan.rs:
//   1. scan_tiles_*: each block scans one tile of EMBER_BLOCK * SCAN_ITEMS values and writes the tile total;
//   2. the host scans the tile totals (recursively, with the same kernels);
//   3. scan_add_*: each tile adds its tile offset.
// The order of additions is fixed by the tile size, so results never depend on scheduling.
#include "common.cuh"

#define SCAN_ITEMS 4

template <typename T>
__device__ void scan_tiles(const T* in, T* out, T* tile_sums, u64 n) {
    EMBER_SHARED(T, warp_sums, 32);
    const u64 base = ((u64)blockIdx.x * blockDim.x + threadIdx.x) * SCAN_ITEMS;
    T v[SCAN_ITEMS];
    T local = 0;
    for (int k = 0; k < SCAN_ITEMS; ++k) {
        v[k] = base + k < n ? in[base + k] : T(0);
        local += v[k];
    }
    T total;
    T run = ember_block_exclusive_scan(local, total, warp_sums);
    for (int k = 0; k < SCAN_ITEMS; ++k) {
        if (base + k < n) out[base + k] = run;
        run += v[k];
    }
    if (threadIdx.x == 0) tile_sums[blockIdx.x] = total;
}

template <typename T>
__device__ void scan_add(T* out, const T* tile_offsets, u64 n) {
    const u64 i = ember_gid();
    if (i < n) out[i] += tile_offsets[i / ((u64)EMBER_BLOCK * SCAN_ITEMS)];
}

#define SCAN_KERNELS(name, T)                                                                          \
    extern "C" __global__ void __launch_bounds__(EMBER_BLOCK) scan_tiles_##name(const T* in, T* out, T* tile_sums, u64 n) {           \
        scan_tiles<T>(in, out, tile_sums, n);                                                          \
    }                                                                                                  \
    EMBER_SIM_EXPORT(scan_tiles_##name)                                                                \
    extern "C" __global__ void scan_add_##name(T* out, const T* tile_offsets, u64 n) {                 \
        scan_add<T>(out, tile_offsets, n);                                                             \
    }                                                                                                  \
    EMBER_SIM_EXPORT(scan_add_##name)

SCAN_KERNELS(u32, u32)
SCAN_KERNELS(u64, u64)

// out[n] = out[n - 1] + in[n - 1]: the total, after the exclusive scan of out[0..n) (one thread).
#define SCAN_TOTAL(name, T)                                                          \
    extern "C" __global__ void scan_total_##name(const T* in, T* out, u64 n) {       \
        if (ember_gid() == 0) out[n] = n ? out[n - 1] + in[n - 1] : T(0);            \
    }                                                                                \
    EMBER_SIM_EXPORT(scan_total_##name)
SCAN_TOTAL(u32, u32)
SCAN_TOTAL(u64, u64)
