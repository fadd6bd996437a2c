//! Generic evaluation of scores against 0/1 truth: precision, recall and F1 at a threshold, and the
//! precision/recall curve over every threshold. Nothing here knows about labels (`vsearch eval labels`
//! feeds it label scores); the same code serves any score-and-truth pairs.
//!
//! Conventions: an item is predicted positive when its score is at or above the threshold. Precision with
//! no predicted positive is 1 (nothing claimed, nothing wrong), recall with no true positive is 1; F1 is
//! `2PR / (P + R)`, 0 when both are 0.

use serde::{Deserialize, Serialize};

/// Counts and rates at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrPoint {
    /// Items scoring at or above this are predicted positive.
    pub threshold: f32,
    /// True positives.
    pub tp: usize,
    /// False positives.
    pub fp: usize,
    /// False negatives.
    #[serde(rename = "fn")]
    pub fn_: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// F1 of a precision and a recall (0 when both are 0).
pub fn f1(precision: f64, recall: f64) -> f64 {
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

fn point(threshold: f32, tp: usize, fp: usize, fn_: usize) -> PrPoint {
    let precision = if tp + fp == 0 {
        1.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = if tp + fn_ == 0 {
        1.0
    } else {
        tp as f64 / (tp + fn_) as f64
    };
    PrPoint {
        threshold,
        tp,
        fp,
        fn_,
        precision,
        recall,
        f1: f1(precision, recall),
    }
}

/// Precision, recall and F1 of `scores` against `truth` (pairs, same length) at `threshold`.
pub fn at_threshold(scores: &[f32], truth: &[bool], threshold: f32) -> PrPoint {
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for (&s, &t) in scores.iter().zip(truth) {
        match (s >= threshold, t) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    point(threshold, tp, fp, fn_)
}

/// The precision/recall curve: one point per distinct score (as threshold), from the highest score (few
/// predicted positives) to the lowest (all of them), in O(n log n).
pub fn pr_curve(scores: &[f32], truth: &[bool]) -> Vec<PrPoint> {
    let mut pairs: Vec<(f32, bool)> = scores
        .iter()
        .copied()
        .zip(truth.iter().copied())
        .filter(|(s, _)| !s.is_nan())
        .collect();
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let positives = pairs.iter().filter(|(_, t)| *t).count();
    let mut curve = Vec::new();
    let (mut tp, mut fp) = (0, 0);
    let mut i = 0;
    while i < pairs.len() {
        let threshold = pairs[i].0;
        while i < pairs.len() && pairs[i].0 == threshold {
            if pairs[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        curve.push(point(threshold, tp, fp, positives - tp));
    }
    curve
}

/// The area under a PR curve by the step rule (average precision: precision at each rise of recall,
/// weighted by the rise).
pub fn average_precision(curve: &[PrPoint]) -> f64 {
    let mut previous_recall = 0.0;
    let mut area = 0.0;
    for p in curve {
        area += (p.recall - previous_recall) * p.precision;
        previous_recall = p.recall;
    }
    area
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_at_a_threshold() {
        let scores = [0.9, 0.8, 0.4, 0.3, 0.6];
        let truth = [true, false, true, false, true];
        let p = at_threshold(&scores, &truth, 0.5);
        assert_eq!((p.tp, p.fp, p.fn_), (2, 1, 1));
        assert!((p.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((p.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((p.f1 - 2.0 / 3.0).abs() < 1e-12);
        // Nothing predicted: precision 1, recall 0, F1 0.
        let p = at_threshold(&scores, &truth, 0.95);
        assert_eq!((p.precision, p.recall, p.f1), (1.0, 0.0, 0.0));
    }

    #[test]
    fn the_curve_has_a_point_per_distinct_score_and_agrees_with_at_threshold() {
        let scores = [0.9, 0.8, 0.8, 0.3, 0.6];
        let truth = [true, false, true, false, true];
        let curve = pr_curve(&scores, &truth);
        let thresholds: Vec<f32> = curve.iter().map(|p| p.threshold).collect();
        assert_eq!(thresholds, [0.9, 0.8, 0.6, 0.3]);
        for p in &curve {
            assert_eq!(*p, at_threshold(&scores, &truth, p.threshold));
        }
        assert_eq!(curve.last().map(|p| p.recall), Some(1.0));
        // AP: recall 1/3 at P 1, 2/3 at P 2/3, 1 at P 3/4.
        let ap = average_precision(&curve);
        assert!((ap - (1.0 / 3.0 + (1.0 / 3.0) * (2.0 / 3.0) + (1.0 / 3.0) * 0.75)).abs() < 1e-12);
    }
}
