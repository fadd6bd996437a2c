//! Between vsearch's values and Qdrant's messages: point ids, payload and vector selectors, and the
//! UUID and dense vector of a point Qdrant returns.

use qdrant_client::qdrant::{
    self, point_id::PointIdOptions, PointId, PointsIdsList, RetrievedPoint,
};

pub(crate) fn point_ids(ids: &[uuid::Uuid]) -> PointsIdsList {
    PointsIdsList {
        ids: ids.iter().map(|id| PointId::from(id.to_string())).collect(),
    }
}

pub(crate) fn payload_selector(keys: &[&str]) -> qdrant::with_payload_selector::SelectorOptions {
    use qdrant::with_payload_selector::SelectorOptions;
    if keys.is_empty() {
        SelectorOptions::Enable(true)
    } else {
        SelectorOptions::Include(qdrant::PayloadIncludeSelector {
            fields: keys.iter().map(|k| k.to_string()).collect(),
        })
    }
}

pub(crate) fn vector_selector(
    vector: Option<&str>,
) -> qdrant::with_vectors_selector::SelectorOptions {
    use qdrant::with_vectors_selector::SelectorOptions;
    match vector {
        None => SelectorOptions::Enable(false),
        Some(name) => SelectorOptions::Include(qdrant::VectorsSelector {
            names: vec![name.to_string()],
        }),
    }
}

/// The UUID of a point id (`None` for a numeric id: not one of vsearch's points).
pub fn point_uuid(id: &PointId) -> Option<uuid::Uuid> {
    match &id.point_id_options {
        Some(PointIdOptions::Uuid(s)) => s.parse().ok(),
        _ => None,
    }
}

/// The vector named `name` of a retrieved point.
pub fn dense_vector(point: &RetrievedPoint, name: &str) -> Option<Vec<f32>> {
    match point.vectors.as_ref()?.get_vector_by_name(name)? {
        qdrant::vector_output::Vector::Dense(v) => Some(v.data),
        _ => None,
    }
}
