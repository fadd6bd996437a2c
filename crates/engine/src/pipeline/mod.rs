//! [`index_folder`]: open the collection for writing, then four steps, one module each: `plan` (scan the
//! folder and compare it with the catalog), `ingest` (decode and preprocess in parallel while the model
//! embeds the previous batch), `commit` (each batch's matrix rows, synced, then its catalog rows) and
//! `sync` (bring every index up to date with the catalog). Between the last two, the matrix is
//! compacted when deletes left enough of it dead ([`crate::store::matrix`]); after them, matrix files no
//! generation needs are removed.

mod commit;
mod frames;
mod ingest;
mod label;
pub mod options;
mod plan;
pub mod qdrant;
pub mod scan;
mod sync;
pub mod watch;

use crate::pipeline::options::{IndexOptions, IndexReport};
use crate::store::catalog::Catalog;
use crate::store::indexes;
use crate::store::manifest::{CollectionManifest, FORMAT_VERSION};
use crate::store::matrix::{self, Matrix, MatrixRef};
use crate::store::space::{self, SpaceEstimate};
use crate::types::error::{EngineError, Result};
use crate::types::layout;
use commit::BatchCommitter;
use plan::IndexPlan;
use std::path::{Path, PathBuf};
use std::time::Instant;
use sync::CatalogState;
use vsearch_embed::{Embedder, ModelSpec};
use vsearch_index::Metric;

/// Indexes (or updates) the images under `dir`; see the crate docs.
pub fn index_folder(dir: &Path, options: &IndexOptions) -> Result<IndexReport> {
    Indexer::default().run(dir, options)
}

/// What a model was loaded from: its spec, device and precision.
type Loaded = (
    ModelSpec,
    vsearch_embed::DeviceSpec,
    vsearch_embed::Precision,
);

/// Runs [`index_folder`] again and again with the model kept loaded between runs (`vsearch index --watch`).
#[derive(Default)]
pub struct Indexer {
    /// The model of the last run, and what it was loaded from.
    loaded: Option<(Loaded, Embedder)>,
}

impl Indexer {
    /// One run of [`index_folder`].
    pub fn run(&mut self, dir: &Path, options: &IndexOptions) -> Result<IndexReport> {
        run(dir, options, &mut self.loaded)
    }
}

