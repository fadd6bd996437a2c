//! `reports.sqlite`: the reports, their cases and the report policy of one collection, in its records
//! folder ([`REPORTS_FILE`]).
//!
//! SQLite in WAL mode with `synchronous = FULL`; every change is one `BEGIN IMMEDIATE` transaction, so
//! two processes on the same records folder (a server and the CLI, or two servers) take turns and a
//! crash leaves the last committed state. Reporters and client addresses are kept only as keyed blake3
//! digests (the key is made at random when the database is created and never leaves it), so the file
//! says which reports came from the same reporter without holding an address.

use crate::reports::policy::ReportPolicy;
use crate::types::error::{EngineError, Result};
use crate::types::image_id::ImageId;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The reports database inside a records folder.
pub const REPORTS_FILE: &str = "reports.sqlite";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    image TEXT NOT NULL,
    path TEXT NOT NULL,
    labels TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    hold_block INTEGER,
    hidden_at INTEGER,
    closed_at INTEGER,
    closed_by TEXT,
    close_reason TEXT,
    block INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS one_open_case ON cases(image) WHERE status = 'open';
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    image TEXT NOT NULL,
    reporter TEXT NOT NULL,
    address TEXT NOT NULL,
    reason TEXT NOT NULL,
    note TEXT,
    at INTEGER NOT NULL,
    UNIQUE (image, reporter)
);
CREATE INDEX IF NOT EXISTS reports_by_address ON reports(address, at);
CREATE INDEX IF NOT EXISTS reports_by_case ON reports(case_id);
";

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Waiting for review.
    Open,
    /// Resolved with a block.
    Blocked,
    /// Resolved without action.
    Dismissed,
}

impl CaseStatus {
    /// `open`, `blocked` or `dismissed`.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Blocked => "blocked",
            CaseStatus::Dismissed => "dismissed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "blocked" => CaseStatus::Blocked,
            "dismissed" => CaseStatus::Dismissed,
            _ => CaseStatus::Open,
        }
    }
}

/// A case as stored: one image's reports waiting for (or past) review.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRow {
    pub id: u64,
    pub image: ImageId,
    /// The image's path when the case opened.
    pub path: String,
    /// Its labels (flags and hiding labels) when the case opened.
    pub labels: Vec<String>,
    /// Unix seconds.
    pub opened_at: i64,
    pub status: CaseStatus,
    /// The block that hides the image pending review, while it does (and after, for the record).
    pub hold_block: Option<u64>,
    /// When the policy hid the image, unix seconds.
    pub hidden_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub closed_by: Option<String>,
    pub close_reason: Option<String>,
    /// The block a resolve-block made.
    pub block: Option<u64>,
}

/// The reports of a case under one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCount {
    pub reason: String,
    /// Reports giving it (one per reporter).
    pub reports: u32,
}

/// A report as stored (reporter and address as digests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    pub id: u64,
    pub reason: String,
    pub note: Option<String>,
    /// RFC 3339.
    pub at: String,
    /// The reporter's keyed digest (short).
    pub reporter: String,
}

/// A report to file.
#[derive(Debug, Clone)]
pub struct ReportInput {
    pub image: ImageId,
    pub reason: String,
    pub note: Option<String>,
    /// The opaque id the reporter's page keeps.
    pub reporter: String,
    /// The client's address.
    pub address: String,
    /// The image's path and labels now (recorded when this report opens a case).
    pub path: String,
    pub labels: Vec<String>,
}

/// What filing a report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    pub case: u64,
    /// `false` when this reporter had reported the image already (nothing was stored).
    pub counted: bool,
    /// Distinct reporters of the case within the policy's window.
    pub reporters: u32,
    /// The policy's threshold was reached and this call claimed the hiding (the caller hides the image
    /// and records the block with [`ReportStore::set_hold`], or gives the claim back).
    pub hide: bool,
    /// The report's reporter digest (for the audit log).
    pub reporter: String,
}

/// The reports database of one records folder.
pub struct ReportStore {
    conn: Connection,
    path: PathBuf,
    key: [u8; 32],
}

