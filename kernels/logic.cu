// Boolean logic on bitmaps, a 32-bit word at a time. A null validity pointer means all valid; a
// scalar operand (step 0) is one word of all ones or all zeros, with its validity likewise.
#include "common.cuh"

__device__ __forceinline__ u32 vword(const u32* v, u64 w, u32 step) { return v == 0 ? 0xffffffffu : v[w * step]; }

// Kleene AND: false if either side is a valid false, null if otherwise any side is null.
extern "C" __global__ void kleene_and(const u32* a, const u32* av, u32 as, const u32* b, const u32* bv, u32 bs, u32* out,
                                      u32* out_valid, u64 nwords) {
    const u64 w = ember_gid();
    if (w >= nwords) return;
    const u32 x = a[w * as], y = b[w * bs], xv = vword(av, w, as), yv = vword(bv, w, bs);
    out[w] = x & y;
    out_valid[w] = (xv & yv) | (xv & ~x) | (yv & ~y);
}
EMBER_SIM_EXPORT(kleene_and)

// Kleene OR: true if either side is a valid true, null if otherwise any side is null.
extern "C" __global__ void kleene_or(const u32* a, const u32* av, u32 as, const u32* b, const u32* bv, u32 bs, u32* out,
                                     u32* out_valid, u64 nwords) {
    const u64 w = ember_gid();
    if (w >= nwords) return;
    const u32 x = a[w * as], y = b[w * bs], xv = vword(av, w, as), yv = vword(bv, w, bs);
    out[w] = (x & xv) | (y & yv);
    out_valid[w] = (xv & yv) | (xv & x) | (yv & y);
}
EMBER_SIM_EXPORT(kleene_or)

extern "C" __global__ void bits_not(const u32* a, u32* out, u64 nwords) {
    const u64 w = ember_gid();
    if (w < nwords) out[w] = ~a[w];
}
EMBER_SIM_EXPORT(bits_not)

extern "C" __global__ void bits_and(const u32* a, const u32* b, u32* out, u64 nwords) {
    const u64 w = ember_gid();
    if (w < nwords) out[w] = a[w] & b[w];
}
EMBER_SIM_EXPORT(bits_and)
