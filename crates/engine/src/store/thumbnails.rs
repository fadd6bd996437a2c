//! Thumbnails kept beside the collection, so that a browse grid over phone photos decodes nothing.
//!
//! An index run makes each image's thumbnail (at most [`MAX_SIDE`] pixels on the longer side, JPEG) from the
//! decode it makes for the model anyway (at least 224-256 pixels on the shorter side), and keeps it
//! in `thumbnails/` of the collection folder ([`crate::types::layout::THUMBNAILS_DIR`]) under its image's
//! content hash: `thumbnails/ab/abcdef....jpg`. Named by content, a thumbnail is never stale (a changed file
//! has another hash) and copies share one. A run that removed or replaced images removes the thumbnails no
//! image of the catalog has once its generation is committed ([`prune`]). A thumbnail is a cache of the image, not part of
//! the commit: it is written through a temporary file and a rename without fsync, a missing or torn one is
//! made again from the image ([`read`] checks the JPEG's start and end markers), and a failure to write one
//! (a full disk) is logged and does not fail the run.

use crate::types::error::{EngineError, Result};
use crate::types::layout::THUMBNAILS_DIR;
use image::DynamicImage;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use vsearch_embed::image_io::{self, DecodeSize};

/// Longest side of a thumbnail, in pixels.
pub const MAX_SIDE: u32 = 256;
/// JPEG quality of thumbnails.
const QUALITY: u8 = 85;
/// The least decode a thumbnail needs (a large JPEG decodes at a reduced DCT scale that still gives it).
pub const DECODE_SIZE: DecodeSize = DecodeSize::ShortSide(MAX_SIDE);
/// What a thumbnail takes on disk, for the free-space estimate (they measure 8-20 KB).
pub const ESTIMATED_BYTES: u64 = 24 * 1024;

/// The thumbnail of a decoded image: at most [`MAX_SIDE`] on the longer side (never enlarged), JPEG.
pub fn encode(image: &DynamicImage) -> Result<Vec<u8>> {
    let small = if image.width() > MAX_SIDE || image.height() > MAX_SIDE {
        image.thumbnail(MAX_SIDE, MAX_SIDE)
    } else {
        image.clone()
    };
    let rgb = small.to_rgb8();
    let mut out = Vec::with_capacity(16 * 1024);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode_image(&rgb)
        .map_err(|e| {
            EngineError::from(vsearch_embed::EmbedError::Encode {
                format: "JPEG".into(),
                reason: format!("thumbnail: {e}"),
            })
        })?;
    Ok(out)
}

/// The thumbnail of an encoded image (EXIF orientation applied), decoded at [`DECODE_SIZE`].
pub fn make(bytes: &[u8]) -> Result<Vec<u8>> {
    let decoded = image_io::decode_sized(bytes, image_io::DEFAULT_MAX_PIXELS, DECODE_SIZE)?;
    encode(&decoded.image)
}

/// Where the thumbnail of the content `hash` (blake3 hex) is kept in the collection folder `coll`.
pub fn path(coll: &Path, hash: &str) -> Option<PathBuf> {
    let valid = hash.len() >= 2 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| {
        coll.join(THUMBNAILS_DIR)
            .join(&hash[..2])
            .join(format!("{hash}.jpg"))
    })
}

/// The kept thumbnail of the content `hash`, when there is a whole one.
pub fn read(coll: &Path, hash: &str) -> Option<Vec<u8>> {
    let bytes = std::fs::read(path(coll, hash)?).ok()?;
    let whole = bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9]);
    whole.then_some(bytes)
}

/// Whether a whole thumbnail of `hash` is kept.
pub fn exists(coll: &Path, hash: &str) -> bool {
    read(coll, hash).is_some()
}

/// Keeps `jpeg` as the thumbnail of the content `hash` (a temporary file renamed into place: readers see
/// the old state or the whole file).
pub fn write(coll: &Path, hash: &str, jpeg: &[u8]) -> Result<()> {
    let Some(path) = path(coll, hash) else {
        return Ok(());
    };
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    std::fs::create_dir_all(dir).map_err(EngineError::io(dir))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(EngineError::io(dir))?;
    tmp.write_all(jpeg).map_err(EngineError::io(&path))?;
    tmp.persist(&path)
        .map_err(|e| EngineError::io(&path)(e.error))?;
    Ok(())
}

/// Removes the kept thumbnails of contents not in `kept` (the content hashes of the catalog's images);
/// what cannot be read or removed is logged.
pub fn prune(coll: &Path, kept: &HashSet<String>) {
    let dir = coll.join(THUMBNAILS_DIR);
    let Ok(shards) = std::fs::read_dir(&dir) else {
        return;
    };
    for shard in shards.flatten() {
        let Ok(files) = std::fs::read_dir(shard.path()) else {
            continue;
        };
        for file in files.flatten() {
            let name = file.file_name();
            let hash = name.to_str().and_then(|n| n.strip_suffix(".jpg"));
            if hash.is_some_and(|h| kept.contains(h)) {
                continue;
            }
            if let Err(e) = std::fs::remove_file(file.path()) {
                tracing::warn!("cannot remove the thumbnail {}: {e}", file.path().display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_are_kept_by_content_and_pruned_when_no_image_has_it() {
        let dir = tempfile::tempdir().unwrap();
        let img = DynamicImage::new_rgb8(1000, 500);
        let jpeg = encode(&img).unwrap();
        let decoded = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (256, 128));
        let (a, b) = ("ab".repeat(32), "cd".repeat(32));
        write(dir.path(), &a, &jpeg).unwrap();
        write(dir.path(), &b, &jpeg).unwrap();
        assert_eq!(read(dir.path(), &a).as_deref(), Some(jpeg.as_slice()));
        // A torn file (cut before its end marker) is not a thumbnail.
        std::fs::write(path(dir.path(), &b).unwrap(), &jpeg[..jpeg.len() / 2]).unwrap();
        assert!(!exists(dir.path(), &b));
        // `a` is still some image's content, `b` is not.
        prune(dir.path(), &[a.clone()].into());
        assert!(exists(dir.path(), &a));
        assert!(!path(dir.path(), &b).unwrap().exists());
        // Not a hash: no path outside the folder.
        assert!(path(dir.path(), "../../etc/passwd").is_none());
    }
}
