// A device hash table of rows keyed by their key words (driven by
// ember-gpu/src/primitives/hash_table.rs): open addressing with linear probing over a power-of-two
// table of row numbers, at least twice as many slots as rows, so a probe always ends.
//   ht_insert_rows:  each row hashes its words and walks from its home slot: an empty slot is
//                    claimed with a compare-and-swap (the winner's row is the key's
//                    representative), a slot holding a row with equal words is the row's key;
//                    either way the row records its slot. Rows of a key already present only
//                    read the table, so a key with millions of rows costs no atomic traffic.
//   ht_mark_slots:   flags[s] = 1 for every claimed slot;
//   (host) exclusive scan of the flags: each claimed slot's dense group number, and the group
//                    count (the one readback);
//   ht_group_ids:    each row's group number, through its slot;
//   ht_group_reps:   each group's representative row;
//   ht_group_starts: after a stable sort of the rows by a dense group number, where each
//                    group's rows start (groups without rows allowed).
// Group numbers follow slot order (hash order): callers that need key order sort the groups'
// representatives' words, which is one sort of `groups` elements instead of `n`. Probes of the
// finished table (joins) use ember_ht_find in common.cuh, the same hash and probe sequence.
#include "common.cuh"

#define HT_EMPTY EMBER_HT_EMPTY

extern "C" __global__ void ht_insert_rows(EmberKeyWords t, u32 nwords, u32 wide, u64 n, u32* table, u64 mask,
                                          u32* slot_of_row) {
    const u64 i = ember_gid();
    if (i >= n) return;
    u64 s = ember_key_hash(t, nwords, wide, i) & mask;
    for (;;) {
        u32 cur = ember_ld_relaxed(&table[s]);
        if (cur == HT_EMPTY) {
            cur = atomicCAS(&table[s], HT_EMPTY, (u32)i);
            if (cur == HT_EMPTY) break;  // claimed: this row represents its key
        }
        // The slot's row was written before this launch; only the slot itself is shared.
        if (ember_key_cmp(t, t, nwords, wide, cur, i) == 0) break;
        s = (s + 1) & mask;
    }
    slot_of_row[i] = (u32)s;
}
EMBER_SIM_EXPORT(ht_insert_rows)

extern "C" __global__ void ht_mark_slots(const u32* table, u64 cap, u32* flags) {
    const u64 s = ember_gid();
    if (s < cap) flags[s] = table[s] != HT_EMPTY ? 1u : 0u;
}
EMBER_SIM_EXPORT(ht_mark_slots)

// `scan`: the exclusive scan of the slot flags.
extern "C" __global__ void ht_group_ids(const u32* slot_of_row, const u32* scan, u64 n, u32* group) {
    const u64 i = ember_gid();
    if (i < n) group[i] = scan[slot_of_row[i]];
}
EMBER_SIM_EXPORT(ht_group_ids)

extern "C" __global__ void ht_group_reps(const u32* table, const u32* scan, u64 cap, u32* reps) {
    const u64 s = ember_gid();
    if (s < cap && table[s] != HT_EMPTY) reps[scan[s]] = table[s];
}
EMBER_SIM_EXPORT(ht_group_reps)

// `sorted`: every row's group number, ascending (a group may have no rows: a join's table side
// keys that the probe side never hits); starts[g] = the first position holding a group >= g (a
// binary search per group, so an absent run costs nothing extra), starts[groups] = n.
extern "C" __global__ void ht_group_starts(const u32* sorted, u64 n, u64 groups, u32* starts) {
    const u64 g = ember_gid();
    if (g > groups) return;
    u64 lo = 0, hi = n;
    while (lo < hi) {
        const u64 mid = (lo + hi) / 2;
        if (sorted[mid] < g) lo = mid + 1;
        else hi = mid;
    }
    starts[g] = (u32)lo;
}
EMBER_SIM_EXPORT(ht_group_starts)
