//! The embedding matrix: a flat little-endian `f32` file, row `id` holds the vector of id `id`.
//!
//! Rows are written with positioned writes and synced before the catalog commits them; readers map the
//! file with `memmap2`. Rows past the catalog's `next_id` are leftovers of an interrupted run and are
//! overwritten by the next one.

use crate::error::{EngineError, Result};
use memmap2::Mmap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// File name of the matrix inside a collection folder.
pub const MATRIX_FILE: &str = "embeddings.f32";

/// Writer side of the matrix.
pub struct MatrixWriter {
    file: File,
    path: PathBuf,
    dim: usize,
}

impl MatrixWriter {
    /// Opens (creating when absent) the matrix in `dir` for rows of `dim` values.
    pub fn open(dir: &Path, dim: usize) -> Result<Self> {
        let path = dir.join(MATRIX_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(EngineError::io(&path))?;
        Ok(Self { file, path, dim })
    }

    /// Writes consecutive rows starting at `first_id` and syncs them to disk.
    pub fn write_rows(&mut self, first_id: u64, rows: &[Vec<f32>]) -> Result<()> {
        let mut bytes = Vec::with_capacity(rows.len() * self.dim * 4);
        for row in rows {
            debug_assert_eq!(row.len(), self.dim);
            vsearch_core::codec::extend_le_bytes(&mut bytes, row);
        }
        let offset = first_id * (self.dim as u64) * 4;
        self.file
            .write_all_at(&bytes, offset)
            .map_err(EngineError::io(&self.path))?;
        self.file.sync_data().map_err(EngineError::io(&self.path))?;
        Ok(())
    }
}

/// Read side of the matrix: a memory map.
pub struct Matrix {
    map: Option<Mmap>,
    path: PathBuf,
    dim: usize,
}

impl Matrix {
    /// Maps the matrix in `dir` (an absent or empty file gives an empty matrix).
    pub fn open(dir: &Path, dim: usize) -> Result<Self> {
        let path = dir.join(MATRIX_FILE);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    map: None,
                    path,
                    dim,
                })
            }
            Err(source) => return Err(EngineError::Io { path, source }),
        };
        let len = file.metadata().map_err(EngineError::io(&path))?.len();
        if len == 0 {
            return Ok(Self {
                map: None,
                path,
                dim,
            });
        }
        // SAFETY: the file is only ever extended or overwritten past the rows the catalog has committed;
        // committed rows are never modified while a reader may map them.
        let map = unsafe { Mmap::map(&file) }.map_err(EngineError::io(&path))?;
        Ok(Self {
            map: Some(map),
            path,
            dim,
        })
    }

    /// Dimension of a row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of complete rows in the file.
    pub fn rows(&self) -> usize {
        match &self.map {
            Some(m) if self.dim > 0 => m.len() / (self.dim * 4),
            _ => 0,
        }
    }

    /// Row `id`, or `None` past the end.
    pub fn row(&self, id: u64) -> Option<Vec<f32>> {
        let map = self.map.as_ref()?;
        let start = (id as usize).checked_mul(self.dim * 4)?;
        let bytes = map.get(start..start + self.dim * 4)?;
        vsearch_core::codec::from_le_bytes(bytes).ok()
    }

    /// Rows of `ids`, concatenated (row-major); [`EngineError::MissingVector`] names the first id past
    /// the end.
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

#[cfg(test)]
mod tests {
    use super::*;

    const DIM: usize = 3;

    fn row(id: u64) -> Vec<f32> {
        (0..DIM).map(|j| id as f32 + j as f32 / 10.0).collect()
    }

    #[test]
    fn an_absent_matrix_has_no_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let matrix = Matrix::open(dir.path(), DIM).expect("open");
        assert_eq!(matrix.rows(), 0);
        assert_eq!(matrix.row(0), None);
    }

    #[test]
    fn appended_rows_read_back_by_id_and_gathered_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = MatrixWriter::open(dir.path(), DIM).expect("open writer");
        writer.write_rows(0, &[row(0), row(1)]).expect("write");
        writer.write_rows(2, &[row(2)]).expect("append");
        let matrix = Matrix::open(dir.path(), DIM).expect("open");
        assert_eq!(matrix.rows(), 3);
        assert_eq!(matrix.dim(), DIM);
        for id in 0..3 {
            assert_eq!(matrix.row(id), Some(row(id)));
        }
        let gathered = matrix.gather(&[2, 0]).expect("gather");
        assert_eq!(gathered, [row(2), row(0)].concat());
        assert!(matrix.gather(&[]).expect("gather nothing").is_empty());
    }

    #[test]
    fn an_id_past_the_end_is_a_missing_vector_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = MatrixWriter::open(dir.path(), DIM).expect("open writer");
        writer.write_rows(0, &[row(0), row(1)]).expect("write");
        let matrix = Matrix::open(dir.path(), DIM).expect("open");
        assert_eq!(matrix.row(2), None);
        match matrix.gather(&[0, 5, 7]) {
            Err(EngineError::MissingVector { path, rows, id }) => {
                assert_eq!(path, dir.path().join(MATRIX_FILE));
                assert_eq!((rows, id), (2, 5));
            }
            other => panic!("expected a missing vector, got {other:?}"),
        }
    }

    #[test]
    fn a_reopened_writer_overwrites_and_extends_without_truncating() {
        let dir = tempfile::tempdir().expect("tempdir");
        MatrixWriter::open(dir.path(), DIM)
            .expect("open writer")
            .write_rows(0, &[row(0), row(1), row(2)])
            .expect("write");
        // A new run rewrites row 1 (a leftover past next_id) and appends row 3.
        MatrixWriter::open(dir.path(), DIM)
            .expect("reopen writer")
            .write_rows(1, &[row(10), row(11), row(3)])
            .expect("rewrite");
        let matrix = Matrix::open(dir.path(), DIM).expect("open");
        assert_eq!(matrix.rows(), 4);
        assert_eq!(
            matrix.gather(&[0, 1, 2, 3]).expect("gather"),
            [row(0), row(10), row(11), row(3)].concat()
        );
    }

    #[test]
    fn a_partial_last_row_is_not_a_row() {
        let dir = tempfile::tempdir().expect("tempdir");
        MatrixWriter::open(dir.path(), DIM)
            .expect("open writer")
            .write_rows(0, &[row(0)])
            .expect("write");
        let path = dir.path().join(MATRIX_FILE);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(&[0; 5]);
        std::fs::write(&path, bytes).expect("write");
        let matrix = Matrix::open(dir.path(), DIM).expect("open");
        assert_eq!(matrix.rows(), 1);
        assert_eq!(matrix.row(1), None);
    }
}
