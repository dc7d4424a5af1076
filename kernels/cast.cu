// Numeric casts used by type coercion (always to a type that holds the value: widening integers,
// integers to floats or decimal(digits, 0), f32 to f64) and decimal rescaling / conversion.
#include "common.cuh"

template <typename F, typename T>
__device__ void cast_num(const F* in, T* out, u64 n) {
    const u64 i = ember_gid();
    if (i < n) out[i] = (T)in[i];
}

#define CAST1(fname, F, tname, T)                                                     \
    extern "C" __global__ void cast_##fname##_##tname(const F* in, T* out, u64 n) {   \
        cast_num<F, T>(in, out, n);                                                   \
    }                                                                                 \
    EMBER_SIM_EXPORT(cast_##fname##_##tname)
#define CAST_FROM(fname, F)                                                                               \
    CAST1(fname, F, i8, i8) CAST1(fname, F, i16, i16) CAST1(fname, F, i32, i32) CAST1(fname, F, i64, i64) \
    CAST1(fname, F, u8, u8) CAST1(fname, F, u16, u16) CAST1(fname, F, u32, u32) CAST1(fname, F, u64, u64) \
    CAST1(fname, F, f32, f32) CAST1(fname, F, f64, f64) CAST1(fname, F, i128, i128)
EMBER_FOR_INTS(CAST_FROM)
CAST1(f32, f32, f64, f64)

// Decimal to decimal: multiply by 10^k (k >= 0, as `mul` halves) and check |v| < 10^precision.
extern "C" __global__ void cast_dec_rescale(const i128* in, i128* out, u64 n, u64 mul_lo, u64 mul_hi, u64 lim_lo,
                                            u64 lim_hi, const u32* valid, u32* err) {
    const u64 i = ember_gid();
    if (i >= n) return;
    bool ovf = false;
    const i128 mul = (i128)(((u128)mul_hi << 64) | mul_lo), lim = (i128)(((u128)lim_hi << 64) | lim_lo);
    const i128 v = ember_mul_ovf(in[i], mul, ovf);
    out[i] = v;
    if ((ovf || v >= lim || v <= -lim) && ember_valid(valid, i)) atomicOr(err, 1u);
}
EMBER_SIM_EXPORT(cast_dec_rescale)

// Decimal to f64: unscaled / 10^scale (exact power of ten for scale <= 22, as arrow-rs for
// |unscaled| < 2^53).
extern "C" __global__ void cast_dec_f64(const i128* in, f64* out, u64 n, f64 divisor) {
    const u64 i = ember_gid();
    if (i < n) out[i] = (f64)in[i] / divisor;
}
EMBER_SIM_EXPORT(cast_dec_f64)
