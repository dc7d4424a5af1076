// Device-wide reductions (sum, min, max, with the count of non-null values), driven by
// ember-gpu/src/primitives/reduce.rs in two phases: reduce_{op}_{T} writes one partial per block
// (grid size fixed by n, so the order of combination never depends on scheduling) and
// reduce_final_{op}_{ACC} folds the partials in one block.
//
// Sums: signed ints accumulate in i64 and unsigned in u64, wrapping; floats in their own type;
// decimal128 (i128) exactly, overflow reported through `err`. Min/max of floats follow IEEE total
// order, as arrow-rs does (-NaN < -inf < ... < +inf < +NaN).
#include "reduce_ops.cuh"

// Tree reduction of one value per thread of a 256-thread block (fixed order).
template <typename Op, typename A>
__device__ void block_fold(A acc, u64 cnt, bool& ovf, A* out, u64* out_count) {
    EMBER_SHARED(A, sh, EMBER_BLOCK);
    EMBER_SHARED(u64, shc, EMBER_BLOCK);
    const unsigned t = threadIdx.x;
    sh[t] = acc;
    shc[t] = cnt;
    __syncthreads();
    for (unsigned s = EMBER_BLOCK / 2; s > 0; s >>= 1) {
        if (t < s) {
            sh[t] = Op::template combine<A>(sh[t], sh[t + s], ovf);
            shc[t] += shc[t + s];
        }
        __syncthreads();
    }
    if (t == 0) {
        *out = sh[0];
        *out_count = shc[0];
    }
}

template <typename Op, typename T, typename A>
__device__ void reduce_partial(const T* in, const u32* valid, u64 n, A* partials, u64* counts, u32* err) {
    A acc = Op::template identity<A>();
    u64 cnt = 0;
    bool ovf = false;
    const u64 stride = (u64)gridDim.x * blockDim.x;
    for (u64 i = ember_gid(); i < n; i += stride) {
        if (ember_valid(valid, i)) {
            acc = Op::template combine<A>(acc, (A)in[i], ovf);
            ++cnt;
        }
    }
    block_fold<Op, A>(acc, cnt, ovf, &partials[blockIdx.x], &counts[blockIdx.x]);
    if (ovf) atomicOr(err, (u32)EMBER_ABI_ERR_OVERFLOW);
}

template <typename Op, typename A>
__device__ void reduce_final(const A* partials, const u64* counts, u64 nparts, A* out, u64* out_count, u32* err) {
    A acc = Op::template identity<A>();
    u64 cnt = 0;
    bool ovf = false;
    for (u64 i = threadIdx.x; i < nparts; i += blockDim.x) {
        acc = Op::template combine<A>(acc, partials[i], ovf);
        cnt += counts[i];
    }
    block_fold<Op, A>(acc, cnt, ovf, out, out_count);
    if (ovf) atomicOr(err, (u32)EMBER_ABI_ERR_OVERFLOW);
}

#define REDUCE_PARTIAL(op, Op, name, T, A)                                                                  \
    extern "C" __global__ void __launch_bounds__(EMBER_BLOCK) reduce_##op##_##name(const T* in, const u32* valid, u64 n, A* partials,       \
                                                    u64* counts, u32* err) {                                 \
        reduce_partial<Op, T, A>(in, valid, n, partials, counts, err);                                      \
    }                                                                                                        \
    EMBER_SIM_EXPORT(reduce_##op##_##name)
#define REDUCE_FINAL(op, Op, name, A)                                                                        \
    extern "C" __global__ void __launch_bounds__(EMBER_BLOCK) reduce_final_##op##_##name(const A* partials, const u64* counts, u64 nparts, \
                                                          A* out, u64* out_count, u32* err) {               \
        reduce_final<Op, A>(partials, counts, nparts, out, out_count, err);                                  \
    }                                                                                                        \
    EMBER_SIM_EXPORT(reduce_final_##op##_##name)

// Sum: accumulator by type family.
#define REDUCE_SUM(name, T, A) REDUCE_PARTIAL(sum, OpSum, name, T, A)
#define REDUCE_FINAL_SUM(name, A) REDUCE_FINAL(sum, OpSum, name, A)
EMBER_FOR_SUMS(REDUCE_SUM)
EMBER_FOR_SUM_ACCS(REDUCE_FINAL_SUM)

// Min / max: accumulator = input type.
#define MINMAX(name, T)                          \
    REDUCE_PARTIAL(min, OpMin, name, T, T)       \
    REDUCE_PARTIAL(max, OpMax, name, T, T)       \
    REDUCE_FINAL(min, OpMin, name, T)            \
    REDUCE_FINAL(max, OpMax, name, T)
EMBER_FOR_NUMERIC(MINMAX)
MINMAX(i128, i128)

// Number of set bits among the first n bits of a bitmap (the non-null count of a validity mask).
// One thread per 32-bit word; warp sums, then one atomic per warp.
extern "C" __global__ void count_bits(const u32* bits, u64 n, u64* out) {
    const u64 w = ember_gid();
    const u64 nwords = (n + 31) / 32;
    u32 c = 0;
    if (w < nwords) {
        u32 word = bits[w];
        if (w == nwords - 1 && (n & 31)) word &= (1u << (n & 31)) - 1u;
        c = __popc(word);
    }
    for (int d = 16; d > 0; d >>= 1) c += __shfl_down_sync(0xffffffffu, c, d);
    if ((threadIdx.x & 31) == 0 && c) atomicAdd((unsigned long long*)out, (unsigned long long)c);
}
EMBER_SIM_EXPORT(count_bits)
