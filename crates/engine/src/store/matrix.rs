//! The embedding matrix: the vectors of the catalog's ids, in files the collection owns.
//!
//! A matrix file `embeddings.f32` (`embeddings-<k>.f32` after the k-th compaction) holds little-endian
//! `f32` rows; its companion `embeddings.ids` (`embeddings-<k>.ids`) holds the id of each row, as
//! little-endian `u64`. Ids are stable: a changed file is re-embedded under its id, its new row appended
//! after the others, so an id may have several rows and the newest (last) one is its vector; the others
//! are dead, like the rows of deleted images. [`Matrix::open`] builds the id-to-row map (last row wins)
//! and [`compact`] keeps only that row. A [`MatrixRef`] names
//! the file and how many of its rows are committed: the catalog holds the writer's, each generation of
//! the indexes the one its readers use. Rows past a ref's count are leftovers of an interrupted run and
//! are overwritten by the next one.
//!
//! A run appends rows with positioned writes and syncs them before the catalog commits them. When
//! deleted images leave more than [`COMPACT_ABOVE`] of the rows dead, [`compact`] writes the live rows
//! into the next file (atomically, ids unchanged); the catalog then points at it, the next generation
//! too, and the old file goes once that generation is committed ([`remove_unreferenced`]).
//!
//! Collections written before the ids file existed have only `embeddings.f32`, row `id` holding id
//! `id`; they are read so (a `None` ref) until their next run migrates them ([`migrate_legacy`]).

use crate::types::error::{EngineError, Result};
use crate::types::fault;
use memmap2::Mmap;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use vsearch_core::{codec, durable};

pub use crate::types::layout::MATRIX_FILE;
use crate::types::layout::MATRIX_PREFIX;
/// Share of dead rows above which a run compacts the matrix.
pub const COMPACT_ABOVE: f64 = 0.1;

/// A matrix file and the number of its rows that are committed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixRef {
    /// Compactions before this file (0: `embeddings.f32`).
    pub file: u64,
    /// Committed rows.
    pub rows: u64,
}

impl MatrixRef {
    /// The rows file in the collection folder `coll`.
    pub fn rows_path(&self, coll: &Path) -> PathBuf {
        coll.join(self.name("f32"))
    }

    /// The ids file in the collection folder `coll`.
    pub fn ids_path(&self, coll: &Path) -> PathBuf {
        coll.join(self.name("ids"))
    }

    fn name(&self, ext: &str) -> String {
        match self.file {
            0 => format!("{MATRIX_PREFIX}.{ext}"),
            k => format!("{MATRIX_PREFIX}-{k}.{ext}"),
        }
    }
}

/// Writer side of the matrix: appends rows after the committed ones.
pub struct MatrixWriter {
    rows: File,
    ids: File,
    coll: PathBuf,
    at: MatrixRef,
    dim: usize,
}

impl MatrixWriter {
    /// Opens the matrix `at` names in `coll` (creating its files when absent) to append rows of `dim`
    /// values after its committed rows. Rows past them (left by an interrupted or failed run) are cut
    /// off, giving their space back.
    pub fn open(coll: &Path, dim: usize, at: MatrixRef) -> Result<Self> {
        let open = |path: PathBuf| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(EngineError::io(&path))
        };
        let writer = Self {
            rows: open(at.rows_path(coll))?,
            ids: open(at.ids_path(coll))?,
            coll: coll.to_path_buf(),
            at,
            dim,
        };
        writer.truncate_to_committed()?;
        Ok(writer)
    }

    /// Cuts both files back to the committed rows (no reader uses rows past the catalog's ref).
    fn truncate_to_committed(&self) -> Result<()> {
        let rows_len = self.at.rows * (self.dim as u64) * 4;
        let ids_len = self.at.rows * 8;
        for (file, len, path) in [
            (&self.rows, rows_len, self.at.rows_path(&self.coll)),
            (&self.ids, ids_len, self.at.ids_path(&self.coll)),
        ] {
            let now = file.metadata().map_err(EngineError::io(&path))?.len();
            if now > len {
                file.set_len(len).map_err(EngineError::io(&path))?;
            }
        }
        Ok(())
    }

    /// Writes `rows` (of ids `ids`; an id already written gets a newer row, which replaces its older
    /// ones) after the committed rows and syncs them. Returns the ref that commits them.
    pub fn append(&mut self, ids: &[u64], rows: &[Vec<f32>]) -> Result<MatrixRef> {
        debug_assert_eq!(ids.len(), rows.len());
        let mut bytes = Vec::with_capacity(rows.len() * self.dim * 4);
        for row in rows {
            debug_assert_eq!(row.len(), self.dim);
            codec::extend_le_bytes(&mut bytes, row);
        }
        let rows_path = self.at.rows_path(&self.coll);
        let ids_path = self.at.ids_path(&self.coll);
        let written = fault::fail_at("matrix-write")
            .map_err(EngineError::io(&rows_path))
            .and_then(|()| {
                self.rows
                    .write_all_at(&bytes, self.at.rows * (self.dim as u64) * 4)
                    .map_err(EngineError::io(&rows_path))
            })
            .and_then(|()| {
                self.ids
                    .write_all_at(&codec::to_le_bytes(ids), self.at.rows * 8)
                    .map_err(EngineError::io(&ids_path))
            })
            .and_then(|()| self.rows.sync_data().map_err(EngineError::io(&rows_path)))
            .and_then(|()| self.ids.sync_data().map_err(EngineError::io(&ids_path)));
        if let Err(e) = written {
            // A full disk: give back what this batch took (its rows were never committed).
            if let Err(cut) = self.truncate_to_committed() {
                tracing::warn!("cannot cut the matrix back to its committed rows: {cut}");
            }
            return Err(e);
        }
        self.at.rows += ids.len() as u64;
        Ok(self.at)
    }
}

