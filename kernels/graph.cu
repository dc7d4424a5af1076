// Graph analytics: PageRank (pull SpMV with degree binning), direction-optimising BFS and
// Afforest connected components. Driven by crates/ember-graph/src/gpu.rs, which holds the CSR
// (out-edges) and CSC (in-edges) on the device: `off` has n + 1 u64 offsets, `adj` the u32
// neighbours of each vertex in ascending order.
#include "common.cuh"

// ---------------------------------------------------------------------------------------------
// Reductions in a fixed order (a tree over the block), so a launch shape gives one answer.

__device__ f64 graph_block_sum_f64(f64 v, f64* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    const f64 r = sh[0];
    __syncthreads();
    return r;
}

__device__ f32 graph_block_sum_f32(f32 v, f32* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    const f32 r = sh[0];
    __syncthreads();
    return r;
}

// ---------------------------------------------------------------------------------------------
// PageRank. One launch of graph_pagerank_pull per iteration computes, for every vertex v,
//   x'[v] = alpha * (sum over in-edges u->v of contrib[u] * w + dmass * dang[v]) + (1 - alpha) * p[v]
// and, from x', the next contributions (x'[v] * inv_out[v]), and per block the L1 change and the
// dangling mass of x'; graph_pagerank_finish sums those into stats = {L1 change, dangling mass},
// which the host reads (the convergence check) and the next pull reads on the device.
//
// Degree binning (lists built on the host once per call): blocks [0, low_blocks) give a thread
// to each low-in-degree vertex, the next mid_blocks a warp to each mid-degree vertex, and each
// remaining block a whole high-degree vertex, so a hub does not hold one thread for its
// whole in-list while the rest of its warp idles.

__device__ __forceinline__ f32 graph_pr_in_sum(const u64* off, const u32* src, const f32* w, const f32* contrib, u32 v,
                                               u64 start, u64 stride) {
    f32 s = 0.0f;
    const u64 end = off[v + 1];
    if (w) {
        for (u64 e = off[v] + start; e < end; e += stride) s += contrib[src[e]] * w[e];
    } else {
        for (u64 e = off[v] + start; e < end; e += stride) s += contrib[src[e]];
    }
    return s;
}

struct GraphPrOut {
    const f32* p;
    const f32* dang;
    const f32* inv_out;
    const f32* x;
    f32* x_next;
    f32* contrib_next;
};

__device__ __forceinline__ void graph_pr_store(const GraphPrOut& o, u32 v, f32 s, f32 alpha, f32 dmass, f64& err,
                                               f64& dm) {
    const f32 nv = alpha * (s + dmass * o.dang[v]) + (1.0f - alpha) * o.p[v];
    err += fabs((f64)nv - (f64)o.x[v]);
    o.x_next[v] = nv;
    const f32 inv = o.inv_out[v];
    o.contrib_next[v] = nv * inv;
    if (inv == 0.0f) dm += nv;
}

extern "C" __global__ void graph_pagerank_pull(const u64* off, const u32* src, const f32* w, const f32* contrib,
                                               const f32* p, const f32* dang, const f32* inv_out, const f32* x,
                                               const f64* stats, const u32* low, u32 n_low, const u32* mid, u32 n_mid,
                                               const u32* high, u32 low_blocks, u32 mid_blocks, f32 alpha, f32* x_next,
                                               f32* contrib_next, f64* partials) {
    EMBER_SHARED(f64, sh, EMBER_BLOCK);
    EMBER_SHARED(f32, shf, EMBER_BLOCK);
    const GraphPrOut o = {p, dang, inv_out, x, x_next, contrib_next};
    const f32 dmass = (f32)stats[1];
    f64 err = 0.0, dm = 0.0;
    const u32 b = blockIdx.x;
    if (b < low_blocks) {
        const u64 i = (u64)b * blockDim.x + threadIdx.x;
        if (i < n_low) {
            const u32 v = low[i];
            graph_pr_store(o, v, graph_pr_in_sum(off, src, w, contrib, v, 0, 1), alpha, dmass, err, dm);
        }
    } else if (b < low_blocks + mid_blocks) {
        const u32 lane = threadIdx.x & 31;
        const u64 i = (u64)(b - low_blocks) * (blockDim.x / 32) + (threadIdx.x >> 5);
        const u32 v = i < n_mid ? mid[i] : 0;
        f32 s = i < n_mid ? graph_pr_in_sum(off, src, w, contrib, v, lane, 32) : 0.0f;
        for (int d = 16; d > 0; d >>= 1) s += __shfl_down_sync(0xffffffffu, s, d);
        if (i < n_mid && lane == 0) graph_pr_store(o, v, s, alpha, dmass, err, dm);
    } else {
        const u32 v = high[b - low_blocks - mid_blocks];
        const f32 s = graph_block_sum_f32(graph_pr_in_sum(off, src, w, contrib, v, threadIdx.x, blockDim.x), shf);
        if (threadIdx.x == 0) graph_pr_store(o, v, s, alpha, dmass, err, dm);
    }
    err = graph_block_sum_f64(err, sh);
    dm = graph_block_sum_f64(dm, sh);
    if (threadIdx.x == 0) {
        partials[2 * (u64)b] = err;
        partials[2 * (u64)b + 1] = dm;
    }
}
EMBER_SIM_EXPORT(graph_pagerank_pull)

