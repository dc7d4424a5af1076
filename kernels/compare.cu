// Comparisons producing a bitmap (one warp ballot per 32 rows). Operands are of one type (the host
// casts both to the common type first); step 0 marks a scalar operand. Floats compare in IEEE
// total order, as arrow-rs does (NaN = NaN, -0.0 < +0.0). Validity is combined by the host.
#include "common.cuh"

template <typename T> __device__ __forceinline__ int cmp3(T a, T b) { return a < b ? -1 : (b < a ? 1 : 0); }
template <> __device__ __forceinline__ int cmp3<f32>(f32 a, f32 b) { return cmp3(ember_total_key(a), ember_total_key(b)); }
template <> __device__ __forceinline__ int cmp3<f64>(f64 a, f64 b) { return cmp3(ember_total_key(a), ember_total_key(b)); }

// op: 0 eq, 1 ne, 2 lt, 3 le, 4 gt, 5 ge
__device__ __forceinline__ bool cmp_holds(int c, int op) {
    switch (op) {
        case 0: return c == 0;
        case 1: return c != 0;
        case 2: return c < 0;
        case 3: return c <= 0;
        case 4: return c > 0;
        default: return c >= 0;
    }
}

__device__ __forceinline__ void write_ballot(bool b, u32* out_bits, u64 i, u64 n) {
    const u32 word = __ballot_sync(0xffffffffu, b);
    if ((threadIdx.x & 31) == 0 && i < n) out_bits[i >> 5] = word;
}

template <typename T>
__device__ void cmp_values(const T* a, u32 as, const T* b, u32 bs, u32* out_bits, u64 n, int op) {
    const u64 i = ember_gid();
    const bool r = i < n && cmp_holds(cmp3<T>(a[i * as], b[i * bs]), op);
    write_ballot(r, out_bits, i, n);
}

#define CMP(name, T)                                                                                     \
    extern "C" __global__ void cmp_##name(const T* a, u32 as, const T* b, u32 bs, u32* out, u64 n, int op) { \
        cmp_values<T>(a, as, b, bs, out, n, op);                                                          \
    }                                                                                                     \
    EMBER_SIM_EXPORT(cmp_##name)
EMBER_FOR_NUMERIC(CMP)
CMP(i128, i128)

// Booleans, a word at a time (false < true). A scalar operand is a word of all ones or zeros.
extern "C" __global__ void cmp_bool(const u32* a, u32 as, const u32* b, u32 bs, u32* out, u64 nwords, int op) {
    const u64 w = ember_gid();
    if (w >= nwords) return;
    const u32 x = a[w * as], y = b[w * bs];
    u32 r;
    switch (op) {
        case 0: r = ~(x ^ y); break;
        case 1: r = x ^ y; break;
        case 2: r = ~x & y; break;
        case 3: r = ~x | y; break;
        case 4: r = x & ~y; break;
        default: r = x | ~y; break;
    }
    out[w] = r;
}
EMBER_SIM_EXPORT(cmp_bool)

// Strings: byte-wise lexicographic order (UTF-8 bytes compare as code points do), shorter first.
__device__ __forceinline__ int str_cmp3(const u8* a, i64 la, const u8* b, i64 lb) {
    const i64 m = la < lb ? la : lb;
    for (i64 k = 0; k < m; ++k) {
        if (a[k] != b[k]) return a[k] < b[k] ? -1 : 1;
    }
    return la < lb ? -1 : (la > lb ? 1 : 0);
}

extern "C" __global__ void cmp_str(const i64* a_off, const u8* a_bytes, u32 as, const i64* b_off, const u8* b_bytes,
                                   u32 bs, u32* out, u64 n, int op) {
    const u64 i = ember_gid();
    bool r = false;
    if (i < n) {
        const u64 ia = i * as, ib = i * bs;
        r = cmp_holds(str_cmp3(a_bytes + a_off[ia], a_off[ia + 1] - a_off[ia], b_bytes + b_off[ib],
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
            if (op == 0 || op == 1) {
                const u8* base = op == 0 ? s : s + (len - pl);
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
