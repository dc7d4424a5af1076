//! Gradients, their integer quantisation, base scores and the margin → prediction transform.
//!
//! Everything here that training depends on is mirrored operation for operation in
//! `kernels/gbdt.cu` (`gbdt_gradients`, `gbdt_quantise`, `gbdt_sampled`), so the CPU engine and
//! the GPU produce the same integers.
use crate::math;
use crate::params::Objective;

/// The gradient pair of one row (and class), weight applied, in f64.
#[inline]
pub(crate) fn gradient(obj: Objective, margins: &[f32], label: f32, weight: f32, k: usize) -> (f64, f64) {
    let w = weight as f64;
    let y = label as f64;
    match obj {
        Objective::SquaredError => ((margins[0] as f64 - y) * w, w),
        Objective::Logistic => {
            let p = math::sigmoid(margins[0] as f64);
            ((p - y) * w, hess_floor(p * (1.0 - p)) * w)
        }
        Objective::Softprob(_) => {
            let p = softmax_at(margins, k);
            let t = if label as usize == k { 1.0 } else { 0.0 };
            ((p - t) * w, hess_floor(2.0 * p * (1.0 - p)) * w)
        }
    }
}

/// Bounds on |g| and h known before a round, for objectives that have them: logistic
/// `|p - y| <= 1` (labels in [0, 1]) and `p (1 - p) <= 1/4`, times the largest weight. With them
/// the quantisation scale needs no maxima pass, so gradients are computed and quantised in one.
pub(crate) fn gradient_bounds(obj: Objective, max_weight: f64) -> Option<(f64, f64)> {
    match obj {
        Objective::Logistic => Some((max_weight, 0.25 * max_weight)),
        _ => None,
    }
}

#[inline]
fn hess_floor(h: f64) -> f64 {
    if h < 1e-16 {
        1e-16
    } else {
        h
    }
}

/// `softmax(margins)[k]`, max-shifted, summed in class order.
pub(crate) fn softmax_at(margins: &[f32], k: usize) -> f64 {
    let mut mx = margins[0] as f64;
    for m in &margins[1..] {
        if (*m as f64) > mx {
            mx = *m as f64;
        }
    }
    let mut sum = 0.0;
    for m in margins {
        sum += math::exp(*m as f64 - mx);
    }
    math::exp(margins[k] as f64 - mx) / sum
}

/// A power-of-two fixed-point scale for one round's gradients (or hessians): every row's value
/// times `2^exp`, rounded to an integer, so that `rows * max|v| * 2^exp <= 2^62` and no
/// histogram sum can overflow an `i64`. Sums of integers do not depend on their order, so the
/// histograms, and the model, do not depend on the thread count or the device (xgboost's GPU
/// quantiser does the same).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Quantiser {
    pub exp: i32,
}

impl Quantiser {
    /// The scale for values with `max_abs` as their largest magnitude over `rows` rows.
    pub fn new(max_abs: f64, rows: usize) -> Quantiser {
        let bound = max_abs * rows.max(1) as f64;
        if bound.is_nan() || bound <= 0.0 || !bound.is_finite() {
            return Quantiser { exp: 0 };
        }
        // bound = m 2^q with m in [0.5, 1): bound < 2^q, so 2^(62 - q) keeps the sum below 2^62.
        let q = ((bound.to_bits() >> 52) & 0x7ff) as i32 - 1022;
        Quantiser { exp: (62 - q).clamp(-1000, 1000) }
    }

    /// `v * 2^exp`, rounded half away from zero.
    #[inline]
    pub fn quantise(&self, v: f64) -> i64 {
        (v * pow2(self.exp)).round() as i64
    }

    /// A sum of quantised values back in f64.
    #[inline]
    pub fn value(&self, s: i64) -> f64 {
        s as f64 * pow2(-self.exp)
    }
}

#[inline]
fn pow2(e: i32) -> f64 {
    // Two factors so that |e| up to 1000 stays in the normal range.
    let half = e / 2;
    f64::from_bits(((half + 1023) as u64) << 52) * f64::from_bits(((e - half + 1023) as u64) << 52)
}

