//! `analytics.sqlite`: the searches and actions recorded (see the [module docs](super) for what is kept).
//!
//! SQLite in WAL mode: a batch of events is one transaction; `vsearch analytics` and `GET /api/analytics`
//! read beside the writer without waiting for it. Two servers over one Qdrant collection with one records
//! folder (`--state DIR` on a shared filesystem that supports SQLite's locks) share the file: each writes
//! its own searches (search ids carry a per-server random prefix), and reports count both.

use super::event::{Event, SearchId, ShownFeatures};
use super::report::{self, AnalyticsReport, ReportedImage, Window};
use crate::types::error::{EngineError, Result};
use crate::types::image_id::ImageId;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// The file's name in the records folder.
pub const FILE_NAME: &str = "analytics.sqlite";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS searches (
    id INTEGER PRIMARY KEY,        -- the search id (16 hex digits in answers): at << 20 | server << 12 | counter,
                                   -- so rows are appended in time order and time windows are rowid ranges
    at INTEGER NOT NULL,           -- answered at, ms since the Unix epoch
    kind TEXT NOT NULL,            -- image | id | text | vector | board
    filter_keys TEXT NOT NULL,     -- JSON array of the filter's keys (no values)
    results INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    index_kind TEXT NOT NULL,
    first_position INTEGER NOT NULL, -- the position of the first id shown (1 on a first page)
    shown BLOB NOT NULL,           -- the ids shown, in order: 8 bytes each (little-endian), 16 for a UUID
    query_text TEXT,               -- only with --analytics-keep-queries
    query_image BLOB,              -- only with --analytics-keep-queries
    features BLOB,                 -- the re-ranker's features of each result shown, row after row (f32 LE)
    features_version INTEGER       -- their layout (ranking::features::FEATURES_VERSION)
);
CREATE TABLE IF NOT EXISTS events (
    at INTEGER NOT NULL,
    action TEXT NOT NULL,          -- open | pin | view
    image TEXT NOT NULL,
    search_id INTEGER,
    position INTEGER,
    folder TEXT NOT NULL,
    labels TEXT NOT NULL           -- JSON array
);
CREATE INDEX IF NOT EXISTS events_at ON events(at);
CREATE INDEX IF NOT EXISTS events_search ON events(search_id);
";

/// Columns added after the first release, with their definitions: a file written before them gains
/// them when opened (`ALTER TABLE ... ADD COLUMN`; old rows hold NULL).
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("searches", "features", "BLOB"),
    ("searches", "features_version", "INTEGER"),
];

/// One recorded search as the re-ranker's training reads it: the features of what it showed and the
/// positions opened or pinned from it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedSearch {
    pub id: SearchId,
    /// The position of the first result shown (1 on a first page).
    pub first_position: u32,
    /// The features of the results shown, in the order shown.
    pub features: ShownFeatures,
    /// The positions (1-based, in the answer) opened or pinned from it, ascending, each once.
    pub chosen: Vec<u32>,
}

/// The analytics database of one records folder.
pub struct AnalyticsStore {
    conn: Connection,
    path: PathBuf,
}

impl AnalyticsStore {
    /// Opens (creating it and the folder when missing) the analytics database in `records_dir`.
    pub fn open(records_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(records_dir).map_err(EngineError::io(records_dir))?;
        let path = records_dir.join(FILE_NAME);
        let fail = |e: rusqlite::Error| analytics_error(&path, e);
        let conn = Connection::open(&path).map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        // NORMAL in WAL mode: every transaction is atomic; a power cut may lose the last batches.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(fail)?;
        conn.execute_batch(SCHEMA).map_err(fail)?;
        migrate(&conn).map_err(fail)?;
        Ok(Self { conn, path })
    }

    /// Opens the database in `records_dir` if there is one (`None`: nothing was ever recorded there).
    pub fn open_existing(records_dir: &Path) -> Result<Option<Self>> {
        if !records_dir.join(FILE_NAME).is_file() {
            return Ok(None);
        }
        Self::open(records_dir).map(Some)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fail(&self) -> impl Fn(rusqlite::Error) -> EngineError + '_ {
        |e| analytics_error(&self.path, e)
    }

