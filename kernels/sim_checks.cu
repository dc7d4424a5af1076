// Kernels that exercise the simulated device itself: 3-D indexing, shared memory, barriers, warp
// intrinsics, atomics, and every launch the emulator must reject. Driven by
// crates/ember-gpu/tests/emulator.rs. They are valid CUDA too (compiled for sm_90 in CI), so the
// same checks can run on a GPU (where the "bad" kernels hang or misbehave instead of erroring).
#include "common.cuh"

// Each thread writes an encoding of its position so the host can check 3-D indexing.
extern "C" __global__ void check_index_3d(u32* out) {
    const u32 tid = threadIdx.x + threadIdx.y * blockDim.x + threadIdx.z * blockDim.x * blockDim.y;
    const u32 bid = blockIdx.x + blockIdx.y * gridDim.x + blockIdx.z * gridDim.x * gridDim.y;
    const u32 nthreads = blockDim.x * blockDim.y * blockDim.z;
    out[bid * nthreads + tid] = (blockIdx.z << 24) | (blockIdx.y << 20) | (blockIdx.x << 16) | (threadIdx.z << 12) |
                                (threadIdx.y << 8) | threadIdx.x;
}
EMBER_SIM_EXPORT(check_index_3d)

// Shared-memory tree down to one warp, then shuffles; one atomic per block.
extern "C" __global__ void check_block_reduce(const i64* in, u64* out, u64 n) {
    EMBER_SHARED(i64, sh, 1024);
    const u64 i = ember_gid();
    sh[threadIdx.x] = i < n ? in[i] : 0;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s >= 32; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x < 32) {
        i64 v = sh[threadIdx.x];
        for (int d = 16; d > 0; d >>= 1) v += __shfl_down_sync(0xffffffffu, v, d);
        if (threadIdx.x == 0) atomicAdd((unsigned long long*)out, (unsigned long long)v);
    }
}
EMBER_SIM_EXPORT(check_block_reduce)

// Ballot + popc per warp, __syncthreads_count per block.
extern "C" __global__ void check_ballot(const i32* in, u32* warp_counts, u32* block_counts, u64 n) {
    const u64 i = ember_gid();
    const int p = i < n && in[i] > 0;
    const u32 b = __ballot_sync(0xffffffffu, p);
    if ((threadIdx.x & 31) == 0) warp_counts[i / 32] = __popc(b);
    const int c = __syncthreads_count(p);
    if (threadIdx.x == 0) block_counts[blockIdx.x] = (u32)c;
}
EMBER_SIM_EXPORT(check_ballot)

// Warp inclusive scan with __shfl_up_sync, plus xor-butterfly warp sums with __shfl_xor_sync.
extern "C" __global__ void check_warp_scan(const i32* in, i32* scan, i32* warp_sum, u64 n) {
    const u64 i = ember_gid();
    i32 v = i < n ? in[i] : 0;
    const i32 inc = ember_warp_inclusive_scan(v);
    if (i < n) scan[i] = inc;
    for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
    if (i < n) warp_sum[i] = v;
}
EMBER_SIM_EXPORT(check_warp_scan)

// Reverses each block's slice through dynamic shared memory.
extern "C" __global__ void check_dynamic_shared(const f32* in, f32* out, u64 n) {
    EMBER_DYNAMIC_SHARED(f32, buf);
    const u64 i = ember_gid();
    buf[threadIdx.x] = i < n ? in[i] : 0.0f;
    __syncthreads();
    const u64 j = (u64)blockIdx.x * blockDim.x + (blockDim.x - 1 - threadIdx.x);
    if (j < n) out[j] = buf[threadIdx.x];
}
EMBER_SIM_EXPORT(check_dynamic_shared)

// Atomics on global and shared memory.
extern "C" __global__ void check_atomics(const i32* in, i32* gmin, i32* gmax, u32* gor, u64* gsum, u32* block_max, u64 n) {
    EMBER_SHARED(u32, smax, 1);
    if (threadIdx.x == 0) smax[0] = 0;
    __syncthreads();
    const u64 i = ember_gid();
    if (i < n) {
        const i32 v = in[i];
        atomicMin(gmin, v);
        atomicMax(gmax, v);
        atomicOr(gor, 1u << (v & 31));
        atomicAdd((unsigned long long*)gsum, (unsigned long long)(v & 0xff));
        atomicMax(&smax[0], (u32)v);
        u32 old = atomicCAS((u32*)&block_max[blockIdx.x], 0u, 0u);  // read through CAS
        (void)old;
    }
    __syncthreads();
    if (threadIdx.x == 0) atomicExch(&block_max[blockIdx.x], smax[0]);
}
EMBER_SIM_EXPORT(check_atomics)

// Rejections: each of these hangs or is undefined on a GPU; the emulator must refuse it.
extern "C" __global__ void check_divergent_sync(i32* out) {
    if (threadIdx.x < 16) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1;
}
EMBER_SIM_EXPORT(check_divergent_sync)