// One block: stats = {sum of partials[2i], sum of partials[2i + 1]} over `blocks`, in a fixed order.
extern "C" __global__ void graph_pagerank_finish(const f64* partials, u32 blocks, f64* stats) {
    EMBER_SHARED(f64, sh, EMBER_BLOCK);
    f64 err = 0.0, dm = 0.0;
    for (u32 i = threadIdx.x; i < blocks; i += blockDim.x) {
        err += partials[2 * (u64)i];
        dm += partials[2 * (u64)i + 1];
    }
    err = graph_block_sum_f64(err, sh);
    dm = graph_block_sum_f64(dm, sh);
    if (threadIdx.x == 0) {
        stats[0] = err;
        stats[1] = dm;
    }
}
EMBER_SIM_EXPORT(graph_pagerank_finish)

// ---------------------------------------------------------------------------------------------
// BFS. dist = -1 marks unvisited; parent = 0xffffffff is none. A vertex's parent is its smallest
// in-neighbour on the previous level (top-down: atomicMin; bottom-up: the first hit of the sorted
// in-list), as the CPU engine does. counters = {next frontier size, out-degree sum of the next
// frontier} (u64 each).

__device__ __forceinline__ void graph_bfs_visit(const u64* off, u32 u, u32 v, i32* dist, u32* parent, i32 next_level,
                                                u32* next_queue, u64* counters, u64& scout) {
    i32 d = ember_ld_relaxed(&dist[v]);
    if (d == -1) {
        const i32 old = atomicCAS(&dist[v], -1, next_level);
        if (old == -1) {
            next_queue[atomicAdd(&counters[0], 1ull)] = v;
            scout += off[v + 1] - off[v];
            d = next_level;
        } else {
            d = old;
        }
    }
    if (d == next_level && u < ember_ld_relaxed(&parent[v])) atomicMin(&parent[v], u);
}

// A thread per frontier vertex; a vertex of more than 32 out-edges is expanded by its whole warp
// (lanes stride its list), so a hub does not hold one thread while the warp waits.
extern "C" __global__ void graph_bfs_top_down(const u64* off, const u32* adj, const u32* queue, u32 qlen, i32* dist,
                                              u32* parent, i32 level, u32* next_queue, u64* counters) {
    const u64 i = ember_gid();
    const u32 lane = threadIdx.x & 31;
    const bool has = i < qlen;
    const u32 u = has ? queue[i] : 0;
    const u64 beg = has ? off[u] : 0, end = has ? off[u + 1] : 0;
    const bool big = end - beg > 32;
    const i32 next_level = level + 1;
    u64 scout = 0;
    unsigned big_lanes = __ballot_sync(0xffffffffu, big);
    while (big_lanes) {
        const int leader = __ffs((int)big_lanes) - 1;
        big_lanes &= big_lanes - 1;
        const u32 w = __shfl_sync(0xffffffffu, u, leader);
        const u64 b = __shfl_sync(0xffffffffu, beg, leader), e = __shfl_sync(0xffffffffu, end, leader);
        for (u64 x = b + lane; x < e; x += 32) graph_bfs_visit(off, w, adj[x], dist, parent, next_level, next_queue, counters, scout);
    }
    if (!big) {
        for (u64 x = beg; x < end; ++x) graph_bfs_visit(off, u, adj[x], dist, parent, next_level, next_queue, counters, scout);
    }
    if (scout) atomicAdd(&counters[1], scout);
}
EMBER_SIM_EXPORT(graph_bfs_top_down)

