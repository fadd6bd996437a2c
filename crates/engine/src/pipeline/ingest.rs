//! Step 2 of a run, the decode-embed loop: decoding threads read, hash, decode and preprocess one batch of
//! pending files while the model embeds the previous one; each embedded batch goes to step 3 (commit)
//! before the next is taken.

use super::plan::PendingFile;
use crate::pdq::Pdq;
use crate::pipeline::scan::has_image_extension;
use crate::store::catalog::Entry;
use crate::types::error::{EngineError, Result};
use crate::types::metadata::ContentMeta;
use crate::IndexOptions;
use memchr::memmem;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use vsearch_embed::{image_io, ImageEmbedder, Pixels};

/// A decoded image: its content hash, size in pixels, content metadata, PDQ hash (`None` when a side is
/// too small to hash) and the thumbnail made from the decode (kept once the image is committed; `None`
/// when its content has one already, or none is kept).
pub(super) struct DecodedImage {
    pub hash: String,
    pub width: u32,
    pub height: u32,
    pub meta: ContentMeta,
    pub pdq: Option<Pdq>,
    pub thumbnail: Option<Vec<u8>>,
}

/// What became of one file of a batch.
pub(super) enum FileOutcome {
    /// Embedded: its vector is in [`EmbeddedBatch::vectors`].
    Embedded(DecodedImage),
    /// Same content as the catalog row: only size/mtime changed (its metadata, read again, comes
    /// along for rows that lack it).
    SameContent(ContentMeta),
    Failed {
        hash: String,
        reason: String,
        meta: ContentMeta,
    },
    /// Not an image and not named like one.
    Skipped,
}

/// What the decoding threads made of a file.
enum Prepared {
    /// An image ready for the model.
    ToEmbed { pixels: Pixels, image: DecodedImage },
    /// Nothing for the model to do.
    Settled(FileOutcome),
}

/// One batch after the model: an outcome per file, in the batch's order, and the vectors of the
/// [`FileOutcome::Embedded`] ones, in the same order.
pub(super) struct EmbeddedBatch {
    pub outcomes: Vec<FileOutcome>,
    pub vectors: Vec<Vec<f32>>,
}

/// Where the time of the decode-embed loop went, so that a user sees which stage to speed up.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct StageTimes {
    /// Thread-seconds the decoding threads spent reading, hashing, decoding and preprocessing files.
    pub decode_cpu: f64,
    /// Seconds the model spent embedding.
    pub model: f64,
    /// Seconds the model stood idle, waiting for decoded images (decoding is the slower stage when this
    /// is large).
    pub waiting: f64,
}

impl StageTimes {
    /// Adds the times of another loop.
    pub fn add(&mut self, other: StageTimes) {
        self.decode_cpu += other.decode_cpu;
        self.model += other.model;
        self.waiting += other.waiting;
    }

    /// "model 71% of the time, waiting for decoding 20%": the shares of the loop's `seconds`.
    fn shares(&self, seconds: f64) -> String {
        if seconds <= 0.0 {
            return String::new();
        }
        format!(
            "model {:.0}%, waiting for decoding {:.0}%",
            100.0 * self.model / seconds,
            100.0 * self.waiting / seconds
        )
    }
}

/// Decodes and embeds `pending` in batches of `options.batch`, handing each batch to `commit` in order.
/// An error from `commit` stops the loop and is returned. Returns where the time went.
pub(super) fn ingest(
    pending: &[PendingFile],
    model: &dyn ImageEmbedder,
    dim: usize,
    root: &Path,
    options: &IndexOptions,
    thumbnails: Option<&Path>,
    mut commit: impl FnMut(&[PendingFile], EmbeddedBatch) -> Result<()>,
) -> Result<StageTimes> {
    let started = Instant::now();
    let decode_nanos = AtomicU64::new(0);
    let mut times = StageTimes::default();
    let mut idle_since = started;
    let progress = progress_bar(options.progress, pending.len());
    let batch = options.batch.max(1);
    let pool = thread_pool("decode", options.threads, root)?;
    let decoding = Decoding {
        max_pixels: options.max_pixels,
        // What the model needs, whether thumbnails are kept or not: the same file embeds the same in
        // every backend and as a query (the thumbnail is made from this decode, at least 224 pixels on
        // its shorter side for the models vsearch has).
        size: if options.exact_decode {
            image_io::DecodeSize::Full
        } else {
            model.decode_size()
        },
        thumbnails,
    };
    let result = vsearch_embed::run_ahead(
        pending.chunks(batch),
        2,
        |chunk| {
            let prepared: Vec<Prepared> = pool.install(|| {
                use rayon::prelude::*;
                chunk
                    .par_iter()
                    .map(|p| {
                        let t = Instant::now();
                        let prepared = prepare(p, model, decoding);
                        decode_nanos.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                        prepared
                    })
                    .collect()
            });
            crate::types::fault::abort_at("decode");
            (chunk, prepared)
        },
        |(chunk, prepared)| {
            let t = Instant::now();
            times.waiting += (t - idle_since).as_secs_f64();
            let embedded = embed_batch(model, dim, prepared);
            times.model += t.elapsed().as_secs_f64();
            commit(chunk, embedded)?;
            idle_since = Instant::now();
            progress.inc(chunk.len() as u64);
            progress.set_message(times.shares(started.elapsed().as_secs_f64()));
            Ok(())
        },
    );
    progress.finish_and_clear();
    times.decode_cpu = decode_nanos.load(Ordering::Relaxed) as f64 / 1e9;
    result.map(|()| times)
}