extern "C" __global__ void check_early_exit_sync(i32* out) {
    if (threadIdx.x % 2 == 0) return;
    __syncthreads();
    out[threadIdx.x] = 1;
}
EMBER_SIM_EXPORT(check_early_exit_sync)

// 40 KiB of static shared memory: fine alone, over the 48 KiB limit with >= 8 KiB dynamic on top
// (ptxas itself refuses more than 48 KiB of static shared memory, so that case never reaches a launch).
extern "C" __global__ void check_big_static_shared(f32* out) {
    EMBER_SHARED(f32, big, 10240);
    big[threadIdx.x] = (f32)threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = big[blockDim.x - 1 - threadIdx.x];
}
EMBER_SIM_EXPORT(check_big_static_shared)

extern "C" __global__ void check_partial_mask(i32* out) {
    out[threadIdx.x] = (i32)__ballot_sync(0x0000ffffu, threadIdx.x & 1);
}
EMBER_SIM_EXPORT(check_partial_mask)

extern "C" __global__ void check_warp_deadlock(i32* out) {
    if ((threadIdx.x & 31) < 16) {
        out[threadIdx.x] = (i32)__ballot_sync(0xffffffffu, 1);
    } else {
        __syncthreads();
    }
}
EMBER_SIM_EXPORT(check_warp_deadlock)

// ---- Planted races (tests/racecheck in crates/ember-gpu/tests/emulator.rs) ----
// Each `racy` kernel is correct only in some order of threads or blocks; its `fixed` twin adds
// the missing synchronisation. The emulator's thread orders (forward, reverse, random) must give
// the racy ones a wrong answer in at least one order and the fixed ones the right answer in all.

// A missing barrier between a shared-memory write and a neighbour's read.
template <bool FIXED>
__device__ void neighbour_sum(const i32* in, i32* out) {
    EMBER_SHARED(i32, sh, 256);
    const unsigned t = threadIdx.x;
    sh[t] = in[t];
    if (FIXED) __syncthreads();
    out[t] = sh[t] + sh[(t + 1) % blockDim.x];
}
extern "C" __global__ void race_barrier_racy(const i32* in, i32* out) { neighbour_sum<false>(in, out); }
EMBER_SIM_EXPORT(race_barrier_racy)
extern "C" __global__ void race_barrier_fixed(const i32* in, i32* out) { neighbour_sum<true>(in, out); }
EMBER_SIM_EXPORT(race_barrier_fixed)

// A warp-synchronous shared-memory reduction that drops __syncwarp() between its steps.
template <bool FIXED>
__device__ void warp_tree_sum(const i32* in, i32* out) {
    EMBER_SHARED(i32, sh, 32);
    const unsigned lane = threadIdx.x;
    sh[lane] = in[lane];
    for (unsigned s = 16; s > 0; s >>= 1) {
        if (FIXED) __syncwarp();
        const i32 v = lane < s ? sh[lane + s] : 0;
        if (FIXED) __syncwarp();
        if (lane < s) sh[lane] += v;
    }
    if (FIXED) __syncwarp();
    if (lane == 0) *out = sh[0];
}
extern "C" __global__ void race_warp_racy(const i32* in, i32* out) { warp_tree_sum<false>(in, out); }
EMBER_SIM_EXPORT(race_warp_racy)
extern "C" __global__ void race_warp_fixed(const i32* in, i32* out) { warp_tree_sum<true>(in, out); }
EMBER_SIM_EXPORT(race_warp_fixed)

// A block reading what another block of the same launch writes: a running total across blocks
// (correct only if blocks run in index order, which nothing promises). The fixed version adds the
// previous input instead of the previous output (no dependence between blocks).
extern "C" __global__ void race_blocks_racy(const i32* in, i32* out) {
    if (threadIdx.x == 0) out[blockIdx.x] = in[blockIdx.x] + (blockIdx.x ? out[blockIdx.x - 1] : 0);
}
EMBER_SIM_EXPORT(race_blocks_racy)
extern "C" __global__ void race_blocks_fixed(const i32* in, i32* out) {
    if (threadIdx.x == 0) out[blockIdx.x] = in[blockIdx.x] + (blockIdx.x ? in[blockIdx.x - 1] : 0);
}
EMBER_SIM_EXPORT(race_blocks_fixed)

// A non-atomic read-modify-write of a global counter by every thread. The emulator never switches
// fibers between the load and the store, so no thread order changes the answer; only the
// ThreadSanitizer build sees it (two fibers, no barrier between them). The fix is an atomic.
extern "C" __global__ void race_counter_racy(u32* counter) { *counter = *counter + 1; }
EMBER_SIM_EXPORT(race_counter_racy)
extern "C" __global__ void race_counter_fixed(u32* counter) { atomicAdd(counter, 1u); }
EMBER_SIM_EXPORT(race_counter_fixed)
