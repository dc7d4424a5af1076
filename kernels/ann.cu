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

// A stored vector element as f32: f32 as it is; f16 (IEEE binary16 bits) widened exactly, as
// `half::f16::to_f32` does on the CPU (no cuda_fp16.h: the bits are moved by hand).
__device__ __forceinline__ f32 ann_load(const f32* p, u32 i) { return p[i]; }
__device__ __forceinline__ f32 ann_load(const u16* p, u32 i) {
    const u32 h = p[i];
    const u32 sign = (h & 0x8000u) << 16;
    u32 exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    u32 bits;
    if (exp == 0x1fu) {
        bits = sign | 0x7f800000u | (man << 13);  // inf / NaN
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;  // +-0
    } else {
        exp = 113u;  // subnormal: shift the mantissa up to an implicit 1
        while ((man & 0x400u) == 0) {
            man <<= 1;
            --exp;
        }
        bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
    }
    return __int_as_float((int)bits);
}

// Distance between stored vector `a` (f32 or f16) and query `b`.
template <typename T>
__device__ __forceinline__ f32 ann_distance(const T* a, const f32* b, u32 dim, u32 metric) {
    f32 s[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
    u32 i = 0;
    if (metric == ANN_L2) {
        for (; i + 8 <= dim; i += 8) {
            for (u32 j = 0; j < 8; ++j) {
                const f32 d = ann_load(a, i + j) - b[i + j];
                s[j] = fmaf(d, d, s[j]);
            }
        }
        for (; i < dim; ++i) {
            const f32 d = ann_load(a, i) - b[i];
            s[i & 7] = fmaf(d, d, s[i & 7]);
        }
    } else {
        for (; i + 8 <= dim; i += 8) {
            for (u32 j = 0; j < 8; ++j) s[j] = fmaf(ann_load(a, i + j), b[i + j], s[j]);
        }
        for (; i < dim; ++i) s[i & 7] = fmaf(ann_load(a, i), b[i], s[i & 7]);
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
template <typename T>
__device__ void ann_flat_topk_impl(const T* base, u32 n, u32 dim, const f32* queries, u32 k, u32 metric,
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

extern "C" __global__ void ann_flat_topk(const f32* base, u32 n, u32 dim, const f32* queries, u32 k, u32 metric,
                                         const u32* allowed, f32* out_dist, u32* out_id) {
    ann_flat_topk_impl(base, n, dim, queries, k, metric, allowed, out_dist, out_id);
}
EMBER_SIM_EXPORT(ann_flat_topk)

// The same over f16 storage (`Storage::F16`: IEEE binary16 bits).
extern "C" __global__ void ann_flat_topk_f16(const u16* base, u32 n, u32 dim, const f32* queries, u32 k,
                                             u32 metric, const u32* allowed, f32* out_dist, u32* out_id) {
    ann_flat_topk_impl(base, n, dim, queries, k, metric, allowed, out_dist, out_id);
}
EMBER_SIM_EXPORT(ann_flat_topk_f16)

// Graph search (HnswIndex on the GPU), CAGRA's single-block search over the index's level 0:
// the records `[link count | m0 links | vector]` (stride u32 words each) are the fixed-degree graph
// and the vectors at once. One block (ANN_BUF / 2 threads) per query keeps ANN_BUF (distance, id)
// pairs in shared memory, sorted: the first `itopk` are the candidate list (an id's top bit marks
// it expanded), the rest receive each iteration's new candidates. An iteration takes the best
// `width` unexpanded candidates as parents, computes the distance of each of their neighbours not
// seen before (a hashed visited set in shared memory, open addressing by atomicCAS) with one
// thread per neighbour, and re-sorts; it stops when the list has no unexpanded entry (or after
// `max_iters`). Seeds: the index's entry point and `seeds - 1` nodes drawn by a hash of
// (seed, query, i). Every node is traversed; `allowed` (deleted and filtered-out slots cleared)
// only decides which are returned, as the CPU search does: with a mask, a second sorted buffer
// keeps the best k allowed nodes whose distance was computed (each iteration's allowed
// candidates appended behind them and the buffer re-sorted), so a query whose neighbourhood is
// filtered out still returns the best allowed nodes it met, not a list cut short.
#define ANN_HASH 8192
#define ANN_EXPANDED 0x80000000u
#define ANN_NONE 0xffffffffu
#define ANN_MAX_WIDTH 16

// Marks `id` visited; whether it was new. A crowded probe sequence counts as new (the output
// skips the rare duplicate this can leave).
__device__ __forceinline__ bool ann_visit(u32* hash, u32 id) {
    u32 h = (id * 2654435761u) & (ANN_HASH - 1);
    for (u32 probe = 0; probe < 64; ++probe) {
        const u32 old = atomicCAS(&hash[h], ANN_NONE, id);
        if (old == ANN_NONE) return true;
        if (old == id) return false;
        h = (h + 1) & (ANN_HASH - 1);
    }
    return true;
}

__device__ __forceinline__ u32 ann_mix(u32 x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

// The distance from query `q` to node `id`'s vector: f32 words, or (T = u16) two f16 halves per word.
template <typename T>
__device__ __forceinline__ f32 ann_node_distance(const u32* records, u32 stride, u32 m0, u32 id, const f32* q,
                                                 u32 dim, u32 metric) {
    return ann_distance(reinterpret_cast<const T*>(records + (u64)id * stride + 1 + m0), q, dim, metric);
}

// Appends the allowed entries of cd/ci[from, to) behind the k results in rd/ri, then sorts rd/ri
// (the best k in front) and clears the rest. Entries past the buffer are dropped (they cannot
// happen: at most ANN_BUF - k entries are appended, as the host sizes itopk >= k).
__device__ void ann_collect(const f32* cd, const u32* ci, u32 from, u32 to, const u32* allowed, u32 k, f32* rd,
                            u32* ri, u32* count) {
    const u32 t = threadIdx.x;
    for (u32 i = from + t; i < to; i += blockDim.x) {
        const u32 id = ci[i];
        if (id != ANN_NONE && ember_bit(allowed, id & ~ANN_EXPANDED)) {
            const u32 slot = k + atomicAdd(&count[0], 1u);
            if (slot < ANN_BUF) {
                rd[slot] = cd[i];
                ri[slot] = id & ~ANN_EXPANDED;
            }
        }
    }
    __syncthreads();
    ann_bitonic_sort(rd, ri);
    for (u32 i = k + t; i < ANN_BUF; i += blockDim.x) {
        rd[i] = __int_as_float(0x7f800000);
        ri[i] = ANN_NONE;
    }
    if (t == 0) count[0] = 0;
    __syncthreads();
}

template <typename T>
__device__ void ann_graph_search_impl(const u32* records, u32 stride, u32 m0, u32 n, u32 dim, const f32* queries,
                                      u32 k, u32 itopk, u32 width, u32 max_iters, u32 entry, u32 seeds, u32 seed,
                                      u32 metric, const u32* allowed, f32* out_dist, u32* out_id) {
    EMBER_SHARED(f32, cd, ANN_BUF);
    EMBER_SHARED(u32, ci, ANN_BUF);
    EMBER_SHARED(u32, hash, ANN_HASH);
    EMBER_SHARED(u32, parents, ANN_MAX_WIDTH);
    EMBER_SHARED(u32, n_parents, 1);
    EMBER_SHARED(f32, rd, ANN_BUF);
    EMBER_SHARED(u32, ri, ANN_BUF);
    EMBER_SHARED(u32, n_results, 1);
    const u32 t = threadIdx.x;
    const u32 qi = blockIdx.x;
    const f32* q = queries + (u64)qi * dim;
    const f32 inf = __int_as_float(0x7f800000);
    for (u32 i = t; i < ANN_HASH; i += blockDim.x) hash[i] = ANN_NONE;
    for (u32 i = t; i < ANN_BUF; i += blockDim.x) {
        rd[i] = inf;
        ri[i] = ANN_NONE;
    }
    if (t == 0) n_results[0] = 0;
    __syncthreads();
    for (u32 i = t; i < ANN_BUF; i += blockDim.x) {
        f32 d = inf;
        u32 id = ANN_NONE;
        if (i < seeds) {
            const u32 s = i == 0 ? entry : ann_mix(seed ^ ann_mix(qi * 0x9E3779B9u + i)) % n;
            if (ann_visit(hash, s)) {
                d = ann_node_distance<T>(records, stride, m0, s, q, dim, metric);
                id = s;
            }
        }
        cd[i] = d;
        ci[i] = id;
    }
    __syncthreads();
    if (allowed != 0) ann_collect(cd, ci, 0, seeds, allowed, k, rd, ri, n_results);
    ann_bitonic_sort(cd, ci);
    for (u32 it = 0; it < max_iters; ++it) {
        if (t == 0) {
            u32 c = 0;
            for (u32 i = 0; i < itopk && c < width; ++i) {
                const u32 id = ci[i];
                if (id != ANN_NONE && (id & ANN_EXPANDED) == 0) {
                    parents[c++] = id;
                    ci[i] = id | ANN_EXPANDED;
                }
            }
            n_parents[0] = c;
        }
        __syncthreads();
        const u32 p = n_parents[0];
        if (p == 0) break;
        for (u32 i = t; i < ANN_BUF - itopk; i += blockDim.x) {
            f32 d = inf;
            u32 id = ANN_NONE;
            if (i < p * m0) {
                const u32* rec = records + (u64)parents[i / m0] * stride;
                const u32 j = i % m0;
                const u32 links = rec[0] < m0 ? rec[0] : m0;
                if (j < links) {
                    const u32 nb = rec[1 + j];
                    if (nb < n && ann_visit(hash, nb)) {
                        d = ann_node_distance<T>(records, stride, m0, nb, q, dim, metric);
                        id = nb;
                    }
                }
            }
            cd[itopk + i] = d;
            ci[itopk + i] = id;
        }
        __syncthreads();
        if (allowed != 0) ann_collect(cd, ci, itopk, itopk + p * m0, allowed, k, rd, ri, n_results);
        ann_bitonic_sort(cd, ci);
    }
    // Results: the allowed buffer with a mask, else the candidate list.
    const f32* fd = allowed != 0 ? rd : cd;
    const u32* fi = allowed != 0 ? ri : ci;
    if (t == 0) {
        u32 c = 0, prev = ANN_NONE;
        for (u32 i = 0; i < ANN_BUF && c < k; ++i) {
            if (fi[i] == ANN_NONE) continue;
            const u32 id = fi[i] & ~ANN_EXPANDED;
            if (id == prev) continue;
            out_dist[(u64)qi * k + c] = fd[i];
            out_id[(u64)qi * k + c] = id;
            prev = id;
            ++c;
        }
        for (; c < k; ++c) {
            out_dist[(u64)qi * k + c] = inf;
            out_id[(u64)qi * k + c] = ANN_NONE;
        }
    }
}

extern "C" __global__ void ann_graph_search(const u32* records, u32 stride, u32 m0, u32 n, u32 dim,
                                            const f32* queries, u32 k, u32 itopk, u32 width, u32 max_iters,
                                            u32 entry, u32 seeds, u32 seed, u32 metric, const u32* allowed,
                                            f32* out_dist, u32* out_id) {
    ann_graph_search_impl<f32>(records, stride, m0, n, dim, queries, k, itopk, width, max_iters, entry, seeds, seed,
                               metric, allowed, out_dist, out_id);
}
EMBER_SIM_EXPORT(ann_graph_search)

// The same over f16 records (`Storage::F16`).
extern "C" __global__ void ann_graph_search_f16(const u32* records, u32 stride, u32 m0, u32 n, u32 dim,
                                                const f32* queries, u32 k, u32 itopk, u32 width, u32 max_iters,
                                                u32 entry, u32 seeds, u32 seed, u32 metric, const u32* allowed,
                                                f32* out_dist, u32* out_id) {
    ann_graph_search_impl<u16>(records, stride, m0, n, dim, queries, k, itopk, width, max_iters, entry, seeds, seed,
                               metric, allowed, out_dist, out_id);
}
EMBER_SIM_EXPORT(ann_graph_search_f16)
