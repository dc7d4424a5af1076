//! Binning: per-feature cut points, computed once on the host and shared by every backend, and
//! the row-major `u8` bin matrix the histograms read.
//!
//! A feature's cuts are increasing `f32` values; a value's bin is the number of cuts `<=` it, so
//! a split "bins `<= b` go left" is exactly the test `x < cuts[b]` that xgboost's JSON stores.
//! Missing values (NaN) get [`MISSING`].
use crate::data::Features;
use ember_core::{Error, Result};
use rayon::prelude::*;

/// The bin code of a missing value.
pub const MISSING: u8 = 255;

/// Cut points per feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Cuts {
    pub(crate) cuts: Vec<Vec<f32>>,
}

impl Cuts {
    /// Exact quantile cuts of each feature with at most `bins` value bins: when a feature has
    /// at most `bins` distinct values every distinct value starts a bin; otherwise the cuts are
    /// the values at ranks `ceil(j n / bins)` of the sorted non-missing values (duplicates
    /// merged), so each bin holds about `n / bins` rows.
    pub fn compute(x: &Features, bins: usize) -> Cuts {
        let cuts = sorted_features(x).into_par_iter().map(|sorted| feature_cuts(&sorted, bins)).collect();
        Cuts { cuts }
    }

    /// Cuts from every process's [`Sketch`] (data-parallel training): the same rule as
    /// [`Cuts::compute`] applied to the merged summaries, so exactly [`Cuts::compute`]'s cuts of
    /// all rows when each sketch is exact, and quantiles within one sketch step of them
    /// otherwise.
    ///
    /// # Errors
    /// Sketches of different feature counts, or none.
    pub fn from_sketches(sketches: &[Sketch], bins: usize) -> Result<Cuts> {
        let f =
            sketches.first().map(|s| s.features.len()).ok_or_else(|| Error::InvalidArgument("no sketches".into()))?;
        if let Some(s) = sketches.iter().find(|s| s.features.len() != f) {
            return Err(Error::InvalidArgument(format!("sketches of {} and {f} features", s.features.len())));
        }
        let cuts = (0..f)
            .into_par_iter()
            .map(|j| {
                let mut runs: Vec<(u32, u64)> =
                    sketches.iter().flat_map(|s| s.features[j].iter().map(|(v, n)| (order_key(*v), *n))).collect();
                runs.sort_by_key(|r| r.0);
                runs.dedup_by(|later, first| {
                    let same = later.0 == first.0;
                    if same {
                        first.1 += later.1;
                    }
                    same
                });
                let runs: Vec<(f32, u64)> = runs.into_iter().map(|(k, n)| (from_order_key(k), n)).collect();
                run_cuts(&runs, bins)
            })
            .collect();
        Ok(Cuts { cuts })
    }

    /// From given cut points (imported models, tests); each list must be increasing.
    pub fn from_lists(cuts: Vec<Vec<f32>>) -> Cuts {
        Cuts { cuts }
    }

    /// The cuts of feature `f`.
    pub fn feature(&self, f: usize) -> &[f32] {
        &self.cuts[f]
    }

    /// Features.
    pub fn features(&self) -> usize {
        self.cuts.len()
    }

    /// The bin of `x` in feature `f`.
    #[inline]
    pub fn bin(&self, f: usize, x: f32) -> u8 {
        if x.is_nan() {
            MISSING
        } else {
            self.cuts[f].partition_point(|c| *c <= x) as u8
        }
    }

    /// The row-major bin matrix of `x` (`rows * cols` bytes).
    pub fn bin_matrix(&self, x: &Features) -> Vec<u8> {
        let mut out = vec![0u8; x.rows * x.cols];
        if x.cols == 0 {
            return out;
        }
        out.par_chunks_mut(x.cols * 1024).zip(x.values.par_chunks(x.cols * 1024)).for_each(|(o, v)| {
            for (i, (b, x)) in o.iter_mut().zip(v).enumerate() {
                *b = self.bin(i % self.cuts.len(), *x);
            }
        });
        out
    }
}

/// The bits of `x` as an unsigned key that orders as `f32::total_cmp` orders the values.
#[inline]
fn order_key(x: f32) -> u32 {
    let b = x.to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 0x8000_0000
    }
}

