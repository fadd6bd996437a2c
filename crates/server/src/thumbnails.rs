//! JPEG thumbnails (at most 256 px on the longer side) and their bounded in-memory cache.

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;
use vsearch_engine::EngineError;

pub use vsearch_engine::thumbnails::MAX_SIDE;

/// Makes a JPEG thumbnail from encoded image bytes (EXIF orientation applied; never upscaled; a large
/// JPEG decoded at the smallest DCT scale that still fills it): [`vsearch_engine::thumbnails::make`].
pub fn make_thumbnail(bytes: &[u8]) -> Result<Vec<u8>, EngineError> {
    vsearch_engine::thumbnails::make(bytes)
}

/// A least-recently-used cache of thumbnails by image id, bounded in bytes.
#[derive(Debug)]
pub struct ThumbnailCache {
    budget: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<vsearch_engine::ImageId, (Bytes, u64)>,
    bytes: usize,
    clock: u64,
}

impl ThumbnailCache {
    /// An empty cache holding at most `budget` bytes of thumbnails.
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The cached thumbnail of `id`, if any.
    pub fn get(&self, id: vsearch_engine::ImageId) -> Option<Bytes> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.clock += 1;
        let clock = inner.clock;
        let entry = inner.entries.get_mut(&id)?;
        entry.1 = clock;
        Some(entry.0.clone())
    }

    /// Stores the thumbnail of `id`, evicting the least recently used ones to stay within budget.
    pub fn insert(&self, id: vsearch_engine::ImageId, thumbnail: Bytes) {
        if thumbnail.len() > self.budget {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.clock += 1;
        let clock = inner.clock;
        let added = thumbnail.len();
        if let Some((old, _)) = inner.entries.insert(id, (thumbnail, clock)) {
            inner.bytes -= old.len();
        }
        inner.bytes += added;
        while inner.bytes > self.budget {
            let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| *id)
            else {
                break;
            };
            if let Some((evicted, _)) = inner.entries.remove(&oldest) {
                inner.bytes -= evicted.len();
            }
        }
    }

    /// Drops every thumbnail (when the collection served changes).
    pub fn clear(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.entries.clear();
        inner.bytes = 0;
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).bytes
    }

    /// Thumbnails held.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> vsearch_engine::ImageId {
        n.into()
    }

    #[test]
    fn evicts_least_recently_used_within_budget() {
        let cache = ThumbnailCache::new(30);
        cache.insert(id(1), Bytes::from(vec![1u8; 10]));
        cache.insert(id(2), Bytes::from(vec![2u8; 10]));
        cache.insert(id(3), Bytes::from(vec![3u8; 10]));
        assert!(cache.get(id(1)).is_some()); // 2 is now the least recently used
        cache.insert(id(4), Bytes::from(vec![4u8; 10]));
        assert!(cache.get(id(2)).is_none());
        assert!(
            cache.get(id(1)).is_some() && cache.get(id(3)).is_some() && cache.get(id(4)).is_some()
        );
        assert_eq!(cache.bytes(), 30);
        cache.insert(id(5), Bytes::from(vec![5u8; 31])); // larger than the whole budget: not kept
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn thumbnail_is_a_small_jpeg_with_the_aspect_ratio_kept() {
        let photo = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/ukbench-14/ukbench00000.jpg"
        ))
        .expect("test photo ../shared/data/ukbench-14/ukbench00000.jpg");
        let original = image::load_from_memory(&photo).unwrap();
        let jpeg = make_thumbnail(&photo).unwrap();
        assert_eq!(
            image::guess_format(&jpeg).unwrap(),
            image::ImageFormat::Jpeg
        );
        let thumb = image::load_from_memory(&jpeg).unwrap();
        assert_eq!(thumb.width().max(thumb.height()), MAX_SIDE);
        let (ra, rb) = (
            original.width() as f64 / original.height() as f64,
            thumb.width() as f64 / thumb.height() as f64,
        );
        assert!((ra - rb).abs() < 0.02, "aspect {ra} vs {rb}");
    }

    #[test]
    fn non_image_is_a_decode_error() {
        let err = make_thumbnail(b"hello, not an image").unwrap_err();
        assert!(
            matches!(
                err,
                EngineError::Embed {
                    source: vsearch_engine::EmbedError::Decode { .. }
                }
            ),
            "{err}"
        );
    }
}
