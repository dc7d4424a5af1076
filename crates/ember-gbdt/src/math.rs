//! The one `exp` and `log` training uses, written with `+`, `*`, `/` and `round` only, so the
//! CPU engine and the kernels (`kernels/gbdt.cu`, `gbdt_exp`, compiled with `--fmad=false`)
//! compute the same bits. libm's `exp` / CUDA's `exp` differ in the last bit between
//! platforms; a gradient that differs in one bit can change a split, and then the whole model.
//!
//! Accuracy: within 2 ulp of the true value over the range used (checked against `f64::exp` /
//! `f64::ln` in the tests).

/// `ln(2)` split into a high part with trailing zero bits (so `k * LN2_HI` is exact for
/// |k| < 2^11) and the rest.
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
const INV_LN2: f64 = std::f64::consts::LOG2_E;

/// `1 / i!` for i = 0..=13, the Taylor coefficients of `exp` (mirrored in `kernels/gbdt.cu`).
const INV_FACT: [f64; 14] = [
    1.0,
    1.0,
    0.5,
    0.166_666_666_666_666_66,
    0.041_666_666_666_666_664,
    0.008_333_333_333_333_333,
    0.001_388_888_888_888_889,
    0.000_198_412_698_412_698_4,
    2.480_158_730_158_73e-5,
    2.755_731_922_398_589_3e-6,
    2.755_731_922_398_589e-7,
    2.505_210_838_544_172e-8,
    2.087_675_698_786_81e-9,
    1.605_904_383_682_161_3e-10,
];

/// `2^k` for `-1022 <= k <= 1023`, built from its bits.
fn pow2(k: i64) -> f64 {
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// `e^x`: `x = k ln 2 + r` with |r| <= ln(2)/2, a degree-13 Taylor polynomial for `e^r` (Estrin),
/// scaled by `2^k` built from bits. Overflow gives +inf, underflow 0, NaN stays NaN.
#[inline]
pub fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > 709.7 {
        return f64::INFINITY;
    }
    if x < -745.2 {
        return 0.0;
    }
    let k = (x * INV_LN2).round();
    let p = exp_reduced(x, k);
    let k = k as i64;
    if k < -1021 {
        // Two steps so the intermediate stays normal.
        p * pow2(k + 1000) * pow2(-1000)
    } else if k > 1023 {
        p * pow2(k - 1) * 2.0
    } else {
        p * pow2(k)
    }
}

/// [`exp`] of |x| <= 700 (the caller checks), the same bits, with no branch or call: a loop of
/// them vectorises.
#[inline(always)]
pub(crate) fn exp_in_range(x: f64) -> f64 {
    let k = round_small(x * INV_LN2);
    exp_reduced(x, k) * f64::from_bits(((small_to_i64(k) + 1023) as u64) << 52)
}

/// `e^(x - k ln 2)` by the polynomial (`k` integral, |x - k ln 2| <= ln(2)/2).
#[inline(always)]
fn exp_reduced(x: f64, k: f64) -> f64 {
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Estrin's scheme: the same polynomial as Horner's with a dependency chain of 5 steps, not 26.
    let c = &INV_FACT;
    let (r2, r4) = (r * r, r * r * (r * r));
    let r8 = r4 * r4;
    let (q0, q1, q2, q3) = (c[0] + c[1] * r, c[2] + c[3] * r, c[4] + c[5] * r, c[6] + c[7] * r);
    let (q4, q5, q6) = (c[8] + c[9] * r, c[10] + c[11] * r, c[12] + c[13] * r);
    let (s0, s1, s2) = (q0 + q1 * r2, q2 + q3 * r2, q4 + q5 * r2);
    (s0 + s1 * r4) + (s2 + q6 * r4) * r8
}

/// 1.5 * 2^52: `x + MAGIC` for |x| < 2^51 lies in [2^52, 2^53), where the spacing of doubles is
/// 1, so the sum is `x` rounded to an integer (ties to even), held in the low bits.
const MAGIC: f64 = 6_755_399_441_055_744.0;

