//! The ranking stage itself: candidates in retrieval's order in, results in their final order out, each
//! with its original rank and score, its copies, and what the boosts added.
//!
//! **Pages stay consistent.** Only the first `pool` candidates (retrieval's best `k x factor`, the same
//! for every page of a query) are re-ordered; the candidates after them follow in retrieval's order (copies
//! of a result already given are left out there too). So page `n` of a query is always the same slice of
//! one list, however far retrieval was asked to look for it.

use crate::ranking::boosts::Adjustment;
use crate::ranking::copies::{self, StoredCopies};
use crate::ranking::diversity::mmr;
use crate::ranking::features::{self, Candidate, Features, ListFacts, QueryKind};
use crate::ranking::options::RankOptions;
use crate::ranking::rescorer::Rescorer;
use crate::types::image_id::ImageId;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What the stage needs besides the candidates.
#[derive(Debug, Clone, Copy)]
pub struct Stage<'a> {
    pub options: &'a RankOptions,
    pub query: QueryKind,
    /// A learned re-scorer, when one is served.
    pub rescorer: Option<&'a dyn Rescorer>,
    /// The copy groups stored in the records folder.
    pub stored: Option<&'a StoredCopies>,
    /// Candidates re-ordered (retrieval's first `pool`); the rest keep retrieval's order.
    pub pool: usize,
    /// Whether higher scores are better (cosine); `false` for L2 distances.
    pub higher_is_better: bool,
    /// The time recency is measured from.
    pub now: jiff::Timestamp,
}

/// One result of the stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedResult {
    pub id: ImageId,
    pub path: String,
    /// The final score (retrieval's score when no step changed it).
    pub score: f32,
    /// Retrieval's 1-based rank.
    pub original_rank: usize,
    /// Retrieval's score.
    pub original_score: f32,
    /// The other copies of the picture among the candidates, best first (collapse only).
    pub copies: Vec<ImageId>,
    /// What the boosts added to the score.
    pub adjustments: Vec<Adjustment>,
    /// Its features as the stage computed them (what a re-scorer read; the analytics record them with
    /// what is shown, for the next training).
    pub features: Features,
}

/// The stage's answer: results in their final order and the steps that ran.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ranked {
    pub results: Vec<RankedResult>,
    /// Step names in the order they ran: `rescore:NAME`, `boosts`, `collapse`, `diversity`.
    pub steps: Vec<String>,
}

