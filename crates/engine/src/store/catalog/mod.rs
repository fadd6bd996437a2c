//! The catalog: one SQLite row per file (id, relative path, size, mtime, content hash, size in pixels,
//! status, error text, and the content metadata: format and EXIF fields, see
//! [`crate::types::metadata::ContentMeta`]) plus counters (`next_id`, `generation`, `schema_version`) and the
//! writer's [`MatrixRef`] (which matrix file, how many rows committed; absent in collections from before
//! the matrix's ids file).
//!
//! Ids are stable and never reused: a file keeps its id while its path stays the same (a changed file is
//! re-embedded under the same id, its row updated in place, its `version` raised); a new path gets a new
//! id. `generation` grows with every committed change, so an index saved at an older generation is known
//! to be stale.
//!
//! Schema versions: 1 had no metadata columns; 2 added `format`, `taken_at`, `camera_make`,
//! `camera_model`, `gps_lat`, `gps_lon` and `version`. [`Catalog::open`] migrates a catalog in place
//! (`ALTER TABLE ... ADD COLUMN`); the rows it had keep a `NULL` format until the next index run reads
//! their metadata ([`Catalog::set_meta`]). 3 added the `labels` table (one row per image and label: its
//! score, see [`crate::labels`]) and the `settings` table (text settings: the label policy in force, as
//! `label_policy`); migrating creates both, empty, and the next index run scores every image without
//! re-embedding it. A re-embedded or deleted image loses its scores in the same transaction. 4 added the
//! `pdq` table (each image's PDQ hash and quality, see `store/catalog/pdq.rs`); migrating creates it, empty, and the next
//! index run hashes every image it lacks (decoding it, without re-embedding it). 5 added `video` and
//! `frame_ms` (a video frame's video, its path relative to the indexed folder, and its time in it; `NULL`
//! for images, see [`Entry::frame`]); migrating adds them, `NULL`.

use crate::store::matrix::MatrixRef;
use crate::types::error::{EngineError, Result};
use crate::types::metadata::{ContentMeta, VideoFrame};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

mod labels;
mod pdq;
mod row_meta;

pub use labels::LabelScores;
use labels::LABEL_TABLES;
use pdq::PDQ_TABLE;

pub use crate::types::layout::CATALOG_FILE;

/// The catalog schema this build writes (kept in the `meta` table as `schema_version`).
pub const SCHEMA_VERSION: u64 = 5;

/// Columns added by schema versions 2 and 5, with their SQL types.
const META_COLUMNS: &[(&str, &str)] = &[
    ("format", "TEXT"),
    ("taken_at", "TEXT"),
    ("camera_make", "TEXT"),
    ("camera_model", "TEXT"),
    ("gps_lat", "REAL"),
    ("gps_lon", "REAL"),
    ("version", "INTEGER NOT NULL DEFAULT 0"),
    ("video", "TEXT"),
    ("frame_ms", "INTEGER"),
];

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
    /// The image's id: stable while the path stays the same.
    pub id: u64,
    /// Path relative to the indexed folder, `/`-separated.
    pub path: String,
    /// File size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// blake3 of the content, hex (empty when the file could not be read).
    pub hash: String,
    /// Width in pixels (0 when not decoded).
    pub width: u32,
    /// Height in pixels (0 when not decoded).
    pub height: u32,
    /// Whether it is embedded.
    pub status: Status,
    /// Why it failed.
    pub error: Option<String>,
    /// Format and EXIF fields; `None` when never read (rows from before schema version 2).
    pub meta: Option<ContentMeta>,
    /// The catalog generation that wrote this row's vector (0 for rows from before stable ids): the
    /// index sync treats an id whose version changed as removed and added again. Set by
    /// [`Catalog::commit`]; the value given there is ignored.
    pub version: u64,
    /// For a frame of a video: the video and the frame's time (its `path` is
    /// [`VideoFrame::frame_path`], its size and mtime the video file's); `None` for an image, and for
    /// a video that failed (one row at the video's own path).
    pub frame: Option<VideoFrame>,
}

