//! Free space, foreseen: before a run decodes and embeds anything, it estimates what it will write and
//! refuses at once, with the numbers, when the collection's filesystem cannot hold it with a margin, rather
//! than running out of space an hour later while saving an index.
//!
//! What a run writes: a matrix row per new or changed file (its vector and id), catalog rows, and a new
//! generation of every index over all the files after the run, written in full beside the committed one
//! (which keeps serving until the commit, and is removed after it). Thumbnails are not stored.

use crate::store::manifest::CollectionManifest;
use crate::types::error::{EngineError, Result};
use std::path::Path;

/// Bytes a catalog row takes with its metadata, label scores, SQLite's index pages and its journal: an
/// upper figure (collections here measure 0.5-1 KiB a file).
const CATALOG_BYTES_PER_FILE: u64 = 2048;
/// The margin kept free beyond the estimate: a tenth of it, and at least this much.
const MARGIN_MIN: u64 = 1 << 20;

/// What a run is about to write, by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaceEstimate {
    /// Files to decode and embed.
    pub new_files: usize,
    /// Indexed files once the run is done.
    pub files_after: usize,
    /// Matrix rows (vectors and ids) of the new files.
    pub matrix: u64,
    /// The new generation of every configured index.
    pub indexes: u64,
    /// Catalog rows.
    pub catalog: u64,
    /// Thumbnails of the new files ([`crate::store::thumbnails`]).
    pub thumbnails: u64,
}

impl SpaceEstimate {
    /// The estimate for a run of `manifest`'s collection that embeds `new_files` and ends with
    /// `files_after` indexed files.
    pub fn of_run(manifest: &CollectionManifest, new_files: usize, files_after: usize) -> Self {
        let dim = manifest.model.dim;
        Self {
            new_files,
            files_after,
            matrix: new_files as u64 * (4 * dim as u64 + 8),
            indexes: manifest
                .indexes
                .iter()
                .map(|c| c.estimated_disk_bytes(files_after, dim))
                .sum(),
            catalog: new_files as u64 * CATALOG_BYTES_PER_FILE,
            thumbnails: new_files as u64 * crate::store::thumbnails::ESTIMATED_BYTES,
        }
    }

    /// The estimate with its margin: what must be free.
    pub fn needed(&self) -> u64 {
        let total = self.matrix + self.indexes + self.catalog + self.thumbnails;
        total + (total / 10).max(MARGIN_MIN)
    }

    /// Fails with [`EngineError::NoSpace`] when `available` bytes cannot hold [`Self::needed`].
    pub fn check(&self, coll: &Path, available: u64) -> Result<()> {
        if available >= self.needed() {
            return Ok(());
        }
        Err(EngineError::NoSpace {
            path: coll.to_path_buf(),
            files: self.new_files,
            files_after: self.files_after,
            needed: self.needed(),
            matrix: self.matrix,
            indexes: self.indexes,
            catalog: self.catalog,
            thumbnails: self.thumbnails,
            available,
        })
    }
}

/// Bytes an unprivileged writer may still use on the filesystem that holds `path`.
pub fn available(path: &Path) -> Result<u64> {
    let stat = rustix::fs::statvfs(path).map_err(|e| EngineError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_does_not_fit_with_the_numbers() {
        let estimate = SpaceEstimate {
            new_files: 300,
            files_after: 308,
            matrix: 300 * 5128,
            indexes: 3 << 20,
            catalog: 300 * CATALOG_BYTES_PER_FILE,
            thumbnails: 300 * crate::store::thumbnails::ESTIMATED_BYTES,
        };
        assert!(estimate.needed() > estimate.matrix + estimate.indexes + estimate.catalog);
        assert!(estimate.check(Path::new("/c"), estimate.needed()).is_ok());
        let err = estimate
            .check(Path::new("/c"), 2 << 20)
            .expect_err("2 MiB cannot hold it");
        let message = err.to_string();
        for part in [
            "300 new or changed files",
            "308 files",
            "2.00 MiB",
            "--collection",
            "--force",
        ] {
            assert!(message.contains(part), "{part:?} not in: {message}");
        }
    }

    #[test]
    fn the_free_space_of_a_real_folder_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(available(dir.path()).expect("statvfs") > 0);
    }
}