#[inline]
fn from_order_key(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & 0x7fff_ffff } else { !k })
}

/// `keys` ascending, by a least-significant-digit radix sort (11, 11 and 10 bits; a pass whose
/// digit is the same for every key is skipped). Written here rather than taken from a crate:
/// it is 20 lines, and for the 32-bit keys of a feature's values (one sort per feature, the
/// features in parallel) it is several times faster than a comparison sort.
fn radix_sort(mut keys: Vec<u32>) -> Vec<u32> {
    let mut other = vec![0u32; keys.len()];
    for (shift, bits) in [(0u32, 11u32), (11, 11), (22, 10)] {
        let mask = (1u32 << bits) - 1;
        let mut count = vec![0usize; 1 << bits];
        for k in &keys {
            count[((k >> shift) & mask) as usize] += 1;
        }
        if count.contains(&keys.len()) {
            continue;
        }
        let mut at = 0;
        for c in count.iter_mut() {
            let n = *c;
            *c = at;
            at += n;
        }
        for k in &keys {
            let d = ((k >> shift) & mask) as usize;
            other[count[d]] = *k;
            count[d] += 1;
        }
        std::mem::swap(&mut keys, &mut other);
    }
    keys
}

/// Each feature's non-missing values, sorted (one pass over the row-major values deals them
/// out to their features: a pass per feature would read the whole matrix once per feature).
fn sorted_features(x: &Features) -> Vec<Vec<f32>> {
    let mut keys: Vec<Vec<u32>> = (0..x.cols).map(|_| Vec::with_capacity(x.rows)).collect();
    for row in x.values.chunks_exact(x.cols.max(1)) {
        for (k, v) in keys.iter_mut().zip(row) {
            if !v.is_nan() {
                k.push(order_key(*v));
            }
        }
    }
    keys.into_par_iter().map(|k| radix_sort(k).into_iter().map(from_order_key).collect()).collect()
}

/// One process's summary of its feature values for [`Cuts::from_sketches`]: per feature,
/// ascending `(value, rows)` runs. Exact (every distinct value and its count) when a feature has
/// at most `size` distinct values on this process; otherwise `size` values at evenly spaced
/// ranks, each standing for the rows up to the next one.
///
/// ```
/// use ember_gbdt::{Cuts, Features, Sketch};
/// let x: Vec<f32> = (0..1000).map(|i| (i % 50) as f32).collect();
/// let (a, b) = (Features::from_row_major(x[..400].to_vec(), 400, 1)?, Features::from_row_major(x[400..].to_vec(), 600, 1)?);
/// // Each process sketches its own rows and sends the bytes; one merge gives the cuts.
/// let sketches = [Sketch::of(&a, 256), Sketch::from_bytes(&Sketch::of(&b, 256).to_bytes())?];
/// let all = Features::from_row_major(x, 1000, 1)?;
/// assert_eq!(Cuts::from_sketches(&sketches, 255)?, Cuts::compute(&all, 255)); // 50 values: exact
/// # Ok::<(), ember_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Sketch {
    features: Vec<Vec<(f32, u64)>>,
}

impl Sketch {
    /// The sketch of `x`'s columns with at most `size` runs per feature.
    pub fn of(x: &Features, size: usize) -> Sketch {
        let size = size.max(1);
        let features = sorted_features(x)
            .into_par_iter()
            .map(|sorted| {
                let mut runs: Vec<(f32, u64)> = Vec::new();
                for v in &sorted {
                    match runs.last_mut() {
                        Some((last, n)) if last.to_bits() == v.to_bits() => *n += 1,
                        _ => runs.push((*v, 1)),
                    }
                }
                if runs.len() <= size {
                    return runs;
                }
                let n = sorted.len();
                let rank = |i: usize| i * n / size;
                (0..size).map(|i| (sorted[rank(i)], (rank(i + 1) - rank(i)) as u64)).collect()
            })
            .collect();
        Sketch { features }
    }