/// Runs the stage over `candidates` (retrieval's order); see the [module](self).
pub fn rank(candidates: Vec<Candidate>, stage: &Stage<'_>) -> Ranked {
    let options = stage.options;
    let sign = if stage.higher_is_better { 1.0 } else { -1.0 };
    let mut steps = Vec::new();
    if let Some(r) = stage.rescorer {
        steps.push(format!("rescore:{}", r.name()));
    }
    if options.boosts.any() {
        steps.push("boosts".to_string());
    }
    if options.collapse {
        steps.push("collapse".to_string());
    }
    if options.diversity > 0.0 {
        steps.push("diversity".to_string());
    }
    let roots: Vec<usize> = if options.collapse {
        copies::group(&candidates, stage.stored)
    } else {
        (0..candidates.len()).collect()
    };
    let mut sizes: HashMap<usize, usize> = HashMap::new();
    for r in &roots {
        *sizes.entry(*r).or_default() += 1;
    }
    let pool = stage.pool.min(candidates.len());
    let list = ListFacts::of(&candidates, stage.higher_is_better, stage.query, stage.now);
    let features: Vec<Features> = candidates
        .iter()
        .zip(features::agreement(&candidates))
        .zip(&roots)
        .map(|((c, agreement), root)| Features::of(c, sizes[root], agreement, &list))
        .collect();
    // Relevance of the pool's candidates: the re-scorer's or the score, plus the boosts.
    let mut scored: Vec<(usize, f32, Vec<Adjustment>)> = (0..pool)
        .map(|i| {
            let c = &candidates[i];
            let features = &features[i];
            let base = match stage.rescorer {
                Some(r) => r.score(features),
                None => sign * c.score,
            };
            let adjustments = options.boosts.adjustments(features);
            let relevance = base + adjustments.iter().map(|a| a.amount).sum::<f32>();
            (i, relevance, adjustments)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    // Collapse: the first of each group in this order leads it.
    let mut leaders: Vec<(usize, f32, Vec<Adjustment>, Vec<usize>)> = Vec::new();
    let mut leader_of: HashMap<usize, usize> = HashMap::new();
    for (i, relevance, adjustments) in scored {
        match leader_of.get(&roots[i]) {
            Some(&l) => leaders[l].3.push(i),
            None => {
                leader_of.insert(roots[i], leaders.len());
                leaders.push((i, relevance, adjustments, Vec::new()));
            }
        }
    }
    if options.diversity > 0.0 {
        let relevance: Vec<f32> = leaders.iter().map(|l| l.1).collect();
        let vectors: Vec<Option<&[f32]>> = leaders
            .iter()
            .map(|l| candidates[l.0].facts.vector.as_deref())
            .collect();
        let order = mmr(&relevance, &vectors, options.diversity);
        let mut taken: Vec<Option<_>> = leaders.into_iter().map(Some).collect();
        leaders = order.into_iter().filter_map(|i| taken[i].take()).collect();
        leader_of = leaders
            .iter()
            .enumerate()
            .map(|(at, l)| (roots[l.0], at))
            .collect();
    }
    // The rest, in retrieval's order.
    for (i, c) in candidates.iter().enumerate().skip(pool) {
        match leader_of.get(&roots[i]) {
            Some(&l) => leaders[l].3.push(i),
            None => {
                leader_of.insert(roots[i], leaders.len());
                leaders.push((i, sign * c.score, Vec::new(), Vec::new()));
            }
        }
    }
    let results = leaders
        .into_iter()
        .map(|(i, relevance, adjustments, copies)| {
            let c = &candidates[i];
            RankedResult {
                id: c.id,
                path: c.path.clone(),
                score: sign * relevance,
                original_rank: c.rank,
                original_score: c.score,
                copies: copies.into_iter().map(|j| candidates[j].id).collect(),
                adjustments,
                features: features[i].clone(),
            }
        })
        .collect();
    Ranked { results, steps }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranking::features::CandidateFacts;

    fn candidate(id: u64, score: f32, hash: &str, vector: [f32; 2]) -> Candidate {
        Candidate {
            id: ImageId::Number(id),
            path: format!("{id}.jpg"),
            score,
            rank: id as usize,
            facts: CandidateFacts {
                hash: Some(hash.into()),
                vector: Some(vector.to_vec()),
                ..CandidateFacts::default()
            },
        }
    }

    fn stage(options: &RankOptions, pool: usize) -> Stage<'_> {
        Stage {
            options,
            query: QueryKind::Id,
            rescorer: None,
            stored: None,
            pool,
            higher_is_better: true,
            now: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    fn ids(r: &Ranked) -> Vec<u64> {
        r.results.iter().filter_map(|x| x.id.number()).collect()
    }

    #[test]
    fn collapse_leads_with_the_best_copy_and_the_tail_keeps_its_order() {
        let c = vec![
            candidate(1, 0.9, "a", [1.0, 0.0]),
            candidate(2, 0.8, "a", [1.0, 0.0]),
            candidate(3, 0.7, "b", [0.0, 1.0]),
            candidate(4, 0.6, "a", [1.0, 0.0]),
            candidate(5, 0.5, "c", [0.0, 1.0]),
        ];
        let off = RankOptions::default();
        let r = rank(c.clone(), &stage(&off, 3));
        assert_eq!(ids(&r), vec![1, 2, 3, 4, 5]);
        assert!(r.steps.is_empty());
        let on = RankOptions {
            collapse: true,
            ..RankOptions::default()
        };
        let r = rank(c, &stage(&on, 3));
        assert_eq!(ids(&r), vec![1, 3, 5]);
        assert_eq!(
            r.results[0].copies,
            vec![ImageId::Number(2), ImageId::Number(4)]
        );
        assert_eq!((r.results[1].original_rank, r.results[1].score), (3, 0.7));
    }
}