    /// Writes `events` in one transaction.
    pub fn insert(&mut self, events: &[Event]) -> Result<()> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| analytics_error(&path, e);
        let tx = self.conn.transaction().map_err(fail)?;
        {
            let mut search = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO searches (id, at, kind, filter_keys, results, latency_ms, \
                     index_kind, first_position, shown, query_text, query_image, features, \
                     features_version) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )
                .map_err(fail)?;
            let mut action = tx
                .prepare_cached(
                    "INSERT INTO events (at, action, image, search_id, position, folder, labels) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(fail)?;
            for event in events {
                match event {
                    Event::Search(s) => {
                        let keys = json_list(&s.filter_keys);
                        let first = s.shown.first().map_or(1, |(p, _)| *p);
                        let mut shown = Vec::with_capacity(s.shown.len() * 8);
                        for (_, id) in &s.shown {
                            match id {
                                ImageId::Number(n) => shown.extend_from_slice(&n.to_le_bytes()),
                                ImageId::Uuid(u) => shown.extend_from_slice(u.as_bytes()),
                            }
                        }
                        let features = s.features.as_ref().map(|f| {
                            f.values
                                .iter()
                                .flat_map(|v| v.to_le_bytes())
                                .collect::<Vec<u8>>()
                        });
                        search
                            .execute(params![
                                s.id.0 as i64,
                                s.at_ms,
                                s.kind.name(),
                                keys,
                                s.results,
                                s.latency_ms,
                                s.index,
                                first,
                                shown,
                                s.query_text,
                                s.query_image,
                                features,
                                s.features.as_ref().map(|f| f.version),
                            ])
                            .map_err(fail)?;
                    }
                    Event::Action(a) => {
                        let labels = json_list(&a.labels);
                        action
                            .execute(params![
                                a.at_ms,
                                a.action.name(),
                                a.image.to_string(),
                                a.search.map(|s| s.0 as i64),
                                a.position,
                                a.folder,
                                labels,
                            ])
                            .map_err(fail)?;
                    }
                }
            }
        }
        tx.commit().map_err(fail)
    }

    /// Deletes the rows recorded before `before_ms` (ms since the Unix epoch); how many.
    pub fn prune(&mut self, before_ms: i64) -> Result<usize> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| analytics_error(&path, e);
        let tx = self.conn.transaction().map_err(fail)?;
        let n = tx
            .execute(
                "DELETE FROM searches WHERE id < (?1 << 20)",
                [before_ms.min(i64::MAX >> 20)],
            )
            .map_err(fail)?
            + tx.execute("DELETE FROM events WHERE at < ?1", [before_ms])
                .map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(n)
    }

    /// Deletes every row, and the space they took (`VACUUM`); how many rows.
    pub fn purge(&mut self) -> Result<usize> {
        let n = self.prune(i64::MAX)?;
        self.conn.execute_batch("VACUUM").map_err(self.fail())?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(self.fail())?;
        Ok(n)
    }

    /// Rows in `searches` and in `events`.
    pub fn counts(&self) -> Result<(u64, u64)> {
        let count = |table: &str| {
            self.conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .map(|n| n as u64)
                .map_err(self.fail())
        };
        Ok((count("searches")?, count("events")?))
    }

    /// Whether a search with this id is recorded.
    pub fn has_search(&self, id: SearchId) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM searches WHERE id = ?1",
                [id.0 as i64],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(self.fail())
    }

    /// The searches recorded with the re-ranker's features of layout `version`, oldest first, each with
    /// the positions opened or pinned from it (the re-ranker's training log). A row whose features do
    /// not divide into its results is skipped with a warning.
    pub fn logged_searches(&self, version: u32) -> Result<Vec<LoggedSearch>> {
        let fail = self.fail();
        let mut chosen: std::collections::HashMap<i64, Vec<u32>> = Default::default();
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT search_id, position FROM events WHERE action IN ('open', 'pin')
                     AND search_id IS NOT NULL AND position >= 1",
                )
                .map_err(&fail)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                .map_err(&fail)?;
            for row in rows {
                let (search, position) = row.map_err(&fail)?;
                chosen
                    .entry(search)
                    .or_default()
                    .push(position.clamp(1, i64::from(u32::MAX)) as u32);
            }
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, first_position, results, features FROM searches
                 WHERE features IS NOT NULL AND features_version = ?1 ORDER BY id",
            )
            .map_err(&fail)?;
        let rows = stmt
            .query_map([version], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                ))
            })
            .map_err(&fail)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, first, results, blob) = row.map_err(&fail)?;
            let values: Vec<f32> = blob
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            let results = results.max(0) as usize;
            if results == 0 || blob.len() % 4 != 0 || !values.len().is_multiple_of(results) {
                if results > 0 {
                    tracing::warn!(
                        "analytics: search {} has {} feature numbers for {results} results; skipped",
                        SearchId(id as u64),
                        values.len()
                    );
                }
                continue;
            }
            let mut positions = chosen.remove(&id).unwrap_or_default();
            positions.sort_unstable();
            positions.dedup();
            out.push(LoggedSearch {
                id: SearchId(id as u64),
                first_position: first.clamp(1, i64::from(u32::MAX)) as u32,
                features: ShownFeatures {
                    version,
                    width: values.len() / results,
                    values,
                },
                chosen: positions,
            });
        }
        Ok(out)
    }

    /// The report over `window`, with the reported images of the reports store (`reported`).
    pub fn report(&self, window: Window, reported: &[ReportedImage]) -> Result<AnalyticsReport> {
        let fail = self.fail();
        let (from, to) = (window.from_ms, window.to_ms);
        let c = &self.conn;
        let (searches, zero): (i64, i64) = c
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(results = 0), 0) FROM searches WHERE id >= (?1 << 20) AND id < (?2 << 20)",
                [from, to],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(&fail)?;
        // Per search of the window, the best (smallest) position opened from it.
        let (opened, reciprocal): (i64, f64) = c
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(1.0 / best), 0) FROM (
                     SELECT MIN(e.position) AS best FROM searches s
                     JOIN events e ON e.search_id = s.id AND e.action = 'open' AND e.position >= 1
                     WHERE s.id >= (?1 << 20) AND s.id < (?2 << 20) GROUP BY s.id)",
                [from, to],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(&fail)?;
        let mut per_day = Vec::new();
        {
            let mut stmt = c
                .prepare(
                    "SELECT date(s.at / 1000, 'unixepoch') AS day, COUNT(*), SUM(s.results = 0),
                            SUM(EXISTS (SELECT 1 FROM events e WHERE e.search_id = s.id AND e.action = 'open'))
                     FROM searches s WHERE s.id >= (?1 << 20) AND s.id < (?2 << 20) GROUP BY day",
                )
                .map_err(&fail)?;
            let rows = stmt
                .query_map([from, to], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .map_err(&fail)?;
            for row in rows {
                per_day.push(row.map_err(&fail)?);
            }
        }
        let grouped = |sql: &str| -> Result<Vec<(String, u64)>> {
            let mut stmt = c.prepare(sql).map_err(&fail)?;
            let rows = stmt
                .query_map([from, to], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
                })
                .map_err(&fail)?;
            rows.map(|r| r.map_err(&fail)).collect()
        };
        let kinds = grouped(
            "SELECT kind, COUNT(*) FROM searches WHERE id >= (?1 << 20) AND id < (?2 << 20) GROUP BY kind ORDER BY 2 DESC, 1",
        )?;
        let filter_keys = grouped(
            "SELECT j.value, COUNT(*) FROM searches, json_each(searches.filter_keys) AS j
             WHERE searches.id >= (?1 << 20) AND searches.id < (?2 << 20) GROUP BY j.value ORDER BY 2 DESC, 1",
        )?;
        let index_counts = grouped(
            "SELECT index_kind, COUNT(*) FROM searches WHERE id >= (?1 << 20) AND id < (?2 << 20) GROUP BY index_kind ORDER BY 1",
        )?;
        let mut latency = Vec::new();
        for (index, n) in index_counts {
            let at_rank = |p: f64| -> Result<f64> {
                let rank = report::nearest_rank(n as usize, p);
                c.query_row(
                    "SELECT latency_ms FROM searches WHERE id >= (?1 << 20) AND id < (?2 << 20) AND index_kind = ?3
                     ORDER BY latency_ms LIMIT 1 OFFSET ?4",
                    params![from, to, index, rank as i64 - 1],
                    |r| r.get::<_, f64>(0),
                )
                .map_err(&fail)
            };
            latency.push(report::IndexLatency {
                p50_ms: at_rank(50.0)?,
                p99_ms: at_rank(99.0)?,
                index,
                searches: n,
            });
        }
        let actions = grouped(
            "SELECT action, COUNT(*) FROM events WHERE at >= ?1 AND at < ?2 GROUP BY action",
        )?;
        let views_by_folder = grouped(
            "SELECT folder, COUNT(*) FROM events WHERE at >= ?1 AND at < ?2 AND action IN ('open', 'view')
             GROUP BY folder",
        )?;
        let views_by_label = grouped(
            "SELECT j.value, COUNT(*) FROM events, json_each(events.labels) AS j
             WHERE at >= ?1 AND at < ?2 AND action IN ('open', 'view') GROUP BY j.value",
        )?;
        let action = |name: &str| {
            actions
                .iter()
                .find(|(a, _)| a == name)
                .map_or(0, |(_, n)| *n)
        };
        Ok(report::assemble(report::Counts {
            window,
            searches: searches as u64,
            zero_results: zero as u64,
            opened: opened as u64,
            reciprocal_rank_sum: reciprocal,
            per_day,
            kinds,
            filter_keys,
            latency,
            opens: action("open"),
            pins: action("pin"),
            views: action("open") + action("view"),
            views_by_folder,
            views_by_label,
            reported,
        }))
    }
}

