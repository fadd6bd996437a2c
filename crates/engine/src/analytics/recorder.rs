//! The [`Recorder`]: a bounded channel in front of one writer thread, so that recording never makes a
//! search wait.

use super::event::{Event, SearchId};
use super::report::{AnalyticsReport, ReportedImage, Window};
use super::store::AnalyticsStore;
use super::{now_ms, AnalyticsConfig, DAY_MS};
use crate::types::error::{EngineError, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::time::{Duration, Instant};

/// Most events written in one transaction.
const BATCH: usize = 4096;
/// How long the writer lets events gather before it writes them in one transaction: a commit rewrites the
/// B-trees' last pages, and a writer waiting on the channel would be woken (a system call and a context
/// switch) by every search's send; so it sleeps instead, and the queue holds what comes meanwhile.
const GATHER: Duration = Duration::from_millis(50);
/// How often the writer deletes rows past the retention.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

enum Message {
    Event(Event),
    /// Answered once every event sent before it is written.
    Flush(SyncSender<()>),
}

/// Records events into a records folder's `analytics.sqlite` from a writer thread.
pub struct Recorder {
    tx: SyncSender<Message>,
    dropped: AtomicU64,
    /// 8 bits of this recorder's search ids (random per start), beside the time and a counter.
    prefix: u64,
    next: AtomicU64,
    keep_queries: bool,
    dir: PathBuf,
}

impl Recorder {
    /// Opens the database in `records_dir` (creating it), deletes the rows past the retention and starts
    /// the writer thread.
    pub fn start(records_dir: &Path, config: &AnalyticsConfig) -> Result<Self> {
        let mut store = AnalyticsStore::open(records_dir)?;
        let retention_ms = i64::from(config.retention_days.max(1)) * DAY_MS;
        let pruned = store.prune(now_ms() - retention_ms)?;
        if pruned > 0 {
            tracing::info!(
                "analytics: deleted {pruned} rows older than {} days",
                config.retention_days
            );
        }
        let (tx, rx) = mpsc::sync_channel(config.queue.max(1));
        std::thread::Builder::new()
            .name("vsearch-analytics".into())
            .spawn(move || write_loop(store, rx, retention_ms))
            .map_err(EngineError::io(records_dir))?;
        let seed = blake3::hash(
            format!(
                "{:?} {} {:?}",
                std::time::SystemTime::now(),
                std::process::id(),
                records_dir
            )
            .as_bytes(),
        );
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&seed.as_bytes()[..8]);
        Ok(Self {
            tx,
            dropped: AtomicU64::new(0),
            prefix: u64::from_le_bytes(prefix) & 0xff,
            next: AtomicU64::new(1),
            keep_queries: config.keep_queries,
            dir: records_dir.to_path_buf(),
        })
    }

    /// A new search id, of now: `ms << 20 | server << 12 | counter` (see [`SearchId::at_ms`]).
    pub fn next_search_id(&self) -> SearchId {
        let n = self.next.fetch_add(1, Ordering::Relaxed) & 0xfff;
        SearchId::new(now_ms(), self.prefix, n)
    }

    /// Whether text queries and uploads are kept.
    pub fn keeps_queries(&self) -> bool {
        self.keep_queries
    }

    /// Hands `event` to the writer without waiting; `false` (and counted) when the queue is full.
    pub fn record(&self, event: Event) -> bool {
        match self.tx.try_send(Message::Event(event)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits (at most `timeout`) until every event recorded before the call is written; whether it was.
    /// Blocking.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (done, wait) = mpsc::sync_channel(1);
        let deadline = Instant::now() + timeout;
        let mut message = Message::Flush(done);
        loop {
            match self.tx.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(m)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    message = m;
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
        wait.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }

    /// The report of the last `days` days, every event recorded so far included (blocking).
    pub fn report(&self, days: u32, reported: &[ReportedImage]) -> Result<AnalyticsReport> {
        if !self.flush(Duration::from_secs(10)) {
            tracing::warn!("analytics: the writer is behind; the report may miss the last events");
        }
        AnalyticsStore::open(&self.dir)?.report(Window::last_days(days, now_ms()), reported)
    }
}

fn write_loop(mut store: AnalyticsStore, rx: Receiver<Message>, retention_ms: i64) {
    let mut last_prune = Instant::now();
    let mut last_error = String::new();
    let mut events = Vec::with_capacity(BATCH);
    let mut flushes = Vec::new();
    let mut closing = false;
    while !closing {
        // Idle, the writer waits for the first event; then it sleeps GATHER and takes what came meanwhile
        // without waiting on the channel, so that a search's send never has a sleeping writer to wake.
        match rx.recv_timeout(PRUNE_EVERY) {
            Ok(Message::Flush(done)) => flushes.push(done),
            Ok(Message::Event(first)) => {
                events.push(first);
                std::thread::sleep(GATHER);
                while events.len() < BATCH {
                    match rx.try_recv() {
                        Ok(Message::Event(e)) => events.push(e),
                        Ok(Message::Flush(done)) => {
                            flushes.push(done);
                            break;
                        }
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => {
                            closing = true;
                            break;
                        }
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => closing = true,
        }
        if !events.is_empty() {
            if let Err(e) = store.insert(&events) {
                // Said once per distinct error: a full disk fails every batch.
                let message = e.to_string();
                if message != last_error {
                    tracing::warn!("analytics: {} events not written: {message}", events.len());
                    last_error = message;
                }
            } else {
                last_error.clear();
            }
            events.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = Instant::now();
            if let Err(e) = store.prune(now_ms() - retention_ms) {
                tracing::warn!("analytics: cannot delete old rows: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::event::{Action, ActionEvent, QueryKind, SearchDraft};
    use crate::types::image_id::ImageId;
    use crate::types::query::{Query, QueryOptions, SearchResult};

    fn results(n: usize) -> Vec<SearchResult> {
        (0..n)
            .map(|i| {
                SearchResult::new(
                    ImageId::Number(i as u64 + 10),
                    format!("p{i}.jpg"),
                    1.0,
                    i + 1,
                )
            })
            .collect()
    }

    fn open(search: SearchId, position: u32) -> Event {
        Event::Action(ActionEvent {
            at_ms: now_ms(),
            action: Action::Open,
            image: ImageId::Number(10 + position as u64 - 1),
            search: Some(search),
            position: Some(position),
            folder: "f".into(),
            labels: vec!["l".into()],
        })
    }

    #[test]
    fn recorded_events_make_an_exact_report_and_purge_empties_it() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::start(dir.path(), &AnalyticsConfig::default()).unwrap();
        let options = QueryOptions::default();
        let mut ids = Vec::new();
        // 4 searches: 3 with results, 1 with none; opens at positions 1 and 4 (twice: the best counts).
        for (n, latency) in [(5, 10.0), (5, 20.0), (0, 30.0), (5, 40.0)] {
            let id = recorder.next_search_id();
            let draft = SearchDraft::new(&Query::Text("x".into()), &options, false);
            assert_eq!(draft.kind, QueryKind::Text);
            assert!(recorder.record(Event::Search(draft.finish(
                id,
                &results(n),
                "hnsw",
                latency
            ))));
            ids.push(id);
        }
        assert!(recorder.record(open(ids[0], 1)));
        assert!(recorder.record(open(ids[1], 4)));
        assert!(recorder.record(open(ids[1], 5)));
        let report = recorder.report(1, &[]).unwrap();
        assert_eq!(report.searches, 4);
        assert_eq!(report.zero_result_searches, 1);
        assert_eq!(report.zero_result_rate, 0.25);
        assert_eq!(report.searches_with_open, 2);
        assert_eq!(report.click_through_rate, 0.5);
        assert_eq!(report.mrr, (1.0 + 0.25) / 4.0);
        assert_eq!(report.opens, 3);
        assert_eq!(report.views, 3);
        assert_eq!(report.per_day.len(), 1);
        assert_eq!(report.per_day[0].searches, 4);
        assert_eq!(report.latency[0].index, "hnsw");
        assert_eq!(report.latency[0].p50_ms, 20.0);
        assert_eq!(report.latency[0].p99_ms, 40.0);
        assert_eq!(report.reports_per_1000_views.by_folder[0].views, 3);
        assert_eq!(report.reports_per_1000_views.by_label[0].name, "l");
        assert_eq!(recorder.dropped(), 0);

        let mut store = AnalyticsStore::open(dir.path()).unwrap();
        assert!(store.has_search(ids[0]).unwrap());
        assert_eq!(store.counts().unwrap(), (4, 3));
        // Retention: rows before a moment go, later ones stay.
        assert_eq!(store.prune(0).unwrap(), 0);
        assert_eq!(store.purge().unwrap(), 7);
        assert_eq!(store.counts().unwrap(), (0, 0));
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let config = AnalyticsConfig {
            queue: 1,
            ..AnalyticsConfig::default()
        };
        let recorder = Recorder::start(dir.path(), &config).unwrap();
        let id = recorder.next_search_id();
        let sent = (0..10_000).filter(|_| recorder.record(open(id, 1))).count();
        assert_eq!(sent as u64 + recorder.dropped(), 10_000);
        assert!(recorder.dropped() > 0, "a queue of 1 must overflow");
        assert!(recorder.flush(Duration::from_secs(10)));
        let store = AnalyticsStore::open(dir.path()).unwrap();
        assert_eq!(store.counts().unwrap().1, sent as u64);
    }
}