fn progress_bar(show: bool, files: usize) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(files as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} files, {per_sec}, ETA {eta} ({msg})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// Embeds the images of one prepared batch; when the model fails, each of them fails with its reason.
fn embed_batch(model: &dyn ImageEmbedder, dim: usize, prepared: Vec<Prepared>) -> EmbeddedBatch {
    let mut pixels = Vec::new();
    let mut outcomes = Vec::with_capacity(prepared.len());
    for p in prepared {
        match p {
            Prepared::ToEmbed { pixels: px, image } => {
                pixels.push(px);
                outcomes.push(FileOutcome::Embedded(image));
            }
            Prepared::Settled(outcome) => outcomes.push(outcome),
        }
    }
    if pixels.is_empty() {
        return EmbeddedBatch {
            outcomes,
            vectors: Vec::new(),
        };
    }
    match embed_checked(model, dim, &pixels) {
        Ok(vectors) => EmbeddedBatch { outcomes, vectors },
        Err(reason) => EmbeddedBatch {
            outcomes: outcomes
                .into_iter()
                .map(|o| match o {
                    FileOutcome::Embedded(image) => FileOutcome::Failed {
                        hash: image.hash,
                        reason: format!("model: {reason}"),
                        meta: image.meta,
                    },
                    other => other,
                })
                .collect(),
            vectors: Vec::new(),
        },
    }
}

/// The model's vectors for `pixels`, or why there are none: its error, or vectors of the wrong shape.
fn embed_checked(
    model: &dyn ImageEmbedder,
    dim: usize,
    pixels: &[Pixels],
) -> std::result::Result<Vec<Vec<f32>>, String> {
    let vectors = model.embed_pixels(pixels).map_err(|e| e.to_string())?;
    if vectors.len() != pixels.len() || vectors.iter().any(|r| r.len() != dim) {
        return Err(format!(
            "the model returned {} vectors of the wrong shape",
            vectors.len()
        ));
    }
    Ok(vectors)
}

fn failed(hash: String, meta: &ContentMeta, reason: impl Into<String>) -> Prepared {
    Prepared::Settled(FileOutcome::Failed {
        hash,
        reason: reason.into(),
        meta: meta.clone(),
    })
}

/// How the decoding threads decode: the pixel limit, the size the model (and the thumbnail) need, and
/// the collection folder thumbnails are kept in.
#[derive(Debug, Clone, Copy)]
struct Decoding<'a> {
    max_pixels: u64,
    size: image_io::DecodeSize,
    thumbnails: Option<&'a Path>,
}

