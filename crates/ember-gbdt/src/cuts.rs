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
        let cuts = (0..x.cols)
            .into_par_iter()
            .map(|c| {
                let mut v: Vec<f32> = (0..x.rows).map(|r| x.values[r * x.cols + c]).filter(|v| !v.is_nan()).collect();
                v.par_sort_unstable_by(f32::total_cmp);
                feature_cuts(&v, bins)
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