/// Logistic pairs of consecutive rows (margins `m`, labels `y`, weights `w`) quantised into
/// `out`, the same values as [`gradient`] then [`Quantiser::quantise`] per row, in a loop that
/// vectorises (AVX2 where the processor has it). It declines (returns `false`, writing nothing)
/// when a margin is NaN or beyond ±700, where `exp` takes its other branches. The caller
/// guarantees that the quantised values stay below 2^51 in magnitude, which holds when the
/// quantisers come from [`gradient_bounds`] for at least 2^12 rows (each |value| is at most
/// `2^62 / rows`).
pub(crate) fn logistic_quantised(
    m: &[f32],
    y: &[f32],
    w: Option<&[f32]>,
    qg: Quantiser,
    qh: Quantiser,
    out: &mut [[i64; 2]],
) -> bool {
    if !m.iter().all(|v| v.abs() <= 700.0) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the processor has AVX-512F (checked just above).
        unsafe { logistic_avx512(m, y, w, qg, qh, out) };
        return true;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2 (checked just above).
        unsafe { logistic_avx2(m, y, w, qg, qh, out) };
        return true;
    }
    logistic_body(m, y, w, qg, qh, out);
    true
}

/// [`logistic_body`] compiled for AVX2 (four doubles per instruction). Target features do not
/// license contracting `a * b + c` into an FMA, so the results are the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn logistic_avx2(m: &[f32], y: &[f32], w: Option<&[f32]>, qg: Quantiser, qh: Quantiser, out: &mut [[i64; 2]]) {
    logistic_body(m, y, w, qg, qh, out)
}

/// [`logistic_body`] compiled for AVX-512 (eight doubles per instruction), the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn logistic_avx512(m: &[f32], y: &[f32], w: Option<&[f32]>, qg: Quantiser, qh: Quantiser, out: &mut [[i64; 2]]) {
    logistic_body(m, y, w, qg, qh, out)
}

#[inline(always)]
fn logistic_body(m: &[f32], y: &[f32], w: Option<&[f32]>, qg: Quantiser, qh: Quantiser, out: &mut [[i64; 2]]) {
    let (sg, sh) = (pow2(qg.exp), pow2(qh.exp));
    let pair = |m: f32, y: f32, w: f32| {
        let (y, w) = (y as f64, w as f64);
        let p = 1.0 / (1.0 + math::exp_in_range(-(m as f64)));
        let (g, h) = ((p - y) * w, hess_floor(p * (1.0 - p)) * w);
        [math::small_to_i64(math::round_small(g * sg)), math::small_to_i64(math::round_small(h * sh))]
    };
    let n = out.len();
    let (m, y) = (&m[..n], &y[..n]);
    match w {
        Some(w) => {
            let w = &w[..n];
            for i in 0..n {
                out[i] = pair(m[i], y[i], w[i]);
            }
        }
        None => {
            for i in 0..n {
                out[i] = pair(m[i], y[i], 1.0);
            }
        }
    }
}

/// splitmix64's finaliser.
#[inline]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Row sampling: row `row` is in tree `tree`'s sample when its hash falls below `threshold`
/// (`subsample * 2^53`, from [`sample_threshold`]).
#[inline]
pub(crate) fn sampled(seed: u64, tree: u64, row: u64, threshold: u64) -> bool {
    (mix(mix(seed.wrapping_add(tree)) ^ row) >> 11) < threshold
}

/// `subsample * 2^53` (2^53 when every row is kept).
pub(crate) fn sample_threshold(subsample: f64) -> u64 {
    (subsample * (1u64 << 53) as f64) as u64
}

/// The margin a base score stands for, as xgboost computes it when it loads a model (f32,
/// `-ln(1 / p - 1)` for logistic). This runs once per model on the host; it uses the platform's
/// `logf` so that a model loaded into xgboost on the same machine starts from the same margin.
pub(crate) fn base_margin(obj: Objective, base_score: f32) -> f32 {
    match obj {
        Objective::Logistic => -(1.0f32 / base_score - 1.0f32).ln(),
        _ => base_score,
    }
}

/// The default base score: the weighted label mean for regression and logistic (xgboost 3),
/// 0.5 for softprob (a margin shared by all classes, which softmax ignores).
pub(crate) fn default_base_score(obj: Objective, y: &[f32], w: Option<&[f32]>) -> f32 {
    let (s, sw) = label_sums(y, w);
    base_score_of_sums(obj, s, sw)
}

