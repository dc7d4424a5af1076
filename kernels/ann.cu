// Vector search: exact k-nearest neighbours (FlatIndex on the GPU). Driven by
// crates/ember-ann/src/gpu.rs.
//
// Distances follow crates/ember-ann/src/metric.rs operation for operation (eight fmaf running
// sums, lane j taking elements i = j mod 8, combined ((s0+s4)+(s2+s6))+((s1+s5)+(s3+s7))), so the
// GPU and the CPU engine compute the same bits and return the same neighbours.
#include "common.cuh"

// Metric codes (Metric::code): 0 = squared L2, 1 = 1 - dot (inner product; cosine on normalised data).
#define ANN_L2 0

// Candidates a block keeps in shared memory: the current top-k (k <= ANN_MAX_K) and room for
// at least one chunk of new candidates.
#define ANN_BUF 512
#define ANN_MAX_K 256

__device__ __forceinline__ f32 ann_distance(const f32* a, const f32* b, u32 dim, u32 metric) {
    f32 s[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
    u32 i = 0;
    if (metric == ANN_L2) {
        for (; i + 8 <= dim; i += 8) {
            for (u32 j = 0; j < 8; ++j) {
                const f32 d = a[i + j] - b[i + j];
                s[j] = fmaf(d, d, s[j]);
            }
        }
        for (; i < dim; ++i) {
            const f32 d = a[i] - b[i];
            s[i & 7] = fmaf(d, d, s[i & 7]);
        }
    } else {
        for (; i + 8 <= dim; i += 8) {
            for (u32 j = 0; j < 8; ++j) s[j] = fmaf(a[i + j], b[i + j], s[j]);
        }
        for (; i < dim; ++i) s[i & 7] = fmaf(a[i], b[i], s[i & 7]);
    }
    const f32 r = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
    return metric == ANN_L2 ? r : 1.0f - r;
}

__device__ __forceinline__ bool ann_less(f32 da, u32 ia, f32 db, u32 ib) { return da < db || (da == db && ia < ib); }

// Sorts the ANN_BUF (distance, id) pairs ascending (bitonic; blockDim.x == ANN_BUF / 2).
__device__ void ann_bitonic_sort(f32* d, u32* id) {
    const u32 t = threadIdx.x;
    for (u32 size = 2; size <= ANN_BUF; size <<= 1) {
        for (u32 stride = size >> 1; stride > 0; stride >>= 1) {
            const u32 i = (t / stride) * 2 * stride + (t % stride);
            const u32 j = i + stride;
            const bool up = (i & size) == 0;
            if (up == ann_less(d[j], id[j], d[i], id[i])) {
                const f32 td = d[i];
                d[i] = d[j];
                d[j] = td;
                const u32 ti = id[i];
                id[i] = id[j];
                id[j] = ti;
            }
            __syncthreads();
        }
    }
}

// One block (ANN_BUF / 2 threads) per query: threads scan the base vectors in chunks of
// blockDim.x; a vector closer than the current k-th neighbour is appended to the shared buffer,
// which is sorted (keeping the best k in front) whenever the next chunk might not fit and at the end.
// `allowed` (a bitmap over slots, null = all) drops deleted and filtered-out vectors.
extern "C" __global__ void ann_flat_topk(const f32* base, u32 n, u32 dim, const f32* queries, u32 k, u32 metric,
                                         const u32* allowed, f32* out_dist, u32* out_id) {
    EMBER_SHARED(f32, cd, ANN_BUF);
    EMBER_SHARED(u32, ci, ANN_BUF);
    EMBER_SHARED(u32, count, 1);
    const u32 t = threadIdx.x;
    const f32* q = queries + (u64)blockIdx.x * dim;
    for (u32 i = t; i < ANN_BUF; i += blockDim.x) {
        cd[i] = __int_as_float(0x7f800000);  // +inf
        ci[i] = 0xffffffffu;
    }
    if (t == 0) count[0] = 0;
    __syncthreads();
    for (u32 start = 0; start < n; start += blockDim.x) {
        const u32 s = start + t;
        const f32 kth_d = cd[k - 1];
        const u32 kth_i = ci[k - 1];
        if (s < n && (allowed == 0 || ember_bit(allowed, s))) {
            const f32 d = ann_distance(base + (u64)s * dim, q, dim, metric);
            if (ann_less(d, s, kth_d, kth_i)) {
                const u32 slot = atomicAdd(&count[0], 1u);
                cd[k + slot] = d;
                ci[k + slot] = s;
            }
        }
        __syncthreads();
        const u32 c = count[0];
        const bool last = start + blockDim.x >= n;
        if (c > 0 && (last || k + c + blockDim.x > ANN_BUF)) {
            ann_bitonic_sort(cd, ci);
            for (u32 i = k + t; i < ANN_BUF; i += blockDim.x) {
                cd[i] = __int_as_float(0x7f800000);
                ci[i] = 0xffffffffu;
            }
            __syncthreads();
            if (t == 0) count[0] = 0;
        }
        __syncthreads();
    }
    for (u32 i = t; i < k; i += blockDim.x) {
        out_dist[(u64)blockIdx.x * k + i] = cd[i];
        out_id[(u64)blockIdx.x * k + i] = ci[i];
    }
}
EMBER_SIM_EXPORT(ann_flat_topk)
