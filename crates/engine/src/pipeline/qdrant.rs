//! Indexing a folder into a Qdrant collection ([`index_into_qdrant`]): the same scan and decode-embed
//! loop as a local run, with Qdrant as the catalog and the store.
//!
//! Qdrant is the only record: a run reads the points of its model (path, content hash, size, mtime),
//! compares them with the folder, embeds new and changed files, and writes each batch as it comes
//! (waiting until Qdrant has applied it). Point ids derive from the file's content hash and path
//! ([`crate::qdrant::payload::point_id`]), so a killed run resumes where its last batch ended and a
//! batch written twice replaces its points. With `--part i/n`, a run takes only the files whose path
//! hashes to its part, so n workers index one tree into one collection without overlapping.

use super::ingest::{self, FileOutcome};
use super::plan::{FolderDiff, PendingFile};
use crate::pipeline::options::{Failure, IndexOptions, IndexReport};
use crate::pipeline::scan::scan;
use crate::qdrant::payload::{point_id, Part, StoredFile, StoredImage, DIFF_KEYS};
use crate::qdrant::{vector_spec, QdrantCollection, QdrantTarget};
use crate::safety::on_qdrant::check_arrivals;
use crate::store::catalog::{Entry, Status};
use crate::types::error::{EngineError, Result};
use crate::types::metadata::{rfc3339_from_ns, ImageMeta};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;
use vsearch_qdrant::{point_uuid, proto, Point};

/// What a run into Qdrant adds to [`IndexOptions`].
#[derive(Debug, Clone)]
pub struct QdrantIndexOptions {
    pub target: QdrantTarget,
    /// This worker's share of the files; `None` takes them all.
    pub part: Option<Part>,
    /// Where the images are served from (each point's payload gets `url` = this + `/` + its path).
    pub base_url: Option<String>,
    /// The collection's records folder ([`crate::qdrant::QdrantOpen::records`]): when it holds blocks,
    /// the run ends by applying them to the points it wrote (see
    /// [`crate::safety::on_qdrant::check_arrivals`]), and when it holds hash banks, by blocking the
    /// points it wrote that match them ([`QdrantCollection::block_bank_matches`]); `None` checks
    /// nothing.
    pub records: Option<std::path::PathBuf>,
}

/// A point of this model already in Qdrant.
struct Stored {
    id: uuid::Uuid,
    file: StoredFile,
}