/// `(sum of w y, sum of w)` in row order: what the default base score is a ratio of.
pub(crate) fn label_sums(y: &[f32], w: Option<&[f32]>) -> (f64, f64) {
    let (mut s, mut sw) = (0.0f64, 0.0f64);
    for (i, y) in y.iter().enumerate() {
        let w = w.map_or(1.0, |w| w[i] as f64);
        s += *y as f64 * w;
        sw += w;
    }
    (s, sw)
}

/// The default base score from [`label_sums`] (summed over every process when training is
/// data-parallel).
pub(crate) fn base_score_of_sums(obj: Objective, s: f64, sw: f64) -> f32 {
    if let Objective::Softprob(_) = obj {
        return 0.5;
    }
    let mean = if sw > 0.0 { s / sw } else { 0.5 };
    match obj {
        Objective::Logistic => mean.clamp(1e-6, 1.0 - 1e-6) as f32,
        _ => mean as f32,
    }
}

/// Margins to predictions in place (`rows * groups` values): sigmoid, softmax or identity.
pub(crate) fn transform(obj: Objective, margins: &mut [f32]) {
    match obj {
        Objective::SquaredError => {}
        Objective::Logistic => margins.iter_mut().for_each(|m| *m = math::sigmoid(*m as f64) as f32),
        Objective::Softprob(k) => {
            for row in margins.chunks_mut(k) {
                let p: Vec<f32> = (0..k).map(|c| softmax_at(row, c) as f32).collect();
                row.copy_from_slice(&p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectorised_logistic_pairs_are_the_per_row_ones() {
        let n = 5000;
        let m: Vec<f32> = (0..n).map(|i| ((i * 7919) % 4001) as f32 / 97.0 - 20.0).collect();
        let y: Vec<f32> = (0..n).map(|i| ((i * 31) % 7 > 3) as u8 as f32).collect();
        let w: Vec<f32> = (0..n).map(|i| 0.25 + (i % 5) as f32).collect();
        for weights in [None, Some(&w[..])] {
            let max_w = weights.map_or(1.0, |w| w.iter().fold(0.0f32, |a, b| a.max(*b)) as f64);
            let (bg, bh) = gradient_bounds(Objective::Logistic, max_w).unwrap();
            let (qg, qh) = (Quantiser::new(bg, n), Quantiser::new(bh, n));
            let mut out = vec![[0i64; 2]; n];
            assert!(logistic_quantised(&m, &y, weights, qg, qh, &mut out));
            for i in 0..n {
                let (g, h) = gradient(Objective::Logistic, &m[i..i + 1], y[i], weights.map_or(1.0, |w| w[i]), 0);
                assert_eq!(out[i], [qg.quantise(g), qh.quantise(h)], "row {i}");
            }
        }
        let mut out = vec![[7i64; 2]; 2];
        let q = Quantiser { exp: 40 };
        assert!(!logistic_quantised(&[0.0, f32::NAN], &[0.0, 1.0], None, q, q, &mut out));
        assert!(!logistic_quantised(&[0.0, 800.0], &[0.0, 1.0], None, q, q, &mut out));
        assert_eq!(out, vec![[7, 7]; 2], "declined: nothing written");
    }

    #[test]
    fn quantiser_keeps_sums_in_range() {
        let q = Quantiser::new(3.5, 1_000_000);
        let one = q.quantise(3.5);
        assert!((one as i128) * 1_000_000 <= 1i128 << 62);
        assert!((one as i128) * 1_000_000 > 1i128 << 60, "scale uses the range");
        assert_eq!(q.value(one), 3.5);
        assert_eq!(Quantiser::new(0.0, 10).exp, 0);
    }

    #[test]
    fn sampling_keeps_about_the_fraction() {
        let t = sample_threshold(0.3);
        let kept = (0..100_000).filter(|r| sampled(7, 3, *r, t)).count();
        assert!((29_000..31_000).contains(&kept), "{kept}");
        assert!((0..1000).all(|r| sampled(1, 1, r, sample_threshold(1.0))));
    }

    #[test]
    fn gradients_of_each_objective() {
        assert_eq!(gradient(Objective::SquaredError, &[2.0], 0.5, 2.0, 0), (3.0, 2.0));
        let (g, h) = gradient(Objective::Logistic, &[0.0], 1.0, 1.0, 0);
        assert_eq!((g, h), (-0.5, 0.25));
        let (g, h) = gradient(Objective::Softprob(2), &[0.0, 0.0], 1.0, 1.0, 1);
        assert_eq!((g, h), (-0.5, 0.5));
    }
}
