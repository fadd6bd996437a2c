//! What is recorded: a search ([`SearchEvent`]) and an action on one of its results or on an image
//! ([`ActionEvent`]).

use crate::ranking::features::{Features, FEATURES_VERSION, FEATURE_NAMES};
use crate::types::filter::{Condition, Filter};
use crate::types::image_id::ImageId;
use crate::types::query::{Query, QueryOptions, SearchResult};

/// A search's id, as answers carry it (`search_id`, 16 hex digits) and as the page sends it back with
/// what it opens: the time it was made (ms since the Unix epoch) `<< 20`, 8 bits naming the server, a
/// 12-bit counter; so ids grow with time and a window of days is a range of ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SearchId(pub u64);

impl SearchId {
    /// The id made at `at_ms` by server `server` (8 bits) with counter `n` (12 bits).
    pub fn new(at_ms: i64, server: u64, n: u64) -> Self {
        SearchId(((at_ms.max(0) as u64) << 20) | ((server & 0xff) << 12) | (n & 0xfff))
    }

    /// When it was made, ms since the Unix epoch.
    pub fn at_ms(self) -> i64 {
        (self.0 >> 20) as i64
    }
}

impl std::fmt::Display for SearchId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl std::str::FromStr for SearchId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() || s.len() > 16 {
            return Err(format!(
                "`{s}` is not a search id (16 hex digits, as `search_id` in a search answer)"
            ));
        }
        u64::from_str_radix(s, 16).map(SearchId).map_err(|_| {
            format!("`{s}` is not a search id (16 hex digits, as `search_id` in a search answer)")
        })
    }
}

/// The kind of a query, as recorded (the ranking stage's feature: one list of kinds).
pub use crate::ranking::QueryKind;

/// What a search is known to be before it runs: taken from the query, which the search consumes.
#[derive(Debug, Clone)]
pub struct SearchDraft {
    pub kind: QueryKind,
    /// The filter's keys (sorted, each once; `has_id` for an id condition), not their values.
    pub filter_keys: Vec<String>,
    /// The query's words (a board's texts, one a line): only when the operator keeps queries.
    pub query_text: Option<String>,
    /// The uploaded image (a board's first): only when the operator keeps queries.
    pub query_image: Option<Vec<u8>>,
}

impl SearchDraft {
    /// The draft of `query` with `options`; its text and upload are copied only when `keep_queries`.
    pub fn new(query: &Query, options: &QueryOptions, keep_queries: bool) -> Self {
        let mut filter_keys = Vec::new();
        if let Some(filter) = &options.filter {
            collect_keys(filter, &mut filter_keys);
        }
        filter_keys.sort();
        filter_keys.dedup();
        let (query_text, query_image) = if keep_queries {
            let mut texts = Vec::new();
            let mut image = None;
            kept(query, &mut texts, &mut image);
            ((!texts.is_empty()).then(|| texts.join("\n")), image)
        } else {
            (None, None)
        };
        Self {
            kind: QueryKind::of(query),
            filter_keys,
            query_text,
            query_image,
        }
    }

    /// The search as answered: `results` shown, by the index `index`, in `latency_ms`.
    pub fn finish(
        self,
        id: SearchId,
        results: &[SearchResult],
        index: &str,
        latency_ms: f64,
    ) -> SearchEvent {
        SearchEvent {
            id,
            at_ms: id.at_ms(),
            kind: self.kind,
            filter_keys: self.filter_keys,
            results: results.len() as u32,
            latency_ms,
            index: index.to_string(),
            shown: results.iter().map(|r| (r.rank as u32, r.id)).collect(),
            query_text: self.query_text,
            query_image: self.query_image,
            features: None,
        }
    }
}

fn collect_keys(filter: &Filter, out: &mut Vec<String>) {
    for condition in filter
        .must
        .iter()
        .chain(&filter.should)
        .chain(&filter.must_not)
    {
        match condition {
            Condition::Field(f) => out.push(f.key.clone()),
            Condition::HasId(_) => out.push("has_id".into()),
            Condition::IsEmpty(e) => out.push(e.is_empty.key.clone()),
            Condition::Filter(inner) => collect_keys(inner, out),
        }
    }
}

fn kept(query: &Query, texts: &mut Vec<String>, image: &mut Option<Vec<u8>>) {
    match query {
        Query::Text(t) => texts.push(t.clone()),
        Query::ImageBytes(b) if image.is_none() => *image = Some(b.clone()),
        Query::Board(board) => {
            for example in board.positive.iter().chain(&board.negative) {
                kept(&example.query, texts, image);
            }
        }
        _ => {}
    }
}

