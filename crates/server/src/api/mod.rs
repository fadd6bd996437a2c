//! The JSON API: [`dto`] (request and response types, mirrors of the engine's, with OpenAPI schemas),
//! [`request`] (a JSON body or a multipart form into one checked engine query) and [`handlers`];
//! [`recommend`] (the feed of `GET /api/recommend`); [`blocks`] (takedowns) and [`analytics`] (search
//! analytics) are the admin parts.

pub mod analytics;
pub mod blocks;
pub mod dto;
pub mod handlers;
pub mod recommend;
pub mod reports;
pub mod request;
#[cfg(test)]
mod request_fuzz;

/// A collection description for unit tests: an EfficientNet-Lite0 of dimension 4 holding 3 images.
#[cfg(test)]
pub(crate) fn sample_info(
    text: bool,
    indexes: Vec<vsearch_engine::IndexConfig>,
) -> vsearch_engine::CollectionInfo {
    vsearch_engine::CollectionInfo {
        root: "/tmp/x".into(),
        model: vsearch_engine::ModelInfo {
            id: "efficientnet-lite0".into(),
            dim: 4,
            text,
        },
        metric: vsearch_engine::Metric::Cosine,
        count: 3,
        indexes,
        text_search: text,
        generation: 1,
        qdrant: None,
    }
}
