//! Evaluating a pair classifier against truth: precision, recall and F1 of a set of predicted pairs,
//! the precision/recall curve of scored pairs over thresholds, the threshold of best F1, a Markdown
//! table, and the truth CSV (`path_a,path_b,is_copy`). Generic: used by `vsearch eval dupes`, and by
//! any evaluation whose answers are scored pairs (or items) with a yes/no truth.

use crate::types::error::{EngineError, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;

/// Precision, recall and F1 of a prediction, with its counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// True positives.
    pub tp: usize,
    /// False positives.
    pub fp: usize,
    /// False negatives (truth positives not predicted).
    pub fn_: usize,
    /// `tp / (tp + fp)`, 1 when nothing is predicted.
    pub precision: f64,
    /// `tp / (tp + fn)`, 1 when the truth has no positive.
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
}

impl Metrics {
    /// From counts.
    pub fn from_counts(tp: usize, fp: usize, fn_: usize) -> Self {
        let ratio = |n: usize, d: usize| if d == 0 { 1.0 } else { n as f64 / d as f64 };
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Self {
            tp,
            fp,
            fn_,
            precision,
            recall,
            f1,
        }
    }

    /// Metrics of a set of predicted items against the set of true ones.
    pub fn of_sets<T: std::hash::Hash + Eq>(predicted: &HashSet<T>, truth: &HashSet<T>) -> Self {
        let tp = predicted.intersection(truth).count();
        Self::from_counts(tp, predicted.len() - tp, truth.len() - tp)
    }
}

/// One point of a precision/recall curve: predicting every item scoring `threshold` or more.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrPoint {
    /// The score cut.
    pub threshold: f64,
    /// The metrics at that cut.
    pub metrics: Metrics,
}

