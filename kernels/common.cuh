// Shared types and block/warp helpers for every kernel module.
//
// Each kernels/*.cu file is compiled three ways from this one source: NVRTC at run time (CUDA),
// g++ through sim/cuda_sim.h (the simulated device), and NVRTC + ptxas -arch=sm_90 in CI.
// Only what the emulator models may be used: no inline PTX, no CUB; shared memory is declared
// with EMBER_SHARED / EMBER_DYNAMIC_SHARED; every kernel is `extern "C"` and followed by
// EMBER_SIM_EXPORT(name). Kernel names follow `{op}_{dtype}`.
#pragma once
#include "sim/host.cuh"
#include "abi.cuh"

typedef signed char i8;
typedef short i16;
typedef int i32;
typedef long long i64;
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef float f32;
typedef double f64;
typedef __int128 i128;
typedef unsigned __int128 u128;

// Threads per block for the 1-D kernels; host code launches with the same value.
#define EMBER_BLOCK 256

// Stamp X(name, type) for every fixed-width numeric type a column can hold.
#define EMBER_FOR_INTS(X) X(i8, i8) X(i16, i16) X(i32, i32) X(i64, i64) X(u8, u8) X(u16, u16) X(u32, u32) X(u64, u64)
#define EMBER_FOR_NUMERIC(X) EMBER_FOR_INTS(X) X(f32, f32) X(f64, f64)

__device__ __forceinline__ u64 ember_gid() { return (u64)blockIdx.x * blockDim.x + threadIdx.x; }

// Bit i of an Arrow (LSB-first) bitmap read as 32-bit words.
__device__ __forceinline__ bool ember_bit(const u32* bits, u64 i) { return (bits[i >> 5] >> (i & 31)) & 1u; }

// A null validity pointer means "all valid".
__device__ __forceinline__ bool ember_valid(const u32* valid, u64 i) { return valid == 0 || ember_bit(valid, i); }

// Whether a three-way comparison result `c` (-1, 0, 1) satisfies comparison `code`
// (EMBER_ABI_CMP_*).
__device__ __forceinline__ bool ember_cmp_holds(int c, u32 code) {
    switch (code) {
        case EMBER_ABI_CMP_EQ: return c == 0;
        case EMBER_ABI_CMP_NE: return c != 0;
        case EMBER_ABI_CMP_LT: return c < 0;
        case EMBER_ABI_CMP_LE: return c <= 0;
        case EMBER_ABI_CMP_GT: return c > 0;
        default: return c >= 0;
    }
}

// Inclusive scan across the 32 lanes of a warp.
template <typename T>
__device__ __forceinline__ T ember_warp_inclusive_scan(T v) {
    const unsigned lane = threadIdx.x & 31;
    for (int d = 1; d < 32; d <<= 1) {
        T o = __shfl_up_sync(0xffffffffu, v, d);
        if (lane >= (unsigned)d) v += o;
    }
    return v;
}

// Exclusive scan of one value per thread across a 1-D block (blockDim.x a multiple of 32).
// `warp_sums` is a shared array of 32 elements. Every thread gets the block total in `total`.
template <typename T>
__device__ T ember_block_exclusive_scan(T v, T& total, T* warp_sums) {
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    T inc = ember_warp_inclusive_scan(v);
    if (lane == 31) warp_sums[warp] = inc;
    __syncthreads();
    if (warp == 0) {
        T s = lane < nwarps ? warp_sums[lane] : T(0);
        s = ember_warp_inclusive_scan(s);
        if (lane < nwarps) warp_sums[lane] = s;
    }
    __syncthreads();
    T prefix = warp == 0 ? T(0) : warp_sums[warp - 1];
    total = warp_sums[nwarps - 1];
    __syncthreads();  // warp_sums may be reused by the caller after this
    return prefix + inc - v;
}

// Total-order key of a float (as Rust's f64::total_cmp / arrow's min/max): -NaN < -inf < ... < -0 < +0 < ... < +inf < +NaN.
__device__ __forceinline__ i64 ember_total_key(f64 x) {
    i64 b = __double_as_longlong(x);
    return b ^ (i64)(((u64)(b >> 63)) >> 1);
}
__device__ __forceinline__ i32 ember_total_key(f32 x) {
    i32 b = __float_as_int(x);
    return b ^ (i32)(((u32)(b >> 31)) >> 1);
}

