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
            for x in row {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
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
    dim: usize,
}

impl Matrix {
    /// Maps the matrix in `dir` (an absent or empty file gives an empty matrix).
    pub fn open(dir: &Path, dim: usize) -> Result<Self> {
        let path = dir.join(MATRIX_FILE);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self { map: None, dim })
            }
            Err(source) => return Err(EngineError::Io { path, source }),
        };
        let len = file.metadata().map_err(EngineError::io(&path))?.len();
        if len == 0 {
            return Ok(Self { map: None, dim });
        }
        // SAFETY: the file is only ever extended or overwritten past the rows the catalog has committed;
        // committed rows are never modified while a reader may map them.
        let map = unsafe { Mmap::map(&file) }.map_err(EngineError::io(&path))?;
        Ok(Self {
            map: Some(map),
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
        Some(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }

    /// Rows of `ids`, concatenated (row-major); `Err(id)` names the first id past the end.
    pub fn gather(&self, ids: &[u64]) -> std::result::Result<Vec<f32>, u64> {
        let mut out = Vec::with_capacity(ids.len() * self.dim);
        for &id in ids {
            out.extend(self.row(id).ok_or(id)?);
        }
        Ok(out)
    }
}