    /// The sketch as bytes (little-endian: feature count, then per feature its run count and
    /// `(f32 bits, u64 rows)` runs), to send between processes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = (self.features.len() as u32).to_le_bytes().to_vec();
        for runs in &self.features {
            out.extend((runs.len() as u32).to_le_bytes());
            for (v, n) in runs {
                out.extend(v.to_bits().to_le_bytes());
                out.extend(n.to_le_bytes());
            }
        }
        out
    }

    /// [`Sketch::to_bytes`]'s inverse.
    ///
    /// # Errors
    /// Bytes that are not a sketch (truncated, or runs out of order).
    pub fn from_bytes(b: &[u8]) -> Result<Sketch> {
        let bad = || Error::InvalidArgument("not a GBDT sketch (truncated or corrupt bytes)".into());
        let mut at = 0usize;
        let mut take = |k: usize| -> Result<&[u8]> {
            let s = b.get(at..at + k).ok_or_else(bad)?;
            at += k;
            Ok(s)
        };
        let u32_of = |s: &[u8]| u32::from_le_bytes(s.try_into().expect("4 bytes"));
        let f = u32_of(take(4)?) as usize;
        let mut features = Vec::with_capacity(f.min(1 << 16));
        for _ in 0..f {
            let len = u32_of(take(4)?) as usize;
            let mut runs: Vec<(f32, u64)> = Vec::with_capacity(len.min(1 << 20));
            for _ in 0..len {
                let v = f32::from_bits(u32_of(take(4)?));
                let n = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
                if v.is_nan() || runs.last().is_some_and(|(l, _)| order_key(*l) >= order_key(v)) {
                    return Err(bad());
                }
                runs.push((v, n));
            }
            features.push(runs);
        }
        if at != b.len() {
            return Err(bad());
        }
        Ok(Sketch { features })
    }
}

/// [`feature_cuts`] of the sorted values that `runs` (ascending `(value, count)`) stand for.
fn run_cuts(runs: &[(f32, u64)], bins: usize) -> Vec<f32> {
    let n: u64 = runs.iter().map(|r| r.1).sum();
    if n == 0 {
        return Vec::new();
    }
    let first = runs[0].0;
    let mut cuts: Vec<f32> = Vec::new();
    let mut push = |c: f32| {
        if c > first && cuts.last().is_none_or(|l| c > *l) {
            cuts.push(c);
        }
    };
    let distinct = 1 + runs.windows(2).filter(|w| w[1].0 > w[0].0).count();
    if distinct <= bins {
        for w in runs.windows(2) {
            if w[1].0 > w[0].0 {
                push(w[1].0);
            }
        }
    } else {
        // The run holding each rank, walking the runs once.
        let (mut i, mut end) = (0usize, runs[0].1);
        for j in 1..bins as u64 {
            let rank = (j * n).div_ceil(bins as u64);
            if rank >= n {
                continue;
            }
            while end <= rank {
                i += 1;
                end += runs[i].1;
            }
            push(runs[i].0);
        }
    }
    cuts
}