// Overflow-checked 128-bit arithmetic (decimal128 is exact: overflow is an error, as in arrow-rs).
__device__ __forceinline__ i128 ember_add_ovf(i128 a, i128 b, bool& ovf) {
    i128 r = (i128)((u128)a + (u128)b);
    if ((a >= 0) == (b >= 0) && (r >= 0) != (a >= 0)) ovf = true;
    return r;
}
__device__ __forceinline__ i128 ember_sub_ovf(i128 a, i128 b, bool& ovf) {
    i128 r = (i128)((u128)a - (u128)b);
    if ((a >= 0) != (b >= 0) && (r >= 0) != (a >= 0)) ovf = true;
    return r;
}
__device__ __forceinline__ i128 ember_mul_ovf(i128 a, i128 b, bool& ovf) {
    const i128 lim = (i128)1 << 62;
    if (a > -lim && a < lim && b > -lim && b < lim) return a * b;  // |a*b| < 2^124: cannot overflow
    const i128 mn = (i128)(((u128)1) << 127);
    if (a == 0 || b == 0) return 0;
    if ((a == -1 && b == mn) || (b == -1 && a == mn)) { ovf = true; return 0; }
    i128 r = (i128)((u128)a * (u128)b);
    if (r / b != a) ovf = true;
    return r;
}

// Decimal (unscaled m, scale s >= 0) to the nearest f64, rounding once (as arrow-rs, which parses
// the decimal's text when the fast path would round twice). Fast path: |m| < 2^53 and s <= 22,
// where m and 10^s are exact doubles and one IEEE division rounds once. Otherwise
// Q = floor(|m| * 2^k / 10^s) with 2^52 <= Q < 2^53, rounded half to even on the remainder, by
// 256-bit shift-and-subtract division (rare values; slow but exact). `p10` is 10^s as a double.
__device__ __forceinline__ int ember_bitlen128(u128 x) {
    int n = 0;
    while (x) { ++n; x >>= 1; }
    return n;
}
__device__ f64 ember_dec_to_f64(i128 m, int s, f64 p10) {
    const u128 two53 = (u128)1 << 53;
    const bool neg = m < 0;
    const u128 a = neg ? (u128)0 - (u128)m : (u128)m;
    if (s < 0 || (a < two53 && s <= 22)) {
        // Negative scales keep the plain formula (one rounding when 10^-s is exact).
        return s < 0 ? (f64)m * p10 : (f64)m / p10;
    }
    if (a == 0) return 0.0;
    u128 d = 1;
    for (int i = 0; i < s; ++i) d *= 10;
    int k = 53 + ember_bitlen128(d) - ember_bitlen128(a);
    for (;;) {
        // numerator = a * 2^k as (hi, lo) when k >= 0; divisor = d * 2^-k when k < 0.
        u128 hi = 0, lo = a, div = d;
        if (k > 0) {
            if (k >= 128) { hi = a << (k - 128); lo = 0; }
            else { hi = a >> (128 - k); lo = a << k; }
        } else if (k < 0) {
            div = d << (-k);
        }
        u128 r = 0;
        u64 q = 0;
        for (int bit = 255; bit >= 0; --bit) {
            const u128 word = bit >= 128 ? hi : lo;
            r = (r << 1) | ((word >> (bit & 127)) & 1);
            q <<= 1;
            if (r >= div) { r -= div; q |= 1; }
        }
        if (q >= (u64)two53) { --k; continue; }
        if (q < ((u64)1 << 52)) { ++k; continue; }
        const u128 twice = r << 1;
        if (twice > div || (twice == div && (q & 1))) ++q;
        const f64 v = ldexp((f64)q, -k);
        return neg ? -v : v;
    }
}

// Rows keyed by up to EMBER_ABI_KEY_MAX_WORDS parts, passed by value: order-preserving key words
// (sort_keys.cu: a null word and value words per key column), u32 or u64 (bit k of `wide`), or a
// whole utf8 column (off[k] non-null: w[k] its bytes, off[k] its i64 offsets), compared
// bytewise and hashed by its bytes, so a string key of any length is one part and needs no
// longest-string readback. Two rows have equal keys exactly when every part is equal; parts
// compare in the sort's order (strings bytewise, a prefix first).
struct EmberKeyWords {
    const void* w[EMBER_ABI_KEY_MAX_WORDS];
    const i64* off[EMBER_ABI_KEY_MAX_WORDS];
};

__device__ __forceinline__ u64 ember_key_word(const void* p, bool wide, u64 i) {
    return wide ? ((const u64*)p)[i] : (u64)((const u32*)p)[i];
}