/// The error of a failed SQL call on the reports database at `path`.
fn sql_error(path: &Path) -> impl Fn(rusqlite::Error) -> EngineError + Copy + '_ {
    move |e| EngineError::Reports {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

impl ReportStore {
    /// Opens (creating it when absent) the reports database of the records folder `records`.
    pub fn open(records: &Path) -> Result<Self> {
        std::fs::create_dir_all(records).map_err(EngineError::io(records))?;
        let path = records.join(REPORTS_FILE);
        let err = sql_error(&path);
        let mut conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute_batch(SCHEMA).map_err(err)?;
        let key: Option<Vec<u8>> = tx
            .query_row("SELECT value FROM meta WHERE key = 'digest_key'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err)?;
        let key = match key {
            Some(k) => k,
            None => {
                let k: [u8; 32] = rand::random();
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('digest_key', ?1)",
                    params![k.to_vec()],
                )
                .map_err(err)?;
                k.to_vec()
            }
        };
        tx.commit().map_err(err)?;
        let key: [u8; 32] = key.try_into().map_err(|_| EngineError::Reports {
            path: path.clone(),
            reason: "its digest key is not 32 bytes".into(),
        })?;
        Ok(Self { conn, path, key })
    }

    /// The database's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> EngineError + Copy + '_ {
        sql_error(&self.path)
    }

    fn digest(&self, parts: &[&str]) -> String {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        for p in parts {
            h.update(p.as_bytes());
            h.update(&[0]);
        }
        h.finalize().to_hex()[..32].to_string()
    }

    /// The policy in force (the default until one is set).
    pub fn policy(&self) -> Result<ReportPolicy> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'policy'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err())?;
        match json {
            None => Ok(ReportPolicy::default()),
            Some(json) => serde_json::from_str(&json).map_err(|e| EngineError::Reports {
                path: self.path.clone(),
                reason: format!(
                    "its report policy does not parse ({e}); set it again with `vsearch reports policy`"
                ),
            }),
        }
    }

    /// Sets the policy (checked first).
    pub fn set_policy(&mut self, policy: &ReportPolicy) -> Result<()> {
        policy.validate()?;
        let json = serde_json::to_string(policy).map_err(|e| EngineError::Reports {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        // The path's borrow is apart from the connection's, which the transaction takes.
        let err = sql_error(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('policy', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![json],
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }

    /// Files a report at `now` (unix seconds) under `policy`, in one transaction: refuses a reporter
    /// address over the policy's rate ([`EngineError::RateLimited`]), counts a reporter's second report
    /// of the same image once, opens the image's case when it has none open, and claims the hiding when
    /// the case reaches the policy's threshold of distinct reporters within its window.
    pub fn file(&mut self, input: &ReportInput, policy: &ReportPolicy, now: i64) -> Result<Filed> {
        let reporter = self.digest(&["reporter", &input.reporter, &input.address]);
        let address = self.digest(&["address", &input.address]);
        let image = input.image.to_string();
        let labels = serde_json::to_string(&input.labels).unwrap_or_else(|_| "[]".into());
        // The path's borrow is apart from the connection's, which the transaction takes.
        let err = sql_error(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let open_case = |tx: &rusqlite::Transaction| -> rusqlite::Result<Option<u64>> {
            tx.query_row(
                "SELECT id FROM cases WHERE image = ?1 AND status = 'open'",
                params![image],
                |r| r.get(0),
            )
            .optional()
        };
        let earlier: Option<u64> = tx
            .query_row(
                "SELECT case_id FROM reports WHERE image = ?1 AND reporter = ?2",
                params![image, reporter],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        if let Some(case) = earlier {
            let case = open_case(&tx).map_err(err)?.unwrap_or(case);
            let reporters =
                count_reporters(&tx, case, now - policy.window_secs as i64).map_err(err)?;
            return Ok(Filed {
                case,
                counted: false,
                reporters,
                hide: false,
                reporter,
            });
        }
        let minute_ago = now - 60;
        let (recent, oldest): (u32, Option<i64>) = tx
            .query_row(
                "SELECT COUNT(*), MIN(at) FROM reports WHERE address = ?1 AND at > ?2",
                params![address, minute_ago],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(err)?;
        if recent >= policy.per_minute {
            let retry_after_secs = (oldest.unwrap_or(now) + 61 - now).clamp(1, 60) as u64;
            return Err(EngineError::RateLimited { retry_after_secs });
        }
        let case = match open_case(&tx).map_err(err)? {
            Some(case) => case,
            None => {
                tx.execute(
                    "INSERT INTO cases (image, path, labels, opened_at, status) VALUES (?1, ?2, ?3, ?4, 'open')",
                    params![image, input.path, labels, now],
                )
                .map_err(err)?;
                tx.last_insert_rowid() as u64
            }
        };
        tx.execute(
            "INSERT INTO reports (case_id, image, reporter, address, reason, note, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                case,
                image,
                reporter,
                address,
                input.reason,
                input.note,
                now
            ],
        )
        .map_err(err)?;
        let reporters = count_reporters(&tx, case, now - policy.window_secs as i64).map_err(err)?;
        let hide = policy.hide_after > 0
            && reporters >= policy.hide_after
            && tx
                .execute(
                    "UPDATE cases SET hidden_at = ?2 WHERE id = ?1 AND hidden_at IS NULL",
                    params![case, now],
                )
                .map_err(err)?
                == 1;
        tx.commit().map_err(err)?;
        Ok(Filed {
            case,
            counted: true,
            reporters,
            hide,
            reporter,
        })
    }

    /// Records the block that hides a case's image pending review (`None`: the hiding failed, and the
    /// claim [`ReportStore::file`] made is given back).
    pub fn set_hold(&mut self, case: u64, block: Option<u64>) -> Result<()> {
        let n = match block {
            Some(b) => self.conn.execute(
                "UPDATE cases SET hold_block = ?2 WHERE id = ?1",
                params![case, b],
            ),
            None => self.conn.execute(
                "UPDATE cases SET hidden_at = NULL WHERE id = ?1",
                params![case],
            ),
        }
        .map_err(self.err())?;
        if n == 0 {
            return Err(EngineError::NoSuchCase { id: case });
        }
        Ok(())
    }

    /// Closes the open case `case` as `status` (in one transaction; refused when it is not open).
    pub fn close(
        &mut self,
        case: u64,
        status: CaseStatus,
        by: &str,
        reason: Option<&str>,
        block: Option<u64>,
        now: i64,
    ) -> Result<()> {
        // The path's borrow is apart from the connection's, which the transaction takes.
        let err = sql_error(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let n = tx
            .execute(
                "UPDATE cases SET status = ?2, closed_at = ?3, closed_by = ?4, close_reason = ?5, block = ?6
                 WHERE id = ?1 AND status = 'open'",
                params![case, status.as_str(), now, by, reason, block],
            )
            .map_err(err)?;
        if n == 0 {
            drop(tx);
            let row = self.case(case)?;
            return Err(EngineError::CaseClosed {
                id: case,
                status: row.status.as_str(),
            });
        }
        tx.commit().map_err(err)
    }

    /// One case.
    pub fn case(&self, case: u64) -> Result<CaseRow> {
        self.conn
            .query_row(
                &format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?1"),
                params![case],
                case_row,
            )
            .optional()
            .map_err(self.err())?
            .ok_or(EngineError::NoSuchCase { id: case })
    }

    /// The cases in `status` (all with `None`), oldest first.
    pub fn cases(&self, status: Option<CaseStatus>) -> Result<Vec<CaseRow>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {CASE_COLUMNS} FROM cases WHERE (?1 IS NULL OR status = ?1) ORDER BY id"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![status.map(CaseStatus::as_str)], case_row)
            .map_err(self.err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Number of open cases.
    pub fn open_count(&self) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM cases WHERE status = 'open'",
                [],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// The reports of a case, oldest first.
    pub fn reports(&self, case: u64) -> Result<Vec<ReportRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, reason, note, at, reporter FROM reports WHERE case_id = ?1 ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![case], |r| {
                Ok(ReportRow {
                    id: r.get(0)?,
                    reason: r.get(1)?,
                    note: r.get(2)?,
                    at: jiff::Timestamp::from_second(r.get(3)?)
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    reporter: r.get::<_, String>(4)?.chars().take(8).collect(),
                })
            })
            .map_err(self.err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        Ok(rows)
    }
}

const CASE_COLUMNS: &str = "id, image, path, labels, opened_at, status, hold_block, hidden_at, \
                            closed_at, closed_by, close_reason, block";

fn case_row(r: &rusqlite::Row) -> rusqlite::Result<CaseRow> {
    let image: String = r.get(1)?;
    let labels: String = r.get(3)?;
    let status: String = r.get(5)?;
    Ok(CaseRow {
        id: r.get(0)?,
        image: image.parse().map_err(|e: String| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into())
        })?,
        path: r.get(2)?,
        labels: serde_json::from_str(&labels).unwrap_or_default(),
        opened_at: r.get(4)?,
        status: CaseStatus::parse(&status),
        hold_block: r.get(6)?,
        hidden_at: r.get(7)?,
        closed_at: r.get(8)?,
        closed_by: r.get(9)?,
        close_reason: r.get(10)?,
        block: r.get(11)?,
    })
}

/// Distinct reporters of `case` since `since` (unix seconds).
fn count_reporters(tx: &rusqlite::Transaction, case: u64, since: i64) -> rusqlite::Result<u32> {
    tx.query_row(
        "SELECT COUNT(DISTINCT reporter) FROM reports WHERE case_id = ?1 AND at >= ?2",
        params![case, since],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(reporter: &str, address: &str) -> ReportInput {
        ReportInput {
            image: ImageId::Number(7),
            reason: "spam".into(),
            note: None,
            reporter: reporter.into(),
            address: address.into(),
            path: "a/b.jpg".into(),
            labels: vec![],
        }
    }

    #[test]
    fn threshold_claims_once_duplicates_count_once_and_rate_limits() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ReportStore::open(dir.path()).unwrap();
        let policy = ReportPolicy {
            hide_after: 2,
            per_minute: 3,
            ..ReportPolicy::default()
        };
        let a = store.file(&input("a", "1.1.1.1"), &policy, 1000).unwrap();
        assert!(a.counted && !a.hide && a.reporters == 1);
        let again = store.file(&input("a", "1.1.1.1"), &policy, 1001).unwrap();
        assert!(!again.counted && again.reporters == 1 && again.case == a.case);
        let b = store.file(&input("b", "1.1.1.1"), &policy, 1002).unwrap();
        assert!(b.counted && b.hide && b.reporters == 2);
        let c = store.file(&input("c", "1.1.1.1"), &policy, 1003).unwrap();
        assert!(c.counted && !c.hide, "claimed once");
        match store.file(&input("d", "1.1.1.1"), &policy, 1010) {
            Err(EngineError::RateLimited { retry_after_secs }) => {
                assert_eq!(retry_after_secs, 51)
            }
            other => panic!("{other:?}"),
        }
        // Another address is not limited; a minute later the first is not either.
        assert!(store.file(&input("d", "2.2.2.2"), &policy, 1010).is_ok());
        assert!(store.file(&input("e", "1.1.1.1"), &policy, 1062).is_ok());
        // Reopening keeps everything (and the digest key).
        drop(store);
        let store = ReportStore::open(dir.path()).unwrap();
        assert_eq!(store.reports(a.case).unwrap().len(), 5);
        assert_eq!(store.open_count().unwrap(), 1);
    }

    #[test]
    fn reports_outside_the_window_do_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ReportStore::open(dir.path()).unwrap();
        let policy = ReportPolicy {
            hide_after: 2,
            window_secs: 100,
            ..ReportPolicy::default()
        };
        store.file(&input("a", "1"), &policy, 1000).unwrap();
        let late = store.file(&input("b", "2"), &policy, 1200).unwrap();
        assert_eq!(late.reporters, 1);
        assert!(!late.hide);
    }
}
