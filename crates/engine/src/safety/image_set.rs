//! What the safety tools (the duplicate finder, a block's reach) need of a collection, whichever
//! backend holds it ([`ImageSet`]): its images and their content hashes, each one's nearest neighbours,
//! a similarity range around a vector, and an image's bytes. A local [`Collection`] answers from its
//! catalog, matrix and index; a Qdrant collection from Qdrant (see [`crate::safety::on_qdrant`]). The
//! rules themselves (candidates, verification on the pixels, grouping, reach) are written once, over
//! this trait.

use crate::safety::dupes::DupesOptions;
use crate::search::collection::Collection;
use crate::types::error::Result;
use crate::types::image_id::ImageId;
use crate::types::metadata::ImageMeta;
use rayon::prelude::*;
use std::collections::HashMap;
use vsearch_core::vector;
use vsearch_index::{IndexKind, SearchParams};

/// Each image's candidate neighbours with their embedding cosine ([`ImageSet::neighbours`]).
pub(crate) type Neighbours<Id> = Vec<Vec<(Id, f32)>>;

/// A collection as the safety tools see it; see the module docs.
pub(crate) trait ImageSet: Sync {
    /// How the collection names an image (a local id, a Qdrant point id).
    type Id: Copy + Ord + std::hash::Hash + Send + Sync + std::fmt::Debug + Into<ImageId>;
    /// `id` in this collection's naming (`None`: an id of the other kind of collection).
    fn own_id(&self, id: ImageId) -> Option<Self::Id>;
    /// Whether the collection holds the image `id` (hidden or not).
    fn contains(&self, id: Self::Id) -> Result<bool>;
    /// The images no block hides, ascending.
    fn visible_ids(&self) -> Result<Vec<Self::Id>>;
    /// The content hash (blake3, hex) of every image, hidden or not.
    fn content_hashes(&self) -> Result<HashMap<Self::Id, String>>;
    /// The content hash of one image (`None` when it has none).
    fn content_hash_of(&self, id: Self::Id) -> Result<Option<String>>;
    /// The images whose content hash is `hash`.
    fn with_hash(&self, hash: &str) -> Result<Vec<Self::Id>>;
    /// For each of `ids`, its nearest neighbours (at most `options.neighbours`, itself left out) whose
    /// embedding cosine reaches `options.min_cosine`, with that cosine.
    fn neighbours(&self, ids: &[Self::Id], options: &DupesOptions) -> Result<Neighbours<Self::Id>>;
    /// Every image whose cosine similarity to the unit vector `unit` is at least `threshold`.
    fn within(&self, unit: &[f32], threshold: f32) -> Result<Vec<Self::Id>>;
    /// The encoded bytes of an image's file.
    fn image_bytes(&self, id: Self::Id) -> Result<Vec<u8>>;
    /// The metadata of images (those it holds).
    fn metas(&self, ids: &[Self::Id]) -> Result<HashMap<Self::Id, ImageMeta>>;
    /// The PDQ hash of every image that has one (computed at index time; see [`crate::pdq`]).
    fn pdq_hashes(&self) -> Result<HashMap<Self::Id, crate::pdq::Pdq>>;
    /// The stored embedding of an image (hidden or not).
    fn vector(&self, id: Self::Id) -> Result<Vec<f32>>;
}

impl ImageSet for Collection {
    type Id = u64;

    fn own_id(&self, id: ImageId) -> Option<u64> {
        id.number()
    }
    fn contains(&self, id: u64) -> Result<bool> {
        Ok(self.images().contains(id))
    }
    fn visible_ids(&self) -> Result<Vec<u64>> {
        let mut ids = self.images().ids();
        ids.retain(|&id| !self.is_hidden(id));
        Ok(ids)
    }
    fn content_hashes(&self) -> Result<HashMap<u64, String>> {
        Ok(self
            .images()
            .ids()
            .into_iter()
            .filter_map(|id| Some((id, self.content_hash(id)?.to_string())))
            .collect())
    }
    fn content_hash_of(&self, id: u64) -> Result<Option<String>> {
        Ok(self
            .content_hash(id)
            .filter(|h| !h.is_empty())
            .map(str::to_string))
    }
    fn with_hash(&self, hash: &str) -> Result<Vec<u64>> {
        let mut ids: Vec<u64> = self
            .images()
            .iter()
            .map(|m| m.id)
            .filter(|&id| self.content_hash(id) == Some(hash))
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }
    fn neighbours(&self, ids: &[u64], options: &DupesOptions) -> Result<Neighbours<u64>> {
        ids.par_iter()
            .map(|&id| local_neighbours(self, id, options))
            .collect()
    }
    fn within(&self, unit: &[f32], threshold: f32) -> Result<Vec<u64>> {
        let matrix = self.matrix();
        let mut out = Vec::new();
        for m in self.images().iter() {
            let row = matrix
                .row(m.id)
                .ok_or_else(|| matrix.missing_vector(m.id))?;
            if row.len() == unit.len() && vector::dot(unit, &row) >= threshold {
                out.push(m.id);
            }
        }
        out.sort_unstable();
        Ok(out)
    }
    fn image_bytes(&self, id: u64) -> Result<Vec<u8>> {
        self.stored_bytes(id)
    }
    fn metas(&self, ids: &[u64]) -> Result<HashMap<u64, ImageMeta>> {
        Ok(ids
            .iter()
            .filter_map(|&id| Some((id, self.images().get(id)?.clone())))
            .collect())
    }
    fn pdq_hashes(&self) -> Result<HashMap<u64, crate::pdq::Pdq>> {
        crate::store::catalog::Catalog::open_read_only(self.dir())?.pdq_hashes()
    }
    fn vector(&self, id: u64) -> Result<Vec<f32>> {
        self.matrix()
            .row(id)
            .ok_or_else(|| self.matrix().missing_vector(id))
    }
}

/// The nearest neighbours of `id` in a local collection's best index (itself excluded) whose cosine
/// (from the stored vectors, whatever the index's metric) reaches `options.min_cosine`.
fn local_neighbours(
    collection: &Collection,
    id: u64,
    options: &DupesOptions,
) -> Result<Vec<(u64, f32)>> {
    let v = collection.stored_vector(id)?;
    let kind = IndexKind::preferred(|k| collection.has_index(k)).unwrap_or(IndexKind::Flat);
    let params = SearchParams {
        ef_search: Some((options.neighbours * 4).max(64)),
        nprobe: Some(16),
        rerank: None,
    };
    let hits = collection
        .index(kind)?
        .search(&v, options.neighbours + 1, &params)?;
    let mut out = Vec::new();
    for h in hits {
        if h.id == id || !collection.images().contains(h.id) {
            continue;
        }
        let other = collection.stored_vector(h.id)?;
        let cosine = vector::dot(&v, &other);
        if cosine >= options.min_cosine {
            out.push((h.id, cosine));
        }
    }
    Ok(out)
}