/// Reads, hashes, decodes and preprocesses one file (on a decoding thread).
fn prepare(pending: &PendingFile, model: &dyn ImageEmbedder, decoding: Decoding<'_>) -> Prepared {
    // A video's frame is in memory already.
    let bytes = match &pending.frame {
        Some(frame) => std::borrow::Cow::Borrowed(frame.png.as_slice()),
        None => match std::fs::read(&pending.file.abs) {
            Ok(b) => std::borrow::Cow::Owned(b),
            Err(e) => {
                return failed(
                    String::new(),
                    &ContentMeta::default(),
                    format!("cannot read: {e}"),
                )
            }
        },
    };
    let hash = blake3::hash(&bytes).to_hex().to_string();
    // Format and EXIF, from the bytes already read (a frame's format is its video's).
    let mut meta = ContentMeta::read(&bytes);
    if let Some(frame) = &pending.frame {
        meta.format = frame.format.name().to_string();
    }
    if pending.previous.as_ref().is_some_and(|p| p.hash == hash) {
        return Prepared::Settled(FileOutcome::SameContent(meta));
    }
    if bytes.is_empty() {
        return failed(hash, &meta, "empty file");
    }
    let Some(format) = image_io::sniff_format(&bytes) else {
        if has_image_extension(&pending.file.abs) {
            return failed(
                hash,
                &meta,
                format!(
                    "not a supported image (content is not {})",
                    image_io::format_names(", ")
                ),
            );
        }
        return Prepared::Settled(FileOutcome::Skipped);
    };
    if format.codec == image_io::Codec::Image(image::ImageFormat::Jpeg) && jpeg_truncated(&bytes) {
        return failed(
            hash,
            &meta,
            "truncated JPEG: no end-of-image marker after the last scan (the file is incomplete)",
        );
    }
    // The thumbnail is made from the same decode, unless this content has one already.
    let thumbnail = decoding
        .thumbnails
        .is_some_and(|coll| !crate::store::thumbnails::exists(coll, &hash));
    match contain_panic(|| to_pixels(&bytes, model, decoding, thumbnail)) {
        Ok(Ok((pixels, (width, height), pdq, thumbnail))) => Prepared::ToEmbed {
            pixels,
            image: DecodedImage {
                hash,
                width,
                height,
                meta,
                pdq,
                thumbnail,
            },
        },
        Ok(Err(e)) => failed(hash, &meta, e.to_string()),
        Err(panic) => {
            tracing::warn!(
                path = %pending.file.abs.display(),
                "decoder panicked{}: {}",
                panic.location.map(|l| format!(" at {l}")).unwrap_or_default(),
                panic.message
            );
            failed(hash, &meta, format!("decoder panicked: {}", panic.message))
        }
    }
}

/// Reads the content metadata of catalog rows that lack it (rows from before the metadata columns),
/// without decoding or embedding: read the file, sniff its format, parse its EXIF; on `threads`
/// threads. A file that cannot be read is left out (logged): its row is read again by the next run.
pub(super) fn read_metadata(
    rows: &[Entry],
    root: &Path,
    threads: usize,
) -> Result<Vec<(u64, ContentMeta)>> {
    use rayon::prelude::*;
    let pool = thread_pool("meta", threads, root)?;
    Ok(pool.install(|| {
        rows.par_iter()
            .filter_map(|e| {
                let path = root.join(&e.path);
                match std::fs::read(&path) {
                    Ok(bytes) => Some((e.id, ContentMeta::read(&bytes))),
                    Err(err) => {
                        tracing::warn!("{}: cannot read its metadata: {err}", path.display());
                        None
                    }
                }
            })
            .collect()
    }))
}

/// What [`to_pixels`] makes of a file: the model's pixels, the image's full size (orientation applied),
/// its PDQ hash and, when asked, its thumbnail.
type ToPixels = (Pixels, (u32, u32), Option<Pdq>, Option<Vec<u8>>);

/// Decodes an image file's bytes at the size the model needs and preprocesses them for `model`; computes
/// the PDQ hash from the same decode (a large JPEG's reduced-scale one, still at least 224-256 pixels on
/// its shorter side, over the 64 x 64 PDQ reads), and makes the thumbnail from it when `thumbnail` (a
/// thumbnail that cannot be made is logged and left out).
fn to_pixels(
    bytes: &[u8],
    model: &dyn ImageEmbedder,
    decoding: Decoding<'_>,
    thumbnail: bool,
) -> vsearch_embed::Result<ToPixels> {
    let decoded = image_io::decode_sized(bytes, decoding.max_pixels, decoding.size)?;
    let size = (decoded.full_width, decoded.full_height);
    let jpeg = thumbnail
        .then(|| crate::store::thumbnails::encode(&decoded.image))
        .and_then(|made| {
            made.map_err(|e| tracing::warn!("cannot make a thumbnail: {e}"))
                .ok()
        });
    let pdq = crate::pdq::pdq_of_image(&decoded.image);
    Ok((model.preprocess(&decoded.image)?, size, pdq, jpeg))
}

/// Decodes the indexed images of `rows` (under `root`) and computes their PDQ hashes, without embedding
/// them, on `threads` threads (rows indexed before the catalog kept hashes). A file that cannot be read
/// or decoded is left out (logged): the next run tries it again.
pub(super) fn hash_rows(
    rows: &[Entry],
    root: &Path,
    threads: usize,
    max_pixels: u64,
) -> Result<Vec<(u64, Option<Pdq>)>> {
    use rayon::prelude::*;
    let pool = thread_pool("pdq", threads, root)?;
    Ok(pool.install(|| {
        rows.par_iter()
            .filter_map(|e| {
                let path = root.join(&e.path);
                let decoded = std::fs::read(&path)
                    .map_err(|err| err.to_string())
                    .and_then(|bytes| {
                        contain_panic(|| image_io::decode(&bytes, max_pixels))
                            .map_err(|p| p.message)?
                            .map_err(|err| err.to_string())
                    });
                match decoded {
                    Ok(image) => Some((e.id, crate::pdq::pdq_of_image(&image))),
                    Err(err) => {
                        tracing::warn!("{}: cannot compute its PDQ hash: {err}", path.display());
                        None
                    }
                }
            })
            .collect()
    }))
}

