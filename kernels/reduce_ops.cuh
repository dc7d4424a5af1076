// Reduction operators shared by the whole-column reductions (reduce.cu) and the per-group ones
// (groupby.cu): identities, combine steps with overflow reporting for decimals, and the float
// total order for min / max.
#pragma once
#include "common.cuh"

template <typename T> struct Lim;
#define EMBER_LIM(T, lo, hi)                                  \
    template <> struct Lim<T> {                               \
        static __device__ __forceinline__ T lowest() { return lo; }  \
        static __device__ __forceinline__ T highest() { return hi; } \
    };
EMBER_LIM(i8, (i8)-128, (i8)127)
EMBER_LIM(i16, (i16)-32768, (i16)32767)
EMBER_LIM(i32, (i32)0x80000000u, (i32)0x7fffffff)
EMBER_LIM(i64, (i64)0x8000000000000000ull, (i64)0x7fffffffffffffffll)
EMBER_LIM(u8, (u8)0, (u8)0xff)
EMBER_LIM(u16, (u16)0, (u16)0xffff)
EMBER_LIM(u32, 0u, 0xffffffffu)
EMBER_LIM(u64, 0ull, 0xffffffffffffffffull)
EMBER_LIM(f32, __int_as_float((i32)0xffffffffu), __int_as_float(0x7fffffff))
EMBER_LIM(f64, __longlong_as_double((i64)0xffffffffffffffffull), __longlong_as_double(0x7fffffffffffffffll))
EMBER_LIM(i128, (i128)(((u128)1) << 127), ~(i128)(((u128)1) << 127))

template <typename T> __device__ __forceinline__ bool ember_less(T a, T b) { return a < b; }
template <> __device__ __forceinline__ bool ember_less<f32>(f32 a, f32 b) { return ember_total_key(a) < ember_total_key(b); }
template <> __device__ __forceinline__ bool ember_less<f64>(f64 a, f64 b) { return ember_total_key(a) < ember_total_key(b); }

template <typename A> __device__ __forceinline__ A ember_sum(A a, A b, bool&) { return a + b; }
template <> __device__ __forceinline__ i64 ember_sum<i64>(i64 a, i64 b, bool&) { return (i64)((u64)a + (u64)b); }
template <> __device__ __forceinline__ i128 ember_sum<i128>(i128 a, i128 b, bool& ovf) { return ember_add_ovf(a, b, ovf); }

// `sum_digits`: the result is a sum, so a decimal one is checked against 38 digits.
struct OpSum {
    static constexpr bool sum_digits = true;
    template <typename A> static __device__ __forceinline__ A identity() { return A(0); }
    template <typename A> static __device__ __forceinline__ A combine(A a, A b, bool& ovf) { return ember_sum<A>(a, b, ovf); }
};
struct OpMin {
    static constexpr bool sum_digits = false;
    template <typename A> static __device__ __forceinline__ A identity() { return Lim<A>::highest(); }
    template <typename A> static __device__ __forceinline__ A combine(A a, A b, bool&) { return ember_less(b, a) ? b : a; }
};
struct OpMax {
    static constexpr bool sum_digits = false;
    template <typename A> static __device__ __forceinline__ A identity() { return Lim<A>::lowest(); }
    template <typename A> static __device__ __forceinline__ A combine(A a, A b, bool&) { return ember_less(a, b) ? b : a; }
};


// The sum kernels' (name, input, accumulator) triples, stamped by reduce.cu and groupby.cu: signed
// ints add in i64, unsigned in u64 (both wrapping), floats in their type, decimals in i128.
#define EMBER_FOR_SUMS(X)                                                                              \
    X(i8, i8, i64) X(i16, i16, i64) X(i32, i32, i64) X(i64, i64, i64) X(u8, u8, u64) X(u16, u16, u64) \
    X(u32, u32, u64) X(u64, u64, u64) X(f32, f32, f32) X(f64, f64, f64) X(i128, i128, i128)
// Their accumulator types, as (name, type).
#define EMBER_FOR_SUM_ACCS(X) X(i64, i64) X(u64, u64) X(f32, f32) X(f64, f64) X(i128, i128)