/// Adds the [`ADDED_COLUMNS`] a file written before them lacks.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    for (table, column, definition) in ADDED_COLUMNS {
        let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(1))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if !names.iter().any(|n| n == column) {
            conn.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {definition}"
            ))?;
        }
    }
    Ok(())
}

/// A JSON array of texts (`[]` without serialising when empty, as most are).
fn json_list(items: &[String]) -> String {
    if items.is_empty() {
        "[]".into()
    } else {
        serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
    }
}

fn analytics_error(path: &Path, e: rusqlite::Error) -> EngineError {
    EngineError::Analytics {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::event::{Action, ActionEvent, QueryKind, SearchEvent};

    #[test]
    fn a_file_from_before_the_features_gains_them_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        {
            // The first release's searches table, with one row.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE searches (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL,
                 filter_keys TEXT NOT NULL, results INTEGER NOT NULL, latency_ms REAL NOT NULL,
                 index_kind TEXT NOT NULL, first_position INTEGER NOT NULL, shown BLOB NOT NULL,
                 query_text TEXT, query_image BLOB);
                 INSERT INTO searches VALUES (1048576, 1, 'id', '[]', 0, 1.0, 'flat', 1, x'', NULL, NULL);",
            )
            .unwrap();
        }
        let mut store = AnalyticsStore::open(dir.path()).unwrap();
        assert_eq!(store.counts().unwrap(), (1, 0));
        let id = SearchId(5 << 20);
        let shown = vec![(1, ImageId::Number(7)), (2, ImageId::Number(8))];
        store
            .insert(&[
                Event::Search(SearchEvent {
                    id,
                    at_ms: 5,
                    kind: QueryKind::Id,
                    filter_keys: Vec::new(),
                    results: 2,
                    latency_ms: 1.0,
                    index: "flat".into(),
                    shown,
                    query_text: None,
                    query_image: None,
                    features: Some(ShownFeatures {
                        version: 9,
                        width: 3,
                        values: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                    }),
                }),
                Event::Action(ActionEvent {
                    at_ms: 6,
                    action: Action::Pin,
                    image: ImageId::Number(8),
                    search: Some(id),
                    position: Some(2),
                    folder: String::new(),
                    labels: Vec::new(),
                }),
            ])
            .unwrap();
        let logged = store.logged_searches(9).unwrap();
        assert_eq!(logged.len(), 1, "the old row has no features");
        assert_eq!(logged[0].id, id);
        assert_eq!(logged[0].chosen, [2]);
        assert_eq!(logged[0].features.row(1), Some(&[4.0, 5.0, 6.0][..]));
        assert!(store.logged_searches(1).unwrap().is_empty());
        drop(store);
        // Opening again migrates nothing twice.
        AnalyticsStore::open(dir.path()).unwrap();
    }
}
