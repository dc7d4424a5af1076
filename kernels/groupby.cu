// The GPU group-by (driven by ember-ops/src/groupby/gpu.rs and few.rs). Rows are first grouped by a
// device hash table over their key words (hash_table.cu), or, for keys of more words than a table
// takes, by a stable radix sort of the words. Then one of two ways to aggregate:
//
// Few groups (at most EMBER_ABI_GROUPBY_FEW, TPC-H Q1 has four): few_* below. A global atomic
// per row on four addresses would serialise the whole GPU, and one thread per group would leave
// it idle; instead every warp stages 32 rows in shared memory and lane g folds the staged rows of
// group g, keeping its total in a register; a block then folds its warps, and a second launch
// folds the blocks, each step in a fixed order, so float sums are the same on every run.
//
// Otherwise the rows are stably radix-sorted by their group's rank (the groups ordered by key:
// a sort of the groups' representatives, so the row sort needs only ceil(log2 groups) bits
// instead of every key byte), and the sorted-segment kernels fold each group:
//   gb_rank_small / gb_invert: the groups' ranks (hash_table.cu's ht_group_starts: where each
//                    rank's rows start);
//   mark_changes_*:  flags[i] = 1 where a key word differs from the previous row's (one launch
//                    per word, OR-ed), and at row 0 (the sort-only path; n_unique's value words);
//   (host) exclusive scan of the flags: each row's group, and the number of groups;
//   segment_starts:  starts[g] = the first sorted row of group g, starts[groups] = n;
//   seg_*:           one thread per group folds its rows in row order (the stable sort keeps the
//                    input order within a group), so integer and decimal results are exact and
//                    float sums add in the CPU engine's order. A group holding most rows makes
//                    one thread do most of the work (a skewed group among many: the next step).
#include "reduce_ops.cuh"

template <typename K>
__device__ void mark_changes(const K* sorted, u64 n, u32* flags) {
    const u64 i = ember_gid();
    if (i < n && (i == 0 || sorted[i] != sorted[i - 1])) flags[i] = 1u;
}
extern "C" __global__ void mark_changes_u32(const u32* sorted, u64 n, u32* flags) { mark_changes(sorted, n, flags); }
EMBER_SIM_EXPORT(mark_changes_u32)
extern "C" __global__ void mark_changes_u64(const u64* sorted, u64 n, u32* flags) { mark_changes(sorted, n, flags); }
EMBER_SIM_EXPORT(mark_changes_u64)

// `scan` is the exclusive scan of `flags` with its total at scan[n].
extern "C" __global__ void segment_starts(const u32* flags, const u32* scan, u64 n, u32* starts) {
    const u64 i = ember_gid();
    if (i >= n) return;
    if (flags[i]) starts[scan[i]] = (u32)i;
    if (i == n - 1) starts[scan[n]] = (u32)n;
}
EMBER_SIM_EXPORT(segment_starts)

__device__ __forceinline__ void set_valid(u32* bits, u64 g) { atomicOr(&bits[g >> 5], 1u << (g & 31)); }

// Sum (with the count of non-null values, for means) or min / max of each group's rows.
template <typename Op, typename T, typename A>
__device__ void seg_fold(const T* vals, const u32* valid, const u32* starts, u64 groups, A* out, u64* counts,
                         u32* out_valid, u32* err) {
    const u64 g = ember_gid();
    if (g >= groups) return;
    A acc = Op::template identity<A>();
    u64 cnt = 0;
    bool ovf = false;
    for (u32 r = starts[g]; r < starts[g + 1]; ++r) {
        if (!ember_valid(valid, r)) continue;
        acc = Op::template combine<A>(acc, (A)vals[r], ovf);
        ++cnt;
    }
    if constexpr (Op::sum_digits && sizeof(A) == 16) {
        // Decimal sums: at most 38 digits, as the column type promises.
        const i128 lim = (i128)10000000000000000000ull * (i128)10000000000000000000ull;  // 10^38
        if (acc >= lim || acc <= -lim) ovf = true;
    }
    out[g] = acc;
    if (counts) counts[g] = cnt;
    if (out_valid && cnt) set_valid(out_valid, g);
    if (ovf) atomicOr(err, 1u);
}