/// Indexes the images under `dir` into Qdrant; see the module docs. `options.collection`,
/// `indexes`, `add_indexes` and `policy` (local collections' settings) are not used.
pub fn index_into_qdrant(
    dir: &Path,
    options: &IndexOptions,
    qdrant: &QdrantIndexOptions,
) -> Result<IndexReport> {
    let started = Instant::now();
    if !dir.is_dir() {
        return Err(EngineError::NotAFolder {
            path: dir.to_path_buf(),
        });
    }
    let root = dir.canonicalize().map_err(EngineError::io(dir))?;
    let embedder = vsearch_embed::load_at(&options.model, &options.device, options.precision)?;
    let spec = vector_spec(&embedder.info);
    let store = qdrant.target.connect()?;
    store.ensure(&spec, &qdrant.target.layout_with_indexes())?;
    // Other models' vectors live in the same points: theirs must survive this model's writes.
    let shared = store.vectors()?.len() > 1;
    let mut report = IndexReport {
        model: embedder.info.id.clone(),
        ..IndexReport::default()
    };
    let owns = |path: &str| qdrant.part.is_none_or(|p| p.owns(path));

    // 1. What Qdrant holds of this part, by path (a path held twice is a run killed between writing
    //    a changed file's new point and deleting its old one).
    let mut by_path: HashMap<String, Vec<Stored>> = HashMap::new();
    let has_vector = proto::Filter::must([proto::Condition::has_vector(spec.name.clone())]);
    store.scroll::<EngineError>(Some(has_vector), DIFF_KEYS, None, |points| {
        for p in points {
            let Some(id) = p.id.as_ref().and_then(point_uuid) else {
                continue;
            };
            let file = StoredFile::from_payload(&id.to_string(), &p.payload)?;
            if owns(&file.path) {
                by_path
                    .entry(file.path.clone())
                    .or_default()
                    .push(Stored { id, file });
            }
        }
        Ok(())
    })?;

    // 2. Compare with the folder.
    let (files, errors) = scan(
        &root,
        &root.join(crate::types::layout::DEFAULT_COLLECTION_DIR),
    );
    report.failed.extend(
        errors
            .into_iter()
            .map(|(path, reason)| Failure { path, reason }),
    );
    let files = files.into_iter().filter(|f| owns(&f.rel)).collect();
    let diff = FolderDiff::new(files, by_path, |s: &Stored, f| {
        s.file.bytes == f.size && s.file.mtime_ns == f.mtime_ns
    });
    // Points beyond the first at a path are left over from a killed run.
    let mut stale: Vec<uuid::Uuid> = Vec::new();
    for stored in &diff.unchanged {
        report.unchanged += 1;
        stale.extend(stored.iter().skip(1).map(|s| s.id));
    }
    let mut pending = Vec::new();
    for (file, stored) in diff.pending {
        // The previous point, when there is one: an equal content hash only updates its payload.
        let previous = stored.first().map(|s| Entry {
            id: 0,
            path: s.file.path.clone(),
            size: s.file.bytes,
            mtime_ns: s.file.mtime_ns,
            hash: s.file.hash.clone(),
            width: 0,
            height: 0,
            status: Status::Ok,
            error: None,
            meta: None,
            version: 0,
            frame: None,
        });
        stale.extend(stored.iter().skip(1).map(|s| s.id));
        pending.push((
            PendingFile::new(file, previous),
            stored.first().map(|s| s.id),
        ));
    }
    // Points whose file is gone.
    report.removed += diff.gone.len();
    stale.extend(diff.gone.iter().map(|s| s.id));
    store.delete(&stale)?;

    // 3. Decode, embed and write each batch.
    let (files, previous_ids): (Vec<PendingFile>, Vec<Option<uuid::Uuid>>) =
        pending.into_iter().unzip();
    let mut written = 0usize;
    let mut done = 0usize;
    // Points this run wrote (new, changed): matched against the hash banks at the end.
    let mut arrived: Vec<uuid::Uuid> = Vec::new();
    let base_url = qdrant.base_url.as_deref();
    let times = ingest::ingest(
        &files,
        embedder.image.as_ref(),
        spec.dim,
        &root,
        options,
        None,
        |batch, embedded| {
            let mut vectors = embedded.vectors.into_iter();
            let mut points = Vec::new();
            let mut replaced = Vec::new();
            for (pending, outcome) in batch.iter().zip(embedded.outcomes) {
                let previous = previous_ids[done];
                done += 1;
                let file = &pending.file;
                match outcome {
                    FileOutcome::Embedded(image) => {
                        let Some(vector) = vectors.next() else {
                            continue;
                        };
                        let entry = Entry {
                            id: 0,
                            path: file.rel.clone(),
                            size: file.size,
                            mtime_ns: file.mtime_ns,
                            hash: image.hash.clone(),
                            width: image.width,
                            height: image.height,
                            status: Status::Ok,
                            error: None,
                            meta: Some(image.meta),
                            version: 0,
                            frame: None,
                        };
                        let meta = ImageMeta::from_entry(&entry);
                        let id = point_id(&image.hash, &file.rel);
                        let stored = StoredImage::new(&meta, &image.hash, file.mtime_ns, base_url)
                            .with_pdq(image.pdq);
                        points.push(Point {
                            id,
                            vector,
                            payload: stored.to_json(),
                        });
                        match previous {
                            Some(old) if old != id => {
                                replaced.push(old);
                                report.updated += 1;
                            }
                            Some(_) => report.updated += 1,
                            None => report.indexed += 1,
                        }
                    }
                    FileOutcome::SameContent(meta) => {
                        let Some(id) = previous else { continue };
                        let mtime = rfc3339_from_ns(file.mtime_ns);
                        let mut payload = serde_json::Map::new();
                        payload.insert("bytes".into(), file.size.into());
                        payload.insert("mtime_ns".into(), file.mtime_ns.into());
                        payload
                            .insert("time".into(), meta.taken_at.unwrap_or(mtime.clone()).into());
                        payload.insert("mtime".into(), mtime.into());
                        store.set_payload(&[id], payload)?;
                        report.unchanged += 1;
                    }
                    FileOutcome::Failed { reason, .. } => {
                        // The old point of a file that no longer reads goes: search only what is there.
                        if let Some(old) = previous {
                            replaced.push(old);
                            report.removed += 1;
                        }
                        report.failed.push(Failure {
                            path: file.abs.clone(),
                            reason,
                        });
                    }
                    FileOutcome::Skipped => {
                        if let Some(old) = previous {
                            replaced.push(old);
                            report.removed += 1;
                        }
                        report.skipped += 1;
                    }
                }
            }
            let n = points.len();
            arrived.extend(points.iter().map(|p| p.id));
            if shared && n > 0 {
                // A file another model indexed already has its point: only this model's vector is set.
                let ids: Vec<uuid::Uuid> = points.iter().map(|p| p.id).collect();
                let existing = store.existing(&ids)?;
                let (update, new): (Vec<Point>, Vec<Point>) =
                    points.into_iter().partition(|p| existing.contains(&p.id));
                store.update_vectors(
                    &spec.name,
                    update.into_iter().map(|p| (p.id, p.vector)).collect(),
                )?;
                points = new;
            }
            if !points.is_empty() {
                store.upsert(&spec.name, points, written)?;
                crate::types::fault::abort_at("qdrant-upsert");
            }
            written += n;
            report.embedded += n;
            // Old points go once their replacements are written.
            store.delete(&replaced)?;
            Ok(())
        },
    )?;
    // 4. New and rewritten points carry no takedown flag: the blocks in force are applied to them.
    if let Some(records) = &qdrant.records {
        let collection = QdrantCollection::for_index_run(
            std::sync::Arc::new(store),
            spec,
            embedder.info.clone(),
            root.clone(),
            Some(records.clone()),
        )?;
        report.blocked = check_arrivals(&collection, records)?;
        // Arrivals that match a hash bank are blocked now (a block each, logged with the bank and
        // distance), as in a local run.
        if !arrived.is_empty() {
            let matched = collection.block_bank_matches(Some(&arrived), "vsearch index")?;
            report.hash_matches = matched.len();
            report.blocked += matched.len();
        }
    }
    report.decode_cpu_seconds = times.decode_cpu;
    report.model_seconds = times.model;
    report.waiting_for_decode_seconds = times.waiting;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
