//! Ranking figures: NDCG@k and reciprocal rank of binary relevance.

/// NDCG@`k` of a list whose results are relevant or not (`relevant`, in the order ranked), against the
/// ideal list that puts `total_relevant` relevant results first (at least those in `relevant`);
/// `None` when nothing is relevant.
pub fn ndcg_at(k: usize, relevant: &[bool], total_relevant: usize) -> Option<f64> {
    let total = total_relevant.max(relevant.iter().filter(|r| **r).count());
    if total == 0 {
        return None;
    }
    let gain = |i: usize| 1.0 / ((i + 2) as f64).log2();
    let dcg: f64 = relevant
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, r)| **r)
        .map(|(i, _)| gain(i))
        .sum();
    let ideal: f64 = (0..total.min(k)).map(gain).sum();
    Some(dcg / ideal)
}

/// 1 / the 1-based position of the first relevant result, 0 when none is.
pub fn reciprocal_rank(relevant: &[bool]) -> f64 {
    relevant
        .iter()
        .position(|r| *r)
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// Means of NDCG@10 and reciprocal rank over lists.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct RankingFigures {
    /// Lists measured (those with something relevant).
    pub lists: usize,
    pub ndcg_at_10: f64,
    pub mrr: f64,
}

impl RankingFigures {
    /// The figures of `lists`: each the relevance in the order ranked, and how many are relevant in all.
    pub fn of<'a>(lists: impl IntoIterator<Item = (&'a [bool], usize)>) -> Self {
        let mut out = Self::default();
        for (relevant, total) in lists {
            if let Some(ndcg) = ndcg_at(10, relevant, total) {
                out.lists += 1;
                out.ndcg_at_10 += ndcg;
                out.mrr += reciprocal_rank(relevant);
            }
        }
        if out.lists > 0 {
            out.ndcg_at_10 /= out.lists as f64;
            out.mrr /= out.lists as f64;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndcg_matches_the_definition() {
        assert_eq!(ndcg_at(10, &[true, true, false], 2), Some(1.0));
        assert_eq!(ndcg_at(10, &[false, false], 0), None);
        // One relevant result at position 2: 1/log2(3).
        let got = ndcg_at(10, &[false, true], 1).unwrap();
        assert!((got - 1.0 / 3f64.log2()).abs() < 1e-12);
        // Two relevant in all, one found at position 1: 1 / (1 + 1/log2(3)).
        let got = ndcg_at(10, &[true, false], 2).unwrap();
        assert!((got - 1.0 / (1.0 + 1.0 / 3f64.log2())).abs() < 1e-12);
        assert_eq!(reciprocal_rank(&[false, false, true]), 1.0 / 3.0);
        assert_eq!(reciprocal_rank(&[false]), 0.0);
    }
}
