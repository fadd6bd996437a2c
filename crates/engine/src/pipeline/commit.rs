//! Step 3 of a run: each embedded batch becomes matrix rows (written and synced first) and then catalog
//! rows, in one catalog transaction per batch, so an interrupted run loses at most the batch in flight.

use super::ingest::{EmbeddedBatch, FileOutcome};
use super::plan::PendingFile;
use crate::pipeline::options::{Failure, IndexReport};
use crate::pipeline::scan::ScannedFile;
use crate::store::catalog::{Catalog, Entry, Status, Touch};
use crate::store::matrix::{MatrixRef, MatrixWriter};
use crate::types::error::Result;
use crate::types::metadata::ContentMeta;
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

/// Writes embedded batches to the matrix and the catalog, handing out ids for new paths from the
/// catalog's `next_id`.
pub(super) struct BatchCommitter<'a> {
    catalog: &'a mut Catalog,
    matrix: MatrixWriter,
    next_id: u64,
    /// The collection folder, where the thumbnails of committed images are kept.
    coll: &'a Path,
}

impl<'a> BatchCommitter<'a> {
    /// Opens the matrix `at` of the collection `coll` for rows of `dim` values.
    pub fn open(
        coll: &'a Path,
        dim: usize,
        at: MatrixRef,
        catalog: &'a mut Catalog,
    ) -> Result<Self> {
        Ok(Self {
            next_id: catalog.next_id()?,
            matrix: MatrixWriter::open(coll, dim, at)?,
            catalog,
            coll,
        })
    }

    /// Completes the frames of the video `video` (see [`Catalog::seal_frames`]).
    pub fn seal_frames(&mut self, video: &ScannedFile, remove: &[u64]) -> Result<()> {
        self.catalog
            .seal_frames(&video.rel, video.size, video.mtime_ns, remove)
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Commits one batch: `batch[i]` became `embedded.outcomes[i]`. A file the catalog already has
    /// keeps its id (stable ids): re-embedded, its new vector is appended under that id (the newest row
    /// of an id wins, see [`crate::store::matrix`]) and its row is updated in place; failed, its row becomes
    /// failed under that id.
    pub fn commit(
        &mut self,
        batch: &[PendingFile],
        embedded: EmbeddedBatch,
        report: &mut IndexReport,
    ) -> Result<()> {
        crate::types::fault::abort_at("embed");
        let EmbeddedBatch { outcomes, vectors } = embedded;
        let mut remove = Vec::new();
        let mut upsert = Vec::new();
        let mut touch = Vec::new();
        let mut hashes = Vec::new();
        // The ids of `vectors`, in order.
        let mut vector_ids = Vec::with_capacity(vectors.len());
        // Thumbnails made from the batch's decodes, kept once its rows are committed.
        let mut thumbnails = Vec::new();
        for (pending, outcome) in batch.iter().zip(outcomes) {
            match outcome {
                FileOutcome::Embedded(image) => {
                    if let Some(jpeg) = image.thumbnail {
                        thumbnails.push((image.hash.clone(), jpeg));
                    }
                    let id = match &pending.previous {
                        Some(previous) => {
                            report.updated += 1;
                            previous.id
                        }
                        None => {
                            report.indexed += 1;
                            self.take_id()
                        }
                    };
                    vector_ids.push(id);
                    hashes.push((id, image.pdq));
                    upsert.push(catalog_entry(
                        pending,
                        id,
                        image.hash,
                        (image.width, image.height),
                        Status::Ok,
                        None,
                        image.meta,
                    ));
                }
                FileOutcome::SameContent(meta) => {
                    if let Some(previous) = &pending.previous {
                        touch.push(Touch {
                            id: previous.id,
                            size: pending.file.size,
                            mtime_ns: pending.file.mtime_ns,
                            meta: Some(meta),
                        });
                    }
                    report.unchanged += 1;
                }
                FileOutcome::Failed { hash, reason, meta } => {
                    let id = match &pending.previous {
                        Some(previous) => previous.id,
                        None => self.take_id(),
                    };
                    report.failed.push(Failure {
                        path: pending.file.abs.clone(),
                        reason: reason.clone(),
                    });
                    upsert.push(catalog_entry(
                        pending,
                        id,
                        hash,
                        (0, 0),
                        Status::Failed,
                        Some(reason),
                        meta,
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
        debug_assert_eq!(vector_ids.len(), vectors.len());
        let mut matrix = None;
        if !vectors.is_empty() {
            matrix = Some(self.matrix.append(&vector_ids, &vectors)?);
            report.embedded += vectors.len();
        }
        crate::types::fault::abort_at("catalog-commit");
        self.catalog
            .commit_hashed(&remove, &upsert, &touch, self.next_id, matrix, &hashes)?;
        for (hash, jpeg) in thumbnails {
            if let Err(e) = crate::store::thumbnails::write(self.coll, &hash, &jpeg) {
                tracing::warn!("cannot keep a thumbnail: {e}");
            }
        }
        Ok(())
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
    meta: ContentMeta,
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
        meta: Some(meta),
        version: 0,
        frame: pending.frame.as_ref().map(|f| f.at.clone()),
    }
}
