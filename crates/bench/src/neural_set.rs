//! The neural-embedding set `lite0-fashion-mnist[:N]`: Fashion-MNIST's images through vsearch's own
//! EfficientNet-Lite0 (1280-d, unit length, cosine), the vectors vsearch indexes, made once and cached.
//!
//! The first `N` training images are the base (60,000 by default) and the first `ceil(N / 6)` test images the
//! queries (10,000 for the full set: Fashion-MNIST's own 6 : 1). Each image goes through the model's own
//! recipe ([`vsearch_embed::efficientnet::preprocess_image`]), as `vsearch index` would embed it.
//!
//! The cache is a folder per set, `CACHE_ROOT/lite0-fashion-mnist-N-KEY/` (`base.fvecs`, `query.fvecs`,
//! `set.json`), where KEY hashes the recipe, the model's weights and the source files: a changed model or
//! source names another folder and the set is made again (the stale folder of the same N is removed). The
//! folder is published atomically (its files written and fsynced in a temporary folder beside it, the folder
//! fsynced, renamed into place, the parent fsynced), and read back with checks (sizes, dimension, unit length,
//! the key in `set.json`): a missing or damaged folder is made again.
//!
//! Layering: vsearch-bench sits above vsearch-engine, which depends on vsearch-embed (README "Layout":
//! binary → server → engine → {embed, index, qdrant} → core), so this crate depending on vsearch-embed goes
//! downward; the set is defined, embedded and cached here, in the crate that owns datasets, and the binary
//! only names it.

use crate::error::{BenchError, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use vsearch_core::durable;
use vsearch_embed::efficientnet;
use vsearch_embed::{ImageEmbedder, Pixels};
use vsearch_index::eval;

/// The set's name before `:N` and in its cache folder's.
pub const NAME: &str = "lite0-fashion-mnist";
/// Base images of the full set (all of Fashion-MNIST's training images).
pub const FULL_BASE: usize = 60_000;
/// Base images per query image (Fashion-MNIST's 60,000 training to 10,000 test images).
pub const BASE_PER_QUERY: usize = 6;
/// Version of the recipe (images to vectors, the files' layout); part of the cache key, so a change to it
/// makes the set again.
const RECIPE: u32 = 1;
/// Images embedded per model call.
const BATCH: usize = 32;
/// How far a cached vector's length may be from 1.
const UNIT_TOLERANCE: f32 = 1e-3;

const BASE_FILE: &str = "base.fvecs";
const QUERY_FILE: &str = "query.fvecs";
const META_FILE: &str = "set.json";

/// Which set: `base` training images (and `ceil(base / 6)` test images as queries) from the Fashion-MNIST
/// IDX files in `source`.
#[derive(Debug, Clone, PartialEq)]
pub struct NeuralSpec {
    pub base: usize,
    pub source: PathBuf,
}

impl NeuralSpec {
    /// The set of `base` images from Debian's Fashion-MNIST folder ([`eval::FASHION_MNIST_DIR`]).
    pub fn new(base: usize) -> Self {
        Self {
            base,
            source: PathBuf::from(eval::FASHION_MNIST_DIR),
        }
    }

    /// Query images: `ceil(base / 6)`.
    pub fn queries(&self) -> usize {
        self.base.div_ceil(BASE_PER_QUERY)
    }
}

/// Whether [`load_or_make`] read the cache or ran the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Read from the cache folder; nothing was embedded.
    Cached,
    /// Embedded by the model (the cache was missing, damaged or of another model or source) and cached.
    Embedded,
}

/// A made set.
#[derive(Debug, Clone)]
pub struct NeuralSet {
    /// Its cache folder.
    pub dir: PathBuf,
    /// The cache key (recipe, weights, sources, sizes), hex.
    pub key: String,
    /// Vector dimension ([`efficientnet::DIM`]).
    pub dim: usize,
    /// `base * dim` values, unit rows.
    pub base: Vec<f32>,
    /// `queries * dim` values, unit rows.
    pub queries: Vec<f32>,
    /// Read from the cache or embedded now.
    pub origin: Origin,
}

/// Where sets are cached by default: `datasets/` in vsearch's cache ([`vsearch_embed::weights::cache_dir`],
/// `VSEARCH_CACHE` or `~/.cache/vsearch`).
pub fn default_cache_root() -> PathBuf {
    vsearch_embed::weights::cache_dir().join("datasets")
}

fn embed_err(e: vsearch_embed::EmbedError) -> BenchError {
    BenchError::Embed { source: e }
}

/// The blake3 of a file's bytes, hex.
fn file_hash(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| BenchError::io(path, e))?;
    Ok(blake3::hash(&bytes).to_hex().to_string())
}

