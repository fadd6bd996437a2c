//! The catalog: one SQLite row per file (id, relative path, size, mtime, content hash, size in pixels,
//! status, error text) plus counters (`next_id`, `generation`) and the writer's [`MatrixRef`] (which
//! matrix file, how many rows committed; absent in collections from before the matrix's ids file).
//!
//! Ids are never reused: a changed file gets a new id. `generation` grows with every committed change,
//! so an index saved at an older generation is known to be stale.

use crate::error::{EngineError, Result};
use crate::matrix::MatrixRef;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

/// File name of the catalog inside a collection folder.
pub const CATALOG_FILE: &str = "catalog.sqlite";

/// Status of a catalog row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Embedded: its vector is in the matrix.
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
#[derive(Debug, Clone, PartialEq)]
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
            return Err(EngineError::NotACollection {
                path: dir.to_path_buf(),
            });
        }
        let conn = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Self { conn })
    }

    fn meta(&self, key: &str) -> Result<u64> {
        Ok(self.meta_opt(key)?.unwrap_or(0))
    }

    fn meta_opt(&self, key: &str) -> Result<Option<u64>> {
        let v: Option<i64> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?;
        Ok(v.map(|v| v.max(0) as u64))
    }

    /// The matrix the catalog's rows are in; `None` for a collection from before the matrix's ids file.
    pub fn matrix_ref(&self) -> Result<Option<MatrixRef>> {
        Ok(
            match (self.meta_opt("matrix_file")?, self.meta_opt("matrix_rows")?) {
                (Some(file), Some(rows)) => Some(MatrixRef { file, rows }),
                _ => None,
            },
        )
    }

    /// Points the catalog at the matrix `at` (after a migration or a compaction), in one transaction.
    pub fn set_matrix(&mut self, at: MatrixRef) -> Result<()> {
        let tx = self.conn.transaction()?;
        set_matrix_in(&tx, at)?;
        tx.commit()?;
        Ok(())
    }

    /// Gives back the space of deleted rows (after a compaction): `VACUUM`, then a WAL checkpoint that
    /// truncates the log.
    pub fn vacuum(&self) -> Result<()> {
        self.conn.execute_batch("VACUUM")?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
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
    /// `next_id`, points at `matrix` (the rows the batch appended) when given, and bumps the generation.
    pub fn commit(
        &mut self,
        remove: &[u64],
        insert: &[Entry],
        touch: &[(u64, u64, i64)],
        next_id: u64,
        matrix: Option<MatrixRef>,
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
            if let Some(at) = matrix {
                set_matrix_in(&tx, at)?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

fn set_matrix_in(tx: &rusqlite::Transaction<'_>, at: MatrixRef) -> Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('matrix_file', ?1), ('matrix_rows', ?2)",
        [at.file as i64, at.rows as i64],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, path: &str, status: Status) -> Entry {
        Entry {
            id,
            path: path.into(),
            size: 100 + id,
            mtime_ns: 1_000 + id as i64,
            hash: format!("hash-{id}"),
            width: 640,
            height: 480,
            status,
            error: (status == Status::Failed).then(|| "broken".to_string()),
        }
    }

    /// A new catalog in a temporary folder (removed when the folder is dropped).
    fn temp_catalog() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().expect("tempdir");
        let catalog = Catalog::open(dir.path()).expect("open");
        (dir, catalog)
    }

    fn ids(catalog: &Catalog) -> Vec<u64> {
        catalog
            .entries()
            .expect("entries")
            .iter()
            .map(|e| e.id)
            .collect()
    }

    #[test]
    fn a_new_catalog_is_empty_at_generation_zero() {
        let (_dir, catalog) = temp_catalog();
        assert!(catalog.entries().expect("entries").is_empty());
        assert_eq!(catalog.next_id().expect("next_id"), 0);
        assert_eq!(catalog.generation().expect("generation"), 0);
    }

    #[test]
    fn inserted_rows_read_back_by_id_with_every_field() {
        let (_dir, mut catalog) = temp_catalog();
        let rows = [
            entry(1, "b.jpg", Status::Failed),
            entry(0, "a.jpg", Status::Ok),
        ];
        catalog.commit(&[], &rows, &[], 2, None).expect("commit");
        let by_id = [rows[1].clone(), rows[0].clone()];
        assert_eq!(catalog.entries().expect("entries"), by_id);
        assert_eq!(catalog.next_id().expect("next_id"), 2);
        assert_eq!(catalog.generation().expect("generation"), 1);
    }

    #[test]
    fn commit_deletes_updates_metadata_and_bumps_the_generation() {
        let (_dir, mut catalog) = temp_catalog();
        let rows = [
            entry(0, "a.jpg", Status::Ok),
            entry(1, "b.jpg", Status::Ok),
            entry(2, "c.jpg", Status::Ok),
        ];
        catalog.commit(&[], &rows, &[], 3, None).expect("insert");
        catalog
            .commit(&[1], &[], &[(2, 7, 77)], 3, None)
            .expect("delete and touch");
        assert_eq!(ids(&catalog), [0, 2]);
        let touched = &catalog.entries().expect("entries")[1];
        assert_eq!((touched.size, touched.mtime_ns), (7, 77));
        assert_eq!(touched.hash, "hash-2", "a touch keeps the content hash");
        assert_eq!(catalog.generation().expect("generation"), 2);
        // Even an empty commit is a change of generation.
        catalog.commit(&[], &[], &[], 3, None).expect("empty");
        assert_eq!(catalog.generation().expect("generation"), 3);
    }

    #[test]
    fn next_id_never_goes_down_and_ids_are_not_reused() {
        let (_dir, mut catalog) = temp_catalog();
        catalog
            .commit(&[], &[entry(4, "a.jpg", Status::Ok)], &[], 5, None)
            .expect("commit");
        catalog
            .commit(&[4], &[], &[], 1, None)
            .expect("lower next_id");
        assert_eq!(catalog.next_id().expect("next_id"), 5);
        assert!(ids(&catalog).is_empty());
    }

    #[test]
    fn a_path_is_unique_so_a_failed_commit_changes_nothing() {
        let (_dir, mut catalog) = temp_catalog();
        catalog
            .commit(&[], &[entry(0, "a.jpg", Status::Ok)], &[], 1, None)
            .expect("commit");
        let err = catalog
            .commit(&[], &[entry(1, "a.jpg", Status::Ok)], &[], 2, None)
            .expect_err("same path twice");
        assert!(matches!(err, EngineError::Catalog { .. }), "{err}");
        assert_eq!(ids(&catalog), [0]);
        assert_eq!(catalog.next_id().expect("next_id"), 1);
        assert_eq!(catalog.generation().expect("generation"), 1);
    }

    #[test]
    fn read_only_sees_committed_rows_and_needs_an_existing_catalog() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            Catalog::open_read_only(dir.path()),
            Err(EngineError::NotACollection { .. })
        ));
        let mut writer = Catalog::open(dir.path()).expect("open");
        writer
            .commit(&[], &[entry(0, "a.jpg", Status::Ok)], &[], 1, None)
            .expect("commit");
        let reader = Catalog::open_read_only(dir.path()).expect("open read-only");
        assert_eq!(ids(&reader), [0]);
        assert_eq!(reader.generation().expect("generation"), 1);
    }
}
