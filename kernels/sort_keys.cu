// Order-preserving unsigned sort keys for the radix sort, one word per key column (two for
// decimals) plus a null word where the column has nulls. Driven by ember-ops/src/sort/gpu.rs.
//   value word: the type's bits mapped so that unsigned order = the type's order (signed ints:
//               flip the sign bit; floats: IEEE total order, -NaN < -inf < -0.0 < +0.0 < NaN;
//               decimal128: a signed high word and an unsigned low word), only as wide as the
//               type (an i8 key has 8 significant bits, so the sort makes one pass), inverted for
//               a descending key; 0 for a null row (nulls are placed by the null word, and
//               among themselves keep their order).
//   null word:  1 bit, more significant than the value: null = 1 for nulls last, 0 for first.
//   rank word:  a utf8 sort key as the rank of its string among the distinct strings, in
//               ceil(log2 distinct) bits (strings of any length, few radix passes).
#include "common.cuh"

template <typename T>
struct SortKey;  // key_of(v): the order-preserving bits; MASK: the significant bits
template <>
struct SortKey<i8> {
    using K = u32;
    static constexpr K MASK = 0xffu;
    __device__ static K key_of(i8 v) { return (u32)(u8)v ^ 0x80u; }
};
template <>
struct SortKey<i16> {
    using K = u32;
    static constexpr K MASK = 0xffffu;
    __device__ static K key_of(i16 v) { return (u32)(u16)v ^ 0x8000u; }
};
template <>
struct SortKey<i32> {
    using K = u32;
    static constexpr K MASK = 0xffffffffu;
    __device__ static K key_of(i32 v) { return (u32)v ^ 0x80000000u; }
};
template <>
struct SortKey<i64> {
    using K = u64;
    static constexpr K MASK = ~0ull;
    __device__ static K key_of(i64 v) { return (u64)v ^ (1ull << 63); }
};
template <>
struct SortKey<u8> {
    using K = u32;
    static constexpr K MASK = 0xffu;
    __device__ static K key_of(u8 v) { return v; }
};
template <>
struct SortKey<u16> {
    using K = u32;
    static constexpr K MASK = 0xffffu;
    __device__ static K key_of(u16 v) { return v; }
};
template <>
struct SortKey<u32> {
    using K = u32;
    static constexpr K MASK = 0xffffffffu;
    __device__ static K key_of(u32 v) { return v; }
};
template <>
struct SortKey<u64> {
    using K = u64;
    static constexpr K MASK = ~0ull;
    __device__ static K key_of(u64 v) { return v; }
};
template <>
struct SortKey<f32> {
    using K = u32;
    static constexpr K MASK = 0xffffffffu;
    __device__ static K key_of(f32 v) {
        const u32 b = (u32)__float_as_int(v);
        return b ^ ((b >> 31) ? 0xffffffffu : 0x80000000u);
    }
};
template <>
struct SortKey<f64> {
    using K = u64;
    static constexpr K MASK = ~0ull;
    __device__ static K key_of(f64 v) {
        const u64 b = (u64)__double_as_longlong(v);
        return b ^ ((b >> 63) ? ~0ull : (1ull << 63));
    }
};

template <typename T>
__device__ void sort_key(const T* in, const u32* valid, u64 n, u32 descending, typename SortKey<T>::K* out) {
    const u64 i = ember_gid();
    if (i >= n) return;
    using S = SortKey<T>;
    typename S::K k = 0;
    if (ember_valid(valid, i)) k = descending ? S::key_of(in[i]) ^ S::MASK : S::key_of(in[i]);
    out[i] = k;
}

