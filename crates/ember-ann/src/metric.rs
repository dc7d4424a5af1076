//! Distances. Every device computes them in one canonical order, so exact search returns the same
//! ids everywhere: eight running sums (lane `j` takes the elements `i` with `i % 8 == j`, each
//! step one fused multiply-add), then `((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))`. AVX2
//! keeps the eight sums in one register; the scalar fallback and the kernels (`kernels/ann.cu`)
//! do the same steps with `mul_add` / `fmaf`. A stored vector may be f16 (`Storage::F16`): its
//! elements are widened to f32 exactly (F16C's `vcvtph2ps` on AVX2) and the same steps follow, so
//! an f16 vector's distances are those of the f32 vector holding the same values.
//!
//! - `L2`: the squared Euclidean distance.
//! - `InnerProduct`: `1 - a.b` (smaller is closer, as hnswlib and faiss report it).
//! - `Cosine`: vectors are normalised when added (and queries when searched), then `1 - a.b`.
use ember_core::{Error, Result};
use half::f16;

/// A stored vector element: f32, or f16 widened to f32 exactly before any arithmetic.
pub(crate) trait Elem: Copy + Send + Sync + 'static {
    /// The value as f32 (exact).
    fn widen(self) -> f32;

    /// Eight elements from `p`, widened, in one register.
    ///
    /// # Safety
    /// The CPU supports AVX2, FMA and F16C; `p .. p + 8` is readable.
    #[cfg(target_arch = "x86_64")]
    unsafe fn load8(p: *const Self) -> std::arch::x86_64::__m256;
}

impl Elem for f32 {
    #[inline]
    fn widen(self) -> f32 {
        self
    }

    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load8(p: *const f32) -> std::arch::x86_64::__m256 {
        // SAFETY: the caller guarantees eight readable elements.
        unsafe { std::arch::x86_64::_mm256_loadu_ps(p) }
    }
}

impl Elem for f16 {
    #[inline]
    fn widen(self) -> f32 {
        self.to_f32()
    }

    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load8(p: *const f16) -> std::arch::x86_64::__m256 {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees eight readable elements (16 bytes); f16 is 16 bits.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)) }
    }
}

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

    /// The distance function for this metric on this CPU, from an f32 query to a stored vector
    /// of `B`, resolved once (a hot loop calls it through a plain function pointer, no per-call
    /// dispatch).
    pub(crate) fn resolve<B: Elem>(self) -> DistFn<B> {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            return match self {
                Metric::L2 => l2_avx2::<B>,
                _ => ip_avx2::<B>,
            };
        }
        match self {
            Metric::L2 => l2_scalar::<B>,
            _ => ip_scalar::<B>,
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

/// A distance function from an f32 query to a stored vector of `B` (see [`Metric::resolve`]).
pub(crate) type DistFn<B = f32> = fn(&[f32], &[B]) -> f32;

fn ip_scalar<B: Elem>(a: &[f32], b: &[B]) -> f32 {
    1.0 - dot_scalar(a, b)
}

#[cfg(target_arch = "x86_64")]
fn l2_avx2<B: Elem>(a: &[f32], b: &[B]) -> f32 {
    assert_eq!(a.len(), b.len());
    // SAFETY: only handed out by `Metric::resolve` after AVX2, FMA and F16C were detected; equal
    // lengths.
    unsafe { avx2::l2(a, b) }
}

#[cfg(target_arch = "x86_64")]
fn ip_avx2<B: Elem>(a: &[f32], b: &[B]) -> f32 {
    assert_eq!(a.len(), b.len());
    // SAFETY: as in `l2_avx2`.
    1.0 - unsafe { avx2::dot(a, b) }
}

#[inline]
fn combine(s: [f32; 8]) -> f32 {
    ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}

fn dot_scalar<B: Elem>(a: &[f32], b: &[B]) -> f32 {
    let mut s = [0f32; 8];
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        s[i % 8] = x.mul_add(y.widen(), s[i % 8]);
    }
    combine(s)
}

