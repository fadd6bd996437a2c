//! Training and offline evaluation from the search analytics: every search recorded with its features
//! falls, by its id, into the training part or the held-out part of the log (split by search, never by
//! row: the results of one search are never on both sides); results are labelled by the
//! [skip-above](super::clicks::skip_above) click model; the model is fitted on the training part and
//! measured on the held-out part against the cosine order.

use super::clicks::skip_above;
use super::metrics::RankingFigures;
use super::model::Model;
use crate::analytics::{AnalyticsStore, LoggedSearch, SearchId};
use crate::ranking::features::{Row, FEATURES_VERSION, FEATURE_NAMES};
use crate::types::error::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Numbers in a feature row.
const WIDTH: usize = FEATURE_NAMES.len();

/// Positive examples (results opened or pinned, in the training part of the log) below which no model
/// is trained and the re-ranker stays off.
pub const MIN_POSITIVES: usize = 100;

/// The share of searches held out of training, in percent.
pub const HELD_OUT_PERCENT: u8 = 20;

/// Whether a search belongs to the held-out part of the log (a hash of its id: stable across runs).
pub fn held_out(id: SearchId) -> bool {
    blake3::hash(&id.0.to_le_bytes()).as_bytes()[0] % 100 < HELD_OUT_PERCENT
}

/// Labelled rows of a set of searches.
#[derive(Debug, Clone, Default)]
pub struct Examples {
    pub rows: Vec<Row>,
    pub labels: Vec<bool>,
    /// Searches with at least one labelled result.
    pub searches: usize,
}

impl Examples {
    /// The rows labelled by skip-above.
    pub fn of(searches: &[LoggedSearch]) -> Self {
        let mut out = Self::default();
        for search in searches {
            let Some(rows) = rows_of(search) else {
                continue;
            };
            let labelled = skip_above(rows.len(), &chosen_indices(search));
            if labelled.is_empty() {
                continue;
            }
            out.searches += 1;
            for (i, positive) in labelled {
                out.rows.push(rows[i]);
                out.labels.push(positive);
            }
        }
        out
    }

    /// Positive examples.
    pub fn positives(&self) -> usize {
        self.labels.iter().filter(|l| **l).count()
    }
}

/// A search's feature rows, when they have this build's width.
fn rows_of(search: &LoggedSearch) -> Option<Vec<Row>> {
    if search.features.width != WIDTH {
        return None;
    }
    (0..search.features.rows())
        .map(|i| search.features.row(i).and_then(|r| Row::try_from(r).ok()))
        .collect()
}

/// The 0-based indices into a search's results of the positions chosen from it.
fn chosen_indices(search: &LoggedSearch) -> Vec<usize> {
    search
        .chosen
        .iter()
        .filter_map(|p| p.checked_sub(search.first_position))
        .map(|i| i as usize)
        .collect()
}

/// The cosine order and the model's order of held-out searches, measured by what was opened.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Evaluation {
    /// Held-out searches with at least one result opened or pinned.
    pub searches: usize,
    /// The results in retrieval (cosine) order.
    pub cosine: RankingFigures,
    /// The results in the model's order.
    pub model: RankingFigures,
}

/// Measures `model` on `searches`: NDCG@10 and MRR of the results opened or pinned from each, in the
/// cosine order and in the model's.
pub fn evaluate(model: &Model, searches: &[LoggedSearch]) -> Evaluation {
    let cosine = FEATURE_NAMES
        .iter()
        .position(|n| *n == "cosine")
        .unwrap_or(0);
    let mut by_cosine = Vec::new();
    let mut by_model = Vec::new();
    for search in searches {
        let Some(rows) = rows_of(search) else {
            continue;
        };
        let chosen = chosen_indices(search);
        if !chosen.iter().any(|c| *c < rows.len()) {
            continue;
        }
        let relevant =
            |order: &[usize]| -> Vec<bool> { order.iter().map(|i| chosen.contains(i)).collect() };
        let mut cosine_order: Vec<usize> = (0..rows.len()).collect();
        cosine_order.sort_by(|&a, &b| rows[b][cosine].total_cmp(&rows[a][cosine]).then(a.cmp(&b)));
        let total = chosen.iter().filter(|c| **c < rows.len()).count();
        by_cosine.push((relevant(&cosine_order), total));
        by_model.push((relevant(&model.order(&rows)), total));
    }
    Evaluation {
        searches: by_cosine.len(),
        cosine: RankingFigures::of(by_cosine.iter().map(|(r, t)| (r.as_slice(), *t))),
        model: RankingFigures::of(by_model.iter().map(|(r, t)| (r.as_slice(), *t))),
    }
}