/// A panic caught by [`contain_panic`].
struct CaughtPanic {
    /// The panic's message (its `&str` or `String` payload).
    message: String,
    /// Where it was raised (`file:line:column`), when the panic hook saw it.
    location: Option<String>,
}

thread_local! {
    /// Whether this thread is inside [`contain_panic`]: the panic hook then stays quiet.
    static CONTAINING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The location of the last panic contained on this thread.
    static CONTAINED_AT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs `work`, turning a panic inside it (a decoder's bug on a malformed file) into a [`CaughtPanic`]
/// instead of ending the run. Nothing shared is mutated by `work`, so no broken state is left behind.
/// While `work` runs, the process's panic hook prints nothing for this thread (the panic is reported as
/// the file's failure); panics elsewhere reach the hook that was installed before.
fn contain_panic<T>(work: impl FnOnce() -> T) -> std::result::Result<T, CaughtPanic> {
    static QUIET_HOOK: std::sync::Once = std::sync::Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CONTAINING.with(|c| c.get()) {
                let at = info.location().map(|l| l.to_string());
                CONTAINED_AT.with(|slot| *slot.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
    let was_containing = CONTAINING.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    CONTAINING.with(|c| c.set(was_containing));
    result.map_err(|payload| CaughtPanic {
        message: panic_message(payload.as_ref()),
        location: CONTAINED_AT.with(|slot| slot.borrow_mut().take()),
    })
}

/// The message of a panic payload: the `&str` or `String` given to `panic!`.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Whether a JPEG lacks its end-of-image marker (FF D9) after its last start-of-scan (FF DA): the
/// decoder would silently fill the missing part with grey. In entropy-coded data a 0xFF byte is always
/// followed by 0x00 or a restart marker, so FF D9 there can only be the real end.
///
/// Searched as "a scan, and no scan after the last end marker": the first scan is near the start and the
/// last end marker near the end, so neither search crosses the entropy-coded data (searching it
/// backwards byte by byte for the last scan took 4% of a decoding thread's time).
fn jpeg_truncated(bytes: &[u8]) -> bool {
    let (Some(_), Some(end)) = (
        memmem::find(bytes, &[0xFF, 0xDA]),
        memmem::rfind(bytes, &[0xFF, 0xD9]),
    ) else {
        return true;
    };
    memmem::find(&bytes[end..], &[0xFF, 0xDA]).is_some()
}

/// `threads` (at least one) rayon threads named `vsearch-{what}-N`, for one step of a run under `root`.
fn thread_pool(what: &'static str, threads: usize, root: &Path) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(move |i| format!("vsearch-{what}-{i}"))
        .build()
        .map_err(|e| EngineError::Io {
            path: root.to_path_buf(),
            source: std::io::Error::other(e),
        })
}

#[cfg(test)]
mod tests {
    use super::{contain_panic, jpeg_truncated};

    #[test]
    fn a_panic_is_contained_with_its_message() {
        let caught = contain_panic(|| -> u32 { panic!("bad huffman table {}", 7) })
            .expect_err("the panic is caught");
        assert_eq!(caught.message, "bad huffman table 7");
        assert!(
            caught
                .location
                .as_deref()
                .is_some_and(|l| l.contains("ingest.rs")),
            "{:?}",
            caught.location
        );
        let caught = contain_panic(|| -> u32 { std::panic::panic_any(5u8) })
            .expect_err("the panic is caught");
        assert_eq!(caught.message, "(no message)");
        assert_eq!(contain_panic(|| 3).ok(), Some(3));
    }

    #[test]
    fn a_jpeg_needs_an_end_marker_after_its_last_scan() {
        let complete = [0xFF, 0xD8, 0xFF, 0xDA, 1, 2, 0xFF, 0x00, 3, 0xFF, 0xD9];
        assert!(!jpeg_truncated(&complete));
        assert!(jpeg_truncated(&complete[..complete.len() - 2]));
        // An end marker before the last scan does not count.
        assert!(jpeg_truncated(&[0xFF, 0xD8, 0xFF, 0xD9, 0xFF, 0xDA, 1, 2]));
        assert!(jpeg_truncated(&[0xFF, 0xD8, 0xFF, 0xD9]), "no scan at all");
    }
}