fn l2_scalar<B: Elem>(a: &[f32], b: &[B]) -> f32 {
    let mut s = [0f32; 8];
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let d = x - y.widen();
        s[i % 8] = d.mul_add(d, s[i % 8]);
    }
    combine(s)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Elem;
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn lanes(v: __m256) -> [f32; 8] {
        let mut out = [0f32; 8];
        // SAFETY: `out` holds 8 f32; an unaligned store needs no alignment.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
        out
    }

    /// # Safety
    /// The CPU supports AVX2, FMA and F16C; `a.len() == b.len()`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn dot<B: Elem>(a: &[f32], b: &[B]) -> f32 {
        let n = a.len();
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n = len of both slices; the features are the caller's.
            let (x, y) = unsafe { (_mm256_loadu_ps(a.as_ptr().add(i)), B::load8(b.as_ptr().add(i))) };
            acc = _mm256_fmadd_ps(x, y, acc);
            i += 8;
        }
        let mut s = lanes(acc);
        for j in i..n {
            s[j % 8] = a[j].mul_add(b[j].widen(), s[j % 8]);
        }
        super::combine(s)
    }

    /// # Safety
    /// As [`dot`].
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn l2<B: Elem>(a: &[f32], b: &[B]) -> f32 {
        let n = a.len();
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n = len of both slices; the features are the caller's.
            let (x, y) = unsafe { (_mm256_loadu_ps(a.as_ptr().add(i)), B::load8(b.as_ptr().add(i))) };
            let d = _mm256_sub_ps(x, y);
            acc = _mm256_fmadd_ps(d, d, acc);
            i += 8;
        }
        let mut s = lanes(acc);
        for j in i..n {
            let d = a[j] - b[j].widen();
            s[j % 8] = d.mul_add(d, s[j % 8]);
        }
        super::combine(s)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2x4 {
    use super::Elem;
    use std::arch::x86_64::*;

    /// `((s0+s4)+(s2+s6))+((s1+s5)+(s3+s7))` of the eight lanes, in registers: the same
    /// additions as `combine`, in the same order.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn hsum(v: __m256) -> f32 {
        let t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); // s0+s4, s1+s5, s2+s6, s3+s7
        let u = _mm_add_ps(t, _mm_movehl_ps(t, t)); // (s0+s4)+(s2+s6), (s1+s5)+(s3+s7)
        _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, 1)))
    }

    /// Distances from `Q` queries to four vectors: `Q * 4` independent accumulation chains, each
    /// base value loaded once for all queries (register blocking).
    ///
    /// # Safety
    /// The CPU supports AVX2, FMA and F16C; every `q[i].len()` and `b[j].len()` are equal.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn block<const Q: usize, const L2: bool, B: Elem>(q: [&[f32]; Q], b: [&[B]; 4]) -> [[f32; 4]; Q] {
        let l2 = L2;
        let n = q[0].len();
        let mut acc = [[_mm256_setzero_ps(); 4]; Q];
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n, the length of every q[r] and b[j]. (No closure here: a closure
            // would not inherit the target features and the loads would not inline.)
            let ys: [__m256; 4] = unsafe {
                [
                    B::load8(b[0].as_ptr().add(i)),
                    B::load8(b[1].as_ptr().add(i)),
                    B::load8(b[2].as_ptr().add(i)),
                    B::load8(b[3].as_ptr().add(i)),
                ]
            };
            for r in 0..Q {
                // SAFETY: as above.
                let x = unsafe { _mm256_loadu_ps(q[r].as_ptr().add(i)) };
                for j in 0..4 {
                    acc[r][j] = if l2 {
                        let d = _mm256_sub_ps(x, ys[j]);
                        _mm256_fmadd_ps(d, d, acc[r][j])
                    } else {
                        _mm256_fmadd_ps(x, ys[j], acc[r][j])
                    };
                }
            }
            i += 8;
        }
        let mut out = [[0f32; 4]; Q];
        if i == n {
            for r in 0..Q {
                for j in 0..4 {
                    out[r][j] = hsum(acc[r][j]);
                }
            }
            return out;
        }
        for r in 0..Q {
            for j in 0..4 {
                let mut s = [0f32; 8];
                // SAFETY: `s` holds 8 f32.
                unsafe { _mm256_storeu_ps(s.as_mut_ptr(), acc[r][j]) };
                for t in i..n {
                    let y = b[j][t].widen();
                    if l2 {
                        let d = q[r][t] - y;
                        s[t % 8] = d.mul_add(d, s[t % 8]);
                    } else {
                        s[t % 8] = q[r][t].mul_add(y, s[t % 8]);
                    }
                }
                out[r][j] = super::combine(s);
            }
        }
        out
    }
}

