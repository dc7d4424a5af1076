//! Distances. Every device computes them in one canonical order, so exact search returns the same
//! ids everywhere: eight running sums (lane `j` takes the elements `i` with `i % 8 == j`, each
//! step one fused multiply-add), then `((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))`. AVX2
//! keeps the eight sums in one register; the scalar fallback and the kernels (`kernels/ann.cu`)
//! do the same steps with `mul_add` / `fmaf`.
//!
//! - `L2`: the squared Euclidean distance.
//! - `InnerProduct`: `1 - a.b` (smaller is closer, as hnswlib and faiss report it).
//! - `Cosine`: vectors are normalised when added (and queries when searched), then `1 - a.b`.
use ember_core::{Error, Result};

/// The distance a search minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    /// Squared Euclidean distance.
    #[default]
    L2,
    /// `1 - a.b`.
    InnerProduct,
    /// `1 - cos(a, b)` (vectors normalised on insertion).
    Cosine,
}

impl Metric {
    /// From `"l2"`, `"ip"` / `"inner_product"`, `"cosine"`.
    pub fn parse(s: &str) -> Result<Metric> {
        match s.to_ascii_lowercase().as_str() {
            "l2" | "euclidean" | "sqeuclidean" => Ok(Metric::L2),
            "ip" | "inner_product" | "dot" => Ok(Metric::InnerProduct),
            "cosine" | "cos" => Ok(Metric::Cosine),
            other => Err(Error::InvalidArgument(format!("unknown metric {other:?} (l2, ip, cosine)"))),
        }
    }

    /// The name `parse` reads.
    pub fn name(self) -> &'static str {
        match self {
            Metric::L2 => "l2",
            Metric::InnerProduct => "ip",
            Metric::Cosine => "cosine",
        }
    }

    /// The code shared with `kernels/ann.cu`.
    pub(crate) fn code(self) -> u32 {
        match self {
            Metric::L2 => 0,
            _ => 1,
        }
    }

    /// The distance between two vectors of equal length.
    #[inline]
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::L2 => l2(a, b),
            Metric::InnerProduct | Metric::Cosine => 1.0 - dot(a, b),
        }
    }

    /// The distance function for this metric on this CPU, resolved once (a hot loop calls it
    /// through a plain function pointer, no per-call dispatch).
    pub(crate) fn resolve(self) -> DistFn {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            return match self {
                Metric::L2 => l2_avx2,
                _ => ip_avx2,
            };
        }
        match self {
            Metric::L2 => l2_scalar,
            _ => ip_scalar,
        }
    }

    /// Normalises `v` in place for the cosine metric (a zero vector stays zero).
    pub(crate) fn prepare(self, v: &mut [f32]) {
        if self == Metric::Cosine {
            let n = dot(v, v);
            if n > 0.0 {
                let inv = 1.0 / n.sqrt();
                v.iter_mut().for_each(|x| *x *= inv);
            }
        }
    }
}

/// A distance function (see [`Metric::resolve`]).
pub(crate) type DistFn = fn(&[f32], &[f32]) -> f32;

fn ip_scalar(a: &[f32], b: &[f32]) -> f32 {
    1.0 - dot_scalar(a, b)
}

#[cfg(target_arch = "x86_64")]
fn l2_avx2(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    // SAFETY: only handed out by `Metric::resolve` after AVX2 and FMA were detected; equal lengths.
    unsafe { avx2::l2(a, b) }
}

#[cfg(target_arch = "x86_64")]
fn ip_avx2(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    // SAFETY: as in `l2_avx2`.
    1.0 - unsafe { avx2::dot(a, b) }
}

#[inline]
fn combine(s: [f32; 8]) -> f32 {
    ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}

fn dot_scalar(a: &[f32], b: &[f32]) -> f32 {
    let mut s = [0f32; 8];
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        s[i % 8] = x.mul_add(*y, s[i % 8]);
    }
    combine(s)
}

fn l2_scalar(a: &[f32], b: &[f32]) -> f32 {
    let mut s = [0f32; 8];
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let d = x - y;
        s[i % 8] = d.mul_add(d, s[i % 8]);
    }
    combine(s)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn lanes(v: __m256) -> [f32; 8] {
        let mut out = [0f32; 8];
        // SAFETY: `out` holds 8 f32; an unaligned store needs no alignment.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
        out
    }

    /// # Safety
    /// The CPU supports AVX2 and FMA; `a.len() == b.len()`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len();
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n = len of both slices.
            let (x, y) = unsafe { (_mm256_loadu_ps(a.as_ptr().add(i)), _mm256_loadu_ps(b.as_ptr().add(i))) };
            acc = _mm256_fmadd_ps(x, y, acc);
            i += 8;
        }
        let mut s = lanes(acc);
        for j in i..n {
            s[j % 8] = a[j].mul_add(b[j], s[j % 8]);
        }
        super::combine(s)
    }

    /// # Safety
    /// As [`dot`].
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn l2(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len();
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n = len of both slices.
            let (x, y) = unsafe { (_mm256_loadu_ps(a.as_ptr().add(i)), _mm256_loadu_ps(b.as_ptr().add(i))) };
            let d = _mm256_sub_ps(x, y);
            acc = _mm256_fmadd_ps(d, d, acc);
            i += 8;
        }
        let mut s = lanes(acc);
        for j in i..n {
            let d = a[j] - b[j];
            s[j % 8] = d.mul_add(d, s[j % 8]);
        }
        super::combine(s)
    }
}

#[inline]
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVX2: OnceLock<bool> = OnceLock::new();
        *AVX2.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `a . b` in the canonical order.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: AVX2 and FMA were detected at run time; the lengths are equal.
        return unsafe { avx2::dot(a, b) };
    }
    dot_scalar(a, b)
}

/// `|a - b|^2` in the canonical order.
#[inline]
pub fn l2(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: as in `dot`.
        return unsafe { avx2::l2(a, b) };
    }
    l2_scalar(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_equals_scalar_bit_for_bit() {
        for n in [0usize, 1, 7, 8, 9, 31, 128, 784, 1001] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 53 % 89) as f32 - 40.0) / 3.0).collect();
            assert_eq!(dot(&a, &b).to_bits(), dot_scalar(&a, &b).to_bits(), "dot n = {n}");
            assert_eq!(l2(&a, &b).to_bits(), l2_scalar(&a, &b).to_bits(), "l2 n = {n}");
        }
    }
}