/// Size and mtime of a row whose content did not change, and its content metadata when it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Touch {
    /// The row's id.
    pub id: u64,
    /// New file size.
    pub size: u64,
    /// New modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Content metadata to store (`None` keeps the row's).
    pub meta: Option<ContentMeta>,
}

/// The SQLite catalog (WAL mode).
pub struct Catalog {
    conn: Connection,
    /// Whether the `files` table has the schema-2 columns (a read-only catalog may predate them).
    has_meta: bool,
    /// Whether the schema-3 tables exist (a read-only catalog may predate them).
    has_labels: bool,
    /// Whether the schema-4 `pdq` table exists (a read-only catalog may predate it).
    has_pdq: bool,
    /// Whether the `files` table has the schema-5 video columns (a read-only catalog may predate them).
    has_video: bool,
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
        let mut catalog = Self {
            conn,
            has_meta: false,
            has_labels: false,
            has_pdq: false,
            has_video: false,
        };
        catalog.migrate()?;
        Ok(catalog)
    }

    /// Brings the schema to [`SCHEMA_VERSION`]: adds the metadata columns a catalog lacks, in one
    /// transaction with the new `schema_version`.
    fn migrate(&mut self) -> Result<()> {
        let version = self.meta_opt("schema_version")?.unwrap_or(1);
        if version < SCHEMA_VERSION {
            let present = columns(&self.conn)?;
            let tx = self.conn.transaction()?;
            for (name, ty) in META_COLUMNS {
                if !present.iter().any(|c| c == name) {
                    tx.execute_batch(&format!("ALTER TABLE files ADD COLUMN {name} {ty}"))?;
                }
            }
            tx.execute_batch(LABEL_TABLES)?;
            tx.execute_batch(PDQ_TABLE)?;
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION as i64],
            )?;
            tx.commit()?;
            tracing::info!("catalog schema {version} migrated to {SCHEMA_VERSION}");
        }
        self.has_meta = true;
        self.has_labels = true;
        self.has_pdq = true;
        self.has_video = true;
        Ok(())
    }

    /// The catalog's schema version (1 for catalogs from before it was recorded).
    pub fn schema_version(&self) -> Result<u64> {
        Ok(self.meta_opt("schema_version")?.unwrap_or(1))
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
        let present = columns(&conn)?;
        let has_meta = present.iter().any(|c| c == "format");
        let has_video = present.iter().any(|c| c == "video");
        let has_labels: bool = conn.query_row(
            "SELECT COUNT(*) = 2 FROM sqlite_master WHERE type = 'table' AND name IN ('labels', 'settings')",
            [],
            |r| r.get(0),
        )?;
        let has_pdq: bool = conn.query_row(
            "SELECT COUNT(*) = 1 FROM sqlite_master WHERE type = 'table' AND name = 'pdq'",
            [],
            |r| r.get(0),
        )?;
        Ok(Self {
            conn,
            has_meta,
            has_labels,
            has_pdq,
            has_video,
        })
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

    /// Indexed files whose vector was written after the catalog's `generation` (new or changed since):
    /// what a generation of the indexes committed at `generation` does not serve yet. 0 for catalogs
    /// from before the `version` column.
    pub fn indexed_since(&self, generation: u64) -> Result<usize> {
        if !self.has_meta {
            return Ok(0);
        }
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM files WHERE status = 'ok' AND version > ?1",
            [generation as i64],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as usize)
    }

    /// Every row, by id.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let meta_columns = if self.has_meta {
            "format, taken_at, camera_make, camera_model, gps_lat, gps_lon, version"
        } else {
            "NULL, NULL, NULL, NULL, NULL, NULL, 0"
        };
        let video_columns = if self.has_video {
            "video, frame_ms"
        } else {
            "NULL, NULL"
        };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT id, path, size, mtime_ns, hash, width, height, status, error, {meta_columns},
             {video_columns} FROM files ORDER BY id"
        ))?;
        let rows = stmt.query_map([], |r| {
            let status: String = r.get(7)?;
            let format: Option<String> = r.get(9)?;
            let meta = match format {
                None => None,
                Some(format) => Some(ContentMeta {
                    format,
                    taken_at: r.get(10)?,
                    camera_make: r.get(11)?,
                    camera_model: r.get(12)?,
                    gps_lat: r.get(13)?,
                    gps_lon: r.get(14)?,
                }),
            };
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
                meta,
                version: r.get::<_, i64>(15)?.max(0) as u64,
                frame: match (
                    r.get::<_, Option<String>>(16)?,
                    r.get::<_, Option<i64>>(17)?,
                ) {
                    (Some(video), Some(ms)) => Some(VideoFrame::at_ms(video, ms.max(0) as u64)),
                    _ => None,
                },
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Stores the content metadata of rows (read for metadata only, without re-embedding) and bumps
    /// the generation, in one transaction. Nothing happens when `rows` is empty.
    pub fn set_meta(&mut self, rows: &[(u64, ContentMeta)]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut upd = tx.prepare_cached(
                "UPDATE files SET format = ?2, taken_at = ?3, camera_make = ?4, camera_model = ?5,
                 gps_lat = ?6, gps_lon = ?7 WHERE id = ?1",
            )?;
            for (id, m) in rows {
                upd.execute(params![
                    *id as i64,
                    m.format,
                    m.taken_at,
                    m.camera_make,
                    m.camera_model,
                    m.gps_lat,
                    m.gps_lon
                ])?;
            }
            tx.execute(
                "UPDATE meta SET value = value + 1 WHERE key = 'generation'",
                [],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// [`Catalog::commit_hashed`] without PDQ hashes.
    pub fn commit(
        &mut self,
        remove: &[u64],
        upsert: &[Entry],
        touch: &[Touch],
        next_id: u64,
        matrix: Option<MatrixRef>,
    ) -> Result<()> {
        self.commit_hashed(remove, upsert, touch, next_id, matrix, &[])
    }

    /// Applies one batch in a single transaction: deletes `remove` ids, writes `upsert` rows (a row
    /// whose id exists is updated in place, which needs the same path: an id never moves to another
    /// path; otherwise it is inserted), updates the size, mtime (and metadata, when given) of `touch`
    /// rows (same content), raises `next_id` to at least `next_id`, points at `matrix` (the rows the
    /// batch appended) when given, and bumps the generation. Written rows get the new generation as
    /// their `version`. Removed and written rows lose their PDQ row; `pdq` gives the new ones (of
    /// written rows).
    pub fn commit_hashed(
        &mut self,
        remove: &[u64],
        upsert: &[Entry],
        touch: &[Touch],
        next_id: u64,
        matrix: Option<MatrixRef>,
        pdq: &[(u64, Option<crate::pdq::Pdq>)],
    ) -> Result<()> {
        let version = self.generation()? + 1;
        let tx = self.conn.transaction()?;
        {
            delete_rows(&tx, remove)?;
            let mut upd = tx.prepare_cached(
                "UPDATE files SET size = ?3, mtime_ns = ?4, hash = ?5, width = ?6, height = ?7,
                 status = ?8, error = ?9, format = ?10, taken_at = ?11, camera_make = ?12,
                 camera_model = ?13, gps_lat = ?14, gps_lon = ?15, version = ?16, video = ?17,
                 frame_ms = ?18 WHERE id = ?1 AND path = ?2",
            )?;
            let mut ins = tx.prepare_cached(
                "INSERT INTO files (id, path, size, mtime_ns, hash, width, height, status, error,
                 format, taken_at, camera_make, camera_model, gps_lat, gps_lon, version, video,
                 frame_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 ?18)",
            )?;
            for e in upsert {
                let m = e.meta.clone().unwrap_or_default();
                let values = params![
                    e.id as i64,
                    e.path,
                    e.size as i64,
                    e.mtime_ns,
                    e.hash,
                    e.width as i64,
                    e.height as i64,
                    e.status.as_str(),
                    e.error,
                    m.format,
                    m.taken_at,
                    m.camera_make,
                    m.camera_model,
                    m.gps_lat,
                    m.gps_lon,
                    version as i64,
                    e.frame.as_ref().map(|f| f.path.as_str()),
                    e.frame.as_ref().map(|f| f.ms() as i64)
                ];
                if upd.execute(values)? == 0 {
                    ins.execute(values)?;
                }
                forget_content(&tx, e.id)?;
            }
            pdq::write_pdq(&tx, pdq)?;
            let mut touch_size =
                tx.prepare_cached("UPDATE files SET size = ?2, mtime_ns = ?3 WHERE id = ?1")?;
            let mut touch_meta = tx.prepare_cached(
                "UPDATE files SET size = ?2, mtime_ns = ?3, format = ?4, taken_at = ?5,
                 camera_make = ?6, camera_model = ?7, gps_lat = ?8, gps_lon = ?9 WHERE id = ?1",
            )?;
            for t in touch {
                match &t.meta {
                    None => touch_size.execute(params![t.id as i64, t.size as i64, t.mtime_ns])?,
                    Some(m) => touch_meta.execute(params![
                        t.id as i64,
                        t.size as i64,
                        t.mtime_ns,
                        m.format,
                        m.taken_at,
                        m.camera_make,
                        m.camera_model,
                        m.gps_lat,
                        m.gps_lon
                    ])?,
                };
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

impl Catalog {
    /// Completes a video's frames in one transaction: deletes the rows `remove` (frames no longer
    /// sampled, the video's failed row) with their label scores and PDQ hashes, gives every frame row of
    /// the video at `video` the video's `size` and `mtime_ns` (frames are committed with
    /// [`UNSEALED_MTIME`] until then, so that a run killed in the middle of a video samples it again),
    /// and bumps the generation.
    pub fn seal_frames(
        &mut self,
        video: &str,
        size: u64,
        mtime_ns: i64,
        remove: &[u64],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            delete_rows(&tx, remove)?;
            tx.execute(
                "UPDATE files SET size = ?2, mtime_ns = ?3 WHERE video = ?1",
                params![video, size as i64, mtime_ns],
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

/// The modification time frame rows are committed with until their video is complete
/// ([`Catalog::seal_frames`]): no file has it, so the video is not taken as unchanged before then.
pub const UNSEALED_MTIME: i64 = i64::MIN;

/// The column names of the `files` table.
fn columns(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('files')")?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(names.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Deletes the rows `ids` and what belongs to their content ([`forget_content`]).
fn delete_rows(tx: &rusqlite::Transaction<'_>, ids: &[u64]) -> rusqlite::Result<()> {
    let mut del = tx.prepare_cached("DELETE FROM files WHERE id = ?1")?;
    for id in ids {
        del.execute([*id as i64])?;
        forget_content(tx, *id)?;
    }
    Ok(())
}

/// Deletes what was computed from row `id`'s content, which a removed or re-written row loses: its
/// label scores (they belong to its vector) and its PDQ hash.
fn forget_content(tx: &rusqlite::Transaction<'_>, id: u64) -> rusqlite::Result<()> {
    for sql in [
        "DELETE FROM labels WHERE id = ?1",
        "DELETE FROM pdq WHERE id = ?1",
    ] {
        tx.prepare_cached(sql)?.execute([id as i64])?;
    }
    Ok(())
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
            meta: Some(ContentMeta {
                format: "jpeg".into(),
                taken_at: Some("2024-06-01T12:00:00+02:00".into()),
                camera_make: Some("Make".into()),
                camera_model: None,
                gps_lat: Some(48.5),
                gps_lon: Some(-2.25),
            }),
            version: 1,
            frame: None,
        }
    }

    fn touch(id: u64, size: u64, mtime_ns: i64) -> Touch {
        Touch {
            id,
            size,
            mtime_ns,
            meta: None,
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
            .commit(&[1], &[], &[touch(2, 7, 77)], 3, None)
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

    #[test]
    fn an_upsert_updates_a_row_in_place_under_its_id_and_raises_its_version() {
        let (_dir, mut catalog) = temp_catalog();
        catalog
            .commit(&[], &[entry(0, "a.jpg", Status::Ok)], &[], 1, None)
            .expect("insert");
        let mut changed = entry(0, "a.jpg", Status::Failed);
        changed.hash = "new".into();
        catalog
            .commit(&[], &[changed], &[], 1, None)
            .expect("update");
        let rows = catalog.entries().expect("entries");
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].id, rows[0].status), (0, Status::Failed));
        assert_eq!((rows[0].hash.as_str(), rows[0].version), ("new", 2));
        // An id never moves to another path.
        let err = catalog
            .commit(&[], &[entry(0, "b.jpg", Status::Ok)], &[], 1, None)
            .expect_err("id 0 is a.jpg");
        assert!(matches!(err, EngineError::Catalog { .. }), "{err}");
    }

    #[test]
    fn a_schema_1_catalog_gains_the_metadata_columns_and_keeps_its_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let conn = Connection::open(dir.path().join(CATALOG_FILE)).expect("open");
            conn.execute_batch(
                "CREATE TABLE files (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,
                 size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL,
                 width INTEGER NOT NULL, height INTEGER NOT NULL, status TEXT NOT NULL, error TEXT);
                 CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                 INSERT INTO meta VALUES ('next_id', 1), ('generation', 1);
                 INSERT INTO files VALUES (0, 'a.jpg', 10, 20, 'h', 4, 3, 'ok', NULL);",
            )
            .expect("schema 1");
        }
        let reader = Catalog::open_read_only(dir.path()).expect("read-only");
        let rows = reader.entries().expect("entries before the migration");
        assert_eq!((rows[0].meta.clone(), rows[0].version), (None, 0));
        drop(reader);
        let mut catalog = Catalog::open(dir.path()).expect("migrate");
        assert_eq!(catalog.schema_version().expect("version"), SCHEMA_VERSION);
        let rows = catalog.entries().expect("entries");
        assert_eq!(
            (rows[0].path.as_str(), rows[0].meta.clone()),
            ("a.jpg", None)
        );
        let meta = ContentMeta {
            format: "jpeg".into(),
            ..ContentMeta::default()
        };
        catalog.set_meta(&[(0, meta.clone())]).expect("set meta");
        assert_eq!(catalog.entries().expect("entries")[0].meta, Some(meta));
        assert_eq!(catalog.generation().expect("generation"), 2);
        // Schema 3: label tables, empty; scores and the policy read back, a re-written row loses its own.
        assert!(catalog.labels().expect("labels").is_empty());
        assert_eq!(catalog.label_policy().expect("policy"), None);
        catalog
            .set_labels("p", false, &[(0, vec![("a".into(), 0.25)])])
            .expect("set labels");
        assert_eq!(catalog.labels().expect("labels")[&0]["a"], 0.25);
        assert_eq!(
            catalog.label_policy().expect("policy").as_deref(),
            Some("p")
        );
        let row = catalog.entries().expect("entries")[0].clone();
        catalog.commit(&[], &[row], &[], 1, None).expect("rewrite");
        assert!(catalog.labels().expect("labels").is_empty());
        // Opening again migrates nothing.
        drop(catalog);
        let again = Catalog::open(dir.path()).expect("reopen");
        assert_eq!(again.entries().expect("entries").len(), 1);
    }
}