impl Metric {
    /// Distances from `Q` queries to four stored vectors at once, each the same bits as
    /// [`Metric::distance`] of the widened vectors (register blocking on AVX2; one at a time
    /// otherwise).
    #[inline]
    pub(crate) fn distance_block<const Q: usize, B: Elem>(self, q: [&[f32]; Q], b: [&[B]; 4]) -> [[f32; 4]; Q] {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() && q.iter().all(|v| v.len() == q[0].len()) && b.iter().all(|v| v.len() == q[0].len()) {
            return if self == Metric::L2 {
                // SAFETY: AVX2, FMA and F16C were detected; the lengths were checked.
                unsafe { avx2x4::block::<Q, true, B>(q, b) }
            } else {
                // SAFETY: as above.
                unsafe { avx2x4::block::<Q, false, B>(q, b) }.map(|row| row.map(|d| 1.0 - d))
            };
        }
        let f = self.resolve::<B>();
        q.map(|qv| b.map(|v| f(qv, v)))
    }
}

#[inline]
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVX2: OnceLock<bool> = OnceLock::new();
        // F16C (every AVX2 CPU has it) widens f16 storage in the same kernels.
        *AVX2.get_or_init(|| {
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")
        })
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
    fn four_at_once_equals_one_at_a_time() {
        for n in [1usize, 8, 13, 128, 300] {
            let v: Vec<Vec<f32>> =
                (0..5).map(|k| (0..n).map(|i| ((i * (31 + k) % 97) as f32 - 40.0) / 9.0).collect()).collect();
            for m in [Metric::L2, Metric::InnerProduct] {
                let block = m.distance_block([&v[0], &v[4]], [&v[1], &v[2], &v[3], &v[4]]);
                for (r, qi) in [0, 4].into_iter().enumerate() {
                    for j in 0..4 {
                        assert_eq!(block[r][j].to_bits(), m.distance(&v[qi], &v[j + 1]).to_bits(), "{m:?} n {n}");
                    }
                }
            }
        }
    }

    #[test]
    fn f16_storage_equals_the_widened_f32_vector_bit_for_bit() {
        for n in [1usize, 7, 8, 9, 16, 31, 128, 784, 1001] {
            let q: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
            // Subnormal, zero, negative and large halves among ordinary ones.
            let h: Vec<f16> = (0..n)
                .map(|i| match i % 11 {
                    0 => f16::from_bits(0x0003),
                    1 => f16::from_f32(-0.0),
                    2 => f16::from_f32(60000.0),
                    _ => f16::from_f32(((i * 53 % 89) as f32 - 40.0) / 3.0),
                })
                .collect();
            let w: Vec<f32> = h.iter().map(|x| x.to_f32()).collect();
            for m in [Metric::L2, Metric::InnerProduct] {
                let want = m.resolve::<f32>()(&q, &w).to_bits();
                assert_eq!(m.resolve::<f16>()(&q, &h).to_bits(), want, "{m:?} n {n}");
                let scalar = if m == Metric::L2 { l2_scalar(&q, &h) } else { ip_scalar(&q, &h) };
                assert_eq!(scalar.to_bits(), want, "{m:?} scalar n {n}");
                let block = m.distance_block([&q[..]], [&h[..], &h[..], &h[..], &h[..]]);
                assert!(block[0].iter().all(|d| d.to_bits() == want), "{m:?} block n {n}");
            }
        }
    }

    #[test]
    fn simd_equals_scalar_bit_for_bit() {
        for n in [0usize, 1, 7, 8, 9, 31, 128, 784, 1001] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 53 % 89) as f32 - 40.0) / 3.0).collect();
            assert_eq!(dot(&a, &b).to_bits(), dot_scalar(&a, &b).to_bits(), "dot n = {n}");
            assert_eq!(l2(&a, &b).to_bits(), l2_scalar(&a, &b).to_bits(), "l2 n = {n}");
            // Symmetric to the bit (the HNSW heuristic measures from either end).
            assert_eq!(dot(&a, &b).to_bits(), dot(&b, &a).to_bits(), "dot n = {n}");
            assert_eq!(l2(&a, &b).to_bits(), l2(&b, &a).to_bits(), "l2 n = {n}");
        }
    }
}
