//! The catalog: one SQLite row per file (id, relative path, size, mtime, content hash, size in pixels,
//! status, error text) plus counters (`next_id`, `generation`).
//!
//! Ids are never reused: a changed file gets a new id. `generation` grows with every committed change,
//! so an index saved at an older generation is known to be stale.

use crate::error::{EngineError, Result};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

/// File name of the catalog inside a collection folder.
pub const CATALOG_FILE: &str = "catalog.sqlite";

/// Status of a catalog row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Embedded: its vector is row `id` of the matrix.
    Ok,
    /// Could not be indexed; `error` says why.
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
        }
    }
}

/// One catalog row.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: u64,
    /// Path relative to the indexed folder, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// blake3 of the content, hex (empty when the file could not be read).
    pub hash: String,
    pub width: u32,
    pub height: u32,
    pub status: Status,
    pub error: Option<String>,
}

/// The SQLite catalog (WAL mode).
pub struct Catalog {
    conn: Connection,
}

impl Catalog {
    /// Opens (creating when absent) the catalog in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let conn = Connection::open(dir.join(CATALOG_FILE))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS files (
                id INTEGER PRIMARY KEY,
                path TEXT NOT NULL UNIQUE,
                size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL,
                hash TEXT NOT NULL,
                width INTEGER NOT NULL,
                height INTEGER NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
                error TEXT
            );
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT OR IGNORE INTO meta (key, value) VALUES ('next_id', 0), ('generation', 0);",
        )?;
        Ok(Self { conn })
    }

    /// Opens an existing catalog read-only.
    pub fn open_read_only(dir: &Path) -> Result<Self> {
        let path = dir.join(CATALOG_FILE);
        if !path.exists() {
            return Err(EngineError::NotACollection(dir.to_path_buf()));
        }
        let conn = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Self { conn })
    }

    fn meta(&self, key: &str) -> Result<u64> {
        let v: Option<i64> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?;
        Ok(v.unwrap_or(0).max(0) as u64)
    }

    /// The next id to hand out.
    pub fn next_id(&self) -> Result<u64> {
        self.meta("next_id")
    }

    /// Counter of committed changes.
    pub fn generation(&self) -> Result<u64> {
        self.meta("generation")
    }

    /// Every row, by id.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, path, size, mtime_ns, hash, width, height, status, error FROM files ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            let status: String = r.get(7)?;
            Ok(Entry {
                id: r.get::<_, i64>(0)? as u64,
                path: r.get(1)?,
                size: r.get::<_, i64>(2)? as u64,
                mtime_ns: r.get(3)?,
                hash: r.get(4)?,
                width: r.get::<_, i64>(5)? as u32,
                height: r.get::<_, i64>(6)? as u32,
                status: if status == "ok" {
                    Status::Ok
                } else {
                    Status::Failed
                },
                error: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Applies one batch in a single transaction: deletes `remove` ids, inserts `insert` rows, updates the
    /// size and mtime of `touch` rows (same content, new metadata), raises `next_id` to at least
    /// `next_id` and bumps the generation.
    pub fn commit(
        &mut self,
        remove: &[u64],
        insert: &[Entry],
        touch: &[(u64, u64, i64)],
        next_id: u64,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut del = tx.prepare_cached("DELETE FROM files WHERE id = ?1")?;
            for id in remove {
                del.execute([*id as i64])?;
            }
            let mut ins = tx.prepare_cached(
                "INSERT INTO files (id, path, size, mtime_ns, hash, width, height, status, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for e in insert {
                ins.execute(params![
                    e.id as i64,
                    e.path,
                    e.size as i64,
                    e.mtime_ns,
                    e.hash,
                    e.width as i64,
                    e.height as i64,
                    e.status.as_str(),
                    e.error
                ])?;
            }
            let mut upd =
                tx.prepare_cached("UPDATE files SET size = ?2, mtime_ns = ?3 WHERE id = ?1")?;
            for (id, size, mtime) in touch {
                upd.execute(params![*id as i64, *size as i64, *mtime])?;
            }
            tx.execute(
                "UPDATE meta SET value = MAX(value, ?1) WHERE key = 'next_id'",
                [next_id as i64],
            )?;
            tx.execute(
                "UPDATE meta SET value = value + 1 WHERE key = 'generation'",
                [],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
