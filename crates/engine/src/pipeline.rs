//! `index_folder`: scan, compare with the catalog, decode and preprocess in parallel while the model
//! embeds the previous batch, write matrix rows (synced) and then commit their catalog rows, and finally
//! bring every index up to date with the catalog.

use crate::catalog::{Catalog, Entry, Status};
use crate::error::{EngineError, Result};
use crate::indexes::{self, config_kind, default_config, index_dir, kind_name, IndexState};
use crate::manifest::{Manifest, FORMAT_VERSION};
use crate::matrix::{Matrix, MatrixWriter, MATRIX_FILE};
use crate::scan::{has_image_extension, scan, ScannedFile};
use crate::{Failure, IndexOptions, IndexReport};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;
use vsearch_embed::{image_io, Embedder, ImageEmbedder, ModelSpec, Pixels};
use vsearch_index::{IndexKind, Metric};

/// Name of the default collection folder inside an indexed folder.
pub const DEFAULT_COLLECTION_DIR: &str = ".vsearch";

/// A file to (re)consider: new, or its size or mtime changed.
struct Todo {
    file: ScannedFile,
    old: Option<Entry>,
}

/// What the decode threads made of a file.
enum Prepared {
    Embed {
        pixels: Pixels,
        hash: String,
        width: u32,
        height: u32,
    },
    /// Same content as the catalog row: only size/mtime changed.
    SameContent,
    Failed {
        hash: String,
        reason: String,
    },
    /// Not an image and not named like one.
    Skipped,
}

/// The model spec that reproduces a manifest's model.
pub(crate) fn spec_for_manifest(manifest: &Manifest) -> ModelSpec {
    match &manifest.model_dir {
        Some(dir) => ModelSpec::Dir(dir.clone()),
        None => ModelSpec::Preset(manifest.model.id.clone()),
    }
}

fn prepare(todo: &Todo, model: &dyn ImageEmbedder, max_pixels: u64) -> Prepared {
    let bytes = match std::fs::read(&todo.file.abs) {
        Ok(b) => b,
        Err(e) => {
            return Prepared::Failed {
                hash: String::new(),
                reason: format!("cannot read: {e}"),
            }
        }
    };
    let hash = blake3::hash(&bytes).to_hex().to_string();
    if todo.old.as_ref().is_some_and(|o| o.hash == hash) {
        return Prepared::SameContent;
    }
    if bytes.is_empty() {
        return Prepared::Failed {
            hash,
            reason: "empty file".into(),
        };
    }
    let Some(format) = image_io::sniff_format(&bytes) else {
        if has_image_extension(&todo.file.abs) {
            return Prepared::Failed {
                hash,
                reason: "not a supported image (content is not JPEG, PNG, WebP, GIF, BMP or TIFF)"
                    .into(),
            };
        }
        return Prepared::Skipped;
    };
    if format == image::ImageFormat::Jpeg && jpeg_truncated(&bytes) {
        return Prepared::Failed {
            hash,
            reason: "truncated JPEG: no end-of-image marker after the last scan (the file is incomplete)".into(),
        };
    }
    let image = match image_io::decode(&bytes, max_pixels) {
        Ok(img) => img,
        Err(e) => {
            return Prepared::Failed {
                hash,
                reason: e.to_string(),
            }
        }
    };
    let (width, height) = (image.width(), image.height());
    match model.preprocess(&image) {
        Ok(pixels) => Prepared::Embed {
            pixels,
            hash,
            width,
            height,
        },
        Err(e) => Prepared::Failed {
            hash,
            reason: e.to_string(),
        },
    }
}

/// Whether a JPEG lacks its end-of-image marker (FF D9) after its last start-of-scan (FF DA): the
/// decoder would silently fill the missing part with grey. In entropy-coded data a 0xFF byte is always
/// followed by 0x00 or a restart marker, so FF D9 there can only be the real end.
fn jpeg_truncated(bytes: &[u8]) -> bool {
    match bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]) {
        None => true,
        Some(sos) => !bytes[sos..].windows(2).any(|w| w == [0xFF, 0xD9]),
    }
}

/// Name of the lock file an index run holds inside the collection folder.
pub const LOCK_FILE: &str = "index.lock";

