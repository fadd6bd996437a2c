//! The OpenAPI 3 description of the API, generated from the handlers and types with utoipa.

use crate::api::{analytics, blocks, dto, handlers, recommend, reports, request};
use crate::error::ErrorBody;
use crate::metrics;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::OnceLock;
use utoipa::OpenApi;
use vsearch_engine::{CollectionInfo, IndexKind};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "vsearch",
        description = "Visual search over an image collection: query by image upload, indexed id, text (CLIP) or vector."
    ),
    paths(
        handlers::health,
        handlers::collection,
        handlers::search,
        recommend::recommend,
        handlers::browse,
        handlers::facets,
        handlers::duplicates,
        handlers::image,
        handlers::thumbnail,
        handlers::image_meta,
        handlers::similar,
        blocks::list_blocks,
        blocks::create_block,
        blocks::delete_block,
        reports::create_report,
        reports::report_policy,
        reports::list_cases,
        reports::resolve_case,
        analytics::report,
        analytics::record_event,
        metrics::metrics,
        metrics::livez,
        metrics::readyz
    ),
    components(schemas(
        ErrorBody,
        dto::Health,
        dto::CollectionDto,
        dto::QdrantStatusDto,
        dto::RerankerDto,
        dto::IndexDto,
        dto::IndexKindDto,
        dto::MetricDto,
        dto::SearchRequest,
        dto::ExampleDto,
        dto::CropDto,
        dto::SearchForm,
        dto::FilterReportDto,
        dto::ImageDto,
        dto::BrowseDto,
        dto::FacetDto,
        dto::FacetsDto,
        dto::DuplicatesDto,
        dto::DuplicateGroupDto,
        dto::DuplicateImageDto,
        dto::SearchResultDto,
        dto::VideoFrameDto,
        dto::FrameHitDto,
        dto::AdjustmentDto,
        dto::RankingDto,
        recommend::RecommendDto,
        dto::SearchResponseDto,
        blocks::NearDto,
        blocks::BlockRequest,
        blocks::BlockExampleDto,
        blocks::ReachDto,
        blocks::HiddenImageDto,
        blocks::BlockDto,
        blocks::BlocksDto,
        reports::ReportRequest,
        reports::ReportReceiptDto,
        reports::ReportPolicyDto,
        reports::ReasonCountDto,
        reports::CaseReportDto,
        reports::CopyDto,
        reports::CaseDto,
        reports::CasesDto,
        reports::ResolveRequest,
        analytics::ActionDto,
        analytics::AnalyticsEventRequest,
        analytics::EventRecordedDto,
        analytics::AnalyticsReportDto,
        analytics::DayFiguresDto,
        analytics::CountDto,
        analytics::IndexLatencyDto,
        analytics::ReportRatesDto,
        analytics::GroupRateDto,
        analytics::ResolutionDto
    )),
    modifiers(&AdminToken),
    tags(
        (name = "vsearch", description = "Visual search API"),
        (name = "blocks", description = "Takedowns: blocks hide an image and its copies or near images from every search and listing. Every endpoint needs the server's admin token (`Authorization: Bearer TOKEN`): 401 without one, 403 with a wrong one or on a server started without one."),
        (name = "reports", description = "User reports and the review queue: visitors report an image (no token; one report per image per reporter, rate-limited per address with 429 and `Retry-After`); enough distinct reporters hide it pending review; the queue and its resolutions need the admin token."),
        (name = "analytics", description = "Search analytics: the page reports what it opens from an answer (`search_id`, position); the report (admin token) gives searches per day, zero-result rate, click-through rate, mean reciprocal rank, latency per index kind. Text queries and uploads are not stored unless the server runs with `--analytics-keep-queries`.")
    )
)]
pub struct ApiDoc;

/// Adds the `admin_token` security scheme (HTTP bearer) the block endpoints name.
struct AdminToken;

