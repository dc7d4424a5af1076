// Sort-based group-by (driven by ember-ops/src/groupby/gpu.rs). After the rows are ordered by
// their key words (radix_sort.cu):
//   mark_changes_*:  flags[i] = 1 where a key word differs from the previous row's (one launch
//                    per word, OR-ed), and at row 0;
//   (host) exclusive scan of the flags: each row's group, and the number of groups;
//   segment_starts:  starts[g] = the first sorted row of group g, starts[groups] = n;
//   seg_*:           one thread per group folds its rows in row order (the stable sort keeps the
//                    input order within a group), so integer and decimal results are exact and
//                    float sums add in the CPU engine's order. A group holding most rows makes
//                    one thread do most of the work: the shared-memory and hash variants for few
//                    and skewed groups are the next step (issue: relational core).
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
    if constexpr (sizeof(A) == 16) {
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
SEG_SUM(i8, i8, i64)
SEG_SUM(i16, i16, i64)
SEG_SUM(i32, i32, i64)
SEG_SUM(i64, i64, i64)
SEG_SUM(u8, u8, u64)
SEG_SUM(u16, u16, u64)
SEG_SUM(u32, u32, u64)
SEG_SUM(u64, u64, u64)
SEG_SUM(f32, f32, f32)
SEG_SUM(f64, f64, f64)
SEG_SUM(i128, i128, i128)

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
SEG_MEAN(i64, i64)
SEG_MEAN(u64, u64)
SEG_MEAN(f32, f32)
SEG_MEAN(f64, f64)
SEG_MEAN(i128, i128)