/// Cuts of one feature from its sorted non-missing values (-0.0 and 0.0 are one value: the
/// comparison `x < cut` cannot tell them apart).
fn feature_cuts(sorted: &[f32], bins: usize) -> Vec<f32> {
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    let mut cuts: Vec<f32> = Vec::new();
    let mut push = |c: f32| {
        if c > sorted[0] && cuts.last().is_none_or(|l| c > *l) {
            cuts.push(c);
        }
    };
    let mut distinct = 1;
    for w in sorted.windows(2) {
        if w[1] > w[0] {
            distinct += 1;
            if distinct > bins {
                break;
            }
        }
    }
    if distinct <= bins {
        for w in sorted.windows(2) {
            if w[1] > w[0] {
                push(w[1]);
            }
        }
    } else {
        for j in 1..bins {
            let rank = (j * n).div_ceil(bins);
            if rank < n {
                push(sorted[rank]);
            }
        }
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_orders_as_total_cmp() {
        let mut s = 7u64;
        let mut v: Vec<f32> = vec![0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::MIN_POSITIVE, -1e-45, 1e-45];
        for _ in 0..50_000 {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let x = f32::from_bits((s >> 32) as u32);
            v.push(if x.is_nan() { (s % 1000) as f32 - 500.0 } else { x });
        }
        let mut expected = v.clone();
        expected.sort_by(f32::total_cmp);
        let got: Vec<f32> =
            radix_sort(v.into_iter().map(order_key).collect()).into_iter().map(from_order_key).collect();
        assert!(got.iter().zip(&expected).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert_eq!(radix_sort(vec![5, 5, 5]), vec![5, 5, 5]);
        assert!(radix_sort(Vec::new()).is_empty());
    }

    #[test]
    fn merged_sketches_give_the_cuts_of_all_rows() {
        let mut s = 11u64;
        let mut next = || {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            s >> 33
        };
        // feature 0: 5000 distinct-ish values; feature 1: 7 values; feature 2: with NaNs and ±0.
        let rows = 6000;
        let mut v = Vec::with_capacity(rows * 3);
        for r in 0..rows {
            v.push((next() % 5000) as f32 / 7.0);
            v.push((next() % 7) as f32);
            v.push(match r % 5 {
                0 => f32::NAN,
                1 => -0.0,
                2 => 0.0,
                _ => (next() % 100) as f32 - 50.0,
            });
        }
        let all = Features::from_row_major(v.clone(), rows, 3).unwrap();
        let shard = |a: usize, b: usize| Features::from_row_major(v[a * 3..b * 3].to_vec(), b - a, 3).unwrap();
        let parts = [shard(0, 1000), shard(1000, 3500), shard(3500, rows)];
        for bins in [4usize, 16, 255] {
            let want = Cuts::compute(&all, bins);
            // Exact sketches (every distinct value fits): the same cuts.
            let exact: Vec<Sketch> = parts.iter().map(|p| Sketch::of(p, 1 << 20)).collect();
            let round: Vec<Sketch> = exact.iter().map(|s| Sketch::from_bytes(&s.to_bytes()).unwrap()).collect();
            assert_eq!(round, exact);
            assert_eq!(Cuts::from_sketches(&exact, bins).unwrap(), want, "{bins} bins");
            // Sketches of 4 runs per bin (ember.distributed uses 8): every cut of feature 0
            // within about a sketch step (1/64 of its 0..714 range here) of the exact one.
            let small: Vec<Sketch> = parts.iter().map(|p| Sketch::of(p, 4 * bins)).collect();
            let approx = Cuts::from_sketches(&small, bins).unwrap();
            assert_eq!(approx.feature(1), want.feature(1), "few values stay exact");
            assert_eq!(approx.feature(0).len(), want.feature(0).len(), "{bins} bins");
            let step = 714.0 / (4 * bins) as f32;
            for (a, w) in approx.feature(0).iter().zip(want.feature(0)) {
                assert!((a - w).abs() <= 2.0 * step, "{a} vs {w} with {bins} bins");
            }
        }
        assert!(Sketch::from_bytes(&[1, 0, 0]).is_err());
        assert!(Cuts::from_sketches(&[], 4).is_err());
    }

    #[test]
    fn few_distinct_values_get_a_bin_each() {
        assert_eq!(feature_cuts(&[1.0, 1.0, 2.0, 3.0, 3.0], 8), vec![2.0, 3.0]);
        assert_eq!(feature_cuts(&[5.0, 5.0], 8), Vec::<f32>::new());
        assert_eq!(feature_cuts(&[-0.0, 0.0, 1.0], 8), vec![1.0]);
    }

    #[test]
    fn quantile_cuts_split_rows_evenly() {
        let v: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let c = feature_cuts(&v, 4);
        assert_eq!(c, vec![250.0, 500.0, 750.0]);
        let x = Features::from_row_major(v.clone(), 1000, 1).unwrap();
        let cuts = Cuts::from_lists(vec![c]);
        let bins = cuts.bin_matrix(&x);
        for b in 0..4u8 {
            assert_eq!(bins.iter().filter(|x| **x == b).count(), 250);
        }
    }

    #[test]
    fn values_at_cuts_go_right_and_nan_is_missing() {
        let cuts = Cuts::from_lists(vec![vec![1.0, 2.0]]);
        assert_eq!(cuts.bin(0, 0.5), 0);
        assert_eq!(cuts.bin(0, 1.0), 1); // x < 1.0 is false: right of the first cut
        assert_eq!(cuts.bin(0, 1.5), 1);
        assert_eq!(cuts.bin(0, 2.0), 2);
        assert_eq!(cuts.bin(0, f32::INFINITY), 2);
        assert_eq!(cuts.bin(0, f32::NEG_INFINITY), 0);
        assert_eq!(cuts.bin(0, f32::NAN), MISSING);
    }
}