/// How a matrix maps ids to rows.
enum RowIds {
    /// Row `id` holds id `id` (collections before the ids file).
    Identity,
    /// `(id, row)` pairs, ascending by id, one per id: its last row in the file.
    Listed(Vec<(u64, usize)>),
}

/// Read side of the matrix: the rows file mapped, the ids in memory.
pub struct Matrix {
    map: Option<Mmap>,
    path: PathBuf,
    dim: usize,
    rows: usize,
    ids: RowIds,
}

impl Matrix {
    /// Opens the committed rows `at` names in `coll`; `None` opens a collection from before the ids
    /// file (`embeddings.f32` only, row = id; an absent file is an empty matrix).
    pub fn open(coll: &Path, dim: usize, at: Option<MatrixRef>) -> Result<Self> {
        let Some(at) = at else {
            let path = coll.join(MATRIX_FILE);
            let map = map_file(&path)?;
            let rows = match &map {
                Some(m) if dim > 0 => m.len() / (dim * 4),
                _ => 0,
            };
            return Ok(Self {
                map,
                path,
                dim,
                rows,
                ids: RowIds::Identity,
            });
        };
        let path = at.rows_path(coll);
        let ids_path = at.ids_path(coll);
        let rows = usize::try_from(at.rows).unwrap_or(usize::MAX);
        let short = |path: &Path, what: &str| {
            EngineError::Generation {
            path: path.to_path_buf(),
            reason: format!(
                "holds fewer than the {rows} committed {what}; run `vsearch index --rebuild` on the folder"
            ),
        }
        };
        if rows == 0 {
            return Ok(Self {
                map: None,
                path,
                dim,
                rows,
                ids: RowIds::Listed(Vec::new()),
            });
        }
        let id_bytes = std::fs::read(&ids_path).map_err(EngineError::io(&ids_path))?;
        let ids: Vec<u64> = rows
            .checked_mul(8)
            .and_then(|end| id_bytes.get(..end))
            .and_then(|b| codec::from_le_bytes(b).ok())
            .ok_or_else(|| short(&ids_path, "ids"))?;
        let ids = newest_rows(ids);
        let map = map_file(&path)?;
        let needed = rows.checked_mul(dim).and_then(|n| n.checked_mul(4));
        if needed.is_none_or(|n| map.as_ref().map_or(0, |m| m.len()) < n) {
            return Err(short(&path, "rows"));
        }
        Ok(Self {
            map,
            path,
            dim,
            rows,
            ids: RowIds::Listed(ids),
        })
    }

    /// Dimension of a row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows (the dead ones of replaced and deleted images included).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Whether id `id` has a row.
    pub fn contains(&self, id: u64) -> bool {
        self.position(id).is_some()
    }

    fn position(&self, id: u64) -> Option<usize> {
        match &self.ids {
            RowIds::Identity => usize::try_from(id).ok().filter(|&r| r < self.rows),
            RowIds::Listed(ids) => ids
                .binary_search_by_key(&id, |&(id, _)| id)
                .ok()
                .map(|i| ids[i].1),
        }
    }

