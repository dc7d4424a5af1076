//! Binning: per-feature cut points, computed once on the host and shared by every backend, and
//! the row-major `u8` bin matrix the histograms read.
//!
//! A feature's cuts are increasing `f32` values; a value's bin is the number of cuts `<=` it, so
//! a split "bins `<= b` go left" is exactly the test `x < cuts[b]` that xgboost's JSON stores.
//! Missing values (NaN) get [`MISSING`].
use crate::data::Features;
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
        // One pass over the row-major values deals them out to their features (a pass per
        // feature would read the whole matrix once per feature).
        let mut keys: Vec<Vec<u32>> = (0..x.cols).map(|_| Vec::with_capacity(x.rows)).collect();
        for row in x.values.chunks_exact(x.cols.max(1)) {
            for (k, v) in keys.iter_mut().zip(row) {
                if !v.is_nan() {
                    k.push(order_key(*v));
                }
            }
        }
        let cuts = keys
            .into_par_iter()
            .map(|k| {
                let sorted: Vec<f32> = radix_sort(k).into_iter().map(from_order_key).collect();
                feature_cuts(&sorted, bins)
            })
            .collect();
        Cuts { cuts }
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
