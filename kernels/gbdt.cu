// Gradient-boosted trees: training (gradients, histograms, split search, partition, leaves: a
// whole tree on the device, read back once) and batch prediction. Driven by
// crates/ember-gbdt/src/gpu.rs; the split search mirrors grow.rs::Evaluator, which the CPU engine
// runs, so both grow the same trees.
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
// every row back in the root (pos = 0); totals[0..2] (zeroed by the host) get the sums. The
// sample is drawn by global row number: row + row_offset (a data-parallel shard's first row).
extern "C" __global__ void gbdt_quantise(const f64* g, const f64* h, u64 n, u32 groups, u32 k, i32 exp_g, i32 exp_h,
                                         u64 seed, u64 tree, u64 row_offset, u64 threshold, i64* gh, i32* pos,
                                         u64* totals) {
    EMBER_SHARED(u64, block_sums, 2);
    if (threadIdx.x < 2) block_sums[threadIdx.x] = 0;
    __syncthreads();
    const u64 row = ember_gid();
    if (row < n) {
        const bool keep = threshold >= (1ull << 53) || (gbdt_mix(gbdt_mix(seed + tree) ^ (row + row_offset)) >> 11) < threshold;
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

// One tree node, by heap id (root 0, children 2 n + 1 and 2 n + 2). The tree is grown on the
// device level by level and read back once (gpu.rs::NodeRecord is its twin; 40 bytes).
struct GbdtNode {
    i64 g, h;      // quantised gradient / hessian totals of the node's rows
    f64 loss;      // loss change of the node's split
    f32 leaf;      // leaf value (eta applied) when the node is a leaf
    u32 feature1;  // split feature + 1; 0: a leaf
    u32 bin;       // rows with bin <= bin go left
    u32 flags;     // GBDT_OPEN | GBDT_DEFAULT_LEFT | GBDT_BUILD_RIGHT
};
#define GBDT_OPEN 1u          // the node exists in this tree
#define GBDT_DEFAULT_LEFT 2u  // missing values go left
#define GBDT_BUILD_RIGHT 4u   // the right child's histogram is built, the left one's subtracted

// The histogram of heap node `node` (features x 256 slots x (g, h)): the root's in `root` after
// its two totals, every other node's in `hist` at (node - 1).
__device__ __forceinline__ i64* gbdt_node_hist(i64* root, i64* hist, u32 node, u32 features) {
    return node == 0 ? root + 2 : hist + (u64)(node - 1) * features * (GBDT_SLOTS * 2);
}

// The child of `parent` whose histogram is built (the smaller hessian sum's, chosen by gbdt_evaluate).
__device__ __forceinline__ u32 gbdt_built_child(const GbdtNode* nodes, u32 parent) {
    return 2 * parent + ((nodes[parent].flags & GBDT_BUILD_RIGHT) ? 2 : 1);
}

// Histograms of the nodes of `level` that are built: the root at level 0, else the built child
// of every parent that split. bins is column-major (bins[f * n + row]); pos[row] is the row's
// heap node. Grid: x = tiles of GBDT_HIST_ROWS rows, y = the tree's features (feature_ids),
// z = groups of GBDT_NODES_PER_BLOCK parents. Each block sums into shared memory, then adds its
// non-zero bins to the node's histogram (zeroed before: the root's by the host, a child's by its
// parent's gbdt_evaluate). Integer atomics: the sums do not depend on the order.
extern "C" __global__ void gbdt_histogram(const u8* bins, u64 n, u32 features, const u32* feature_ids,
                                          const i64* gh, const i32* pos, const GbdtNode* nodes, u32 level, i64* root,
                                          i64* hist) {
    EMBER_SHARED(u64, local, GBDT_NODES_PER_BLOCK * GBDT_SLOTS * 2);
    const u32 f = feature_ids[blockIdx.y];
    const u32 first = (1u << level) - 1;                          // this level's first heap id
    const u32 pfirst = level == 0 ? 0 : (1u << (level - 1)) - 1;  // the parents' level's
    const u32 first_slot = blockIdx.z * GBDT_NODES_PER_BLOCK;
    // The node of each slot (a parent's built child), or ~0u; the same in every thread.
    u32 node_of[GBDT_NODES_PER_BLOCK];
    bool any = false;
    for (u32 s = 0; s < GBDT_NODES_PER_BLOCK; ++s) {
        const u32 p = pfirst + first_slot + s;
        node_of[s] = ~0u;
        if (level == 0) {
            if (first_slot + s == 0) node_of[s] = 0;
        } else if (p < first && nodes[p].feature1 != 0 && (nodes[p].flags & GBDT_OPEN)) {
            node_of[s] = gbdt_built_child(nodes, p);
        }
        any = any || node_of[s] != ~0u;
    }
    if (!any) return;  // uniform across the block: no parent of this group split
    for (u32 i = threadIdx.x; i < GBDT_NODES_PER_BLOCK * GBDT_SLOTS * 2; i += blockDim.x) local[i] = 0;
    __syncthreads();
    const u64 begin = (u64)blockIdx.x * GBDT_HIST_ROWS;
    const u64 end = begin + GBDT_HIST_ROWS < n ? begin + GBDT_HIST_ROWS : n;
    for (u64 row = begin + threadIdx.x; row < end; row += blockDim.x) {
        const u32 node = (u32)pos[row];
        if (node < first || node > 2 * first) continue;  // a leaf of an earlier level
        const u32 slot = level == 0 ? 0 : (node - 1) / 2 - pfirst;
        if (slot < first_slot || slot >= first_slot + GBDT_NODES_PER_BLOCK) continue;
        if (node_of[slot - first_slot] != node) continue;  // the sibling: subtracted, not built
        const i64 qg = gh[2 * row], qh = gh[2 * row + 1];
        if (qg == 0 && qh == 0) continue;
        const u32 b = bins[(u64)f * n + row];
        u64* cell = &local[((slot - first_slot) * GBDT_SLOTS + b) * 2];
        atomicAdd(&cell[0], (u64)qg);
        atomicAdd(&cell[1], (u64)qh);
    }
    __syncthreads();
    for (u32 i = threadIdx.x; i < GBDT_NODES_PER_BLOCK * GBDT_SLOTS * 2; i += blockDim.x) {
        const u32 node = node_of[i / (GBDT_SLOTS * 2)];
        const u64 v = local[i];
        if (node != ~0u && v != 0) {
            i64* dst = gbdt_node_hist(root, hist, node, features) + (u64)f * (GBDT_SLOTS * 2) + i % (GBDT_SLOTS * 2);
            atomicAdd((u64*)dst, v);
        }
    }
}
EMBER_SIM_EXPORT(gbdt_histogram)

// Split search (grow.rs::Evaluator, operation for operation in f64). The quantised sum s in f64.
__device__ __forceinline__ f64 gbdt_value(i64 s, i32 exp) {
    const i32 e = -exp, half = e / 2;
    return (f64)s * (gbdt_pow2(half) * gbdt_pow2(e - half));
}
__device__ __forceinline__ f64 gbdt_threshold_l1(f64 g, f64 alpha) {
    return g > alpha ? g - alpha : (g < -alpha ? g + alpha : 0.0);
}
// A node's structure score.
__device__ __forceinline__ f64 gbdt_gain(f64 g, f64 h, f64 lambda, f64 alpha, f64 mcw) {
    if (h < mcw || h <= 0.0) return 0.0;
    const f64 t = gbdt_threshold_l1(g, alpha);
    return t * t / (h + lambda);
}

#define GBDT_EVAL_THREADS 64
#define GBDT_EVAL_BINS (GBDT_SLOTS / GBDT_EVAL_THREADS)
#define GBDT_NO_SPLIT 0xffffffffu

// One level of a tree: a block per node of `level` (GBDT_EVAL_THREADS threads, GBDT_EVAL_BINS
// consecutive bins each). An open node below the root that was not built first gets its
// histogram as its parent's minus its sibling's (exact integers). Then, feature by feature in
// the tree's ascending order, the block scans the bins (integer prefix sums, so the same values
// as the host's sequential scan) and each thread evaluates its candidates, missing right before
// missing left; the block keeps the largest gain, ties to the lower bin, and across features a
// later feature wins only with a strictly larger gain: grow.rs::Evaluator::best's order. Thread 0
// writes the node: a split (its children's totals, which child is built next, whose histogram
// the block zeroes) when the gain is above max(gamma, 1e-6) and the level is above max_depth,
// else a leaf with its value. Blocks of nodes that do not exist mark their children absent.
extern "C" __global__ void gbdt_evaluate(GbdtNode* nodes, i64* root, i64* hist, u32 features, const u32* feature_ids,
                                         u32 nsel, const u32* value_bins, u32 level, u32 max_depth, i32 exp_g,
                                         i32 exp_h, f64 lambda, f64 alpha, f64 mcw, f64 gamma, f64 eta) {
    EMBER_SHARED(i64, warp_sums, 32);
    EMBER_SHARED(f64, s_change, GBDT_EVAL_THREADS);
    EMBER_SHARED(u32, s_key, GBDT_EVAL_THREADS);
    EMBER_SHARED(i64, s_gl, GBDT_EVAL_THREADS);
    EMBER_SHARED(i64, s_hl, GBDT_EVAL_THREADS);
    EMBER_SHARED(i64, s_missing, 2);
    EMBER_SHARED(u32, s_zero, 1);
    const u32 t = threadIdx.x;
    const u32 node = (1u << level) - 1 + blockIdx.x;
    const bool has_children = level < max_depth;
    if (node == 0 && t == 0) {
        nodes[0].g = root[0];
        nodes[0].h = root[1];
        nodes[0].flags = GBDT_OPEN;
    }
    __syncthreads();
    if (!(nodes[node].flags & GBDT_OPEN)) {
        if (t == 0 && has_children) nodes[2 * node + 1].flags = nodes[2 * node + 2].flags = 0;
        return;
    }
    const i64 g = nodes[node].g, h = nodes[node].h;
    i64* mine = gbdt_node_hist(root, hist, node, features);
    // Not built: parent minus sibling, written for this level's search and the next level's.
    const bool subtract = has_children && node != 0 && gbdt_built_child(nodes, (node - 1) / 2) != node;
    const i64* parent = subtract ? gbdt_node_hist(root, hist, (node - 1) / 2, features) : 0;
    const i64* sibling = subtract ? gbdt_node_hist(root, hist, node % 2 ? node + 1 : node - 1, features) : 0;
    const f64 parent_gain = gbdt_gain(gbdt_value(g, exp_g), gbdt_value(h, exp_h), lambda, alpha, mcw);
    // This thread's view of the best split so far (meaningful in thread 0).
    f64 best_change = 0.0;
    u32 best_f = GBDT_NO_SPLIT, best_key = 0;
    i64 best_gl = 0, best_hl = 0;
    for (u32 i = 0; has_children && i < nsel; ++i) {
        const u32 f = feature_ids[i];
        const u32 vb = value_bins[f];
        if (vb < 2) continue;  // uniform: one value bin, nothing to split
        i64* cells = mine + (u64)f * (GBDT_SLOTS * 2);
        i64 bg[GBDT_EVAL_BINS], bh[GBDT_EVAL_BINS];
        i64 sum_g = 0, sum_h = 0;
        for (u32 j = 0; j < GBDT_EVAL_BINS; ++j) {
            const u32 b = t * GBDT_EVAL_BINS + j;
            const u64 c = (u64)f * (GBDT_SLOTS * 2) + 2 * b;
            if (subtract) {
                cells[2 * b] = parent[c] - sibling[c];
                cells[2 * b + 1] = parent[c + 1] - sibling[c + 1];
            }
            bg[j] = cells[2 * b];
            bh[j] = cells[2 * b + 1];
            if (b == GBDT_MISSING) {
                s_missing[0] = bg[j];
                s_missing[1] = bh[j];
            } else {
                sum_g += bg[j];
                sum_h += bh[j];
            }
        }
        i64 total;
        i64 lg = ember_block_exclusive_scan(sum_g, total, warp_sums);
        i64 lh = ember_block_exclusive_scan(sum_h, total, warp_sums);  // its syncs publish s_missing
        const i64 mg = s_missing[0], mh = s_missing[1];
        const bool has_missing = mg != 0 || mh != 0;
        f64 my_change = 0.0;
        u32 my_key = GBDT_NO_SPLIT;
        i64 my_gl = 0, my_hl = 0;
        for (u32 j = 0; j < GBDT_EVAL_BINS; ++j) {
            const u32 b = t * GBDT_EVAL_BINS + j;
            if (b + 1 >= vb) break;  // candidates are the value bins but the last
            if (bg[j] == 0 && bh[j] == 0 && b > 0) continue;  // the previous bin's partition
            lg += bg[j];
            lh += bh[j];
            for (u32 dl = 0; dl < 2; ++dl) {
                if (dl && !has_missing) break;
                const i64 gl = dl ? lg + mg : lg, hl = dl ? lh + mh : lh;
                const i64 gr = g - gl, hr = h - hl;
                const f64 fhl = gbdt_value(hl, exp_h), fhr = gbdt_value(hr, exp_h);
                if (fhl < mcw || fhr < mcw) continue;
                const f64 change = gbdt_gain(gbdt_value(gl, exp_g), fhl, lambda, alpha, mcw) +
                                   gbdt_gain(gbdt_value(gr, exp_g), fhr, lambda, alpha, mcw) - parent_gain;
                if (change > my_change) {
                    my_change = change;
                    my_key = 2 * b + dl;
                    my_gl = gl;
                    my_hl = hl;
                }
            }
        }
        s_change[t] = my_change;
        s_key[t] = my_key;
        s_gl[t] = my_gl;
        s_hl[t] = my_hl;
        __syncthreads();
        // The largest gain, ties to the smaller key (bin, then missing right).
        for (u32 half = GBDT_EVAL_THREADS / 2; half > 0; half >>= 1) {
            if (t < half) {
                const u32 o = t + half;
                const bool take = s_key[o] != GBDT_NO_SPLIT &&
                                  (s_key[t] == GBDT_NO_SPLIT || s_change[o] > s_change[t] ||
                                   (s_change[o] == s_change[t] && s_key[o] < s_key[t]));
                if (take) {
                    s_change[t] = s_change[o];
                    s_key[t] = s_key[o];
                    s_gl[t] = s_gl[o];
                    s_hl[t] = s_hl[o];
                }
            }
            __syncthreads();
        }
        if (t == 0 && s_key[0] != GBDT_NO_SPLIT && s_change[0] > best_change) {
            best_change = s_change[0];
            best_f = f;
            best_key = s_key[0];
            best_gl = s_gl[0];
            best_hl = s_hl[0];
        }
        __syncthreads();  // s_* are rewritten by the next feature
    }
    if (t == 0) {
        GbdtNode& me = nodes[node];
        const bool split = best_f != GBDT_NO_SPLIT && best_change > 1e-6 && best_change >= gamma;
        s_zero[0] = ~0u;
        if (split) {
            const i64 gr = g - best_gl, hr = h - best_hl;
            const bool build_right = !(best_hl <= hr);  // the smaller hessian sum is built
            me.feature1 = best_f + 1;
            me.bin = best_key / 2;
            me.loss = best_change;
            me.flags = GBDT_OPEN | ((best_key & 1) ? GBDT_DEFAULT_LEFT : 0u) | (build_right ? GBDT_BUILD_RIGHT : 0u);
            GbdtNode& l = nodes[2 * node + 1];
            GbdtNode& r = nodes[2 * node + 2];
            l.g = best_gl;
            l.h = best_hl;
            r.g = gr;
            r.h = hr;
            l.flags = r.flags = GBDT_OPEN;
            if (level + 1 < max_depth) s_zero[0] = 2 * node + (build_right ? 2 : 1);
        } else {
            const f64 fh = gbdt_value(h, exp_h);
            const f64 w = (fh < mcw || fh <= 0.0) ? 0.0 : -gbdt_threshold_l1(gbdt_value(g, exp_g), alpha) / (fh + lambda);
            me.feature1 = 0;
            me.leaf = (f32)(eta * w);
            if (has_children) nodes[2 * node + 1].flags = nodes[2 * node + 2].flags = 0;
        }
    }
    __syncthreads();
    // The built child's histogram starts at zero (the tree's features only: no other is read).
    const u32 child = s_zero[0];
    if (child != ~0u) {
        i64* dst = gbdt_node_hist(root, hist, child, features);
        for (u32 i = 0; i < nsel; ++i)
            for (u32 c = t; c < GBDT_SLOTS * 2; c += blockDim.x) dst[(u64)feature_ids[i] * (GBDT_SLOTS * 2) + c] = 0;
    }
}
EMBER_SIM_EXPORT(gbdt_evaluate)

// Rows of nodes that split move to 2 node + 1 when their bin is <= the split's bin (or missing
// and the split sends missing left), else to 2 node + 2 (grow.rs::SplitRow::goes_left). Rows in
// leaves stay.
extern "C" __global__ void gbdt_partition(const u8* bins, u64 n, const GbdtNode* nodes, i32* pos) {
    const u64 row = ember_gid();
    if (row >= n) return;
    const i32 node = pos[row];
    const u32 f1 = nodes[node].feature1;
    if (f1 == 0) return;
    const u32 b = bins[(u64)(f1 - 1) * n + row];
    const bool left = b == GBDT_MISSING ? (nodes[node].flags & GBDT_DEFAULT_LEFT) != 0 : b <= nodes[node].bin;
    pos[row] = 2 * node + (left ? 1 : 2);
}
EMBER_SIM_EXPORT(gbdt_partition)

// margins[row * groups + k] += the leaf value of the row's node.
extern "C" __global__ void gbdt_add_leaves(f32* margins, const i32* pos, const GbdtNode* nodes, u64 n, u32 groups,
                                           u32 k) {
    const u64 row = ember_gid();
    if (row < n) margins[row * groups + k] += nodes[pos[row]].leaf;
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
