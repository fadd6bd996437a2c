//! What every backend does to turn a search into an answer: choose the index a query runs on, report
//! how a filter was applied, and cut the page out of ranked results.

use crate::types::filter::Filter;
use crate::types::query::{FilterReport, QueryOptions, SearchResult};
use vsearch_index::IndexKind;

/// The index kind a query runs on: the one it asks for, else the first of hnsw, ivf, flat that `has`
/// (flat when none does). Whether the backend has the kind asked for is its own check.
pub fn index_kind(requested: Option<IndexKind>, has: impl Fn(IndexKind) -> bool) -> IndexKind {
    requested.unwrap_or_else(|| IndexKind::preferred(has).unwrap_or(IndexKind::Flat))
}

/// How many ranked hits a page needs: those before it, its `k`, and one more to know whether another
/// page follows.
pub fn hits_wanted(options: &QueryOptions) -> usize {
    options.offset.saturating_add(options.k).saturating_add(1)
}

/// How many more hits a search asks for when the collection has video frames, which fold into one
/// result per video ([`crate::search::video_groups`]), so that a page still fills.
pub const FRAME_FETCH: usize = 4;

/// The report of a query's filter (`None` without one): `matched` of `total` images kept, `exact` when
/// exact search answered because the filter keeps few.
pub fn filter_report(
    filter: Option<&Filter>,
    matched: usize,
    total: usize,
    exact: bool,
) -> Option<FilterReport> {
    filter.map(|_| FilterReport {
        matched,
        total,
        exact,
    })
}

/// The page `options.offset .. offset + k` of `ranked` (results in their final order, ranked from 1, or
/// from `offset + 1` where the backend skipped the earlier ones itself), the frames of a video folded
/// into its best one ([`crate::search::video_groups`]), and whether results follow it.
pub fn page(
    ranked: impl Iterator<Item = SearchResult>,
    options: &QueryOptions,
) -> (Vec<SearchResult>, bool) {
    let grouped = crate::search::video_groups::group_frames(ranked);
    let mut rest = grouped.into_iter().skip_while(|r| r.rank <= options.offset);
    let results: Vec<SearchResult> = rest.by_ref().take(options.k).collect();
    let more = rest.next().is_some();
    (results, more)
}
