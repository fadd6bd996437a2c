//! The types on the wire: requests and responses, mirrors of the engine's types with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vsearch_engine::{CollectionInfo, IndexKind, Metric, SearchResponse};

/// An index kind on the wire: its name (`hnsw`, `ivf` or `flat`), exactly as [`IndexKind`] spells and
/// parses it; the schema lists the names in the order queries prefer them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IndexKindDto(pub IndexKind);

impl utoipa::PartialSchema for IndexKindDto {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(IndexKind::PREFERENCE.map(IndexKind::name)))
            .description(Some(
                "Index kind: hnsw (HNSW graph, approximate, fast), ivf (FAISS inverted lists, approximate) \
                 or flat (exact search).",
            ))
            .into()
    }
}

impl ToSchema for IndexKindDto {
    fn name() -> std::borrow::Cow<'static, str> {
        "IndexKindDto".into()
    }
}

impl From<IndexKind> for IndexKindDto {
    fn from(kind: IndexKind) -> Self {
        Self(kind)
    }
}

/// How vectors are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricDto {
    /// Cosine similarity: higher scores are closer, 1 is identical.
    Cosine,
    /// Squared Euclidean distance: lower scores are closer, 0 is identical.
    L2,
}

/// `GET /api/health`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: String,
    /// Images in the collection.
    pub count: usize,
    /// Model id.
    pub model: String,
    /// Queries running or queued right now.
    pub busy: usize,
    /// Queries that may run at once.
    pub workers: usize,
}

/// An index of the collection and its build parameters.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IndexDto {
    pub kind: IndexKindDto,
    /// Build parameters (e.g. `m`, `ef_construction`, `ef_search` for HNSW; `nlist`, `nprobe`, `codes` for IVF).
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

/// `GET /api/collection`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CollectionDto {
    /// Model id (e.g. `efficientnet-lite0`, `clip-vit-b32`).
    pub model: String,
    /// Embedding dimension (the length a query `vector` must have).
    pub dimension: usize,
    pub metric: MetricDto,
    /// Images in the collection.
    pub count: usize,
    /// Indexes built in this collection.
    pub indexes: Vec<IndexDto>,
    /// The index used when a query names none.
    pub default_index: Option<IndexKindDto>,
    /// Whether `text` queries work (CLIP models only).
    pub text_search: bool,
}

/// A JSON query: exactly one of `id`, `text` or `vector`, and options.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// Search from an indexed image, by id.
    #[schema(minimum = 0)]
    pub id: Option<u64>,
    /// Search by text (CLIP collections only).
    pub text: Option<String>,
    /// Search by a raw vector of the collection's dimension.
    pub vector: Option<Vec<f64>>,
    /// Number of results, 1 to 1000 (default 10).
    #[schema(minimum = 1, maximum = 1000)]
    pub k: Option<u64>,
    /// Index to search (default: the collection's first of hnsw, ivf, flat).
    #[schema(value_type = Option<IndexKindDto>)]
    pub index: Option<String>,
    /// HNSW: size of the candidate list.
    #[schema(minimum = 1, maximum = 10000)]
    pub ef_search: Option<u64>,
    /// IVF: inverted lists visited.
    #[schema(minimum = 1, maximum = 65536)]
    pub nprobe: Option<u64>,
    /// IVF-PQ: re-rank candidates by exact distance.
    pub rerank: Option<bool>,
    /// Drop results scoring below this.
    pub min_score: Option<f64>,
}

/// A multipart query (`multipart/form-data`): the image in field `image`, options as text fields.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SearchForm {
    /// The query image (JPEG, PNG, WebP, GIF, BMP or TIFF).
    #[schema(value_type = String, format = Binary)]
    pub image: Vec<u8>,
    /// Number of results, 1 to 1000 (default 10).
    #[schema(minimum = 1, maximum = 1000, nullable = false)]
    pub k: Option<u64>,
    /// Index to search.
    #[schema(nullable = false)]
    pub index: Option<IndexKindDto>,
    /// HNSW: size of the candidate list.
    #[schema(minimum = 1, maximum = 10000, nullable = false)]
    pub ef_search: Option<u64>,
    /// IVF: inverted lists visited.
    #[schema(minimum = 1, maximum = 65536, nullable = false)]
    pub nprobe: Option<u64>,
    /// IVF-PQ: re-rank candidates by exact distance.
    #[schema(nullable = false)]
    pub rerank: Option<bool>,
    /// Drop results scoring below this.
    #[schema(nullable = false)]
    pub min_score: Option<f64>,
}

/// One result.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResultDto {
    /// Image id (see `/api/images/{id}`).
    pub id: u64,
    /// Path relative to the indexed folder.
    pub path: String,
    /// Similarity (cosine, higher is closer) or squared distance (l2, lower is closer).
    pub score: f32,
    /// 1-based rank.
    pub rank: usize,
}

/// `POST /api/search`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResponseDto {
    /// Best first.
    pub results: Vec<SearchResultDto>,
    /// The index that answered.
    pub index: IndexKindDto,
    /// Model id.
    pub model: String,
    /// Milliseconds spent embedding the query (0 for `id` and `vector` queries).
    pub embed_ms: f64,
    /// Milliseconds spent searching the index.
    pub search_ms: f64,
}

impl From<SearchResponse> for SearchResponseDto {
    fn from(r: SearchResponse) -> Self {
        Self {
            results: r
                .results
                .into_iter()
                .map(|h| SearchResultDto {
                    id: h.id,
                    path: h.path,
                    score: h.score,
                    rank: h.rank,
                })
                .collect(),
            index: r.index.into(),
            model: r.model,
            embed_ms: r.embed_ms,
            search_ms: r.search_ms,
        }
    }
}

impl CollectionDto {
    /// The public view of a collection.
    pub fn from_info(info: &CollectionInfo) -> Self {
        let indexes = info
            .indexes
            .iter()
            .map(|config| {
                let mut params =
                    serde_json::to_value(config).unwrap_or_else(|_| serde_json::json!({}));
                if let Some(object) = params.as_object_mut() {
                    object.remove("kind");
                } else {
                    params = serde_json::json!({});
                }
                IndexDto {
                    kind: config.kind().into(),
                    params,
                }
            })
            .collect();
        Self {
            model: info.model.id.clone(),
            dimension: info.model.dim,
            metric: match info.metric {
                Metric::Cosine => MetricDto::Cosine,
                Metric::L2 => MetricDto::L2,
            },
            count: info.count,
            indexes,
            default_index: default_index(info).map(Into::into),
            text_search: info.text_search,
        }
    }
}

/// The index a query without `index` uses: the first of [`IndexKind::PREFERENCE`] the collection has.
pub fn default_index(info: &CollectionInfo) -> Option<IndexKind> {
    IndexKind::preferred(|kind| info.indexes.iter().any(|c| c.kind() == kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_view_lists_indexes_and_default() {
        let info = crate::api::sample_info(false, vec![vsearch_engine::IndexConfig::Flat]);
        let dto = CollectionDto::from_info(&info);
        assert_eq!(dto.default_index, Some(IndexKindDto(IndexKind::Flat)));
        assert_eq!(dto.indexes.len(), 1);
        assert_eq!(dto.dimension, 4);
        assert!(dto.indexes[0].params.is_object());
    }
}
