//! What the ranking stage reads of a local collection's candidates ([`facts`]) and the vectors of its
//! visible images ([`visible_vectors`], for recommendations without a board).

use crate::ranking::CandidateFacts;
use crate::search::collection::Collection;
use crate::types::error::Result;
use crate::types::image_id::ImageId;

/// The facts of `ids`, in order: vectors from the matrix, metadata, content and PDQ hashes from memory.
/// Unknown and hidden ids get empty facts.
pub fn facts(collection: &Collection, ids: &[ImageId]) -> Result<Vec<CandidateFacts>> {
    let local: Vec<Option<u64>> = ids
        .iter()
        .map(|id| id.number().filter(|&n| collection.visible(n).is_ok()))
        .collect();
    Ok(local
        .into_iter()
        .map(|id| {
            let Some(id) = id else {
                return CandidateFacts::default();
            };
            let meta = collection.images().get(id);
            CandidateFacts {
                vector: collection.vector(id).ok(),
                hash: collection.content_hash(id).map(str::to_string),
                pdq: collection.pdq(id),
                mtime: meta.and_then(|m| m.mtime.parse().ok()),
                labels: meta.map(|m| m.labels.clone()).unwrap_or_default(),
                flags: meta.map(|m| m.flags.clone()).unwrap_or_default(),
                open_reports: 0,
                hidden: meta.is_some_and(|m| !m.hidden.is_empty()),
                video_frame: meta.is_some_and(|m| m.video.is_some()),
            }
        })
        .collect())
}

/// The id and vector of every image no block hides, ascending.
pub fn visible_vectors(collection: &Collection) -> Result<Vec<(ImageId, Vec<f32>)>> {
    let mut out = Vec::new();
    for id in collection.images().ids() {
        if collection.is_hidden(id) {
            continue;
        }
        out.push((ImageId::Number(id), collection.stored_vector(id)?));
    }
    Ok(out)
}