    /// The vector of id `id`, or `None` when it has no row.
    pub fn row(&self, id: u64) -> Option<Vec<f32>> {
        let map = self.map.as_ref()?;
        let start = self.position(id)?.checked_mul(self.dim * 4)?;
        let bytes = map.get(start..start + self.dim * 4)?;
        codec::from_le_bytes(bytes).ok()
    }

    /// Vectors of `ids`, concatenated (row-major); [`EngineError::MissingVector`] names the first id
    /// without a row.
    pub fn gather(&self, ids: &[u64]) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(ids.len() * self.dim);
        for &id in ids {
            out.extend(self.row(id).ok_or_else(|| self.missing_vector(id))?);
        }
        Ok(out)
    }

    /// The error for a catalog id that has no row in this matrix.
    pub fn missing_vector(&self, id: u64) -> EngineError {
        EngineError::MissingVector {
            path: self.path.clone(),
            rows: self.rows(),
            id,
        }
    }
}

/// The id-to-row map of an ids file, `ids[i]` being the id of row `i`: sorted by id, each id with its
/// last row (the newest vector of an id re-embedded under the same id).
fn newest_rows(ids: Vec<u64>) -> Vec<(u64, usize)> {
    let mut pairs: Vec<(u64, usize)> = ids.into_iter().enumerate().map(|(r, id)| (id, r)).collect();
    if !pairs.is_sorted_by(|a, b| a.0 < b.0) {
        // Stable: rows of one id stay in file order, so the last of a run is the newest.
        pairs.sort_by_key(|&(id, _)| id);
        let mut out: Vec<(u64, usize)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match out.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => out.push(pair),
            }
        }
        return out;
    }
    pairs
}

/// Maps `path` (`None` when absent or empty).
fn map_file(path: &Path) -> Result<Option<Mmap>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(EngineError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let len = file.metadata().map_err(EngineError::io(path))?.len();
    if len == 0 {
        return Ok(None);
    }
    // SAFETY: writers only append past the committed rows or write new files (compaction renames a
    // complete file into place under a new name); committed rows are never modified while mapped.
    let map = unsafe { Mmap::map(&file) }.map_err(EngineError::io(path))?;
    Ok(Some(map))
}

/// Gives a collection from before the ids file its ids file (`embeddings.ids`, row `i` holding id `i`
/// for the rows below `next_id`) and returns the ref that commits it; the caller stores that in the
/// catalog. Until then, readers keep reading the file as before.
pub fn migrate_legacy(coll: &Path, dim: usize, next_id: u64) -> Result<MatrixRef> {
    let legacy = Matrix::open(coll, dim, None)?;
    let rows = (legacy.rows() as u64).min(next_id);
    let at = MatrixRef { file: 0, rows };
    let ids: Vec<u64> = (0..rows).collect();
    let path = at.ids_path(coll);
    durable::write_atomic(&path, &codec::to_le_bytes(&ids)).map_err(EngineError::io(&path))?;
    Ok(at)
}

/// Writes the rows of `live` (ascending ids, all in `matrix`) into the file after `at`'s, atomically,
/// and returns its ref; the caller commits it in the catalog.
pub fn compact(coll: &Path, matrix: &Matrix, at: MatrixRef, live: &[u64]) -> Result<MatrixRef> {
    let next = MatrixRef {
        file: at.file + 1,
        rows: live.len() as u64,
    };
    let vectors = matrix.gather(live)?;
    let rows_path = next.rows_path(coll);
    durable::write_atomic(&rows_path, &codec::to_le_bytes(&vectors))
        .map_err(EngineError::io(&rows_path))?;
    let ids_path = next.ids_path(coll);
    durable::write_atomic(&ids_path, &codec::to_le_bytes(live))
        .map_err(EngineError::io(&ids_path))?;
    Ok(next)
}