impl utoipa::Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The token `vsearch serve --admin-token TOKEN` (or VSEARCH_ADMIN_TOKEN) was started with",
                    ))
                    .build(),
            ),
        );
    }
}

/// The generic description as pretty JSON (built once).
pub fn spec_json() -> &'static str {
    static SPEC: OnceLock<String> = OnceLock::new();
    SPEC.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    })
}

/// The description of this server's collection: the generic one narrowed to what this collection accepts
/// (its index kinds, its vector length, text queries only with a text tower) and with the rule the types
/// cannot carry (exactly one of `id`, `text`, `vector`), so that every request valid by the schema is one
/// the server answers with 2xx (or 404 for an id it does not hold).
pub fn spec_for(info: &CollectionInfo) -> String {
    let mut spec = match serde_json::to_value(ApiDoc::openapi()) {
        Ok(spec) => spec,
        Err(_) => return spec_json().to_string(),
    };
    let schemas = &mut spec["components"]["schemas"];
    let built: Vec<Value> = IndexKind::PREFERENCE
        .into_iter()
        .filter(|kind| info.indexes.iter().any(|c| c.kind() == *kind))
        .map(|kind| json!(kind.name()))
        .collect();
    if !built.is_empty() {
        schemas["IndexKindDto"]["enum"] = Value::Array(built);
    }
    let f32_range = |schema: &mut Value| {
        schema["minimum"] = json!(-f32::MAX);
        schema["maximum"] = json!(f32::MAX);
    };
    for name in ["SearchRequest", "SearchForm"] {
        f32_range(&mut schemas[name]["properties"]["min_score"]);
    }
    let request = &mut schemas["SearchRequest"];
    let vector = &mut request["properties"]["vector"];
    vector["minItems"] = json!(info.model.dim);
    vector["maxItems"] = json!(info.model.dim);
    vector["items"]["minimum"] = json!(-request::MAX_VECTOR_COMPONENT);
    vector["items"]["maximum"] = json!(request::MAX_VECTOR_COMPONENT);
    request["properties"]["text"]["minLength"] = json!(1);
    request["properties"]["text"]["maxLength"] = json!(request::MAX_TEXT_CHARS);
    let mut one_of = vec![
        json!({"required": ["id"]}),
        json!({"required": ["vector"], "not": {"required": ["crop"]}}),
        json!({"required": ["positive"], "not": {"required": ["crop"]}}),
    ];
    if info.text_search {
        one_of.push(json!({"required": ["text"], "not": {"required": ["crop"]}}));
    } else if let Some(properties) = request["properties"].as_object_mut() {
        properties.remove("text");
    }
    request["oneOf"] = Value::Array(one_of);
    // A board's examples: the same vector and text bounds, exactly one of id, text, vector per example
    // (`image` only in multipart forms).
    let example = &mut schemas["ExampleDto"];
    let vector = &mut example["properties"]["vector"];
    vector["minItems"] = json!(info.model.dim);
    vector["maxItems"] = json!(info.model.dim);
    vector["items"]["minimum"] = json!(-request::MAX_VECTOR_COMPONENT);
    vector["items"]["maximum"] = json!(request::MAX_VECTOR_COMPONENT);
    example["properties"]["text"]["minLength"] = json!(1);
    example["properties"]["text"]["maxLength"] = json!(request::MAX_TEXT_CHARS);
    let mut example_one_of = vec![
        json!({"required": ["id"]}),
        json!({"required": ["vector"], "not": {"required": ["crop"]}}),
    ];
    if info.text_search {
        example_one_of.push(json!({"required": ["text"], "not": {"required": ["crop"]}}));
    } else if let Some(properties) = example["properties"].as_object_mut() {
        properties.remove("text");
    }
    if let Some(properties) = example["properties"].as_object_mut() {
        properties.remove("image");
    }
    example["oneOf"] = Value::Array(example_one_of);
    spec["paths"]["/api/search"]["post"]["requestBody"]["content"]["multipart/form-data"]
        ["encoding"] = json!({"image": {"contentType": vsearch_engine::image_io::IMAGE_FORMATS
            .iter()
            .map(|f| f.mime_type)
            .collect::<Vec<_>>()
            .join(", ")}});
    serde_json::to_string_pretty(&spec).unwrap_or_else(|_| spec_json().to_string())
}

