//! What the ranking stage reads of a Qdrant collection's candidates (one `get` of their payloads and
//! vectors), and the vectors of its visible images (a scroll, for recommendations without a board).

use crate::pdq::{Pdq, PdqHash};
use crate::qdrant::payload::{self, StoredImage};
use crate::qdrant::{visible, QdrantCollection};
use crate::ranking::CandidateFacts;
use crate::types::error::{EngineError, Result};
use crate::types::image_id::ImageId;
use std::collections::HashMap;
use vsearch_qdrant::point_uuid;

impl QdrantCollection {
    /// The facts of `ids`, in order (hidden and unknown points get empty facts).
    pub fn facts(&self, ids: &[ImageId]) -> Result<Vec<CandidateFacts>> {
        let uuids: Vec<uuid::Uuid> = ids
            .iter()
            .filter_map(|id| match id {
                ImageId::Uuid(u) => Some(*u),
                ImageId::Number(_) => None,
            })
            .collect();
        let name = self.vector_spec().name.clone();
        let mut found: HashMap<uuid::Uuid, CandidateFacts> = HashMap::new();
        for point in self.store().get(&uuids, Some(&name))? {
            let Some(uuid) = point.id.as_ref().and_then(point_uuid) else {
                continue;
            };
            if payload::is_blocked(&point.payload) {
                continue;
            }
            let image = StoredImage::from_payload(&uuid.to_string(), &point.payload)?;
            let pdq = image.pdq.as_deref().and_then(|hex| {
                Some(Pdq {
                    hash: PdqHash::from_hex(hex).ok()?,
                    quality: image.pdq_quality.unwrap_or(0),
                })
            });
            let meta = image.meta(uuid);
            found.insert(
                uuid,
                CandidateFacts {
                    vector: vsearch_qdrant::dense_vector(&point, &name),
                    hash: Some(image.hash.clone()),
                    pdq,
                    mtime: meta.mtime.parse().ok(),
                    hidden: !meta.hidden.is_empty(),
                    labels: meta.labels,
                    flags: meta.flags,
                    open_reports: 0,
                    // Qdrant-backed collections hold no video frames (`index --qdrant` skips videos).
                    video_frame: false,
                },
            );
        }
        Ok(ids
            .iter()
            .map(|id| match id {
                ImageId::Uuid(u) => found.remove(u).unwrap_or_default(),
                ImageId::Number(_) => CandidateFacts::default(),
            })
            .collect())
    }

    /// The id and vector of every point no block hides.
    pub fn visible_vectors(&self) -> Result<Vec<(ImageId, Vec<f32>)>> {
        let name = self.vector_spec().name.clone();
        let mut out = Vec::new();
        self.store().scroll::<EngineError>(
            Some(visible(None)),
            &["hash"],
            Some(&name),
            |points| {
                for p in points {
                    if let (Some(id), Some(v)) = (
                        p.id.as_ref().and_then(point_uuid),
                        vsearch_qdrant::dense_vector(&p, &name),
                    ) {
                        out.push((ImageId::Uuid(id), v));
                    }
                }
                Ok(())
            },
        )?;
        out.sort_by_key(|a| a.0);
        Ok(out)
    }
}