fn run(
    dir: &Path,
    options: &IndexOptions,
    loaded: &mut Option<(Loaded, Embedder)>,
) -> Result<IndexReport> {
    let started = Instant::now();
    let (root, coll) = collection_paths(dir, options)?;
    // One writer per collection: held until this function returns.
    let _lock = layout::try_lock_index(&coll)?;
    // FAISS (IVF training) uses as many threads as decoding does.
    vsearch_index::set_threads(options.threads.max(1));
    if options.rebuild {
        remove_collection_files(&coll)?;
    }
    let existing = CollectionManifest::read(&coll)?;
    let spec = model_spec(existing.as_ref(), options)?;
    let wanted = (spec.clone(), options.device, options.precision);
    let embedder = match loaded.take() {
        Some((was, embedder)) if was == wanted => embedder,
        _ => vsearch_embed::load_at(&spec, &options.device, options.precision)?,
    };
    if let Some(m) = &existing {
        if m.model != embedder.info {
            return Err(EngineError::ModelMismatch {
                collection: m.model.id.clone(),
                requested: embedder.info.id.clone(),
            });
        }
    }
    let embedder = &loaded.insert((wanted, embedder)).1;
    let manifest = write_manifest(&coll, &root, existing.as_ref(), embedder, &spec, options)?;
    let dim = manifest.model.dim;

    let mut catalog = Catalog::open(&coll)?;
    let matrix_at = match catalog.matrix_ref()? {
        Some(at) => at,
        None => {
            let at = matrix::migrate_legacy(&coll, dim, catalog.next_id()?)?;
            catalog.set_matrix(at)?;
            at
        }
    };
    let entries = catalog.entries()?;
    let mut report = IndexReport {
        model: manifest.model.id.clone(),
        ..IndexReport::default()
    };

    // The indexed ids and the versions of their vectors before this run (to tell what arrives).
    let before: std::collections::HashMap<u64, u64> = entries
        .iter()
        .filter(|e| e.status == crate::store::catalog::Status::Ok)
        .map(|e| (e.id, e.version))
        .collect();
    // Without videos (`--no-videos`), the frames indexed before go.
    let (entries, unwanted_frames): (Vec<_>, Vec<_>) = entries
        .into_iter()
        .partition(|e| options.videos.enabled || e.frame.is_none());
    // 1. Scan the folder and compare it with the catalog.
    let mut plan = IndexPlan::scan(&root, &coll, entries);
    plan.report_scan(&mut report);
    // Videos (recognised by content) have a pass of their own; a file that was a video and is not one
    // now loses its frames.
    let (videos, images) = split_videos(std::mem::take(&mut plan.pending), options);
    let mut gone = plan.gone.clone();
    gone.extend(unwanted_frames.iter().map(|e| e.id));
    gone.extend(images.iter().flat_map(|p| p.frames.iter().map(|e| e.id)));
    gone.sort_unstable();
    // Before anything is decoded: will what the run writes fit on the collection's filesystem? (A video
    // counts as its most frames.)
    let arriving = images.len() + videos.len() * options.videos.max_frames.max(1);
    if arriving > 0 || !gone.is_empty() {
        let estimate = SpaceEstimate::of_run(&manifest, arriving, plan.unchanged + arriving);
        match estimate.check(&coll, space::available(&coll)?) {
            Err(e) if options.force => tracing::warn!("going ahead (--force): {e}"),
            checked => checked?,
        }
    }
    // Whether this run removes or replaces contents: their thumbnails go once it is committed.
    let replaces = !gone.is_empty()
        || images.iter().any(|p| p.previous.is_some())
        || videos
            .iter()
            .any(|(p, _)| p.previous.is_some() || !p.frames.is_empty());
    commit::remove_gone(&mut catalog, &gone, &mut report)?;
    if !images.is_empty() || !videos.is_empty() {
        // 2. Decode and embed the new and changed files, 3. committing each batch.
        let mut committer = BatchCommitter::open(&coll, dim, matrix_at, &mut catalog)?;
        let mut times = ingest::ingest(
            &images,
            embedder.image.as_ref(),
            dim,
            &root,
            options,
            Some(&coll),
            |batch, embedded| committer.commit(batch, embedded, &mut report),
        )?;
        // The frames of new and changed videos, through the same loop and committer.
        let spent = frames::FrameRun {
            model: embedder.image.as_ref(),
            dim,
            root: &root,
            coll: &coll,
            options,
            committer: &mut committer,
        }
        .index(&videos, &mut report)?;
        times.add(spent);
        report.decode_cpu_seconds = times.decode_cpu;
        report.model_seconds = times.model;
        report.waiting_for_decode_seconds = times.waiting;
    }
    // Rows from before the metadata columns get theirs without re-embedding.
    fill_missing_metadata(&mut catalog, &root, options.threads, &mut report)?;
    // Images indexed before the catalog kept PDQ hashes get theirs (decoded, not re-embedded).
    fill_missing_pdq(&mut catalog, &root, options, &mut report)?;
    // Label scores for the images that lack them (all of them under a new policy), from their vectors.
    let labelled = label::update_labels(
        &mut catalog,
        &coll,
        dim,
        embedder,
        options.policy.as_ref(),
        false,
    )?;
    report.labelled = labelled.labelled;
    // 4. Bring the indexes up to date with the catalog (its matrix compacted first when it has to be).
    let mut end = CatalogState::read(&catalog)?;
    if let Some(next) = compact_matrix(&coll, dim, &mut catalog, &end.files.ids)? {
        end.files.matrix = Some(next);
    }
    let kept: Option<std::collections::HashSet<String>> = if replaces {
        Some(catalog.entries()?.into_iter().map(|e| e.hash).collect())
    } else {
        None
    };
    drop(catalog);
    sync::sync_indexes(&coll, &manifest, &end)?;
    if let Some(kept) = kept {
        crate::store::thumbnails::prune(&coll, &kept);
    }
    // The committed generation now names the catalog's matrix: the others can go.
    if let Some(at) = end.files.matrix {
        matrix::remove_unreferenced(&coll, at);
    }
    // New and re-embedded images a block hides: hidden already (from the blocks' vectors); counted and
    // logged to the audit log here.
    let arrived: Vec<u64> = end
        .files
        .ids
        .iter()
        .zip(&end.files.versions)
        .filter(|(id, version)| before.get(id) != Some(version))
        .map(|(&id, _)| id)
        .collect();
    report.blocked = crate::safety::blocks::record_arrivals(&coll, &arrived)?;
    // Arrivals that match a hash bank are blocked now (a block each, logged with the bank and distance).
    if crate::safety::hashbanks::HashBanks::exist(&coll) && !arrived.is_empty() {
        let pdq = Catalog::open_read_only(&coll)?.pdq_hashes()?;
        let matched =
            crate::safety::hashbanks::block_matches(&coll, &pdq, Some(&arrived), "vsearch index")?;
        report.hash_matches = matched.len();
        report.blocked += matched.len();
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Recomputes the label scores of every indexed image of the collection at `path` from the stored vectors
/// and the text embeddings of the prompts of `policy` (when given, it becomes the policy in force; else
/// the stored one, else the default), then commits a generation so that servers pick the scores up. No
/// image is decoded or embedded. Takes the collection's writer lock, as an index run does; fails with
/// [`EngineError::LabelsNeedText`] for a model without a text tower.
pub fn apply_labels(
    path: &Path,
    policy: Option<&crate::types::label_policy::PolicySource>,
    device: &vsearch_embed::DeviceSpec,
) -> Result<crate::safety::labels::LabelReport> {
    let started = Instant::now();
    let coll = crate::types::layout::resolve_collection_dir(path)?;
    let _lock = layout::try_lock_index(&coll)?;
    let manifest = CollectionManifest::read(&coll)?
        .ok_or_else(|| EngineError::NotACollection { path: coll.clone() })?;
    if !manifest.model.text {
        return Err(EngineError::LabelsNeedText {
            model: manifest.model.id.clone(),
        });
    }
    let embedder = vsearch_embed::load(&manifest.model_spec(), device)?;
    if embedder.info != manifest.model {
        return Err(EngineError::ModelMismatch {
            collection: manifest.model.id.clone(),
            requested: embedder.info.id.clone(),
        });
    }
    let mut catalog = Catalog::open(&coll)?;
    let outcome = label::update_labels(
        &mut catalog,
        &coll,
        manifest.model.dim,
        &embedder,
        policy,
        true,
    )?;
    let end = CatalogState::read(&catalog)?;
    drop(catalog);
    sync::sync_indexes(&coll, &manifest, &end)?;
    Ok(crate::safety::labels::LabelReport {
        model: manifest.model.id.clone(),
        labels: outcome.labels,
        labelled: outcome.labelled,
        embedded: 0,
        policy_changed: outcome.policy_changed,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The pending files that are videos (by content, with their formats), when videos are indexed, and the
/// others.
fn split_videos(
    pending: Vec<plan::PendingFile>,
    options: &IndexOptions,
) -> (
    Vec<(plan::PendingFile, crate::video::VideoFormat)>,
    Vec<plan::PendingFile>,
) {
    let mut videos = Vec::new();
    let mut images = Vec::new();
    for p in pending {
        match options
            .videos
            .enabled
            .then(|| crate::video::sniff_file(&p.file.abs))
            .flatten()
        {
            Some(format) => videos.push((p, format)),
            None => images.push(p),
        }
    }
    (videos, images)
}

/// Reads the content metadata of the indexed rows that lack it (a catalog migrated from before the
/// metadata columns) and stores it, in one commit; no image is decoded or embedded.
fn fill_missing_metadata(
    catalog: &mut Catalog,
    root: &Path,
    threads: usize,
    report: &mut IndexReport,
) -> Result<()> {
    let missing: Vec<crate::store::catalog::Entry> = catalog
        .entries()?
        .into_iter()
        .filter(|e| e.status == crate::store::catalog::Status::Ok && e.meta.is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    tracing::info!("reading the metadata of {} indexed images", missing.len());
    let read = ingest::read_metadata(&missing, root, threads)?;
    catalog.set_meta(&read)?;
    report.metadata += read.len();
    Ok(())
}

/// Computes the PDQ hashes of the indexed images that lack one (a catalog from before schema 4) and
/// stores them, in one transaction; their images are decoded but not embedded.
fn fill_missing_pdq(
    catalog: &mut Catalog,
    root: &Path,
    options: &IndexOptions,
    report: &mut IndexReport,
) -> Result<()> {
    let missing = catalog.unhashed()?;
    if missing.is_empty() {
        return Ok(());
    }
    tracing::info!(
        "computing the PDQ hashes of {} indexed images",
        missing.len()
    );
    let hashed = ingest::hash_rows(&missing, root, options.threads, options.max_pixels)?;
    catalog.set_pdq(&hashed)?;
    report.pdq_hashed += hashed.len();
    Ok(())
}

/// The indexed folder and the collection folder (created when absent), both canonical.
fn collection_paths(dir: &Path, options: &IndexOptions) -> Result<(PathBuf, PathBuf)> {
    if !dir.is_dir() {
        return Err(EngineError::NotAFolder {
            path: dir.to_path_buf(),
        });
    }
    let root = dir.canonicalize().map_err(EngineError::io(dir))?;
    let coll = options
        .collection
        .clone()
        .unwrap_or_else(|| root.join(layout::DEFAULT_COLLECTION_DIR));
    std::fs::create_dir_all(&coll).map_err(EngineError::io(&coll))?;
    let coll = coll.canonicalize().map_err(EngineError::io(&coll))?;
    Ok((root, coll))
}

/// Writes the live rows into a new matrix file when more than [`matrix::COMPACT_ABOVE`] of the
/// committed rows are dead (deleted or replaced images), points the catalog at it and vacuums the
/// catalog; returns the new matrix. `indexed` are the catalog's indexed ids (ascending). The committed
/// generation keeps naming the old file until the next commit.
fn compact_matrix(
    coll: &Path,
    dim: usize,
    catalog: &mut Catalog,
    indexed: &[u64],
) -> Result<Option<MatrixRef>> {
    let Some(at) = catalog.matrix_ref()? else {
        return Ok(None);
    };
    let matrix = Matrix::open(coll, dim, Some(at))?;
    let live: Vec<u64> = indexed
        .iter()
        .copied()
        .filter(|&id| matrix.contains(id))
        .collect();
    let dead = at.rows.saturating_sub(live.len() as u64);
    if at.rows == 0 || (dead as f64) <= matrix::COMPACT_ABOVE * at.rows as f64 {
        return Ok(None);
    }
    let next = matrix::compact(coll, &matrix, at, &live)?;
    catalog.set_matrix(next)?;
    tracing::info!(
        "compacted the embedding matrix: {} rows, {dead} dead rows dropped",
        live.len()
    );
    catalog.vacuum()?;
    Ok(Some(next))
}

fn remove_collection_files(dir: &Path) -> Result<()> {
    for name in [
        layout::MANIFEST_FILE,
        layout::CATALOG_FILE,
        layout::CATALOG_SIDE_FILES[0],
        layout::CATALOG_SIDE_FILES[1],
    ] {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(EngineError::Io { path, source }),
        }
    }
    // Every matrix file: none is kept.
    matrix::remove_unreferenced(
        dir,
        MatrixRef {
            file: u64::MAX,
            rows: 0,
        },
    );
    let idx = dir.join(layout::INDEXES_DIR);
    if idx.exists() {
        std::fs::remove_dir_all(&idx).map_err(EngineError::io(&idx))?;
    }
    Ok(())
}

/// The model of a run: the one asked for, or the collection's; a preset other than the collection's is
/// refused.
fn model_spec(existing: Option<&CollectionManifest>, options: &IndexOptions) -> Result<ModelSpec> {
    let spec = match (existing, &options.model) {
        (Some(m), ModelSpec::Auto) => m.model_spec(),
        (_, spec) => spec.clone(),
    };
    if let (Some(m), ModelSpec::Preset(name)) = (existing, &spec) {
        if *name != m.model.id {
            return Err(EngineError::ModelMismatch {
                collection: m.model.id.clone(),
                requested: name.clone(),
            });
        }
    }
    Ok(spec)
}

/// Writes the run's manifest (the loaded model, the index configs to keep) and removes the index
/// folders of kinds no longer kept.
fn write_manifest(
    coll: &Path,
    root: &Path,
    existing: Option<&CollectionManifest>,
    embedder: &Embedder,
    spec: &ModelSpec,
    options: &IndexOptions,
) -> Result<CollectionManifest> {
    let configs = indexes::configs_for_run(
        existing.map(|m| m.indexes.as_slice()),
        &options.indexes,
        &options.add_indexes,
        options.quantization,
    );
    let manifest = CollectionManifest {
        format_version: FORMAT_VERSION,
        model: embedder.info.clone(),
        model_dir: match spec {
            ModelSpec::Dir(d) => Some(d.canonicalize().unwrap_or_else(|_| d.clone())),
            _ => None,
        },
        metric: Metric::Cosine,
        indexes: configs,
        root: root.to_path_buf(),
    };
    // Kinds no longer configured leave with the next commit: generations hold only configured kinds.
    manifest.write(coll)?;
    Ok(manifest)
}
