//! The features the re-ranker scores a candidate by: what the ranking stage knows of it when it is
//! shown, as one row of numbers ([`WIDTH`] of them, in the order of [`NAMES`]; layout [`VERSION`]).
//!
//! Each row is recorded with the search in the analytics (`ShownFeatures`), so that training reads the
//! features as they were when the page showed the result, not as they are when the model is trained.

use crate::analytics::QueryKind;

/// The layout of a row; a model is trained on, and applied to, rows of one layout.
pub const VERSION: u32 = 1;

/// Numbers in a row.
pub const WIDTH: usize = 13;

/// What each number of a row is.
pub const NAMES: [&str; WIDTH] = [
    "cosine",
    "gap_to_best",
    "log_rank",
    "agreement",
    "group_size",
    "flags",
    "log_age_days",
    "reports",
    "kind_image",
    "kind_id",
    "kind_text",
    "kind_vector",
    "kind_board",
];

/// The candidates at the head of the list that [`agreement`] compares each candidate with.
pub const AGREEMENT_HEAD: usize = 3;

/// One row of features.
pub type Row = [f32; WIDTH];

/// What the ranking stage knows of one candidate, before the re-ranker.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Candidate {
    /// Its score from retrieval (cosine similarity to the query on cosine collections).
    pub score: f32,
    /// Its 1-based rank in the retrieval order.
    pub rank: usize,
    /// The copies in its duplicate group (0 when it has none, or they are not known).
    pub group_size: u32,
    /// The labels it is flagged by.
    pub flags: u32,
    /// Its age in days (photo taken, else file date), when known.
    pub age_days: Option<f32>,
    /// Reports received about it.
    pub reports: u32,
    /// Its mean similarity to the head of the candidate list ([`agreement`]).
    pub agreement: f32,
}

/// The rows of `candidates` (in the retrieval order) of a query of kind `kind`.
pub fn rows(kind: QueryKind, candidates: &[Candidate]) -> Vec<Row> {
    let best = candidates
        .iter()
        .map(|c| c.score)
        .fold(f32::NEG_INFINITY, f32::max);
    candidates
        .iter()
        .map(|c| {
            let kinds = [
                QueryKind::Image,
                QueryKind::Id,
                QueryKind::Text,
                QueryKind::Vector,
                QueryKind::Board,
            ]
            .map(|k| f32::from(u8::from(k == kind)));
            let row = [
                c.score,
                best - c.score,
                (c.rank.max(1) as f32).ln(),
                c.agreement,
                c.group_size as f32,
                c.flags as f32,
                c.age_days.map_or(0.0, |d| d.max(0.0).ln_1p()),
                c.reports as f32,
                kinds[0],
                kinds[1],
                kinds[2],
                kinds[3],
                kinds[4],
            ];
            row.map(|v| if v.is_finite() { v } else { 0.0 })
        })
        .collect()
}

/// Each candidate's mean cosine similarity to the first [`AGREEMENT_HEAD`] candidates other than
/// itself (`vectors` in the retrieval order): a candidate like the head of the list is likelier what
/// the query is after than one that is near the query alone (pseudo-relevance feedback).
pub fn agreement(vectors: &[Vec<f32>]) -> Vec<f32> {
    let norms: Vec<f32> = vectors
        .iter()
        .map(|v| v.iter().map(|x| x * x).sum::<f32>().sqrt())
        .collect();
    let cosine = |a: usize, b: usize| {
        let dot: f32 = vectors[a].iter().zip(&vectors[b]).map(|(x, y)| x * y).sum();
        let norm = norms[a] * norms[b];
        if norm > 0.0 {
            dot / norm
        } else {
            0.0
        }
    };
    (0..vectors.len())
        .map(|i| {
            let head: Vec<usize> = (0..vectors.len())
                .filter(|&j| j != i)
                .take(AGREEMENT_HEAD)
                .collect();
            if head.is_empty() {
                return 0.0;
            }
            head.iter().map(|&j| cosine(i, j)).sum::<f32>() / head.len() as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_the_names() {
        let candidates = [
            Candidate {
                score: 0.9,
                rank: 1,
                ..Candidate::default()
            },
            Candidate {
                score: 0.5,
                rank: 2,
                group_size: 3,
                flags: 1,
                age_days: Some(10.0),
                reports: 2,
                agreement: 0.4,
            },
        ];
        let rows = rows(QueryKind::Id, &candidates);
        let at = |name: &str| NAMES.iter().position(|n| *n == name).unwrap();
        assert_eq!(rows[1][at("cosine")], 0.5);
        assert!((rows[1][at("gap_to_best")] - 0.4).abs() < 1e-6);
        assert_eq!(rows[0][at("log_rank")], 0.0);
        assert_eq!(rows[1][at("group_size")], 3.0);
        assert_eq!(rows[1][at("reports")], 2.0);
        assert!((rows[1][at("log_age_days")] - 11f32.ln()).abs() < 1e-6);
        assert_eq!(rows[1][at("kind_id")], 1.0);
        assert_eq!(rows[1][at("kind_text")], 0.0);
    }

    #[test]
    fn agreement_is_the_mean_similarity_to_the_head() {
        let v = vec![
            vec![1.0, 0.0],
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![1.0, 0.0],
        ];
        let a = agreement(&v);
        // The last one: like the first two, unlike the third.
        assert!((a[3] - 2.0 / 3.0).abs() < 1e-6);
        assert!((a[2] - 0.0).abs() < 1e-6);
    }
}
