//! Step 3 of a run: each embedded batch becomes matrix rows (written and synced first) and then catalog
//! rows, in one catalog transaction per batch, so an interrupted run loses at most the batch in flight.

use super::ingest::{EmbeddedBatch, FileOutcome};
use super::plan::PendingFile;
use crate::catalog::{Catalog, Entry, Status};
use crate::error::Result;
use crate::matrix::{MatrixRef, MatrixWriter};
use crate::{Failure, IndexReport};
use std::path::Path;

/// Deletes the catalog rows of files gone from the folder, in one commit (none when nothing is gone).
pub(super) fn remove_gone(
    catalog: &mut Catalog,
    gone: &[u64],
    report: &mut IndexReport,
) -> Result<()> {
    if gone.is_empty() {
        return Ok(());
    }
    let next_id = catalog.next_id()?;
    catalog.commit(gone, &[], &[], next_id, None)?;
    report.removed += gone.len();
    Ok(())
}

/// Writes embedded batches to the matrix and the catalog, handing out ids from the catalog's `next_id`.
pub(super) struct BatchCommitter<'a> {
    catalog: &'a mut Catalog,
    matrix: MatrixWriter,
    next_id: u64,
}

impl<'a> BatchCommitter<'a> {
    /// Opens the matrix `at` of the collection `coll` for rows of `dim` values.
    pub fn open(coll: &Path, dim: usize, at: MatrixRef, catalog: &'a mut Catalog) -> Result<Self> {
        Ok(Self {
            next_id: catalog.next_id()?,
            matrix: MatrixWriter::open(coll, dim, at)?,
            catalog,
        })
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Commits one batch: `batch[i]` became `embedded.outcomes[i]`.
    pub fn commit(
        &mut self,
        batch: &[PendingFile],
        embedded: EmbeddedBatch,
        report: &mut IndexReport,
    ) -> Result<()> {
        crate::fault::abort_at("embed");
        let EmbeddedBatch { outcomes, vectors } = embedded;
        let mut remove = Vec::new();
        let mut insert = Vec::new();
        let mut touch = Vec::new();
        // Embedded rows take consecutive ids so they are one contiguous write.
        let first_id = self.next_id;
        for (pending, outcome) in batch.iter().zip(&outcomes) {
            let FileOutcome::Embedded(image) = outcome else {
                continue;
            };
            let id = self.take_id();
            if let Some(previous) = &pending.previous {
                remove.push(previous.id);
                report.updated += 1;
            } else {
                report.indexed += 1;
            }
            insert.push(catalog_entry(
                pending,
                id,
                image.hash.clone(),
                (image.width, image.height),
                Status::Ok,
                None,
            ));
        }
        debug_assert_eq!(self.next_id - first_id, vectors.len() as u64);
        for (pending, outcome) in batch.iter().zip(outcomes) {
            match outcome {
                FileOutcome::Embedded(_) => {}
                FileOutcome::SameContent => {
                    if let Some(previous) = &pending.previous {
                        touch.push((previous.id, pending.file.size, pending.file.mtime_ns));
                    }
                    report.unchanged += 1;
                }
                FileOutcome::Failed { hash, reason } => {
                    if let Some(previous) = &pending.previous {
                        remove.push(previous.id);
                    }
                    let id = self.take_id();
                    report.failed.push(Failure {
                        path: pending.file.abs.clone(),
                        reason: reason.clone(),
                    });
                    insert.push(catalog_entry(
                        pending,
                        id,
                        hash,
                        (0, 0),
                        Status::Failed,
                        Some(reason),
                    ));
                }
                FileOutcome::Skipped => {
                    if let Some(previous) = &pending.previous {
                        remove.push(previous.id);
                        report.removed += 1;
                    }
                    report.skipped += 1;
                }
            }
        }
        let mut matrix = None;
        if !vectors.is_empty() {
            let ids: Vec<u64> = (first_id..first_id + vectors.len() as u64).collect();
            matrix = Some(self.matrix.append(&ids, &vectors)?);
            report.embedded += vectors.len();
        }
        crate::fault::abort_at("catalog-commit");
        self.catalog
            .commit(&remove, &insert, &touch, self.next_id, matrix)
    }
}

/// The catalog row of a pending file.
fn catalog_entry(
    pending: &PendingFile,
    id: u64,
    hash: String,
    (width, height): (u32, u32),
    status: Status,
    error: Option<String>,
) -> Entry {
    Entry {
        id,
        path: pending.file.rel.clone(),
        size: pending.file.size,
        mtime_ns: pending.file.mtime_ns,
        hash,
        width,
        height,
        status,
        error,
    }
}
