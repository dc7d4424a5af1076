// Gradient-boosted trees: the per-row phases of training and batch prediction. Driven by
// crates/ember-gbdt/src/gpu.rs; the tree decisions (split search, leaf values) are made on the
// host from the integer histograms, by the same code as the CPU engine.
//
// Every floating-point step here mirrors crates/ember-gbdt/src/{math,objective}.rs operation
// for operation (NVRTC compiles with --fmad=false, the Sim build with -ffp-contract=off), so the
// quantised gradients, and therefore the models, are the same bits on every device.
#include "common.cuh"

#define GBDT_SLOTS 256
#define GBDT_MISSING 255
// Histogram slots (nodes) per block of gbdt_histogram: 4 x 256 bins x (g, h) x 8 bytes = 16 KiB.
#define GBDT_NODES_PER_BLOCK 4
// Rows per block of gbdt_histogram.
#define GBDT_HIST_ROWS 4096

// Objectives (ember_gbdt::Objective).
#define GBDT_SQUARED 0
#define GBDT_LOGISTIC 1
#define GBDT_SOFTPROB 2

__device__ __forceinline__ f64 gbdt_pow2(i64 k) { return __longlong_as_double((k + 1023) << 52); }

// e^x (math.rs::exp): x = k ln2 + r, degree-13 Taylor polynomial (Estrin), scaled by 2^k.
__device__ f64 gbdt_exp(f64 x) {
    const f64 LN2_HI = 6.9314718036912382e-1, LN2_LO = 1.9082149292705877e-10, INV_LN2 = 1.4426950408889634;
    const f64 C[14] = {1.0,
                       1.0,
                       0.5,
                       0.16666666666666666,
                       0.041666666666666664,
                       0.008333333333333333,
                       0.001388888888888889,
                       0.0001984126984126984,
                       2.48015873015873e-05,
                       2.7557319223985893e-06,
                       2.755731922398589e-07,
                       2.505210838544172e-08,
                       2.08767569878681e-09,
                       1.6059043836821613e-10};
    if (x != x) return x;
    if (x > 709.7) return __longlong_as_double(0x7ff0000000000000LL);
    if (x < -745.2) return 0.0;
    const f64 kf = round(x * INV_LN2);
    const f64 r = (x - kf * LN2_HI) - kf * LN2_LO;
    // Estrin's scheme, operation for operation as math.rs.
    const f64 r2 = r * r, r4 = r * r * (r * r);
    const f64 r8 = r4 * r4;
    const f64 q0 = C[0] + C[1] * r, q1 = C[2] + C[3] * r, q2 = C[4] + C[5] * r, q3 = C[6] + C[7] * r;
    const f64 q4 = C[8] + C[9] * r, q5 = C[10] + C[11] * r, q6 = C[12] + C[13] * r;
    const f64 s0 = q0 + q1 * r2, s1 = q2 + q3 * r2, s2 = q4 + q5 * r2;
    const f64 p = (s0 + s1 * r4) + (s2 + q6 * r4) * r8;
    const i64 k = (i64)kf;
    if (k < -1021) return p * gbdt_pow2(k + 1000) * gbdt_pow2(-1000);
    if (k > 1023) return p * gbdt_pow2(k - 1) * 2.0;
    return p * gbdt_pow2(k);
}

__device__ __forceinline__ f64 gbdt_hess_floor(f64 h) { return h < 1e-16 ? 1e-16 : h; }

// objective.rs::Quantiser::quantise: v * 2^e (two factors), rounded half away from zero.
__device__ __forceinline__ i64 gbdt_quantise_one(f64 v, i32 e) {
    const i32 half = e / 2;
    return (i64)round(v * (gbdt_pow2(half) * gbdt_pow2(e - half)));
}