/// Removes the matrix files other than `keep`'s (older files after a compaction, or a newer file a
/// killed compaction left). Failures are logged: nothing refers to those files.
pub fn remove_unreferenced(coll: &Path, keep: MatrixRef) {
    let keep_names = [keep.name("f32"), keep.name("ids")];
    let Ok(entries) = std::fs::read_dir(coll) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_matrix =
            name.starts_with(MATRIX_PREFIX) && (name.ends_with(".f32") || name.ends_with(".ids"));
        if is_matrix && !keep_names.iter().any(|k| *k == name) {
            if let Err(e) = std::fs::remove_file(entry.path()) {
                tracing::warn!("cannot remove {}: {e}", entry.path().display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIM: usize = 3;

    fn row(id: u64) -> Vec<f32> {
        (0..DIM).map(|j| id as f32 + j as f32 / 10.0).collect()
    }

    fn rows(ids: &[u64]) -> Vec<Vec<f32>> {
        ids.iter().map(|&id| row(id)).collect()
    }

    #[test]
    fn an_absent_matrix_has_no_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        for at in [None, Some(MatrixRef::default())] {
            let matrix = Matrix::open(dir.path(), DIM, at).expect("open");
            assert_eq!(matrix.rows(), 0);
            assert_eq!(matrix.row(0), None);
        }
    }

    #[test]
    fn appended_rows_read_back_by_id_and_gathered_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = MatrixWriter::open(dir.path(), DIM, MatrixRef::default()).expect("open");
        writer.append(&[0, 1], &rows(&[0, 1])).expect("write");
        // Ids need not be consecutive (a failed file takes an id and no row).
        let at = writer.append(&[5], &rows(&[5])).expect("append");
        assert_eq!(at, MatrixRef { file: 0, rows: 3 });
        let matrix = Matrix::open(dir.path(), DIM, Some(at)).expect("open");
        assert_eq!((matrix.rows(), matrix.dim()), (3, DIM));
        for id in [0, 1, 5] {
            assert_eq!(matrix.row(id), Some(row(id)));
        }
        assert_eq!(matrix.row(2), None);
        let gathered = matrix.gather(&[5, 0]).expect("gather");
        assert_eq!(gathered, [row(5), row(0)].concat());
        assert!(matrix.gather(&[]).expect("gather nothing").is_empty());
    }

    #[test]
    fn an_id_without_a_row_is_a_missing_vector_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = MatrixWriter::open(dir.path(), DIM, MatrixRef::default()).expect("open");
        let at = writer.append(&[0, 1], &rows(&[0, 1])).expect("write");
        let matrix = Matrix::open(dir.path(), DIM, Some(at)).expect("open");
        match matrix.gather(&[0, 5, 7]) {
            Err(EngineError::MissingVector { path, rows, id }) => {
                assert_eq!(path, dir.path().join(MATRIX_FILE));
                assert_eq!((rows, id), (2, 5));
            }
            other => panic!("expected a missing vector, got {other:?}"),
        }
    }

    #[test]
    fn rows_past_the_committed_count_are_ignored_then_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let committed = MatrixWriter::open(dir.path(), DIM, MatrixRef::default())
            .expect("open")
            .append(&[0, 1], &rows(&[0, 1]))
            .expect("write");
        // A killed run appended ids 2 and 3 but never committed them.
        MatrixWriter::open(dir.path(), DIM, committed)
            .expect("reopen")
            .append(&[2, 3], &[vec![9.0; DIM], vec![9.0; DIM]])
            .expect("leftovers");
        let matrix = Matrix::open(dir.path(), DIM, Some(committed)).expect("open");
        assert_eq!(matrix.rows(), 2);
        assert_eq!(matrix.row(2), None, "a leftover is not a row");
        // The next run starts again from the committed rows.
        let at = MatrixWriter::open(dir.path(), DIM, committed)
            .expect("reopen")
            .append(&[2], &rows(&[2]))
            .expect("rewrite");
        let matrix = Matrix::open(dir.path(), DIM, Some(at)).expect("open");
        assert_eq!(
            matrix.gather(&[0, 1, 2]).expect("gather"),
            rows(&[0, 1, 2]).concat()
        );
        assert_eq!(matrix.row(3), None);
    }

    #[test]
    fn a_matrix_shorter_than_its_ref_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        MatrixWriter::open(dir.path(), DIM, MatrixRef::default())
            .expect("open")
            .append(&[0], &rows(&[0]))
            .expect("write");
        let claimed = MatrixRef { file: 0, rows: 2 };
        assert!(matches!(
            Matrix::open(dir.path(), DIM, Some(claimed)),
            Err(EngineError::Generation { .. })
        ));
    }

    #[test]
    fn a_legacy_matrix_reads_row_as_id_and_migrates() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Before the ids file: row `id` at offset `id * dim`, id 1 failed (a hole), a leftover row 3.
        let mut bytes = Vec::new();
        for r in [row(0), vec![0.0; DIM], row(2), row(3)] {
            codec::extend_le_bytes(&mut bytes, &r);
        }
        std::fs::write(dir.path().join(MATRIX_FILE), bytes).expect("write");
        let legacy = Matrix::open(dir.path(), DIM, None).expect("open legacy");
        assert_eq!(legacy.row(2), Some(row(2)));
        let at = migrate_legacy(dir.path(), DIM, 3).expect("migrate");
        assert_eq!(at, MatrixRef { file: 0, rows: 3 });
        let at = MatrixWriter::open(dir.path(), DIM, at)
            .expect("open")
            .append(&[4], &rows(&[4]))
            .expect("append");
        let matrix = Matrix::open(dir.path(), DIM, Some(at)).expect("open");
        assert_eq!(
            matrix.gather(&[0, 2, 4]).expect("gather"),
            rows(&[0, 2, 4]).concat()
        );
        assert_eq!(matrix.row(3), None, "the leftover row is overwritten");
        // Readers of a generation from before the migration still read row = id.
        let legacy = Matrix::open(dir.path(), DIM, None).expect("open legacy");
        assert_eq!(
            legacy.gather(&[0, 2]).expect("gather"),
            rows(&[0, 2]).concat()
        );
    }

    #[test]
    fn compaction_keeps_live_rows_under_their_ids_in_a_new_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ids: Vec<u64> = (0..10).collect();
        let at = MatrixWriter::open(dir.path(), DIM, MatrixRef::default())
            .expect("open")
            .append(&ids, &rows(&ids))
            .expect("write");
        let matrix = Matrix::open(dir.path(), DIM, Some(at)).expect("open");
        let live = [1, 4, 9];
        let next = compact(dir.path(), &matrix, at, &live).expect("compact");
        assert_eq!(next, MatrixRef { file: 1, rows: 3 });
        let compacted = Matrix::open(dir.path(), DIM, Some(next)).expect("open compacted");
        assert_eq!(
            compacted.gather(&live).expect("gather"),
            rows(&live).concat()
        );
        assert_eq!(compacted.row(0), None);
        let size = std::fs::metadata(next.rows_path(dir.path()))
            .expect("stat")
            .len();
        assert_eq!(size, (3 * DIM * 4) as u64);
        // The old reader still reads its rows; new rows go after the compacted ones.
        assert_eq!(matrix.row(0), Some(row(0)));
        let after = MatrixWriter::open(dir.path(), DIM, next)
            .expect("open")
            .append(&[10], &rows(&[10]))
            .expect("append");
        remove_unreferenced(dir.path(), after);
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["embeddings-1.f32", "embeddings-1.ids"]);
        let reopened = Matrix::open(dir.path(), DIM, Some(after)).expect("open");
        assert_eq!(
            reopened.gather(&[1, 10]).expect("gather"),
            rows(&[1, 10]).concat()
        );
    }

    #[test]
    fn a_re_appended_id_reads_its_newest_row_and_compaction_keeps_only_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = MatrixWriter::open(dir.path(), DIM, MatrixRef::default()).expect("open");
        writer.append(&[0, 1, 2], &rows(&[0, 1, 2])).expect("write");
        let committed = writer.append(&[1], &[vec![7.0; DIM]]).expect("re-append");
        let newer = writer
            .append(&[1, 0], &[vec![8.0; DIM], vec![9.0; DIM]])
            .expect("again");
        let old = Matrix::open(dir.path(), DIM, Some(committed)).expect("open");
        assert_eq!(old.rows(), 4);
        assert_eq!(
            old.row(1),
            Some(vec![7.0; DIM]),
            "the last committed row wins"
        );
        assert_eq!(old.row(0), Some(row(0)), "rows past the ref are not seen");
        let matrix = Matrix::open(dir.path(), DIM, Some(newer)).expect("open");
        assert_eq!(matrix.row(1), Some(vec![8.0; DIM]));
        assert_eq!(matrix.row(0), Some(vec![9.0; DIM]));
        assert_eq!(matrix.row(2), Some(row(2)));
        let next = compact(dir.path(), &matrix, newer, &[0, 1, 2]).expect("compact");
        assert_eq!(next.rows, 3);
        let compacted = Matrix::open(dir.path(), DIM, Some(next)).expect("open");
        assert_eq!(
            compacted.gather(&[0, 1, 2]).expect("gather"),
            [vec![9.0; DIM], vec![8.0; DIM], row(2)].concat()
        );
    }
}