/// What `vsearch rank train` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TrainOutcome {
    /// A model was trained and stored.
    Trained {
        model: Box<Model>,
        path: PathBuf,
        /// The model on the held-out part of the log.
        held_out: Evaluation,
    },
    /// Too few positive examples: no model was trained (the re-ranker stays as it was: off when none
    /// was ever trained).
    TooLittleData {
        positives: usize,
        needed: usize,
        searches: usize,
    },
}

/// The training and held-out parts of the log in `records_dir` (empty when nothing was recorded), split
/// by [`held_out`].
pub fn split_log(records_dir: &Path) -> Result<(Vec<LoggedSearch>, Vec<LoggedSearch>)> {
    split_log_by(records_dir, held_out)
}

/// The training and held-out parts of the log in `records_dir`, split by `hold_out` (of a search's id).
pub fn split_log_by(
    records_dir: &Path,
    hold_out: impl Fn(SearchId) -> bool,
) -> Result<(Vec<LoggedSearch>, Vec<LoggedSearch>)> {
    let Some(store) = AnalyticsStore::open_existing(records_dir)? else {
        return Ok((Vec::new(), Vec::new()));
    };
    Ok(store
        .logged_searches(FEATURES_VERSION)?
        .into_iter()
        .partition(|s| !hold_out(s.id)))
}

/// Trains a model on the training part of the log in `records_dir` ([`held_out`] splits it), measures
/// it on the held-out part and stores it there (its version one above the model it replaces), when the
/// training part holds at least `min_positives` positive examples.
pub fn train(records_dir: &Path, min_positives: usize) -> Result<TrainOutcome> {
    train_split_by(records_dir, min_positives, held_out)
}

/// [`train`], with the log split by `hold_out` (`|_| false` trains on every search: for a log whose
/// evaluation queries were kept out of it from the start, as `vsearch rank simulate` does).
pub fn train_split_by(
    records_dir: &Path,
    min_positives: usize,
    hold_out: impl Fn(SearchId) -> bool,
) -> Result<TrainOutcome> {
    let (training, held) = split_log_by(records_dir, hold_out)?;
    let examples = Examples::of(&training);
    let positives = examples.positives();
    if positives < min_positives.max(1) || positives == examples.labels.len() {
        return Ok(TrainOutcome::TooLittleData {
            positives,
            needed: min_positives.max(1),
            searches: training.len(),
        });
    }
    let mut model = Model::fit(&examples.rows, &examples.labels)?;
    model.searches = examples.searches;
    // A damaged previous model still counts: the new one is the next version either way.
    model.version = match Model::load(records_dir) {
        Ok(Some(previous)) => previous.version + 1,
        _ => 1,
    };
    let path = model.save(records_dir)?;
    let held_out = evaluate(&model, &held);
    Ok(TrainOutcome::Trained {
        model: Box::new(model),
        path,
        held_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::ShownFeatures;

    #[test]
    fn the_split_is_by_search_and_holds_out_about_a_fifth() {
        let held = (0..10_000u64).filter(|i| held_out(SearchId(*i))).count();
        assert!((1500..2500).contains(&held), "{held}");
        assert_eq!(held_out(SearchId(42)), held_out(SearchId(42)));
    }

    #[test]
    fn examples_are_labelled_by_skip_above_from_the_answer_positions() {
        let mut values = Vec::new();
        for i in 0..4 {
            let mut row = [0f32; WIDTH];
            row[0] = 1.0 - i as f32 / 10.0;
            values.extend_from_slice(&row);
        }
        // A second page (positions 11..14): position 13 opened.
        let search = LoggedSearch {
            id: SearchId(1),
            first_position: 11,
            features: ShownFeatures {
                version: FEATURES_VERSION,
                width: WIDTH,
                values,
            },
            chosen: vec![13],
        };
        let examples = Examples::of(std::slice::from_ref(&search));
        assert_eq!(examples.labels, [false, false, true]);
        assert_eq!(examples.rows[2][0], 0.8);
        assert_eq!(examples.searches, 1);
    }
}
