//! Search analytics: what the server records of each search and of what people open from it, where it
//! is kept, for how long, and the report built from it.
//!
//! # What is kept
//!
//! In `analytics.sqlite` in the collection's records folder ([`crate::Backend::records_dir`]: a local
//! collection's folder, a Qdrant collection's records folder), one row per search answered by the server
//! (`searches`): when, the kind of query (`image`, `id`, `text`, `vector`, `board`), the filter keys used
//! (the keys only, not their values), the number of results, the latency, the index kind that answered
//! and the ids shown with their positions. One row per action the page reports (`events`): an `open` of a
//! result (with the search it came from and its position), a `pin`, or a `view` of an image opened some
//! other way; with the image's folder and labels at that time (for reports per 1,000 views). With each
//! search, the re-ranker's features of each result shown (numbers: its score, original rank, copies,
//! labels, age, reports, the query's kind; [`ShownFeatures`]), so that `vsearch rank train` learns from
//! what the page saw.
//!
//! **Not kept by default:** the words of a text query and the bytes of an uploaded image. The operator
//! turns that on with `vsearch serve --analytics-keep-queries` ([`AnalyticsConfig::keep_queries`]): then
//! a search's text (a board's texts, one a line) and its uploaded image (a board's first) are stored
//! too. No client address, reporter id or cookie is ever stored.
//!
//! # How long, and how to delete it
//!
//! Rows older than [`AnalyticsConfig::retention_days`] (default 90) are deleted when the server starts
//! and every hour while it runs. `vsearch analytics purge` deletes every row ([`AnalyticsStore::purge`]);
//! deleting `analytics.sqlite` (and its `-wal`, `-shm`) does too. `vsearch serve --no-analytics` records
//! nothing.
//!
//! # Recording never slows a search
//!
//! The server hands each event to a [`Recorder`]: a bounded channel in front of one writer thread that
//! sleeps 50 ms after the first event, then inserts what came meanwhile in one transaction (SQLite in WAL mode, so readers
//! such as `vsearch analytics` never wait for it). When the channel is full the event is dropped and counted
//! ([`Recorder::dropped`], `vsearch_analytics_events_dropped_total` in `GET /metrics`), never waited for.
//!
//! Modules: [`event`] (what is recorded), [`store`] (the SQLite file), [`recorder`] (the channel and
//! its writer), [`report`] (the figures: searches per day, zero-result rate, click-through rate, mean
//! reciprocal rank, latency per index kind, reports per 1,000 views, time to resolution).

pub mod event;
pub mod recorder;
pub mod report;
pub mod store;

pub use event::{
    Action, ActionEvent, Event, QueryKind, SearchDraft, SearchEvent, SearchId, ShownFeatures,
};
pub use recorder::Recorder;
pub use report::{AnalyticsReport, ReportedImage, Window};
pub use store::{AnalyticsStore, LoggedSearch, FILE_NAME};

/// What the server records and for how long (plain data; `vsearch serve` sets it from its flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsConfig {
    /// Record searches and opens at all (default on; `--no-analytics` turns it off).
    pub enabled: bool,
    /// Also store text queries' words and uploaded images' bytes (default off:
    /// `--analytics-keep-queries`).
    pub keep_queries: bool,
    /// Days a row is kept (default 90); older rows are deleted at start and every hour.
    pub retention_days: u32,
    /// Events waiting for the writer; beyond it, events are dropped and counted (default 8192).
    pub queue: usize,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            keep_queries: false,
            retention_days: 90,
            queue: 8192,
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;