// objective.rs::mix (splitmix64's finaliser).
__device__ __forceinline__ u64 gbdt_mix(u64 z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Gradient pairs of every row and group (objective.rs::gradient), and per group the largest
// |g| and h over all rows (as the bits of non-negative doubles, which order like the values):
// maxima[2 k] for g, maxima[2 k + 1] for h, zeroed by the host. A block folds its rows' maxima in
// shared memory first (up to GBDT_MAX_SHARED_GROUPS groups; more use global atomics directly).
#define GBDT_MAX_SHARED_GROUPS 64
__device__ __forceinline__ void gbdt_pair(u32 objective, const f32* m, u32 groups, u32 k, f64 label, f64 wt, f64 mx,
                                          f64 sum, f64& gv, f64& hv) {
    if (objective == GBDT_SOFTPROB) {
        const f64 p = gbdt_exp((f64)m[k] - mx) / sum;
        const f64 t = ((u32)label == k) ? 1.0 : 0.0;
        gv = (p - t) * wt;
        hv = gbdt_hess_floor(2.0 * p * (1.0 - p)) * wt;
    } else if (objective == GBDT_LOGISTIC) {
        const f64 p = 1.0 / (1.0 + gbdt_exp(-(f64)m[0]));
        gv = (p - label) * wt;
        hv = gbdt_hess_floor(p * (1.0 - p)) * wt;
    } else {
        gv = ((f64)m[0] - label) * wt;
        hv = wt;
    }
}

extern "C" __global__ void gbdt_gradients(const f32* margins, const f32* y, const f32* w, u64 n, u32 groups,
                                          u32 objective, f64* g, f64* h, u64* maxima) {
    EMBER_SHARED(u64, block_max, 2 * GBDT_MAX_SHARED_GROUPS);
    const bool shared = groups <= GBDT_MAX_SHARED_GROUPS;
    if (shared)
        for (u32 i = threadIdx.x; i < 2 * groups; i += blockDim.x) block_max[i] = 0;
    __syncthreads();
    const u64 row = ember_gid();
    if (row < n) {
        const f64 wt = w ? (f64)w[row] : 1.0;
        const f64 label = (f64)y[row];
        const f32* m = margins + row * groups;
        // softmax's shift and denominator (objective.rs::softmax_at), in class order.
        f64 mx = (f64)m[0], sum = 0.0;
        if (objective == GBDT_SOFTPROB) {
            for (u32 k = 1; k < groups; ++k)
                if ((f64)m[k] > mx) mx = (f64)m[k];
            for (u32 k = 0; k < groups; ++k) sum += gbdt_exp((f64)m[k] - mx);
        }
        for (u32 k = 0; k < groups; ++k) {
            f64 gv, hv;
            gbdt_pair(objective, m, groups, k, label, wt, mx, sum, gv, hv);
            g[row * groups + k] = gv;
            h[row * groups + k] = hv;
            u64* dst = shared ? block_max : maxima;
            atomicMax(&dst[2 * k], (u64)__double_as_longlong(fabs(gv)));
            atomicMax(&dst[2 * k + 1], (u64)__double_as_longlong(fabs(hv)));
        }
    }
    __syncthreads();
    if (shared)
        for (u32 i = threadIdx.x; i < 2 * groups; i += blockDim.x) atomicMax(&maxima[i], block_max[i]);
}
EMBER_SIM_EXPORT(gbdt_gradients)

// Group k's pairs quantised (rows outside tree `tree`'s sample get zeros) into gh (i64 pairs);
// every row back in the root (pos = 0); totals[0..2] (zeroed by the host) get the sums.
extern "C" __global__ void gbdt_quantise(const f64* g, const f64* h, u64 n, u32 groups, u32 k, i32 exp_g, i32 exp_h,
                                         u64 seed, u64 tree, u64 threshold, i64* gh, i32* pos, u64* totals) {
    EMBER_SHARED(u64, block_sums, 2);
    if (threadIdx.x < 2) block_sums[threadIdx.x] = 0;
    __syncthreads();
    const u64 row = ember_gid();
    if (row < n) {
        const bool keep = threshold >= (1ull << 53) || (gbdt_mix(gbdt_mix(seed + tree) ^ row) >> 11) < threshold;
        const i64 qg = keep ? gbdt_quantise_one(g[row * groups + k], exp_g) : 0;
        const i64 qh = keep ? gbdt_quantise_one(h[row * groups + k], exp_h) : 0;
        gh[2 * row] = qg;
        gh[2 * row + 1] = qh;
        pos[row] = 0;
        // Integer sums: the order of the atomics does not change them.
        atomicAdd(&block_sums[0], (u64)qg);
        atomicAdd(&block_sums[1], (u64)qh);
    }
    __syncthreads();
    if (threadIdx.x < 2) atomicAdd(&totals[threadIdx.x], block_sums[threadIdx.x]);
}
EMBER_SIM_EXPORT(gbdt_quantise)

// Histograms of the nodes being built. bins is column-major (bins[f * n + row]); pos[row] is the
// row's heap node; node_slot[node] its output slot (-1: not built). Grid: x = tiles of
// GBDT_HIST_ROWS rows, y = feature, z = groups of GBDT_NODES_PER_BLOCK slots. Each block sums
// into shared memory, then adds its non-zero bins to hist[(slot * features + f) * 512 + 2 bin + c]
// (zeroed by the host). Integer atomics: the sums do not depend on the order.
extern "C" __global__ void gbdt_histogram(const u8* bins, u64 n, u32 features, const i64* gh, const i32* pos,
                                          const i32* node_slot, u32 slots, u64* hist) {
    EMBER_SHARED(u64, local, GBDT_NODES_PER_BLOCK * GBDT_SLOTS * 2);
    const u32 f = blockIdx.y;
    const u32 first_slot = blockIdx.z * GBDT_NODES_PER_BLOCK;
    for (u32 i = threadIdx.x; i < GBDT_NODES_PER_BLOCK * GBDT_SLOTS * 2; i += blockDim.x) local[i] = 0;
    __syncthreads();
    const u64 begin = (u64)blockIdx.x * GBDT_HIST_ROWS;
    const u64 end = begin + GBDT_HIST_ROWS < n ? begin + GBDT_HIST_ROWS : n;
    for (u64 row = begin + threadIdx.x; row < end; row += blockDim.x) {
        const i32 slot = node_slot[pos[row]];
        if (slot < (i32)first_slot || slot >= (i32)(first_slot + GBDT_NODES_PER_BLOCK)) continue;
        const i64 qg = gh[2 * row], qh = gh[2 * row + 1];
        if (qg == 0 && qh == 0) continue;
        const u32 b = bins[(u64)f * n + row];
        u64* cell = &local[((slot - first_slot) * GBDT_SLOTS + b) * 2];
        atomicAdd(&cell[0], (u64)qg);
        atomicAdd(&cell[1], (u64)qh);
    }
    __syncthreads();
    for (u32 i = threadIdx.x; i < GBDT_NODES_PER_BLOCK * GBDT_SLOTS * 2; i += blockDim.x) {
        const u32 s = first_slot + i / (GBDT_SLOTS * 2);
        const u64 v = local[i];
        if (s < slots && v != 0)
            atomicAdd(&hist[((u64)s * features + f) * (GBDT_SLOTS * 2) + i % (GBDT_SLOTS * 2)], v);
    }
}
EMBER_SIM_EXPORT(gbdt_histogram)

// One level's splits: split[3 node] = feature + 1 (0: node not split), split[3 node + 1] = bin,
// split[3 node + 2] = default_left. A row of a split node moves to 2 node + 1 when its bin is
// <= bin (or it is missing and default_left), else to 2 node + 2 (grow.rs::SplitRow::goes_left).
extern "C" __global__ void gbdt_partition(const u8* bins, u64 n, const u32* split, i32* pos) {
    const u64 row = ember_gid();
    if (row >= n) return;
    const i32 node = pos[row];
    const u32 f1 = split[3 * node];
    if (f1 == 0) return;
    const u32 b = bins[(u64)(f1 - 1) * n + row];
    const bool left = b == GBDT_MISSING ? split[3 * node + 2] != 0 : b <= split[3 * node + 1];
    pos[row] = 2 * node + (left ? 1 : 2);
}
EMBER_SIM_EXPORT(gbdt_partition)

// margins[row * groups + k] += leaf[pos[row]] (leaf values by heap node).
extern "C" __global__ void gbdt_add_leaves(f32* margins, const i32* pos, const f32* leaf, u64 n, u32 groups, u32 k) {
    const u64 row = ember_gid();
    if (row < n) margins[row * groups + k] += leaf[pos[row]];
}
EMBER_SIM_EXPORT(gbdt_add_leaves)

// Batch prediction, a thread per row: out (pre-filled with the base margins) += each tree's
// leaf, trees t0..t1 in order (model.rs::margins_cpu's order, and xgboost's). Node arrays of all
// trees concatenated; tree t starts at node first[t]; children are tree-local.
extern "C" __global__ void gbdt_predict(const f32* x, u64 n, u32 features, const i32* left, const i32* right,
                                        const u32* feature, const f32* cond, const u8* default_left,
                                        const u32* first, const u32* group, u32 t0, u32 t1, u32 groups, f32* out) {
    const u64 row = ember_gid();
    if (row >= n) return;
    const f32* xr = x + row * features;
    for (u32 t = t0; t < t1; ++t) {
        const u32 base = first[t];
        u32 node = 0;
        while (left[base + node] >= 0) {
            const f32 v = xr[feature[base + node]];
            const bool go_left = v != v ? default_left[base + node] != 0 : v < cond[base + node];
            node = (u32)(go_left ? left[base + node] : right[base + node]);
        }
        out[row * groups + group[t]] += cond[base + node];
    }
}
EMBER_SIM_EXPORT(gbdt_predict)