extern "C" __global__ void graph_bfs_bottom_up(const u64* off, const u32* adj, u32 n, const u32* front, u32* next,
                                               i32* dist, u32* parent, i32 level, u64* counters) {
    const u64 v = ember_gid();
    bool found = false;
    if (v < n && dist[v] == -1) {
        for (u64 e = off[v]; e < off[v + 1]; ++e) {
            const u32 u = adj[e];
            if ((front[u >> 5] >> (u & 31)) & 1u) {
                dist[v] = level + 1;
                parent[v] = u;
                atomicOr(&next[v >> 5], 1u << (v & 31));
                found = true;
                break;
            }
        }
    }
    const unsigned ballot = __ballot_sync(0xffffffffu, found);
    if ((threadIdx.x & 31) == 0 && ballot) atomicAdd(&counters[0], (u64)__popc(ballot));
}
EMBER_SIM_EXPORT(graph_bfs_bottom_up)

extern "C" __global__ void graph_bfs_queue_to_bitmap(const u32* queue, u32 len, u32* bitmap) {
    const u64 i = ember_gid();
    if (i < len) atomicOr(&bitmap[queue[i] >> 5], 1u << (queue[i] & 31));
}
EMBER_SIM_EXPORT(graph_bfs_queue_to_bitmap)

// The set bits of `bitmap` as a queue (any order); counters[0] += their number, counters[1] +=
// their out-degree sum.
extern "C" __global__ void graph_bfs_bitmap_to_queue(const u32* bitmap, const u64* off, u32 n, u32* queue,
                                                     u64* counters) {
    const u64 v = ember_gid();
    if (v < n && ((bitmap[v >> 5] >> (v & 31)) & 1u)) {
        queue[atomicAdd(&counters[0], 1ull)] = (u32)v;
        atomicAdd(&counters[1], off[v + 1] - off[v]);
    }
}
EMBER_SIM_EXPORT(graph_bfs_bitmap_to_queue)

// ---------------------------------------------------------------------------------------------
// Afforest connected components: comp[] is a forest whose links always point from a larger
// vertex to a smaller one, so each component ends rooted at its smallest vertex.

__device__ void graph_link(u32 u, u32 v, u32* comp) {
    u32 p1 = ember_ld_relaxed(&comp[u]);
    u32 p2 = ember_ld_relaxed(&comp[v]);
    while (p1 != p2) {
        const u32 high = p1 > p2 ? p1 : p2;
        const u32 low = p1 + p2 - high;
        const u32 p_high = ember_ld_relaxed(&comp[high]);
        if (p_high == low) break;
        if (p_high == high && atomicCAS(&comp[high], high, low) == high) break;
        p1 = ember_ld_relaxed(&comp[ember_ld_relaxed(&comp[high])]);
        p2 = ember_ld_relaxed(&comp[low]);
    }
}

extern "C" __global__ void graph_cc_init(u32* comp, u32 n) {
    const u64 v = ember_gid();
    if (v < n) comp[v] = (u32)v;
}
EMBER_SIM_EXPORT(graph_cc_init)

// Links every vertex to its r-th neighbour.
extern "C" __global__ void graph_cc_link_round(const u64* off, const u32* adj, u32 n, u32 r, u32* comp) {
    const u64 u = ember_gid();
    if (u < n && off[u] + r < off[u + 1]) graph_link((u32)u, adj[off[u] + r], comp);
}
EMBER_SIM_EXPORT(graph_cc_link_round)

extern "C" __global__ void graph_cc_compress(u32* comp, u32 n) {
    const u64 v = ember_gid();
    if (v >= n) return;
    for (;;) {
        const u32 p = ember_ld_relaxed(&comp[v]);
        const u32 gp = ember_ld_relaxed(&comp[p]);
        if (p == gp) break;
        ember_st_relaxed(&comp[v], gp);
    }
}
EMBER_SIM_EXPORT(graph_cc_compress)

extern "C" __global__ void graph_cc_gather(const u32* comp, const u32* samples, u32 k, u32* out) {
    const u64 i = ember_gid();
    if (i < k) out[i] = comp[samples[i]];
}
EMBER_SIM_EXPORT(graph_cc_gather)

// One thread per arc e (edge-parallel, so a hub's list is spread over many threads): the arc's
// source u (binary search in off), skipped if it is among u's first `skip` arcs or u already
// belongs to component c, else linked.
extern "C" __global__ void graph_cc_link_rest(const u64* off, const u32* adj, u32 n, u64 arcs, u32 skip, u32 c,
                                              u32* comp) {
    const u64 e = ember_gid();
    if (e >= arcs) return;
    u32 lo = 0, hi = n;  // largest u with off[u] <= e
    while (lo < hi) {
        const u32 mid = lo + (hi - lo + 1) / 2;
        if (off[mid] <= e) lo = mid; else hi = mid - 1;
    }
    const u32 u = lo;
    if (e - off[u] < skip || ember_ld_relaxed(&comp[u]) == c) return;
    graph_link(u, adj[e], comp);
}
EMBER_SIM_EXPORT(graph_cc_link_rest)