/// The key of `spec` made with the weights at `weights`: a hash of the recipe, the weights and the sources.
fn cache_key(spec: &NeuralSpec, weights: &Path) -> Result<String> {
    let mut h = blake3::Hasher::new();
    h.update(
        format!(
            "{NAME} recipe {RECIPE} base {} queries {}\n",
            spec.base,
            spec.queries()
        )
        .as_bytes(),
    );
    h.update(format!("model {} {}\n", efficientnet::MODEL_ID, file_hash(weights)?).as_bytes());
    for file in [eval::FASHION_MNIST_TRAIN, eval::FASHION_MNIST_TEST] {
        let path = spec.source.join(file);
        if !path.is_file() {
            return Err(BenchError::bad_file(
                path,
                "not found; install Debian's dataset-fashion-mnist (scripts/install_system_deps.sh)",
            ));
        }
        h.update(format!("{file} {}\n", file_hash(&path)?).as_bytes());
    }
    Ok(h.finalize().to_hex().to_string())
}

/// The cache folder of `spec` under `root` for `key`.
fn folder(root: &Path, spec: &NeuralSpec, key: &str) -> PathBuf {
    root.join(format!("{NAME}-{}-{}", spec.base, &key[..16]))
}

/// The set `spec` from its cache folder under `cache_root`, or embedded with Lite0 (weights fetched into
/// vsearch's model cache when missing) and cached there. `progress` shows a bar on stderr while embedding.
pub fn load_or_make(spec: &NeuralSpec, cache_root: &Path, progress: bool) -> Result<NeuralSet> {
    if spec.base == 0 {
        return Err(BenchError::Invalid {
            reason: format!("{NAME}: N must be at least 1"),
        });
    }
    let weights = efficientnet::fetch_weights().map_err(embed_err)?;
    let key = cache_key(spec, &weights)?;
    let dir = folder(cache_root, spec, &key);
    if dir.exists() {
        match read_cached(&dir, spec, &key) {
            Ok((base, queries)) => {
                tracing::info!(dir = %dir.display(), "{NAME}: read from the cache");
                return Ok(NeuralSet {
                    dir,
                    key,
                    dim: efficientnet::DIM,
                    base,
                    queries,
                    origin: Origin::Cached,
                });
            }
            Err(e) => tracing::warn!("{NAME}: cache unusable ({e}); making the set again"),
        }
    }
    let (base, queries) = embed(spec, progress)?;
    publish(cache_root, &dir, spec, &key, &base, &queries)?;
    Ok(NeuralSet {
        dir,
        key,
        dim: efficientnet::DIM,
        base,
        queries,
        origin: Origin::Embedded,
    })
}

/// Reads and checks a cache folder: the key in `set.json`, both files' dimension and row counts, unit rows.
fn read_cached(dir: &Path, spec: &NeuralSpec, key: &str) -> Result<(Vec<f32>, Vec<f32>)> {
    let meta_path = dir.join(META_FILE);
    let meta_bytes = std::fs::read(&meta_path).map_err(|e| BenchError::io(&meta_path, e))?;
    let meta: serde_json::Value =
        serde_json::from_slice(&meta_bytes).map_err(|source| BenchError::Json {
            path: meta_path.clone(),
            source,
        })?;
    if meta.get("key").and_then(|k| k.as_str()) != Some(key) {
        return Err(BenchError::bad_file(meta_path, "written for another key"));
    }
    let read = |file: &str, rows: usize| -> Result<Vec<f32>> {
        let path = dir.join(file);
        let r = eval::read_fvecs(&path)?;
        if r.dim != efficientnet::DIM || r.len() != rows {
            return Err(BenchError::bad_file(
                &path,
                format!(
                    "{} x {} vectors, expected {rows} x {}",
                    r.len(),
                    r.dim,
                    efficientnet::DIM
                ),
            ));
        }
        if let Some(i) = r
            .values
            .chunks(r.dim)
            .position(|v| (vsearch_core::vector::dot(v, v).sqrt() - 1.0).abs() > UNIT_TOLERANCE)
        {
            return Err(BenchError::bad_file(
                &path,
                format!("row {i} is not unit length"),
            ));
        }
        Ok(r.values)
    };
    Ok((
        read(BASE_FILE, spec.base)?,
        read(QUERY_FILE, spec.queries())?,
    ))
}