/// The precision/recall curve of scored items: `scored` holds each scored item's score and whether it is
/// truly positive; `unscored_positives` counts true positives that got no score (never predicted, e.g.
/// pairs candidate generation missed). One point per distinct score, highest threshold first. Scores that
/// are not finite are never predicted.
pub fn pr_curve(scored: &[(f64, bool)], unscored_positives: usize) -> Vec<PrPoint> {
    let mut sorted: Vec<(f64, bool)> = scored
        .iter()
        .copied()
        .filter(|(s, _)| s.is_finite())
        .collect();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let positives = scored.iter().filter(|(_, t)| *t).count() + unscored_positives;
    let mut points = Vec::new();
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < sorted.len() {
        let threshold = sorted[i].0;
        while i < sorted.len() && sorted[i].0 == threshold {
            if sorted[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        points.push(PrPoint {
            threshold,
            metrics: Metrics::from_counts(tp, fp, positives - tp),
        });
    }
    points
}

/// The point of best F1 (on ties, the highest threshold: the more cautious cut).
pub fn best_f1(points: &[PrPoint]) -> Option<PrPoint> {
    points.iter().copied().fold(None, |best, p| match best {
        Some(b) if b.metrics.f1 >= p.metrics.f1 => Some(b),
        _ => Some(p),
    })
}

/// The area under a curve from [`pr_curve`] by the step rule (average precision: the precision at each
/// rise of recall, weighted by the rise).
pub fn average_precision(points: &[PrPoint]) -> f64 {
    let mut previous_recall = 0.0;
    let mut area = 0.0;
    for p in points {
        area += (p.metrics.recall - previous_recall) * p.metrics.precision;
        previous_recall = p.metrics.recall;
    }
    area
}

/// The metrics at `threshold` on a curve from [`pr_curve`] (the lowest point still at or above it).
pub fn at_threshold(points: &[PrPoint], threshold: f64, positives: usize) -> Metrics {
    points
        .iter()
        .rev()
        .find(|p| p.threshold >= threshold)
        .map(|p| p.metrics)
        .unwrap_or_else(|| Metrics::from_counts(0, 0, positives))
}

/// The curve as a Markdown table at fixed thresholds (`thresholds`, each row the metrics of predicting
/// every item scoring at least that), for a report.
pub fn markdown_table(points: &[PrPoint], positives: usize, thresholds: &[f64]) -> String {
    let mut out = String::from(
        "| threshold | precision | recall | F1 | TP | FP | FN |\n|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for &t in thresholds {
        let m = at_threshold(points, t, positives);
        let _ = writeln!(
            out,
            "| {t:.2} | {:.3} | {:.3} | {:.3} | {} | {} | {} |",
            m.precision, m.recall, m.f1, m.tp, m.fp, m.fn_
        );
    }
    out
}

/// One row of a truth CSV.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TruthPair {
    /// First path (as written).
    pub a: String,
    /// Second path.
    pub b: String,
    /// Whether the two are copies (1) or not (0).
    pub is_copy: bool,
}

impl TruthPair {
    /// The pair's paths in sorted order (so `a,b` and `b,a` are the same pair).
    pub fn key(&self) -> (String, String) {
        ordered(&self.a, &self.b)
    }
}

/// Two paths in sorted order.
pub fn ordered(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

/// Reads a truth CSV: a header `path_a,path_b,is_copy`, then one pair a line (`is_copy` 0 or 1; paths
/// without commas). Blank lines are skipped.
pub fn read_truth_csv(path: &Path) -> Result<Vec<TruthPair>> {
    let text = std::fs::read_to_string(path).map_err(EngineError::io(path))?;
    parse_truth_csv(&text).map_err(|reason| EngineError::Truth {
        path: path.to_path_buf(),
        reason,
    })
}

/// Parses the text of a truth CSV (see [`read_truth_csv`]); the error names the bad line.
pub fn parse_truth_csv(text: &str) -> std::result::Result<Vec<TruthPair>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, header)) if header.trim() == "path_a,path_b,is_copy" => {}
        Some((_, header)) => {
            return Err(format!(
                "the header must be `path_a,path_b,is_copy`, not `{}`",
                header.trim()
            ))
        }
        None => return Err("the file is empty".into()),
    }
    let mut out = Vec::new();
    for (n, line) in lines {
        let fields: Vec<&str> = line.trim().split(',').collect();
        let [a, b, flag] = fields.as_slice() else {
            return Err(format!(
                "line {}: expected 3 fields, got {}",
                n + 1,
                fields.len()
            ));
        };
        let is_copy = match flag.trim() {
            "1" => true,
            "0" => false,
            other => {
                return Err(format!(
                    "line {}: is_copy must be 0 or 1, not `{other}`",
                    n + 1
                ))
            }
        };
        out.push(TruthPair {
            a: a.trim().to_string(),
            b: b.trim().to_string(),
            is_copy,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_counts_and_best_f1() {
        let scored = [
            (0.9, true),
            (0.8, true),
            (0.7, false),
            (0.6, true),
            (0.5, false),
        ];
        let curve = pr_curve(&scored, 1);
        assert_eq!(curve.len(), 5);
        let first = curve[0].metrics;
        assert_eq!((first.tp, first.fp, first.fn_), (1, 0, 3));
        // At 0.8: P 1, R 0.5 (F1 0.667); at 0.6: P 0.75, R 0.75 (F1 0.75), the best.
        let best = best_f1(&curve).map(|p| p.threshold);
        assert_eq!(best, Some(0.6));
        let m = at_threshold(&curve, 0.65, 4);
        assert_eq!((m.tp, m.fp, m.fn_), (2, 1, 2));
        assert!(markdown_table(&curve, 4, &[0.5, 0.9]).contains("| 0.50 |"));
    }

    #[test]
    fn truth_csv_parses_and_rejects() {
        let t = parse_truth_csv("path_a,path_b,is_copy\na.jpg,b.jpg,1\n\nc.jpg,a.jpg,0\n")
            .unwrap_or_default();
        assert_eq!(t.len(), 2);
        assert!(t[0].is_copy && !t[1].is_copy);
        assert_eq!(t[1].key(), ("a.jpg".to_string(), "c.jpg".to_string()));
        assert!(parse_truth_csv("a,b\n").is_err());
        assert!(parse_truth_csv("path_a,path_b,is_copy\na,b,2\n").is_err());
    }

    #[test]
    fn average_precision_is_the_step_area_under_the_curve() {
        // Ranked: P, N, P, N -> precision 1 at recall 0.5, 2/3 at recall 1.
        let scored = [(0.9, true), (0.8, false), (0.7, true), (0.6, false)];
        let ap = average_precision(&pr_curve(&scored, 0));
        assert!((ap - (0.5 * 1.0 + 0.5 * 2.0 / 3.0)).abs() < 1e-12, "{ap}");
        let perfect = [(0.9, true), (0.8, true), (0.1, false)];
        assert!((average_precision(&pr_curve(&perfect, 0)) - 1.0).abs() < 1e-12);
    }
}
