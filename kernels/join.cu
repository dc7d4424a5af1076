// Hash equi-join (driven by ember-ops/src/join/gpu.rs), count then write so every output is
// sized exactly. Both sides' keys are order-preserving words (sort_keys.cu: a null word and
// value words per key column, lined up between the sides). The smaller side's rows go into the
// device hash table (hash_table.cu: one representative row per distinct key, a dense group number
// per row). Either way the right rows end up stably radix-sorted by a group number, so each left
// key's right matches are one range in right row order:
//   right side smaller: the table's own group numbers; then
//   join_probe:        per left row, its key's group through the table (ember_ht_find) and that
//                      group's range; 0 for a left row with a null key unless nulls are equal;
//   left side smaller: join_probe_group: per right row, the left group its key hits (or the
//                      sentinel `groups`: no left row, or a null key unless nulls are equal);
//                      the right rows sorted by it; then
//   join_group_ranges: per left row, its group's range of right rows (empty for a group no right
//                      row hit);
//   (host) exclusive scan of the counts: output offsets and size (one readback);
//   join_write:   the (left, right) row pairs, left rows in order, each one's matches in right row
//                 order; for left joins an unmatched row once, with no right row;
//   join_keep_mask: semi / anti joins' keep-bitmap of the left rows (then compaction).
#include "common.cuh"

// Whether row i's key has a null (bit k of `null_words`: word k is a null word, 0 = null).
__device__ __forceinline__ bool join_null_key(const EmberKeyWords& t, u32 nwords, u32 wide, u32 null_words, u64 i) {
    for (u32 k = 0; k < nwords; ++k)
        if (((null_words >> k) & 1u) && ember_key_word(t.w[k], (wide >> k) & 1u, i) == 0) return true;
    return false;
}

// `null_words`: bit k set if word k is a null word (0 = null, as sort_null_key writes for nulls
// first); `skip_nulls`: a left key with a null never matches (SQL). `table` / `mask`: the right
// rows' hash table; `right_group`: each right row's group; `starts`: where each group's rows
// start in the right rows sorted by group.
extern "C" __global__ void join_probe(EmberKeyWords l, EmberKeyWords r, u32 nwords, u32 wide, u32 null_words,
                                      u32 skip_nulls, u64 nl, const u32* table, u64 mask, const u32* right_group,
                                      const u32* starts, u32* lo_out, u32* count_out) {
    const u64 i = ember_gid();
    if (i >= nl) return;
    const bool no_match = skip_nulls && join_null_key(l, nwords, wide, null_words, i);
    const u32 row = no_match ? EMBER_HT_EMPTY : ember_ht_find(table, mask, l, r, nwords, wide, i);
    if (row == EMBER_HT_EMPTY) {
        lo_out[i] = 0;
        count_out[i] = 0;
        return;
    }
    const u32 g = right_group[row];
    lo_out[i] = starts[g];
    count_out[i] = starts[g + 1] - starts[g];
}
EMBER_SIM_EXPORT(join_probe)

// Left side smaller: `table` holds the left rows (`left_group`: each left row's group);
// `right_group[j]` = the group right row j's key hits, or `groups` if none.
extern "C" __global__ void join_probe_group(EmberKeyWords r, EmberKeyWords l, u32 nwords, u32 wide, u32 null_words,
                                            u32 skip_nulls, u64 nr, const u32* table, u64 mask,
                                            const u32* left_group, u32 groups, u32* right_group) {
    const u64 j = ember_gid();
    if (j >= nr) return;
    const bool no_match = skip_nulls && join_null_key(r, nwords, wide, null_words, j);
    const u32 row = no_match ? EMBER_HT_EMPTY : ember_ht_find(table, mask, r, l, nwords, wide, j);
    right_group[j] = row == EMBER_HT_EMPTY ? groups : left_group[row];
}
EMBER_SIM_EXPORT(join_probe_group)

// Left side smaller: left row i's matches are its group's range of the right rows sorted by group.
extern "C" __global__ void join_group_ranges(const u32* left_group, const u32* starts, u64 nl, u32* lo_out,
                                             u32* count_out) {
    const u64 i = ember_gid();
    if (i >= nl) return;
    const u32 g = left_group[i];
    lo_out[i] = starts[g];
    count_out[i] = starts[g + 1] - starts[g];
}
EMBER_SIM_EXPORT(join_group_ranges)

// `outer` (left joins): a left row without a match gets one pair with the right row 0xffffffff
// (no row); the host sized the output by max(count, 1) per row.
extern "C" __global__ void join_write(const u32* lo, const u32* count, const u32* offsets, const u32* right_perm,
                                      u64 nl, u32 outer, u32* out_left, u32* out_right) {
    const u64 i = ember_gid();
    if (i >= nl) return;
    const u32 base = offsets[i];
    if (outer && count[i] == 0) {
        out_left[base] = (u32)i;
        out_right[base] = 0xffffffffu;
    }
    for (u32 k = 0; k < count[i]; ++k) {
        out_left[base + k] = (u32)i;
        out_right[base + k] = right_perm[lo[i] + k];
    }
}
EMBER_SIM_EXPORT(join_write)

// Bit i of `bits` (zeroed by the host): left row i has a match (semi) or none (anti).
extern "C" __global__ void join_keep_mask(const u32* count, u64 nl, u32 anti, u32* bits) {
    const u64 i = ember_gid();
    const bool keep = i < nl && ((count[i] > 0) != (anti != 0));
    const u32 ballot = __ballot_sync(0xffffffffu, keep);
    if ((threadIdx.x & 31) == 0 && ballot) atomicOr(&bits[i >> 5], ballot);
}
EMBER_SIM_EXPORT(join_keep_mask)

// Left outer joins: every left row yields at least one output row.
extern "C" __global__ void join_outer_counts(const u32* count, u64 nl, u32* out) {
    const u64 i = ember_gid();
    if (i < nl) out[i] = count[i] ? count[i] : 1u;
}
EMBER_SIM_EXPORT(join_outer_counts)

// Right rows of outer pairs: `safe` (no row -> row 0, to gather something) and the bitmap of
// the pairs that have a right row (the gathered right columns' validity is ANDed with it).
extern "C" __global__ void join_null_map(const u32* idx, u64 m, u32* safe, u32* matched) {
    const u64 i = ember_gid();
    const bool has = i < m && idx[i] != 0xffffffffu;
    if (i < m) safe[i] = has ? idx[i] : 0u;
    const u32 ballot = __ballot_sync(0xffffffffu, has);
    if ((threadIdx.x & 31) == 0 && i < m) matched[i >> 5] = ballot;
}
EMBER_SIM_EXPORT(join_null_map)

extern "C" __global__ void join_and_bits(const u32* a, const u32* b, u64 words, u32* out) {
    const u64 i = ember_gid();
    if (i < words) out[i] = a[i] & b[i];
}
EMBER_SIM_EXPORT(join_and_bits)

// Cross joins: output row i pairs left row i / m with right row i % m (left major).
extern "C" __global__ void cross_indices(u64 m, u64 total, u32* out_left, u32* out_right) {
    const u64 i = ember_gid();
    if (i >= total) return;
    out_left[i] = (u32)(i / m);
    out_right[i] = (u32)(i % m);
}
EMBER_SIM_EXPORT(cross_indices)
