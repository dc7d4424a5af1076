// String comparisons and string predicates, one warp ballot per 32 rows of output bits. (Every
// other comparison runs inside the expression interpreter, kernels/expr.cu.) A step of 0 marks a
// scalar operand (a one-row column); codes are EMBER_ABI_CMP_* / EMBER_ABI_STR_* (abi.cuh).
#include "common.cuh"

__device__ __forceinline__ void write_ballot(bool b, u32* out_bits, u64 i, u64 n) {
    const u32 word = __ballot_sync(0xffffffffu, b);
    if ((threadIdx.x & 31) == 0 && i < n) out_bits[i >> 5] = word;
}

// Strings: byte-wise lexicographic order (UTF-8 bytes compare as code points do), shorter first.
__device__ __forceinline__ int str_cmp3(const u8* a, i64 la, const u8* b, i64 lb) {
    const i64 m = la < lb ? la : lb;
    for (i64 k = 0; k < m; ++k) {
        if (a[k] != b[k]) return a[k] < b[k] ? -1 : 1;
    }
    return la < lb ? -1 : (la > lb ? 1 : 0);
}

// When out_valid is given, it receives valid(a) AND valid(b) (av / bv may be null: all valid).
extern "C" __global__ void cmp_str(const i64* a_off, const u8* a_bytes, u32 as, const i64* b_off, const u8* b_bytes,
                                   u32 bs, u32* out, u64 n, int op, const u32* av, const u32* bv, u32* out_valid) {
    const u64 i = ember_gid();
    bool r = false;
    if (out_valid != 0) write_ballot(i < n && ember_valid(av, i * as) && ember_valid(bv, i * bs), out_valid, i, n);
    if (i < n) {
        const u64 ia = i * as, ib = i * bs;
        r = ember_cmp_holds(str_cmp3(a_bytes + a_off[ia], a_off[ia + 1] - a_off[ia], b_bytes + b_off[ib],
                               b_off[ib + 1] - b_off[ib]),
                      op);
    }
    write_ballot(r, out, i, n);
}
EMBER_SIM_EXPORT(cmp_str)

// String predicates against one literal pattern. op: 0 starts_with, 1 ends_with, 2 contains.
extern "C" __global__ void str_match(const i64* off, const u8* bytes, const u8* pat, u64 plen, u32* out, u64 n, int op) {
    const u64 i = ember_gid();
    bool r = false;
    if (i < n) {
        const u8* s = bytes + off[i];
        const i64 len = off[i + 1] - off[i];
        const i64 pl = (i64)plen;
        if (pl <= len) {
            if (op == EMBER_ABI_STR_STARTS_WITH || op == EMBER_ABI_STR_ENDS_WITH) {
                const u8* base = op == EMBER_ABI_STR_STARTS_WITH ? s : s + (len - pl);
                r = true;
                for (i64 k = 0; k < pl; ++k) {
                    if (base[k] != pat[k]) { r = false; break; }
                }
            } else {
                for (i64 st = 0; st + pl <= len && !r; ++st) {
                    bool m = true;
                    for (i64 k = 0; k < pl; ++k) {
                        if (s[st + k] != pat[k]) { m = false; break; }
                    }
                    r = m;
                }
            }
        }
    }
    write_ballot(r, out, i, n);
}
EMBER_SIM_EXPORT(str_match)