/// Embeds the set's images with Lite0: `(base, queries)`.
fn embed(spec: &NeuralSpec, progress: bool) -> Result<(Vec<f32>, Vec<f32>)> {
    let fm = eval::FashionMnist::read(&spec.source)?;
    for (images, need, file) in [
        (&fm.train, spec.base, eval::FASHION_MNIST_TRAIN),
        (&fm.test, spec.queries(), eval::FASHION_MNIST_TEST),
    ] {
        if images.len() < need {
            return Err(BenchError::Invalid {
                reason: format!(
                    "{NAME}:{}: {file} holds {} images, {need} are needed (at most {FULL_BASE} base images)",
                    spec.base,
                    images.len()
                ),
            });
        }
    }
    let model = vsearch_embed::load(
        &vsearch_embed::ModelSpec::Preset(efficientnet::MODEL_ID.into()),
        &vsearch_embed::DeviceSpec::Cpu,
    )
    .map_err(embed_err)?;
    let total = (spec.base + spec.queries()) as u64;
    tracing::info!(
        images = total,
        "{NAME}: embedding with {}",
        efficientnet::MODEL_ID
    );
    let bar = if progress {
        let pb = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} images  {per_sec}",
        ) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb
    } else {
        ProgressBar::hidden()
    };
    let base = embed_images(model.image.as_ref(), &fm.train, spec.base, &bar)?;
    let queries = embed_images(model.image.as_ref(), &fm.test, spec.queries(), &bar)?;
    bar.finish();
    Ok((base, queries))
}

/// The first `n` images of `images` (square, grey) embedded: `n * DIM` values.
fn embed_images(
    model: &dyn ImageEmbedder,
    images: &eval::IdxImages,
    n: usize,
    bar: &ProgressBar,
) -> Result<Vec<f32>> {
    let side = (images.dim as f64).sqrt() as u32;
    if (side * side) as usize != images.dim {
        return Err(BenchError::Invalid {
            reason: format!("{NAME}: images of {} pixels are not square", images.dim),
        });
    }
    let mut out = Vec::with_capacity(n * efficientnet::DIM);
    let rows: Vec<&[u8]> = images.pixels.chunks(images.dim).take(n).collect();
    for chunk in rows.chunks(BATCH) {
        let pixels = chunk
            .iter()
            .map(|px| {
                let grey =
                    image::GrayImage::from_raw(side, side, px.to_vec()).ok_or_else(|| {
                        BenchError::Invalid {
                            reason: format!("{NAME}: an image is not {side} x {side}"),
                        }
                    })?;
                model
                    .preprocess(&image::DynamicImage::ImageLuma8(grey))
                    .map_err(embed_err)
            })
            .collect::<Result<Vec<Pixels>>>()?;
        for v in model.embed_pixels(&pixels).map_err(embed_err)? {
            out.extend_from_slice(&v);
        }
        bar.inc(chunk.len() as u64);
    }
    Ok(out)
}

/// Writes the set into a temporary folder beside `dir` (files fsynced, folder fsynced), renames it to `dir`
/// (replacing a damaged one), fsyncs `root`, and removes the folders of other keys for the same N.
fn publish(
    root: &Path,
    dir: &Path,
    spec: &NeuralSpec,
    key: &str,
    base: &[f32],
    queries: &[f32],
) -> Result<()> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| BenchError::io(p, e)
    };
    std::fs::create_dir_all(root).map_err(io(root))?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(root)
        .map_err(io(root))?;
    let dim = efficientnet::DIM;
    let meta = serde_json::json!({
        "name": NAME,
        "key": key,
        "recipe": RECIPE,
        "model": efficientnet::MODEL_ID,
        "source": spec.source,
        "base": spec.base,
        "queries": spec.queries(),
        "dim": dim,
        "metric": "cosine",
    });
    for (file, bytes) in [
        (BASE_FILE, eval::encode_fvecs(dim, base)),
        (QUERY_FILE, eval::encode_fvecs(dim, queries)),
        (META_FILE, meta.to_string().into_bytes()),
    ] {
        let path = tmp.path().join(file);
        durable::write_synced(&path, &bytes).map_err(io(&path))?;
    }
    durable::sync_dir(tmp.path()).map_err(io(tmp.path()))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io(dir))?;
    }
    let tmp = tmp.keep();
    std::fs::rename(&tmp, dir).map_err(io(dir))?;
    durable::sync_dir(root).map_err(io(root))?;
    tracing::info!(dir = %dir.display(), "{NAME}: cached");
    // Folders of the same N made with another model, source or recipe.
    let prefix = format!("{NAME}-{}-", spec.base);
    if let Ok(entries) = std::fs::read_dir(root) {
        for entry in entries.flatten() {
            let path = entry.path();
            let stale = entry.file_name().to_string_lossy().starts_with(&prefix) && path != dir;
            if stale {
                if let Err(e) = std::fs::remove_dir_all(&path) {
                    tracing::warn!(path = %path.display(), "{NAME}: could not remove a stale set: {e}");
                }
            }
        }
    }
    Ok(())
}