// -1, 0, 1: row i of `a` against row j of `b`, part by part.
__device__ __forceinline__ int ember_key_cmp(const EmberKeyWords& a, const EmberKeyWords& b, u32 nwords, u32 wide,
                                             u64 i, u64 j) {
    for (u32 k = 0; k < nwords; ++k) {
        if (a.off[k]) {
            const u8* x = (const u8*)a.w[k] + a.off[k][i];
            const u8* y = (const u8*)b.w[k] + b.off[k][j];
            const i64 lx = a.off[k][i + 1] - a.off[k][i], ly = b.off[k][j + 1] - b.off[k][j];
            const i64 m = lx < ly ? lx : ly;
            for (i64 t = 0; t < m; ++t)
                if (x[t] != y[t]) return x[t] < y[t] ? -1 : 1;
            if (lx != ly) return lx < ly ? -1 : 1;
            continue;
        }
        const bool w = (wide >> k) & 1u;
        const u64 x = ember_key_word(a.w[k], w, i), y = ember_key_word(b.w[k], w, j);
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

// A 64-bit hash of row i's key (each word, or each string's bytes and length, folded in with a
// multiply, then splitmix64's finaliser), the same on every device.
__device__ __forceinline__ u64 ember_key_hash(const EmberKeyWords& t, u32 nwords, u32 wide, u64 i) {
    u64 h = 0x9e3779b97f4a7c15ull;
    for (u32 k = 0; k < nwords; ++k) {
        if (t.off[k]) {
            const u8* x = (const u8*)t.w[k] + t.off[k][i];
            const i64 len = t.off[k][i + 1] - t.off[k][i];
            for (i64 b = 0; b < len; ++b) h = (h ^ x[b]) * 0x100000001b3ull;
            h = (h ^ (u64)len) * 0xbf58476d1ce4e5b9ull;
            continue;
        }
        h = (h ^ ember_key_word(t.w[k], (wide >> k) & 1u, i)) * 0xbf58476d1ce4e5b9ull;
    }
    h ^= h >> 31;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 29);
}

// The device hash table of rows (hash_table.cu builds it, join.cu probes it): a power-of-two
// array of row numbers, EMBER_HT_EMPTY where free, linear probing from a key's hash. Returns the
// build row whose words (in `build`) equal probe row i's (in `probe`), or EMBER_HT_EMPTY.
#define EMBER_HT_EMPTY 0xffffffffu
__device__ __forceinline__ u32 ember_ht_find(const u32* table, u64 mask, const EmberKeyWords& probe,
                                             const EmberKeyWords& build, u32 nwords, u32 wide, u64 i) {
    for (u64 s = ember_key_hash(probe, nwords, wide, i) & mask;; s = (s + 1) & mask) {
        const u32 row = table[s];
        if (row == EMBER_HT_EMPTY || ember_key_cmp(build, probe, nwords, wide, row, i) == 0) return row;
    }
}

// A relaxed load / store of a word that other threads write (or atomically update) in the same
// launch: union-find parents, BFS distances. CUDA: a volatile access (never cached in a register,
// a single memory transaction); Sim: std::atomic_ref, so ThreadSanitizer sees an atomic access,
// not a race.
template <typename T>
__device__ __forceinline__ T ember_ld_relaxed(const T* p) {
#ifdef __CUDACC__
    return *(const volatile T*)p;
#else
    return std::atomic_ref<T>(*const_cast<T*>(p)).load(std::memory_order_relaxed);
#endif
}
template <typename T>
__device__ __forceinline__ void ember_st_relaxed(T* p, T v) {
#ifdef __CUDACC__
    *(volatile T*)p = v;
#else
    std::atomic_ref<T>(*p).store(v, std::memory_order_relaxed);
#endif
}

// Whether [p, p + len) is valid UTF-8 (as Rust's str::from_utf8: no overlongs, no surrogates,
// nothing past U+10FFFF).
__device__ __forceinline__ bool ember_utf8_valid(const u8* p, u32 len) {
    u32 k = 0;
    while (k < len) {
        const u8 c = p[k];
        if (c < 0x80) { ++k; continue; }
        u32 need, cp;
        if ((c & 0xE0) == 0xC0) { need = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { need = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { need = 3; cp = c & 0x07; }
        else return false;
        for (u32 q = 1; q <= need; ++q) {
            if (k + q >= len || (p[k + q] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[k + q] & 0x3F);
        }
        if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000)) return false;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        k += need + 1;
    }
    return true;
}