/// `GET /api/openapi.json`.
pub async fn openapi_json(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        state.served().openapi.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_every_endpoint_and_error_status() {
        let spec: serde_json::Value = serde_json::from_str(spec_json()).unwrap();
        assert!(spec["openapi"].as_str().unwrap().starts_with('3'));
        let paths = spec["paths"].as_object().unwrap();
        for path in [
            "/api/health",
            "/api/collection",
            "/api/search",
            "/api/images/{id}",
            "/api/images/{id}/thumbnail",
            "/api/blocks",
            "/api/blocks/{block_id}",
            "/api/analytics",
            "/api/analytics/events",
        ] {
            assert!(paths.contains_key(path), "{path} missing");
        }
        let search = &spec["paths"]["/api/search"]["post"];
        let content = search["requestBody"]["content"].as_object().unwrap();
        assert!(
            content.contains_key("application/json") && content.contains_key("multipart/form-data")
        );
        for status in ["200", "400", "404", "409", "413", "500", "503"] {
            assert!(
                search["responses"].get(status).is_some(),
                "search lacks {status}"
            );
        }
        for (path, method) in [
            ("/api/blocks", "get"),
            ("/api/blocks", "post"),
            ("/api/blocks/{block_id}", "delete"),
            ("/api/analytics", "get"),
        ] {
            let op = &spec["paths"][path][method];
            for status in ["401", "403"] {
                assert!(
                    op["responses"].get(status).is_some(),
                    "{method} {path} lacks {status}"
                );
            }
            assert_eq!(
                op["security"][0]["admin_token"],
                json!([]),
                "{method} {path}"
            );
        }
        assert_eq!(
            spec["components"]["securitySchemes"]["admin_token"]["scheme"],
            "bearer"
        );
        let k = &spec["components"]["schemas"]["SearchRequest"]["properties"]["k"];
        assert_eq!(k["maximum"], 1000);
    }

    #[test]
    fn collection_spec_names_only_what_this_collection_accepts() {
        let info = CollectionInfo {
            root: "/tmp/x".into(),
            model: vsearch_engine::ModelInfo {
                id: "efficientnet-lite0".into(),
                dim: 1280,
                text: false,
            },
            metric: vsearch_engine::Metric::Cosine,
            count: 3,
            indexes: vec![vsearch_engine::IndexConfig::Flat],
            text_search: false,
            generation: 1,
            qdrant: None,
        };
        let spec: Value = serde_json::from_str(&spec_for(&info)).unwrap();
        let schemas = &spec["components"]["schemas"];
        assert_eq!(schemas["IndexKindDto"]["enum"], json!(["flat"]));
        let request = &schemas["SearchRequest"];
        assert_eq!(request["properties"]["vector"]["minItems"], 1280);
        assert!(
            request["properties"].get("text").is_none(),
            "no text queries without a text tower"
        );
        // id, vector or a board (positive).
        assert_eq!(request["oneOf"].as_array().unwrap().len(), 3);
        assert!(schemas["ExampleDto"]["properties"].get("text").is_none());
        let clip = CollectionInfo {
            model: vsearch_engine::ModelInfo {
                id: "clip-vit-b32".into(),
                dim: 512,
                text: true,
            },
            text_search: true,
            ..info
        };
        let spec: Value = serde_json::from_str(&spec_for(&clip)).unwrap();
        assert_eq!(
            spec["components"]["schemas"]["SearchRequest"]["oneOf"]
                .as_array()
                .unwrap()
                .len(),
            4
        );
    }
}
