// Element-wise arithmetic on two operands of one type (the host casts both to it first; see
// crates/ember-ops/src/expr/types.rs). An operand with step 0 is a scalar (a one-value buffer).
// `valid` is the combined validity of the result (null = all valid): checks (division by zero,
// overflow) only fire on valid rows, as in arrow-rs. err |= 1 on overflow, 2 on division by zero.
#include "common.cuh"

// Integers wrap on + - * (computed in the unsigned type of the same width); division is checked.
template <typename T> struct Unsigned { typedef T type; };
template <> struct Unsigned<i8> { typedef u8 type; };
template <> struct Unsigned<i16> { typedef u16 type; };
template <> struct Unsigned<i32> { typedef u32 type; };
template <> struct Unsigned<i64> { typedef u64 type; };

struct OpAdd {
    template <typename T> static __device__ __forceinline__ T apply(T a, T b, u32&) {
        typedef typename Unsigned<T>::type U;
        return (T)(U)((U)a + (U)b);
    }
};
struct OpSub {
    template <typename T> static __device__ __forceinline__ T apply(T a, T b, u32&) {
        typedef typename Unsigned<T>::type U;
        return (T)(U)((U)a - (U)b);
    }
};
struct OpMul {
    template <typename T> static __device__ __forceinline__ T apply(T a, T b, u32&) {
        typedef typename Unsigned<T>::type U;
        return (T)(U)((U)a * (U)b);
    }
};
template <> __device__ __forceinline__ f32 OpAdd::apply<f32>(f32 a, f32 b, u32&) { return a + b; }
template <> __device__ __forceinline__ f64 OpAdd::apply<f64>(f64 a, f64 b, u32&) { return a + b; }
template <> __device__ __forceinline__ f32 OpSub::apply<f32>(f32 a, f32 b, u32&) { return a - b; }
template <> __device__ __forceinline__ f64 OpSub::apply<f64>(f64 a, f64 b, u32&) { return a - b; }
template <> __device__ __forceinline__ f32 OpMul::apply<f32>(f32 a, f32 b, u32&) { return a * b; }
template <> __device__ __forceinline__ f64 OpMul::apply<f64>(f64 a, f64 b, u32&) { return a * b; }

template <typename T> __device__ __forceinline__ bool is_min_over_neg1(T a, T b) { return false; }
#define EMBER_MIN_NEG1(T, MIN) \
    template <> __device__ __forceinline__ bool is_min_over_neg1<T>(T a, T b) { return a == (T)(MIN) && b == (T)-1; }
EMBER_MIN_NEG1(i8, -128)
EMBER_MIN_NEG1(i16, -32768)
EMBER_MIN_NEG1(i32, 0x80000000u)
EMBER_MIN_NEG1(i64, 0x8000000000000000ull)

struct OpDiv {
    template <typename T> static __device__ __forceinline__ T apply(T a, T b, u32& err) {
        if (b == 0) { err |= 2u; return 0; }
        if (is_min_over_neg1<T>(a, b)) { err |= 1u; return 0; }
        return a / b;
    }
};
template <> __device__ __forceinline__ f32 OpDiv::apply<f32>(f32 a, f32 b, u32&) { return a / b; }
template <> __device__ __forceinline__ f64 OpDiv::apply<f64>(f64 a, f64 b, u32&) { return a / b; }

template <typename Op, typename T>
__device__ void arith(const T* a, u32 a_step, const T* b, u32 b_step, const u32* valid, T* out, u64 n, u32* err) {
    const u64 i = ember_gid();
    if (i >= n) return;
    u32 e = 0;
    T r = Op::template apply<T>(a[i * a_step], b[i * b_step], e);
    out[i] = r;
    if (e && ember_valid(valid, i)) atomicOr(err, e);
}

#define ARITH(name, T)                                                                                       \
    extern "C" __global__ void arith_add_##name(const T* a, u32 as, const T* b, u32 bs, const u32* v, T* o,     \
                                                u64 n, u32* err) { arith<OpAdd, T>(a, as, b, bs, v, o, n, err); } \
    EMBER_SIM_EXPORT(arith_add_##name)                                                                        \
    extern "C" __global__ void arith_sub_##name(const T* a, u32 as, const T* b, u32 bs, const u32* v, T* o,     \
                                                u64 n, u32* err) { arith<OpSub, T>(a, as, b, bs, v, o, n, err); } \
    EMBER_SIM_EXPORT(arith_sub_##name)                                                                        \
    extern "C" __global__ void arith_mul_##name(const T* a, u32 as, const T* b, u32 bs, const u32* v, T* o,     \
                                                u64 n, u32* err) { arith<OpMul, T>(a, as, b, bs, v, o, n, err); } \
    EMBER_SIM_EXPORT(arith_mul_##name)                                                                        \
    extern "C" __global__ void arith_div_##name(const T* a, u32 as, const T* b, u32 bs, const u32* v, T* o,     \
                                                u64 n, u32* err) { arith<OpDiv, T>(a, as, b, bs, v, o, n, err); } \
    EMBER_SIM_EXPORT(arith_div_##name)
EMBER_FOR_NUMERIC(ARITH)

// Decimal128: unscaled i128 values; `lmul`/`rmul` are the powers of ten each side is rescaled by
// (add/sub: to the common scale; div: the dividend's scale-up), passed as two 64-bit halves.
__device__ __forceinline__ i128 join128(u64 lo, u64 hi) { return (i128)(((u128)hi << 64) | (u128)lo); }

// op: 0 add, 1 sub, 2 mul, 3 div (truncating, arrow-rs's rule: result scale s1 + 4).
template <int OP>
__device__ void dec_binary(const i128* a, u32 as, const i128* b, u32 bs, const u32* valid, i128* out, u64 n,
                           u64 lmul_lo, u64 lmul_hi, u64 rmul_lo, u64 rmul_hi, u32* err) {
    const u64 i = ember_gid();
    if (i >= n) return;
    bool ovf = false;
    u32 e = 0;
    i128 r;
    if (OP == 2) {
        r = ember_mul_ovf(a[i * as], b[i * bs], ovf);
    } else {
        const i128 l = ember_mul_ovf(a[i * as], join128(lmul_lo, lmul_hi), ovf);
        const i128 rr = ember_mul_ovf(b[i * bs], join128(rmul_lo, rmul_hi), ovf);
        if (OP == 0) {
            r = ember_add_ovf(l, rr, ovf);
        } else if (OP == 1) {
            r = ember_sub_ovf(l, rr, ovf);
        } else if (rr == 0) {
            e |= 2u;
            r = 0;
        } else if (l == (i128)(((u128)1) << 127) && rr == -1) {
            ovf = true;
            r = 0;
        } else {
            r = l / rr;
        }
    }
    out[i] = r;
    if (ovf) e |= 1u;
    if (e && ember_valid(valid, i)) atomicOr(err, e);
}

#define DEC_KERNEL(name, OP)                                                                                  \
    extern "C" __global__ void dec_##name(const i128* a, u32 as, const i128* b, u32 bs, const u32* valid,     \
                                          i128* out, u64 n, u64 lmul_lo, u64 lmul_hi, u64 rmul_lo,            \
                                          u64 rmul_hi, u32* err) {                                            \
        dec_binary<OP>(a, as, b, bs, valid, out, n, lmul_lo, lmul_hi, rmul_lo, rmul_hi, err);                 \
    }                                                                                                         \
    EMBER_SIM_EXPORT(dec_##name)
DEC_KERNEL(add, 0)
DEC_KERNEL(sub, 1)
DEC_KERNEL(mul, 2)
DEC_KERNEL(div, 3)