#define SEG_SUM(name, T, A)                                                                                \
    extern "C" __global__ void seg_sum_##name(const T* vals, const u32* valid, const u32* starts, u64 groups, \
                                              A* out, u64* counts, u32* err) {                             \
        seg_fold<OpSum, T, A>(vals, valid, starts, groups, out, counts, nullptr, err);                     \
    }                                                                                                      \
    EMBER_SIM_EXPORT(seg_sum_##name)
EMBER_FOR_SUMS(SEG_SUM)

#define SEG_MINMAX(name, T)                                                                                      \
    extern "C" __global__ void seg_min_##name(const T* vals, const u32* valid, const u32* starts, u64 groups,      \
                                              T* out, u32* out_valid) {                                          \
        seg_fold<OpMin, T, T>(vals, valid, starts, groups, out, nullptr, out_valid, nullptr);                    \
    }                                                                                                            \
    EMBER_SIM_EXPORT(seg_min_##name)                                                                             \
    extern "C" __global__ void seg_max_##name(const T* vals, const u32* valid, const u32* starts, u64 groups,      \
                                              T* out, u32* out_valid) {                                          \
        seg_fold<OpMax, T, T>(vals, valid, starts, groups, out, nullptr, out_valid, nullptr);                    \
    }                                                                                                            \
    EMBER_SIM_EXPORT(seg_max_##name)
EMBER_FOR_NUMERIC(SEG_MINMAX)
SEG_MINMAX(i128, i128)

// Non-null values per group.
extern "C" __global__ void seg_count(const u32* valid, const u32* starts, u64 groups, u64* out) {
    const u64 g = ember_gid();
    if (g >= groups) return;
    u64 cnt = 0;
    for (u32 r = starts[g]; r < starts[g + 1]; ++r) cnt += ember_valid(valid, r) ? 1 : 0;
    out[g] = cnt;
}
EMBER_SIM_EXPORT(seg_count)

// Rows per group (`len`, `valid` null) or non-null values (`count`) are seg_count above;
// distinct values per group (`n_unique`): its first row plus each row flagged as starting a new
// value (mark_changes_* over the value's words, after a sort by keys then value).
extern "C" __global__ void seg_count_changes(const u32* flags, const u32* starts, u64 groups, u64* out) {
    const u64 g = ember_gid();
    if (g >= groups) return;
    u64 cnt = 1;  // groups are never empty
    for (u32 r = starts[g] + 1; r < starts[g + 1]; ++r) cnt += flags[r] ? 1 : 0;
    out[g] = cnt;
}
EMBER_SIM_EXPORT(seg_count_changes)

// Sample variance (ddof 1) or standard deviation of each group's valid f64 values: two passes in
// row order (the mean, then the squared deviations), the CPU engine's formula
// (reduce/state.rs, f64_stat), so both give the same bits. Null below two values.
extern "C" __global__ void seg_var_f64(const f64* vals, const u32* valid, const u32* starts, u64 groups, u32 is_std,
                                       f64* out, u32* out_valid) {
    const u64 g = ember_gid();
    if (g >= groups) return;
    f64 sum = 0.0;
    u64 cnt = 0;
    for (u32 r = starts[g]; r < starts[g + 1]; ++r) {
        if (!ember_valid(valid, r)) continue;
        sum = sum + vals[r];
        ++cnt;
    }
    out[g] = 0.0;
    if (cnt < 2) return;
    const f64 mean = sum / (f64)cnt;
    f64 m2 = 0.0;
    for (u32 r = starts[g]; r < starts[g + 1]; ++r) {
        if (!ember_valid(valid, r)) continue;
        const f64 d = vals[r] - mean;
        m2 = m2 + d * d;
    }
    const f64 var = m2 / (f64)(cnt - 1);
    out[g] = is_std ? sqrt(var) : var;
    set_valid(out_valid, g);
}
EMBER_SIM_EXPORT(seg_var_f64)

// Median of each group's valid f64 values, given the rows sorted by (keys, value) with nulls
// first in a group: the middle valid value, or the mean of the two middle ones.
extern "C" __global__ void seg_median_f64(const f64* sorted, const u32* valid, const u32* starts, u64 groups, f64* out,
                                          u32* out_valid) {
    const u64 g = ember_gid();
    if (g >= groups) return;
    u32 first = starts[g];
    const u32 end = starts[g + 1];
    while (first < end && !ember_valid(valid, first)) ++first;
    out[g] = 0.0;
    const u32 m = end - first;
    if (m == 0) return;
    const u32 mid = first + m / 2;
    out[g] = (m % 2 == 1) ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2.0;
    set_valid(out_valid, g);
}
EMBER_SIM_EXPORT(seg_median_f64)

// A quantile of each group's valid f64 values (sorted as for seg_median_f64): with m valid
// values and pos = q * (m - 1), the rule `interp` picks (0 nearest, 1 lower, 2 higher,
// 3 midpoint, 4 linear), the same arithmetic as Quantile::pick on the CPU.
extern "C" __global__ void seg_quantile_f64(const f64* sorted, const u32* valid, const u32* starts, u64 groups, f64 q,
                                            u32 interp, f64* out, u32* out_valid) {
    const u64 g = ember_gid();
    if (g >= groups) return;
    u32 first = starts[g];
    const u32 end = starts[g + 1];
    while (first < end && !ember_valid(valid, first)) ++first;
    out[g] = 0.0;
    const u32 m = end - first;
    if (m == 0) return;
    const f64 pos = q * (f64)(m - 1);
    const u32 lo = (u32)floor(pos), hi = (u32)ceil(pos);
    const f64 a = sorted[first + lo], b = sorted[first + hi];
    f64 v;
    switch (interp) {
        case 0: v = sorted[first + (u32)round(pos)]; break;
        case 1: v = a; break;
        case 2: v = b; break;
        case 3: v = (a + b) / 2.0; break;
        default: v = a + (pos - (f64)lo) * (b - a); break;
    }
    out[g] = v;
    set_valid(out_valid, g);
}
EMBER_SIM_EXPORT(seg_quantile_f64)

// The last sorted row of each group, as an input row index (`first` uses the group's first).
extern "C" __global__ void segment_lasts(const u32* perm, const u32* starts, u64 groups, u32* out) {
    const u64 g = ember_gid();
    if (g < groups) out[g] = perm[starts[g + 1] - 1];
}
EMBER_SIM_EXPORT(segment_lasts)

// Means from sums and counts, as the CPU engine finishes them: (f64)sum / 10^scale / count
// (`p10` = 10^scale as the host computes it; 1 for non-decimals); null for an empty group.
#define SEG_MEAN(name, A)                                                                                       \
    extern "C" __global__ void seg_mean_##name(const A* sums, const u64* counts, u64 groups, f64 p10, f64* out,  \
                                               u32* out_valid) {                                                \
        const u64 g = ember_gid();                                                                              \
        if (g >= groups) return;                                                                                \
        const u64 c = counts[g];                                                                                \
        out[g] = c ? ((f64)sums[g] / p10) / (f64)c : 0.0;                                                       \
        if (c) set_valid(out_valid, g);                                                                         \
    }                                                                                                           \
    EMBER_SIM_EXPORT(seg_mean_##name)
EMBER_FOR_SUM_ACCS(SEG_MEAN)

// Each group's rank among `groups` groups by (key words of row rows[g], rows[g]): with the
// representatives as `rows`, key order (keys are distinct, the row never decides); with no
// words and the first rows as `rows`, first-row order. One thread per group compares it with
// every other: for up to EMBER_ABI_GROUPBY_SMALL_RANK groups one launch beats a radix sort's
// pass per key byte.
extern "C" __global__ void gb_rank_small(EmberKeyWords t, u32 nwords, u32 wide, const u32* rows, u64 groups,
                                         u32* rank) {
    const u64 g = ember_gid();
    if (g >= groups) return;
    const u32 row = rows[g];
    u32 r = 0;
    for (u64 h = 0; h < groups; ++h) {
        const u32 other = rows[h];
        const int c = ember_key_cmp(t, t, nwords, wide, other, row);
        r += (c < 0 || (c == 0 && other < row)) ? 1u : 0u;
    }
    rank[g] = r;
}
EMBER_SIM_EXPORT(gb_rank_small)

// rank[order[j]] = j: the inverse of the groups' order (and order from rank, the same way).
extern "C" __global__ void gb_invert(const u32* order, u64 groups, u32* rank) {
    const u64 j = ember_gid();
    if (j < groups) rank[order[j]] = (u32)j;
}
EMBER_SIM_EXPORT(gb_invert)

// Each group's first and last row (`first` preset to all ones, `last` to zero; either may be
// null). Atomic min / max of row numbers: the same answer whatever the order.
extern "C" __global__ void gb_first_last(const u32* group, u64 n, u32* first, u32* last) {
    const u64 i = ember_gid();
    if (i >= n) return;
    if (first) atomicMin(&first[group[i]], (u32)i);
    if (last) atomicMax(&last[group[i]], (u32)i);
}
EMBER_SIM_EXPORT(gb_first_last)

// ---- Few groups: warp-cooperative folds (see the top of the file) ----
// Launched with EMBER_BLOCK threads and a grid fixed by the row count. `vals` null: count the
// valid rows only (`valid` null too: every row). Writes, per block, each group's partial fold and
// valid-row count to partial[block * groups + g] / count[...] (`partial` may be null).
template <typename Op, typename T, typename A>
__device__ void few_fold(const T* vals, const u32* valid, const u32* group, u64 n, u32 groups, A* partial,
                         u64* count, u32* err) {
    EMBER_SHARED(A, staged, EMBER_BLOCK);
    EMBER_SHARED(u32, staged_group, EMBER_BLOCK);
    EMBER_SHARED(A, warp_acc, EMBER_BLOCK);  // [warp][lane = group]
    EMBER_SHARED(u64, warp_cnt, EMBER_BLOCK);
    const u32 lane = threadIdx.x & 31, warp_base = threadIdx.x & ~31u;
    A acc = Op::template identity<A>();
    u64 cnt = 0;
    bool ovf = false;
    const u64 stride = (u64)gridDim.x * blockDim.x;
    // Every lane of a warp runs the same iterations (the bound depends on the warp's base only),
    // so the __syncwarp calls are reached by all 32.
    for (u64 base = (u64)blockIdx.x * blockDim.x + warp_base; base < n; base += stride) {
        const u64 i = base + lane;
        u32 g = 0xffffffffu;
        if (i < n && ember_valid(valid, i)) {
            g = group[i];
            if (vals) staged[threadIdx.x] = (A)vals[i];
        }
        staged_group[threadIdx.x] = g;
        __syncwarp();
        if (lane < groups) {
            for (u32 j = 0; j < 32; ++j) {
                if (staged_group[warp_base + j] != lane) continue;
                if (vals) acc = Op::template combine<A>(acc, staged[warp_base + j], ovf);
                ++cnt;
            }
        }
        __syncwarp();
    }
    warp_acc[threadIdx.x] = acc;
    warp_cnt[threadIdx.x] = cnt;
    __syncthreads();
    if (threadIdx.x < groups) {
        A a = Op::template identity<A>();
        u64 c = 0;
        for (u32 w = 0; w < blockDim.x; w += 32) {
            a = Op::template combine<A>(a, warp_acc[w + threadIdx.x], ovf);
            c += warp_cnt[w + threadIdx.x];
        }
        const u64 at = (u64)blockIdx.x * groups + threadIdx.x;
        if (partial) partial[at] = a;
        count[at] = c;
    }
    if (ovf) atomicOr(err, 1u);
}

// One thread per group g folds the blocks' partials in block order and writes at r = rank[g]:
// out[r] (if `out`), the valid-row count (if `counts`), and validity (set where the group has
// a valid row, if `out_valid`). Decimal sums past 38 digits set `err`.
template <typename Op, typename A>
__device__ void few_finish(const A* partial, const u64* count, u64 blocks, u32 groups, const u32* rank, A* out,
                           u64* counts, u32* out_valid, u32* err) {
    const u64 g = ember_gid();
    if (g >= groups) return;
    A acc = Op::template identity<A>();
    u64 cnt = 0;
    bool ovf = false;
    for (u64 b = 0; b < blocks; ++b) {
        if (partial) acc = Op::template combine<A>(acc, partial[b * groups + g], ovf);
        cnt += count[b * groups + g];
    }
    if constexpr (Op::sum_digits && sizeof(A) == 16) {
        const i128 lim = (i128)10000000000000000000ull * (i128)10000000000000000000ull;  // 10^38
        if (acc >= lim || acc <= -lim) ovf = true;
    }
    const u32 r = rank[g];
    if (out) out[r] = acc;
    if (counts) counts[r] = cnt;
    if (out_valid && cnt) set_valid(out_valid, r);
    if (ovf) atomicOr(err, 1u);
}

// Valid rows (or, with `valid` null, all rows) per group.
extern "C" __global__ void few_count(const u32* valid, const u32* group, u64 n, u32 groups, u64* count, u32* err) {
    few_fold<OpSum, u8, u64>(nullptr, valid, group, n, groups, nullptr, count, err);
}
EMBER_SIM_EXPORT(few_count)
extern "C" __global__ void few_finish_count(const u64* count, u64 blocks, u32 groups, const u32* rank, u64* out,
                                            u32* err) {
    few_finish<OpSum, u64>(nullptr, count, blocks, groups, rank, nullptr, out, nullptr, err);
}
EMBER_SIM_EXPORT(few_finish_count)

#define FEW_FOLD(op, Op, name, T, A)                                                                             \
    extern "C" __global__ void few_##op##_##name(const T* vals, const u32* valid, const u32* group, u64 n,       \
                                                 u32 groups, A* partial, u64* count, u32* err) {                 \
        few_fold<Op, T, A>(vals, valid, group, n, groups, partial, count, err);                                  \
    }                                                                                                            \
    EMBER_SIM_EXPORT(few_##op##_##name)
#define FEW_FINISH(op, Op, name, A)                                                                              \
    extern "C" __global__ void few_finish_##op##_##name(const A* partial, const u64* count, u64 blocks,         \
                                                        u32 groups, const u32* rank, A* out, u64* counts,        \
                                                        u32* out_valid, u32* err) {                              \
        few_finish<Op, A>(partial, count, blocks, groups, rank, out, counts, out_valid, err);                    \
    }                                                                                                            \
    EMBER_SIM_EXPORT(few_finish_##op##_##name)

// Sums accumulate as the sort path's seg_sum_* (EMBER_FOR_SUMS), decimals with overflow reported.
#define FEW_SUM(name, T, A) FEW_FOLD(sum, OpSum, name, T, A)
#define FEW_FINISH_SUM(name, A) FEW_FINISH(sum, OpSum, name, A)
EMBER_FOR_SUMS(FEW_SUM)
EMBER_FOR_SUM_ACCS(FEW_FINISH_SUM)

#define FEW_MINMAX(name, T)                   \
    FEW_FOLD(min, OpMin, name, T, T)          \
    FEW_FOLD(max, OpMax, name, T, T)          \
    FEW_FINISH(min, OpMin, name, T)           \
    FEW_FINISH(max, OpMax, name, T)
EMBER_FOR_NUMERIC(FEW_MINMAX)
FEW_MINMAX(i128, i128)