#define SORT_KEY(name, T)                                                                                  \
    extern "C" __global__ void sort_key_##name(const T* in, const u32* valid, u64 n, u32 descending,       \
                                               typename SortKey<T>::K* out) {                              \
        sort_key<T>(in, valid, n, descending, out);                                                         \
    }                                                                                                      \
    EMBER_SIM_EXPORT(sort_key_##name)
EMBER_FOR_NUMERIC(SORT_KEY)

// Booleans (a bitmap): one significant bit.
extern "C" __global__ void sort_key_bool(const u32* bits, const u32* valid, u64 n, u32 descending, u32* out) {
    const u64 i = ember_gid();
    if (i >= n) return;
    out[i] = ember_valid(valid, i) ? ((u32)ember_bit(bits, i) ^ (descending & 1u)) : 0u;
}
EMBER_SIM_EXPORT(sort_key_bool)

// Decimal128: the high word (signed) is the more significant key word, the low word unsigned.
extern "C" __global__ void sort_key_dec(const i128* in, const u32* valid, u64 n, u32 descending, u64* hi, u64* lo) {
    const u64 i = ember_gid();
    if (i >= n) return;
    u64 h = 0, l = 0;
    if (ember_valid(valid, i)) {
        const i128 v = in[i];
        h = (u64)(v >> 64) ^ (1ull << 63);
        l = (u64)v;
        if (descending) {
            h = ~h;
            l = ~l;
        }
    }
    hi[i] = h;
    lo[i] = l;
}
EMBER_SIM_EXPORT(sort_key_dec)

// Decimal128 of precision <= 18: |v| < 10^18 < 2^63, so one signed 64-bit word orders it (half
// the passes of the two-word key).
extern "C" __global__ void sort_key_dec18(const i128* in, const u32* valid, u64 n, u32 descending, u64* out) {
    const u64 i = ember_gid();
    if (i >= n) return;
    u64 k = 0;
    if (ember_valid(valid, i)) {
        k = (u64)(i64)in[i] ^ (1ull << 63);
        if (descending) k = ~k;
    }
    out[i] = k;
}
EMBER_SIM_EXPORT(sort_key_dec18)

// Strings sort bytewise by LSD over 8-byte words: word k of a row holds bytes [8k, 8k + 8),
// big-endian, zero-padded; a final length word breaks the ties zero padding creates ("a" and
// "a\0" pad alike: the shorter comes first). The host asks for the longest string first.
extern "C" __global__ void str_max_len(const i64* offsets, u64 n, unsigned long long* out) {
    const u64 i = ember_gid();
    u64 len = i < n ? (u64)(offsets[i + 1] - offsets[i]) : 0;
    for (int d = 16; d > 0; d >>= 1) {
        const u64 o = __shfl_down_sync(0xffffffffu, len, d);
        len = o > len ? o : len;
    }
    if ((threadIdx.x & 31) == 0 && len > 0) atomicMax(out, (unsigned long long)len);
}
EMBER_SIM_EXPORT(str_max_len)

extern "C" __global__ void sort_key_str_word(const i64* offsets, const u8* bytes, const u32* valid, u64 n, u32 word,
                                             u32 descending, u64* out) {
    const u64 i = ember_gid();
    if (i >= n) return;
    u64 k = 0;
    if (ember_valid(valid, i)) {
        const i64 begin = offsets[i], len = offsets[i + 1] - begin;
        for (int b = 0; b < 8; ++b) {
            const i64 at = (i64)word * 8 + b;
            k = (k << 8) | (at < len ? (u64)bytes[begin + at] : 0u);
        }
        if (descending) k = ~k;
    }
    out[i] = k;
}
EMBER_SIM_EXPORT(sort_key_str_word)

extern "C" __global__ void sort_key_str_len(const i64* offsets, const u32* valid, u64 n, u32 descending, u64* out) {
    const u64 i = ember_gid();
    if (i >= n) return;
    u64 k = 0;
    if (ember_valid(valid, i)) {
        k = (u64)(offsets[i + 1] - offsets[i]);
        if (descending) k = ~k;
    }
    out[i] = k;
}
EMBER_SIM_EXPORT(sort_key_str_len)

// A utf8 key as its string's rank among the column's distinct strings (sort/gpu.rs hashes the
// strings and ranks the distinct ones): `rank[group[i]]`, `groups - 1 - rank` descending, 0 null.
extern "C" __global__ void sort_key_rank(const u32* group, const u32* rank, const u32* valid, u64 n, u32 groups,
                                         u32 descending, u32* out) {
    const u64 i = ember_gid();
    if (i >= n) return;
    u32 k = 0;
    if (ember_valid(valid, i)) {
        k = rank[group[i]];
        if (descending) k = groups - 1u - k;
    }
    out[i] = k;
}
EMBER_SIM_EXPORT(sort_key_rank)

extern "C" __global__ void sort_null_key(const u32* valid, u64 n, u32 nulls_last, u32* out) {
    const u64 i = ember_gid();
    if (i >= n) return;
    out[i] = ember_valid(valid, i) ? (nulls_last ? 0u : 1u) : (nulls_last ? 1u : 0u);
}
EMBER_SIM_EXPORT(sort_null_key)