/// One answered search.
#[derive(Debug, Clone)]
pub struct SearchEvent {
    pub id: SearchId,
    /// When it was answered, milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub kind: QueryKind,
    pub filter_keys: Vec<String>,
    /// Results in the answer.
    pub results: u32,
    /// From the request's arrival to the answer, milliseconds.
    pub latency_ms: f64,
    /// The index kind that answered (`hnsw`, `ivf`, `flat`, `qdrant`, ...).
    pub index: String,
    /// The results shown: (1-based position, id).
    pub shown: Vec<(u32, ImageId)>,
    /// Only with [`super::AnalyticsConfig::keep_queries`].
    pub query_text: Option<String>,
    /// Only with [`super::AnalyticsConfig::keep_queries`].
    pub query_image: Option<Vec<u8>>,
    /// The re-ranker's features of each result shown, as they were when it was shown (so that
    /// `vsearch rank train` learns from what the page saw); `None` when they were not computed.
    pub features: Option<ShownFeatures>,
}

/// The features of the results shown by one search, a row per result in the order shown: numbers
/// only (scores, ranks, counts; [`FEATURE_NAMES`] says what each is), nothing of the
/// query's words or image, so they are kept whatever `--analytics-keep-queries` says.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownFeatures {
    /// The layout of a row ([`FEATURES_VERSION`] when recorded).
    pub version: u32,
    /// Numbers per row.
    pub width: usize,
    /// `width` numbers per result shown, row after row.
    pub values: Vec<f32>,
}

impl ShownFeatures {
    /// The rows of `features` (a page's, in its order), in this build's layout.
    pub fn of(features: &[Features]) -> Self {
        Self {
            version: FEATURES_VERSION,
            width: FEATURE_NAMES.len(),
            values: features.iter().flat_map(|f| f.values()).collect(),
        }
    }

    /// The row of the result shown at `index` (0-based), if there is one.
    pub fn row(&self, index: usize) -> Option<&[f32]> {
        let start = index.checked_mul(self.width)?;
        self.values.get(start..start + self.width)
    }

    /// Rows held.
    pub fn rows(&self) -> usize {
        self.values.len().checked_div(self.width).unwrap_or(0)
    }
}

/// What the page did with an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Opened a result of a search (a view too).
    Open,
    /// Pinned it to the board.
    Pin,
    /// Viewed it, opened some other way (browsing, a link).
    View,
}

impl Action {
    /// Its name in the database and in the API.
    pub fn name(self) -> &'static str {
        match self {
            Action::Open => "open",
            Action::Pin => "pin",
            Action::View => "view",
        }
    }
}

impl std::str::FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(Action::Open),
            "pin" => Ok(Action::Pin),
            "view" => Ok(Action::View),
            _ => Err(format!("`{s}` is not an action: open, pin or view")),
        }
    }
}

/// An action on an image.
#[derive(Debug, Clone)]
pub struct ActionEvent {
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub action: Action,
    pub image: ImageId,
    /// The search whose answer showed it, if any.
    pub search: Option<SearchId>,
    /// Its 1-based position in that answer.
    pub position: Option<u32>,
    /// The image's folder (`""` at the top).
    pub folder: String,
    /// The labels it carries (flagged or hidden by).
    pub labels: Vec<String>,
}

/// Anything recorded.
#[derive(Debug, Clone)]
pub enum Event {
    Search(SearchEvent),
    Action(ActionEvent),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_ids_carry_their_time() {
        let id = SearchId::new(1_764_806_400_123, 0x1ab, 0x1fff);
        assert_eq!(id.at_ms(), 1_764_806_400_123);
        assert_eq!(id.0 & 0xfffff, 0xab << 12 | 0xfff);
        assert!(SearchId::new(1_764_806_400_124, 0, 0).0 > id.0);
    }

    #[test]
    fn search_ids_print_and_read_back() {
        let id = SearchId(0x00ab_cdef_0000_0001);
        assert_eq!(id.to_string(), "00abcdef00000001");
        assert_eq!(id.to_string().parse::<SearchId>(), Ok(id));
        assert!("xyz".parse::<SearchId>().is_err());
        assert!("".parse::<SearchId>().is_err());
        assert!("00000000000000001".parse::<SearchId>().is_err());
    }

    #[test]
    fn drafts_keep_filter_keys_and_nothing_of_the_query_by_default() {
        let filter: Filter = serde_json::from_value(serde_json::json!({
            "must": [{"key": "folder", "match": {"value": "a"}}, {"has_id": [1]}],
            "must_not": [{"must": [{"key": "format", "match": {"value": "png"}}]}, {"key": "folder", "match": {"value": "b"}}]
        }))
        .unwrap();
        let options = QueryOptions {
            filter: Some(filter),
            ..QueryOptions::default()
        };
        let query = Query::Text("red bicycle".into());
        let draft = SearchDraft::new(&query, &options, false);
        assert_eq!(draft.kind, QueryKind::Text);
        assert_eq!(draft.filter_keys, ["folder", "format", "has_id"]);
        assert_eq!(draft.query_text, None);
        let kept = SearchDraft::new(&query, &options, true);
        assert_eq!(kept.query_text.as_deref(), Some("red bicycle"));
        let upload = SearchDraft::new(&Query::ImageBytes(vec![1, 2, 3]), &options, true);
        assert_eq!(upload.query_image, Some(vec![1, 2, 3]));
        assert_eq!(
            SearchDraft::new(&Query::ImageBytes(vec![1]), &options, false).query_image,
            None
        );
    }
}