/// Takes the collection's writer lock (an OS file lock, released when the file is dropped or the process
/// dies), or fails at once with [`EngineError::Busy`] when another run holds it.
fn lock_collection(coll: &Path) -> Result<std::fs::File> {
    let path = coll.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(EngineError::io(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(EngineError::Busy(coll.to_path_buf())),
        Err(std::fs::TryLockError::Error(source)) => Err(EngineError::Io { path, source }),
    }
}

fn remove_collection_files(dir: &Path) -> Result<()> {
    for name in [
        crate::manifest::MANIFEST_FILE,
        crate::catalog::CATALOG_FILE,
        "catalog.sqlite-wal",
        "catalog.sqlite-shm",
        MATRIX_FILE,
    ] {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(EngineError::Io { path, source }),
        }
    }
    let idx = dir.join(indexes::INDEXES_DIR);
    if idx.exists() {
        std::fs::remove_dir_all(&idx).map_err(EngineError::io(&idx))?;
    }
    Ok(())
}

/// Loads the model for a run, refusing one that differs from the collection's.
fn load_model(
    existing: Option<&Manifest>,
    options: &IndexOptions,
) -> Result<(Embedder, ModelSpec)> {
    let spec = match (existing, &options.model) {
        (Some(m), ModelSpec::Auto) => spec_for_manifest(m),
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
    let embedder = vsearch_embed::load(&spec, &options.device)?;
    if let Some(m) = existing {
        if m.model != embedder.info {
            return Err(EngineError::ModelMismatch {
                collection: m.model.id.clone(),
                requested: embedder.info.id.clone(),
            });
        }
    }
    Ok((embedder, spec))
}

/// Indexes (or updates) the images under `dir`; see the crate docs.
pub fn index_folder(dir: &Path, options: &IndexOptions) -> Result<IndexReport> {
    let started = Instant::now();
    if !dir.is_dir() {
        return Err(EngineError::NotAFolder(dir.to_path_buf()));
    }
    let root = dir.canonicalize().map_err(EngineError::io(dir))?;
    let coll = options
        .collection
        .clone()
        .unwrap_or_else(|| root.join(DEFAULT_COLLECTION_DIR));
    std::fs::create_dir_all(&coll).map_err(EngineError::io(&coll))?;
    let coll = coll.canonicalize().map_err(EngineError::io(&coll))?;
    // One writer per collection: held until this function returns.
    let _lock = lock_collection(&coll)?;
    if options.rebuild {
        remove_collection_files(&coll)?;
    }
    let existing = Manifest::read(&coll)?;
    let (embedder, spec) = load_model(existing.as_ref(), options)?;
    let dim = embedder.info.dim;
    let metric = Metric::Cosine;

    // Index configs: the requested kinds (keeping the parameters already in force), else the collection's.
    let configs = if options.indexes.is_empty() {
        existing
            .as_ref()
            .map(|m| m.indexes.clone())
            .unwrap_or_else(|| {
                indexes::PREFERENCE
                    .iter()
                    .map(|k| default_config(*k))
                    .collect()
            })
    } else {
        let mut kinds: Vec<IndexKind> = Vec::new();
        for k in &options.indexes {
            if !kinds.contains(k) {
                kinds.push(*k);
            }
        }
        kinds
            .iter()
            .map(|k| {
                existing
                    .as_ref()
                    .and_then(|m| m.indexes.iter().find(|c| config_kind(c) == *k).copied())
                    .unwrap_or_else(|| default_config(*k))
            })
            .collect()
    };
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        model: embedder.info.clone(),
        model_dir: match &spec {
            ModelSpec::Dir(d) => Some(d.canonicalize().unwrap_or_else(|_| d.clone())),
            _ => None,
        },
        metric,
        indexes: configs.clone(),
        root: root.clone(),
    };
    manifest.write(&coll)?;
    // Index folders of kinds no longer kept.
    for kind in indexes::PREFERENCE {
        let d = index_dir(&coll, kind);
        if !configs.iter().any(|c| config_kind(c) == kind) && d.exists() {
            std::fs::remove_dir_all(&d).map_err(EngineError::io(&d))?;
        }
    }

    let mut catalog = Catalog::open(&coll)?;
    let start_generation = catalog.generation()?;
    let entries = catalog.entries()?;
    let start_ok: Vec<u64> = entries
        .iter()
        .filter(|e| e.status == Status::Ok)
        .map(|e| e.id)
        .collect();
    let mut by_path: HashMap<String, Entry> =
        entries.into_iter().map(|e| (e.path.clone(), e)).collect();

    let mut report = IndexReport {
        model: embedder.info.id.clone(),
        ..IndexReport::default()
    };
    let (files, scan_errors) = scan(&root, &coll);
    for (path, reason) in scan_errors {
        report.failed.push(Failure { path, reason });
    }
    let mut todo = Vec::new();
    for file in files {
        match by_path.remove(&file.rel) {
            Some(old) if old.size == file.size && old.mtime_ns == file.mtime_ns => {
                report.unchanged += 1
            }
            old => todo.push(Todo { file, old }),
        }
    }
    // What is left in `by_path` is gone from the folder.
    let gone: Vec<u64> = by_path.values().map(|e| e.id).collect();
    if !gone.is_empty() {
        let next = catalog.next_id()?;
        catalog.commit(&gone, &[], &[], next)?;
        report.removed = gone.len();
    }

    let mut next_id = catalog.next_id()?;
    if !todo.is_empty() {
        let mut writer = MatrixWriter::open(&coll, dim)?;
        let progress = if options.progress {
            let bar = indicatif::ProgressBar::new(todo.len() as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} files, {per_sec}, ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        let batch = options.batch.max(1);
        let threads = options.threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("vsearch-decode-{i}"))
            .build()
            .map_err(|e| EngineError::Io {
                path: root.clone(),
                source: std::io::Error::other(e),
            })?;
        let model: &dyn ImageEmbedder = embedder.image.as_ref();
        let max_pixels = options.max_pixels;
        let (tx, rx) = crossbeam_channel::bounded::<Vec<Prepared>>(2);
        let todo_ref = &todo;
        let result: Result<()> = std::thread::scope(|s| {
            // The receiver lives in this closure: when it returns early (an error), the receiver is
            // dropped, the producer's next send fails and the scope can join it.
            let rx = rx;
            s.spawn(move || {
                for chunk in todo_ref.chunks(batch) {
                    let prepared: Vec<Prepared> = pool.install(|| {
                        use rayon::prelude::*;
                        chunk
                            .par_iter()
                            .map(|t| prepare(t, model, max_pixels))
                            .collect()
                    });
                    if tx.send(prepared).is_err() {
                        break;
                    }
                }
            });
            for (chunk, prepared) in todo.chunks(batch).zip(rx.iter()) {
                let mut pixels = Vec::new();
                let mut embed_idx = Vec::new();
                let mut results: Vec<Option<Prepared>> = Vec::with_capacity(prepared.len());
                for (i, p) in prepared.into_iter().enumerate() {
                    match p {
                        Prepared::Embed {
                            pixels: px,
                            hash,
                            width,
                            height,
                        } => {
                            pixels.push(px);
                            embed_idx.push(i);
                            results.push(Some(Prepared::Embed {
                                pixels: Pixels {
                                    data: Vec::new(),
                                    height: 0,
                                    width: 0,
                                },
                                hash,
                                width,
                                height,
                            }));
                        }
                        other => results.push(Some(other)),
                    }
                }
                let vectors = if pixels.is_empty() {
                    Ok(Vec::new())
                } else {
                    model
                        .embed_pixels(&pixels)
                        .map_err(|e| e.to_string())
                        .and_then(|v| {
                            if v.len() != pixels.len() || v.iter().any(|r| r.len() != dim) {
                                Err(format!(
                                    "the model returned {} vectors of the wrong shape",
                                    v.len()
                                ))
                            } else {
                                Ok(v)
                            }
                        })
                };
                drop(pixels);
                let vectors = match vectors {
                    Ok(v) => v,
                    Err(reason) => {
                        for &i in &embed_idx {
                            if let Some(Prepared::Embed { hash, .. }) = results[i].take() {
                                results[i] = Some(Prepared::Failed {
                                    hash,
                                    reason: format!("model: {reason}"),
                                });
                            }
                        }
                        Vec::new()
                    }
                };
                // Embedded rows take consecutive ids so they are one contiguous write.
                let first_id = next_id;
                let mut remove = Vec::new();
                let mut insert = Vec::new();
                let mut touch = Vec::new();
                let mut embedded_rows = Vec::new();
                for (t, r) in chunk.iter().zip(results.iter_mut()) {
                    if matches!(r, Some(Prepared::Embed { .. })) {
                        let Some(Prepared::Embed {
                            hash,
                            width,
                            height,
                            ..
                        }) = r.take()
                        else {
                            continue;
                        };
                        let id = next_id;
                        next_id += 1;
                        if let Some(old) = &t.old {
                            remove.push(old.id);
                            report.updated += 1;
                        } else {
                            report.indexed += 1;
                        }
                        insert.push(entry(t, id, hash, width, height, Status::Ok, None));
                        embedded_rows.push(id);
                    }
                }
                for (t, r) in chunk.iter().zip(results) {
                    match r {
                        Some(Prepared::SameContent) => {
                            if let Some(old) = &t.old {
                                touch.push((old.id, t.file.size, t.file.mtime_ns));
                            }
                            report.unchanged += 1;
                        }
                        Some(Prepared::Failed { hash, reason }) => {
                            if let Some(old) = &t.old {
                                remove.push(old.id);
                            }
                            let id = next_id;
                            next_id += 1;
                            report.failed.push(Failure {
                                path: t.file.abs.clone(),
                                reason: reason.clone(),
                            });
                            insert.push(entry(t, id, hash, 0, 0, Status::Failed, Some(reason)));
                        }
                        Some(Prepared::Skipped) => {
                            if let Some(old) = &t.old {
                                remove.push(old.id);
                                report.removed += 1;
                            }
                            report.skipped += 1;
                        }
                        _ => {}
                    }
                }
                if !vectors.is_empty() {
                    writer.write_rows(first_id, &vectors)?;
                    report.embedded += vectors.len();
                }
                debug_assert_eq!(embedded_rows.len(), vectors.len());
                catalog.commit(&remove, &insert, &touch, next_id)?;
                progress.inc(chunk.len() as u64);
            }
            Ok(())
        });
        progress.finish_and_clear();
        result?;
    }

    // Bring the indexes up to date with the catalog.
    let end_generation = catalog.generation()?;
    let end_ok: Vec<u64> = catalog
        .entries()?
        .iter()
        .filter(|e| e.status == Status::Ok)
        .map(|e| e.id)
        .collect();
    drop(catalog);
    update_indexes(
        &coll,
        &configs,
        metric,
        dim,
        start_generation,
        end_generation,
        &start_ok,
        &end_ok,
    )?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn entry(
    t: &Todo,
    id: u64,
    hash: String,
    width: u32,
    height: u32,
    status: Status,
    error: Option<String>,
) -> Entry {
    Entry {
        id,
        path: t.file.rel.clone(),
        size: t.file.size,
        mtime_ns: t.file.mtime_ns,
        hash,
        width,
        height,
        status,
        error,
    }
}

/// Updates the saved indexes from the ids at the start of the run to those at its end: incrementally
/// (remove, add) when the saved indexes reflect the start, by a rebuild from the matrix otherwise.
#[allow(clippy::too_many_arguments)]
fn update_indexes(
    coll: &Path,
    configs: &[vsearch_index::IndexConfig],
    metric: Metric,
    dim: usize,
    start_generation: u64,
    end_generation: u64,
    start_ok: &[u64],
    end_ok: &[u64],
) -> Result<()> {
    let state_fresh = indexes::read_state(coll).is_some_and(|s| s.generation == start_generation);
    let all_present = configs
        .iter()
        .all(|c| index_dir(coll, config_kind(c)).exists())
        || start_ok.is_empty();
    if state_fresh && all_present && start_generation == end_generation {
        return Ok(());
    }
    let matrix = Matrix::open(coll, dim)?;
    let matrix_path: PathBuf = coll.join(MATRIX_FILE);
    let start: HashSet<u64> = start_ok.iter().copied().collect();
    let end: HashSet<u64> = end_ok.iter().copied().collect();
    let mut removed: Vec<u64> = start.difference(&end).copied().collect();
    let mut added: Vec<u64> = end.difference(&start).copied().collect();
    removed.sort_unstable();
    added.sort_unstable();
    for config in configs {
        let kind = config_kind(config);
        let dir = index_dir(coll, kind);
        if end_ok.is_empty() {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(EngineError::io(&dir))?;
            }
            continue;
        }
        let incremental = state_fresh && !start_ok.is_empty()
            // IVF lists were trained on the collection as it was; retrain when it has more than doubled.
            && !(kind == IndexKind::Ivf && end_ok.len() > 2 * start_ok.len());
        let loaded = if incremental {
            match vsearch_index::load(&dir) {
                Ok(index) if index.len() == start_ok.len() && index.dim() == dim => Some(index),
                _ => None,
            }
        } else {
            None
        };
        let index = match loaded {
            Some(mut index) => {
                tracing::info!(
                    "updating the {} index: -{} +{} vectors",
                    kind_name(kind),
                    removed.len(),
                    added.len()
                );
                if !removed.is_empty() {
                    index.remove(&removed)?;
                }
                if !added.is_empty() {
                    let vectors = matrix.gather(&added).map_err(|id| EngineError::Matrix {
                        path: matrix_path.clone(),
                        rows: matrix.rows(),
                        id,
                    })?;
                    index.add(&added, &vectors)?;
                }
                index
            }
            None => {
                tracing::info!(
                    "building the {} index over {} vectors",
                    kind_name(kind),
                    end_ok.len()
                );
                indexes::build_from_matrix(config, metric, &matrix, end_ok, &matrix_path)?
            }
        };
        std::fs::create_dir_all(coll.join(indexes::INDEXES_DIR)).map_err(EngineError::io(coll))?;
        index.save(&dir)?;
    }
    indexes::write_state(
        coll,
        &IndexState {
            generation: end_generation,
        },
    )
}