/// `x.round()` of |x| < 2^51 (the caller guarantees it) with adds and selects only (`f64::round`
/// is a libm call on the baseline x86-64 target and stops a loop from vectorising). The sign of a
/// zero result may differ from `round`'s; the value does not.
#[inline(always)]
pub(crate) fn round_small(x: f64) -> f64 {
    let r = (x + MAGIC) - MAGIC;
    // At a tie (|x - r| == 0.5, exact) ties-to-even may have gone toward zero: away is x ± 0.5.
    if (x - r).abs() == 0.5 {
        x + 0.5f64.copysign(x)
    } else {
        r
    }
}

/// The value of an integral `x` with |x| < 2^51 as an `i64`, from the bits of `x + MAGIC` (the
/// saturating `as` conversion does not vectorise).
#[inline(always)]
pub(crate) fn small_to_i64(x: f64) -> i64 {
    ((x + MAGIC).to_bits() as i64).wrapping_sub(MAGIC.to_bits() as i64)
}

/// Natural logarithm: `x = m 2^e` with `m` in [sqrt(1/2), sqrt(2)), `ln m = 2 atanh(s)`,
/// `s = (m - 1) / (m + 1)`, by its odd series. `ln 0 = -inf`, negative or NaN gives NaN.
pub fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    let (mut m, mut e) = (x, 0i64);
    if m < f64::MIN_POSITIVE {
        m *= pow2(54);
        e -= 54;
    }
    let bits = m.to_bits();
    e += ((bits >> 52) & 0x7ff) as i64 - 1023;
    m = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1023u64 << 52)); // in [1, 2)
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // 2 (s + s^3/3 + ... + s^23/23): |s| <= 0.1716, so the next term is below 1e-19.
    let mut p = 1.0 / 23.0;
    let mut k = 21.0;
    while k >= 1.0 {
        p = p * s2 + 1.0 / k;
        k -= 2.0;
    }
    let ef = e as f64;
    ef * LN2_HI + (ef * LN2_LO + 2.0 * s * p)
}

/// `1 / (1 + e^-x)`, as the kernels compute it.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + exp(-x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_branch_free_forms_give_the_same_bits() {
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        for i in 0..300_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let x = (s >> 11) as f64 / (1u64 << 53) as f64 * 1400.0 - 700.0;
            let x = if i % 3 == 0 { x / 100.0 } else { x };
            assert_eq!(exp_in_range(x).to_bits(), exp(x).to_bits(), "exp({x:e})");
            let v = x * (1u64 << (s % 42)) as f64;
            let v = if i % 5 == 0 { v.trunc() + 0.5 } else { v };
            assert_eq!(round_small(v), v.round(), "round({v:e})");
            assert_eq!(small_to_i64(round_small(v)), v.round() as i64, "{v:e}");
        }
        assert_eq!(round_small(-2.5), -3.0);
        assert_eq!(round_small(2.5), 3.0);
        assert_eq!(round_small(-0.5), -1.0);
        assert_eq!(exp_in_range(0.0), 1.0);
        assert_eq!(exp_in_range(-0.0), 1.0);
    }

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn exp_within_two_ulp_of_libm() {
        let mut x = -740.0;
        while x < 709.0 {
            let (ours, libm) = (exp(x), x.exp());
            assert!(ulps(ours, libm) <= 2, "exp({x}) = {ours:e}, libm {libm:e}");
            x += 0.0137;
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(1000.0), f64::INFINITY);
        assert_eq!(exp(-1000.0), 0.0);
        assert!(exp(f64::NAN).is_nan());
    }

    #[test]
    fn ln_within_two_ulp_of_libm() {
        for x in [1e-310, 1e-300, 1e-5, 0.1, 0.5, 0.7072, 1.0, 1.5, 2.0, 3.0, 10.0, 1e10, 1e300] {
            assert!(ulps(ln(x), x.ln()) <= 2, "ln({x}) = {:e}, libm {:e}", ln(x), x.ln());
        }
        let mut x = 1e-6;
        while x < 1e6 {
            assert!(ulps(ln(x), x.ln()) <= 2, "ln({x})");
            x *= 1.0131;
        }
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert!(ln(-1.0).is_nan());
    }

    #[test]
    fn sigmoid_is_symmetric() {
        for x in [-30.0, -2.5, 0.0, 0.3, 4.0] {
            assert!((sigmoid(x) + sigmoid(-x) - 1.0).abs() < 1e-15);
        }
        assert_eq!(sigmoid(0.0), 0.5);
    }
}
