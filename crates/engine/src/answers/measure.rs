//! The ranking stage measured (`vsearch eval ranking`): over a search by every image of a collection,
//! the share of the top `k` that are copies of a result above them (the duplicate-collapse rate's
//! complement: what collapse removes) and the mean intra-list similarity of the top `k` (mean pairwise
//! cosine of the results' stored vectors), without the stage and with it.

use crate::answers::search::{search, Learning};
use crate::backend::Backend;
use crate::ranking::diversity::mean_pairwise_similarity;
use crate::safety::dupes::DupesOptions;
use crate::types::error::Result;
use crate::types::image_id::ImageId;
use crate::types::query::{Query, QueryOptions};
use serde::Serialize;
use std::collections::HashMap;

/// What the top `k` of the searches look like under one setting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ListFigures {
    /// Share of the top-`k` slots held by a copy of a result ranked above it (duplicate groups of the
    /// duplicate finder at its default options).
    pub copy_share: f64,
    /// Share of the searches whose top `k` holds a copy of a result above it.
    pub queries_with_copies: f64,
    /// Mean pairwise cosine of the top `k`, averaged over the searches.
    pub intra_list_similarity: f64,
}

/// The figures of [`measure`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankingFigures {
    /// Searches made (one by each visible image).
    pub queries: usize,
    pub k: usize,
    /// Diversity of the "with" setting.
    pub diversity: f32,
    /// Images in a duplicate group.
    pub images_in_groups: usize,
    /// Retrieval's order.
    pub without: ListFigures,
    /// Collapse and diversity.
    pub with: ListFigures,
    /// Collapse alone.
    pub collapse_only: ListFigures,
}

/// Measures the stage over a search by every visible image (see the [module](self)).
pub fn measure(backend: &dyn Backend, k: usize, diversity: f32) -> Result<RankingFigures> {
    let groups = backend.duplicates(&DupesOptions::default())?;
    let mut group_of: HashMap<ImageId, usize> = HashMap::new();
    for (g, group) in groups.iter().enumerate() {
        for image in &group.images {
            group_of.insert(image.id, g);
        }
    }
    let ids: Vec<ImageId> = backend
        .visible_vectors()?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let settings = [(false, 0.0), (true, diversity), (true, 0.0)];
    let mut sums = [[0.0f64; 3]; 3];
    for &id in &ids {
        for (s, &(collapse, diversity)) in settings.iter().enumerate() {
            let options = QueryOptions {
                k,
                collapse: Some(collapse),
                diversity: Some(diversity),
                ..QueryOptions::default()
            };
            let answer = search(backend, &Query::Id(id), &options, &Learning::default())?;
            let results: Vec<ImageId> = answer.results.iter().map(|r| r.id).collect();
            let mut seen = std::collections::HashSet::new();
            let copies = results
                .iter()
                .filter(|r| match group_of.get(r) {
                    Some(g) => !seen.insert(*g),
                    None => false,
                })
                .count();
            let facts = backend.facts(&results)?;
            let vectors: Vec<&[f32]> = facts.iter().filter_map(|f| f.vector.as_deref()).collect();
            sums[s][0] += copies as f64 / results.len().max(1) as f64;
            sums[s][1] += f64::from(u8::from(copies > 0));
            sums[s][2] += f64::from(mean_pairwise_similarity(&vectors));
        }
    }
    let n = ids.len().max(1) as f64;
    let figures = |s: usize| ListFigures {
        copy_share: sums[s][0] / n,
        queries_with_copies: sums[s][1] / n,
        intra_list_similarity: sums[s][2] / n,
    };
    Ok(RankingFigures {
        queries: ids.len(),
        k,
        diversity,
        images_in_groups: group_of.len(),
        without: figures(0),
        with: figures(1),
        collapse_only: figures(2),
    })
}
