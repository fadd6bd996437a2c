//! Step 2 of a run, the decode-embed loop: decoding threads read, hash, decode and preprocess one batch of
//! pending files while the model embeds the previous one; each embedded batch goes to step 3 (commit)
//! before the next is taken.

use super::plan::PendingFile;
use crate::error::{EngineError, Result};
use crate::scan::has_image_extension;
use crate::IndexOptions;
use std::path::Path;
use vsearch_embed::{image_io, ImageEmbedder, Pixels};

/// A decoded image: its content hash and size in pixels.
pub(super) struct DecodedImage {
    pub hash: String,
    pub width: u32,
    pub height: u32,
}

/// What became of one file of a batch.
pub(super) enum FileOutcome {
    /// Embedded: its vector is in [`EmbeddedBatch::vectors`].
    Embedded(DecodedImage),
    /// Same content as the catalog row: only size/mtime changed.
    SameContent,
    Failed {
        hash: String,
        reason: String,
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

/// Decodes and embeds `pending` in batches of `options.batch`, handing each batch to `commit` in order.
/// An error from `commit` stops the loop and is returned.
pub(super) fn ingest(
    pending: &[PendingFile],
    model: &dyn ImageEmbedder,
    dim: usize,
    root: &Path,
    options: &IndexOptions,
    mut commit: impl FnMut(&[PendingFile], EmbeddedBatch) -> Result<()>,
) -> Result<()> {
    let progress = progress_bar(options.progress, pending.len());
    let batch = options.batch.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.max(1))
        .thread_name(|i| format!("vsearch-decode-{i}"))
        .build()
        .map_err(|e| EngineError::Io {
            path: root.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
    let max_pixels = options.max_pixels;
    let (tx, rx) = crossbeam_channel::bounded::<Vec<Prepared>>(2);
    let result: Result<()> = std::thread::scope(|s| {
        // The receiver lives in this closure: when it returns early (an error), the receiver is
        // dropped, the producer's next send fails and the scope can join it.
        let rx = rx;
        s.spawn(move || {
            for chunk in pending.chunks(batch) {
                let prepared: Vec<Prepared> = pool.install(|| {
                    use rayon::prelude::*;
                    chunk
                        .par_iter()
                        .map(|p| prepare(p, model, max_pixels))
                        .collect()
                });
                crate::fault::abort_at("decode");
                if tx.send(prepared).is_err() {
                    break;
                }
            }
        });
        for (chunk, prepared) in pending.chunks(batch).zip(rx.iter()) {
            commit(chunk, embed_batch(model, dim, prepared))?;
            progress.inc(chunk.len() as u64);
        }
        Ok(())
    });
    progress.finish_and_clear();
    result
}

fn progress_bar(show: bool, files: usize) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(files as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} files, {per_sec}, ETA {eta}",
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

fn failed(hash: String, reason: impl Into<String>) -> Prepared {
    Prepared::Settled(FileOutcome::Failed {
        hash,
        reason: reason.into(),
    })
}

/// Reads, hashes, decodes and preprocesses one file (on a decoding thread).
fn prepare(pending: &PendingFile, model: &dyn ImageEmbedder, max_pixels: u64) -> Prepared {
    let bytes = match std::fs::read(&pending.file.abs) {
        Ok(b) => b,
        Err(e) => return failed(String::new(), format!("cannot read: {e}")),
    };
    let hash = blake3::hash(&bytes).to_hex().to_string();
    if pending.previous.as_ref().is_some_and(|p| p.hash == hash) {
        return Prepared::Settled(FileOutcome::SameContent);
    }
    if bytes.is_empty() {
        return failed(hash, "empty file");
    }
    let Some(format) = image_io::sniff_format(&bytes) else {
        if has_image_extension(&pending.file.abs) {
            return failed(
                hash,
                "not a supported image (content is not JPEG, PNG, WebP, GIF, BMP or TIFF)",
            );
        }
        return Prepared::Settled(FileOutcome::Skipped);
    };
    if format == image::ImageFormat::Jpeg && jpeg_truncated(&bytes) {
        return failed(
            hash,
            "truncated JPEG: no end-of-image marker after the last scan (the file is incomplete)",
        );
    }
    let image = match image_io::decode(&bytes, max_pixels) {
        Ok(img) => img,
        Err(e) => return failed(hash, e.to_string()),
    };
    let (width, height) = (image.width(), image.height());
    match model.preprocess(&image) {
        Ok(pixels) => Prepared::ToEmbed {
            pixels,
            image: DecodedImage {
                hash,
                width,
                height,
            },
        },
        Err(e) => failed(hash, e.to_string()),
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

#[cfg(test)]
mod tests {
    use super::jpeg_truncated;

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
