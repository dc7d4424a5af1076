//! Evaluation metrics over margins (host, f64, row order: the same on every device).
use crate::math;
use crate::objective::softmax_at;
use crate::params::Metric;

/// `metric` of `margins` (`rows * groups`) against labels and optional weights.
pub fn evaluate(metric: Metric, margins: &[f32], groups: usize, y: &[f32], w: Option<&[f32]>) -> f64 {
    let wt = |i: usize| w.map_or(1.0, |w| w[i] as f64);
    let clip = |p: f64| p.clamp(1e-16, 1.0 - 1e-16);
    match metric {
        Metric::Rmse => {
            let (mut s, mut sw) = (0.0, 0.0);
            for (i, y) in y.iter().enumerate() {
                let d = margins[i * groups] as f64 - *y as f64;
                s += d * d * wt(i);
                sw += wt(i);
            }
            (s / sw).sqrt()
        }
        Metric::LogLoss => {
            let (mut s, mut sw) = (0.0, 0.0);
            for (i, y) in y.iter().enumerate() {
                let p = clip(math::sigmoid(margins[i * groups] as f64));
                let y = *y as f64;
                s -= (y * math::ln(p) + (1.0 - y) * math::ln(1.0 - p)) * wt(i);
                sw += wt(i);
            }
            s / sw
        }
        Metric::MLogLoss => {
            let (mut s, mut sw) = (0.0, 0.0);
            for (i, y) in y.iter().enumerate() {
                let p = clip(softmax_at(&margins[i * groups..(i + 1) * groups], *y as usize));
                s -= math::ln(p) * wt(i);
                sw += wt(i);
            }
            s / sw
        }
        Metric::Auc => auc(&(0..y.len()).map(|i| margins[i * groups]).collect::<Vec<_>>(), y, w),
    }
}

/// Weighted ROC AUC, tied scores counted half (the trapezoid rule); 0.5 when one class is absent.
pub fn auc(scores: &[f32], y: &[f32], w: Option<&[f32]>) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    let (mut tp, mut fp, mut area) = (0.0f64, 0.0f64, 0.0f64);
    let mut i = 0;
    while i < order.len() {
        let (mut dtp, mut dfp) = (0.0, 0.0);
        let s = scores[order[i]];
        while i < order.len() && scores[order[i]] == s {
            let r = order[i];
            let wt = w.map_or(1.0, |w| w[r] as f64);
            if y[r] > 0.5 {
                dtp += wt;
            } else {
                dfp += wt;
            }
            i += 1;
        }
        area += dfp * (tp + dtp / 2.0);
        tp += dtp;
        fp += dfp;
    }
    if tp == 0.0 || fp == 0.0 {
        0.5
    } else {
        area / (tp * fp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_perfect_random_and_tied_scores() {
        let y = [0.0, 0.0, 1.0, 1.0];
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &y, None), 1.0);
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &y, None), 0.0);
        assert_eq!(auc(&[0.5; 4], &y, None), 0.5);
        assert_eq!(auc(&[0.1, 0.4, 0.35, 0.8], &y, None), 0.75);
    }

    #[test]
    fn rmse_and_logloss() {
        assert_eq!(evaluate(Metric::Rmse, &[1.0, 3.0], 1, &[1.0, 1.0], None), 2f64.sqrt());
        let ll = evaluate(Metric::LogLoss, &[0.0], 1, &[1.0], None);
        assert!((ll - std::f64::consts::LN_2).abs() < 1e-15);
    }
}
