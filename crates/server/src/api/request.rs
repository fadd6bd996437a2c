//! Request parsing and validation: a JSON body or a multipart form becomes one `UncheckedSearch`, which
//! `validate` checks against the collection and turns into an engine query; and the image id of a path
//! ([`PathId`]).

use super::dto::{CropDto, ExampleDto, SearchRequest};
use crate::error::{ApiError, EMPTY_COLLECTION};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use vsearch_engine::filter::Filter;
use vsearch_engine::{
    image_io, Board, CollectionInfo, Crop, Example, IndexKind, Metric, Query, QueryOptions,
    SearchParams,
};

/// Results per query when the request gives no `k`.
pub const DEFAULT_K: usize = 10;
/// Largest `k` a request may ask for.
pub const MAX_K: usize = 1000;
/// Largest HNSW `ef_search` a request may ask for.
pub const MAX_EF_SEARCH: usize = 10_000;
/// Largest IVF `nprobe` a request may ask for.
pub const MAX_NPROBE: usize = 65_536;
/// Largest magnitude of a query vector's component (scores of larger ones could overflow `f32`).
pub const MAX_VECTOR_COMPONENT: f64 = 1e15;
/// Longest text query, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;

/// Largest `offset` a request may ask for.
pub const MAX_OFFSET: usize = 100_000;
/// Most examples in a board query (and most uploaded images in one query).
pub const MAX_EXAMPLES: usize = 64;
/// Largest weight of a board example.
pub const MAX_WEIGHT: f64 = 100.0;

/// A search request as read from JSON or a multipart form, before validation.
#[derive(Debug, Clone, Default)]
pub(crate) struct UncheckedSearch {
    /// The uploaded query images, in field order (multipart forms only).
    pub images: Vec<Vec<u8>>,
    /// The query and options: the JSON body, or the text fields of a form.
    pub fields: SearchRequest,
}

/// Reads a search body by its content type: JSON (also when none is given) or a multipart form; any other
/// type is a 415.
pub(crate) async fn read_search<S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<UncheckedSearch, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    match content_type.as_deref() {
        Some(ct) if ct.starts_with("multipart/form-data") => {
            parse_multipart(Multipart::from_request(request, state).await?).await
        }
        None => parse_json(&Bytes::from_request(request, state).await?),
        Some(ct) if is_json(ct) => parse_json(&Bytes::from_request(request, state).await?),
        Some(ct) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "content type '{ct}' is not accepted: send application/json or multipart/form-data"
            ),
        )),
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON search body; every malformed body is a 400.
pub(crate) fn parse_json(body: &[u8]) -> Result<UncheckedSearch, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "empty request body: send JSON with one of id, text or vector, or a multipart form with an `image` field",
        ));
    }
    let fields: SearchRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
    Ok(UncheckedSearch {
        images: Vec::new(),
        fields,
    })
}

/// Reads a multipart search form.
async fn parse_multipart(mut form: Multipart) -> Result<UncheckedSearch, ApiError> {
    let mut raw = UncheckedSearch::default();
    while let Some(field) = form.next_field().await? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "image" => {
                if raw.images.len() == MAX_EXAMPLES {
                    return Err(ApiError::bad_request(format!(
                        "at most {MAX_EXAMPLES} images in one query"
                    )));
                }
                raw.images.push(field.bytes().await?.to_vec())
            }
            "k" | "index" | "ef_search" | "nprobe" | "rerank" | "min_score" | "offset"
            | "positive" | "negative" | "crop" | "filter" | "collapse" | "diversity" => {
                let value = field.text().await?;
                set_form_option(&mut raw.fields, &name, value.trim())?;
            }
            _ => {
                // Unknown fields are read and ignored.
                let _ = field.bytes().await?;
            }
        }
    }
    Ok(raw)
}

fn set_form_option(request: &mut SearchRequest, name: &str, value: &str) -> Result<(), ApiError> {
    fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ApiError> {
        value.parse::<T>().map_err(|_| {
            ApiError::bad_request(format!(
                "form field `{name}`: expected a number, got '{value}'"
            ))
        })
    }
    fn boolean(name: &str, value: &str) -> Result<bool, ApiError> {
        match value {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ApiError::bad_request(format!(
                "form field `{name}`: expected true or false, got '{value}'"
            ))),
        }
    }
    fn json<T: serde::de::DeserializeOwned>(name: &str, value: &str) -> Result<T, ApiError> {
        serde_json::from_str(value)
            .map_err(|e| ApiError::bad_request(format!("form field `{name}`: malformed JSON: {e}")))
    }
    match name {
        "k" => request.k = Some(number(name, value)?),
        "offset" => request.offset = Some(number(name, value)?),
        "positive" => request.positive = Some(json(name, value)?),
        "negative" => request.negative = Some(json(name, value)?),
        "crop" => request.crop = Some(json(name, value)?),
        "filter" => request.filter = Some(json(name, value)?),
        "index" => request.index = Some(value.to_string()),
        "ef_search" => request.ef_search = Some(number(name, value)?),
        "nprobe" => request.nprobe = Some(number(name, value)?),
        "min_score" => request.min_score = Some(number(name, value)?),
        "rerank" => request.rerank = Some(boolean(name, value)?),
        "collapse" => request.collapse = Some(boolean(name, value)?),
        "diversity" => request.diversity = Some(number(name, value)?),
        _ => {}
    }
    Ok(())
}

/// An optional count that must be within `1..=max` when given.
fn in_range(name: &str, value: Option<u64>, max: usize) -> Result<Option<usize>, ApiError> {
    match value {
        None => Ok(None),
        Some(v) if v >= 1 && v <= max as u64 => Ok(Some(v as usize)),
        Some(v) => Err(ApiError::bad_request(format!(
            "{name} must be between 1 and {max}, got {v}"
        ))),
    }
}

/// Checks a parsed request against the collection and turns it into an engine query.
pub(crate) fn validate(
    raw: UncheckedSearch,
    info: &CollectionInfo,
) -> Result<(Query, QueryOptions), ApiError> {
    let r = raw.fields;
    let k = in_range("k", r.k, MAX_K)?.unwrap_or(DEFAULT_K);
    let index = match &r.index {
        None => None,
        Some(name) => {
            let kind: IndexKind =
                name.trim()
                    .parse()
                    .map_err(|e: vsearch_engine::UnknownIndexKind| {
                        ApiError::bad_request(e.to_string())
                    })?;
            if !info.indexes.iter().any(|c| c.kind() == kind) {
                let built: Vec<&str> = info.indexes.iter().map(|c| c.kind().name()).collect();
                return Err(ApiError::bad_request(format!(
                    "index '{kind}' is not built in this collection (built: {}); add it, keeping the others, \
                     with `vsearch index DIR --add-index {kind}`",
                    if built.is_empty() { "none".to_string() } else { built.join(", ") },
                )));
            }
            Some(kind)
        }
    };
    let params = SearchParams {
        ef_search: in_range("ef_search", r.ef_search, MAX_EF_SEARCH)?,
        nprobe: in_range("nprobe", r.nprobe, MAX_NPROBE)?,
        rerank: r.rerank,
    };
    if let Some(score) = r.min_score {
        if !score.is_finite() || score.abs() > f64::from(f32::MAX) {
            return Err(ApiError::bad_request(
                "min_score must be a finite number within the range of f32",
            ));
        }
    }
    let diversity = check_diversity(r.diversity)?;
    let offset = check_offset(r.offset)?;
    let filter = match r.filter {
        None => None,
        Some(value) => Some(parse_filter(value)?),
    };
    let query = if r.positive.is_some() || r.negative.is_some() {
        board_query(
            raw.images, r.id, r.text, r.vector, r.crop, r.positive, r.negative, info,
        )?
    } else {
        single_query(raw.images, r.id, r.text, r.vector, r.crop, info)?
    };
    // A sound request that an empty collection cannot answer (the engine would say so too, later).
    if info.count == 0 {
        return Err(ApiError::conflict(EMPTY_COLLECTION));
    }
    Ok((
        query,
        QueryOptions {
            k,
            index,
            params,
            min_score: r.min_score.map(|m| m as f32),
            offset,
            filter,
            collapse: r.collapse,
            diversity,
        },
    ))
}

/// An optional diversity weight: within 0..=1 when given.
pub(crate) fn check_diversity(diversity: Option<f64>) -> Result<Option<f32>, ApiError> {
    match diversity {
        None => Ok(None),
        Some(d) if (0.0..=1.0).contains(&d) => Ok(Some(d as f32)),
        Some(d) => Err(ApiError::bad_request(format!(
            "diversity must be a number from 0 (off) to 1, got {d}"
        ))),
    }
}

/// An optional offset: 0 when absent, at most [`MAX_OFFSET`].
pub(crate) fn check_offset(offset: Option<u64>) -> Result<usize, ApiError> {
    match offset {
        None => Ok(0),
        Some(o) if o <= MAX_OFFSET as u64 => Ok(o as usize),
        Some(o) => Err(ApiError::bad_request(format!(
            "offset must be between 0 and {MAX_OFFSET}, got {o}"
        ))),
    }
}

/// The JSON of a `filter` URL parameter (URL-encoded in the request).
pub(crate) fn filter_json(raw: &str) -> Result<serde_json::Value, ApiError> {
    serde_json::from_str(raw).map_err(|e| {
        ApiError::bad_request(format!(
            "the `filter` parameter must be a JSON filter (URL-encoded): {e}"
        ))
    })
}

/// A `filter` URL parameter, when given, as a checked filter.
pub(crate) fn url_filter(raw: Option<&str>) -> Result<Option<Filter>, ApiError> {
    raw.map(|raw| filter_json(raw).and_then(parse_filter))
        .transpose()
}

/// A filter in Qdrant's grammar, from its JSON, checked against the filter keys.
pub(crate) fn parse_filter(value: serde_json::Value) -> Result<Filter, ApiError> {
    Filter::from_json(&value).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// One example given at the top level of the request: exactly one image, id, text or vector (several
/// uploaded images make a board of equal weights); `crop` goes with an id or a single image.
fn single_query(
    images: Vec<Vec<u8>>,
    id: Option<vsearch_engine::ImageId>,
    text: Option<String>,
    vector: Option<Vec<f64>>,
    crop: Option<CropDto>,
    info: &CollectionInfo,
) -> Result<Query, ApiError> {
    let given = [
        !images.is_empty(),
        id.is_some(),
        text.is_some(),
        vector.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given != 1 {
        return Err(ApiError::bad_request(if !images.is_empty() {
            "give the query image only, not id, text or vector as well (or name each in `positive`)"
                .to_string()
        } else {
            "give exactly one of id, text or vector (JSON), an `image` field (multipart form), or a board \
             (`positive`, optionally `negative`)"
                .to_string()
        }));
    }
    let crop = crop.map(check_crop).transpose()?;
    let query = if images.len() > 1 {
        if crop.is_some() {
            return Err(ApiError::bad_request(
                "`crop` applies to one image: with several, give each its crop in `positive`",
            ));
        }
        return Ok(Query::Board(Board {
            positive: images
                .into_iter()
                .map(|bytes| check_image(bytes).map(Example::new))
                .collect::<Result<_, _>>()?,
            negative: Vec::new(),
        }));
    } else if let Some(bytes) = images.into_iter().next() {
        check_image(bytes)?
    } else if let Some(id) = id {
        Query::Id(id)
    } else if let Some(text) = text {
        check_text(text, info)?
    } else if let Some(vector) = vector {
        check_vector(vector, info)?
    } else {
        return Err(ApiError::bad_request("no query given"));
    };
    Ok(match crop {
        None => query,
        Some(crop) => {
            if matches!(query, Query::Text(_) | Query::Vector(_)) {
                return Err(ApiError::bad_request(
                    "`crop` applies to an image or an indexed id, not to a text or a vector",
                ));
            }
            Query::Board(Board {
                positive: vec![Example {
                    crop: Some(crop),
                    ..Example::new(query)
                }],
                negative: Vec::new(),
            })
        }
    })
}

/// A board: `positive` (at least one) and `negative` examples; uploaded images are referenced by their
/// index, and each must be.
#[allow(clippy::too_many_arguments)]
fn board_query(
    images: Vec<Vec<u8>>,
    id: Option<vsearch_engine::ImageId>,
    text: Option<String>,
    vector: Option<Vec<f64>>,
    crop: Option<CropDto>,
    positive: Option<Vec<ExampleDto>>,
    negative: Option<Vec<ExampleDto>>,
    info: &CollectionInfo,
) -> Result<Query, ApiError> {
    if id.is_some() || text.is_some() || vector.is_some() || crop.is_some() {
        return Err(ApiError::bad_request(
            "a board query gives its examples in `positive` and `negative` only: move id, text, vector or crop \
             into an example",
        ));
    }
    let positive = positive.unwrap_or_default();
    let negative = negative.unwrap_or_default();
    if positive.is_empty() {
        return Err(ApiError::bad_request(
            "a board query needs at least one example in `positive`",
        ));
    }
    if positive.len() + negative.len() > MAX_EXAMPLES {
        return Err(ApiError::bad_request(format!(
            "a board holds at most {MAX_EXAMPLES} examples, got {}",
            positive.len() + negative.len()
        )));
    }
    let mut images: Vec<Option<Vec<u8>>> = images.into_iter().map(Some).collect();
    let mut convert = |examples: Vec<ExampleDto>| -> Result<Vec<Example>, ApiError> {
        examples
            .into_iter()
            .map(|e| check_example(e, &mut images, info))
            .collect()
    };
    let board = Board {
        positive: convert(positive)?,
        negative: convert(negative)?,
    };
    if let Some(unused) = images.iter().position(Option::is_some) {
        return Err(ApiError::bad_request(format!(
            "uploaded image {unused} is in no example: name it in `positive` or `negative` as {{\"image\": {unused}}}"
        )));
    }
    Ok(Query::Board(board))
}

/// One example of a board; `images` are the uploads not yet taken by an example.
fn check_example(
    e: ExampleDto,
    images: &mut [Option<Vec<u8>>],
    info: &CollectionInfo,
) -> Result<Example, ApiError> {
    let given = [
        e.id.is_some(),
        e.text.is_some(),
        e.vector.is_some(),
        e.image.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given != 1 {
        return Err(ApiError::bad_request(
            "each example gives exactly one of id, text, vector or image",
        ));
    }
    let weight = match e.weight {
        None => 1.0,
        Some(w) if w.is_finite() && (0.0..=MAX_WEIGHT).contains(&w) => w as f32,
        Some(w) => {
            return Err(ApiError::bad_request(format!(
                "an example's weight must be between 0 and {MAX_WEIGHT}, got {w}"
            )))
        }
    };
    let query = if let Some(id) = e.id {
        Query::Id(id)
    } else if let Some(text) = e.text {
        check_text(text, info)?
    } else if let Some(vector) = e.vector {
        check_vector(vector, info)?
    } else if let Some(n) = e.image {
        let slot = usize::try_from(n).ok().and_then(|n| images.get_mut(n));
        match slot {
            Some(slot) => match slot.take() {
                Some(bytes) => check_image(bytes)?,
                None => {
                    return Err(ApiError::bad_request(format!(
                        "uploaded image {n} is named by two examples"
                    )))
                }
            },
            None => {
                return Err(ApiError::bad_request(format!(
                    "example names uploaded image {n}, but {} images were uploaded (fields `image`, from 0)",
                    images.len()
                )))
            }
        }
    } else {
        return Err(ApiError::bad_request("empty example"));
    };
    let crop = e.crop.map(check_crop).transpose()?;
    if crop.is_some() && matches!(query, Query::Text(_) | Query::Vector(_)) {
        return Err(ApiError::bad_request(
            "`crop` applies to an image or an indexed id, not to a text or a vector",
        ));
    }
    Ok(Example {
        query,
        weight,
        crop,
    })
}

/// An uploaded image: its content must be one of the formats read.
fn check_image(bytes: Vec<u8>) -> Result<Query, ApiError> {
    if image_io::sniff_format(&bytes).is_none() {
        return Err(ApiError::bad_request(format!(
            "the uploaded file is not a supported image: send {}",
            image_io::format_names(", ")
        )));
    }
    Ok(Query::ImageBytes(bytes))
}

/// A text query: a text tower, not empty, not too long.
fn check_text(text: String, info: &CollectionInfo) -> Result<Query, ApiError> {
    if !info.text_search {
        return Err(ApiError::bad_request(format!(
            "model '{}' has no text tower: text search needs a collection indexed with a CLIP model (e.g. --model clip-vit-b32)",
            info.model.id
        )));
    }
    if text.is_empty() {
        return Err(ApiError::bad_request("text is empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::bad_request(format!(
            "text is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(Query::Text(text))
}

/// A vector query: the collection's dimension, finite bounded components; normalised for cosine.
fn check_vector(vector: Vec<f64>, info: &CollectionInfo) -> Result<Query, ApiError> {
    if vector.len() != info.model.dim {
        return Err(ApiError::bad_request(format!(
            "vector has {} components, the collection's dimension is {}",
            vector.len(),
            info.model.dim
        )));
    }
    if vector
        .iter()
        .any(|x| !x.is_finite() || x.abs() > MAX_VECTOR_COMPONENT)
    {
        return Err(ApiError::bad_request(format!(
            "vector components must be finite numbers between -{MAX_VECTOR_COMPONENT:e} and {MAX_VECTOR_COMPONENT:e}"
        )));
    }
    // Cosine scores are of unit vectors: normalise here (in f64, where no sum can overflow).
    let scale = match info.metric {
        Metric::Cosine => {
            let norm = vector.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                return Err(ApiError::bad_request(
                    "vector is all zeros: a cosine collection cannot compare it",
                ));
            }
            1.0 / norm
        }
        Metric::L2 => 1.0,
    };
    Ok(Query::Vector(
        vector.into_iter().map(|x| (x * scale) as f32).collect(),
    ))
}

/// A crop inside the image: fractions from 0 to 1, `w` and `h` above 0, `x + w` and `y + h` at most 1.
fn check_crop(c: CropDto) -> Result<Crop, ApiError> {
    let inside = [c.x, c.y, c.w, c.h]
        .iter()
        .all(|f| f.is_finite() && (0.0..=1.0).contains(f))
        && c.w > 0.0
        && c.h > 0.0
        && c.x + c.w <= 1.0 + 1e-9
        && c.y + c.h <= 1.0 + 1e-9;
    if !inside {
        return Err(ApiError::bad_request(format!(
            "crop {{x: {}, y: {}, w: {}, h: {}}} must lie inside the image: fractions from 0 to 1, w and h \
             above 0, x + w <= 1 and y + h <= 1",
            c.x, c.y, c.w, c.h
        )));
    }
    Ok(Crop {
        x: c.x as f32,
        y: c.y as f32,
        w: (c.w as f32).min(1.0 - c.x as f32),
        h: (c.h as f32).min(1.0 - c.y as f32),
    })
}

/// An image id from the path; anything but a non-negative integer is a 400.
#[derive(Debug, Clone, Copy)]
pub struct PathId(pub vsearch_engine::ImageId);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await?;
        raw.parse::<vsearch_engine::ImageId>()
            .map(PathId)
            .map_err(ApiError::bad_request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::sample_info;
    use vsearch_engine::IndexConfig;

    fn json(body: &str, info: &CollectionInfo) -> Result<(Query, QueryOptions), ApiError> {
        validate(parse_json(body.as_bytes())?, info)
    }

    fn status(r: Result<(Query, QueryOptions), ApiError>) -> StatusCode {
        r.err().map_or(StatusCode::OK, |e| e.status)
    }

    #[test]
    fn json_queries_and_options_parse() {
        let info = sample_info(true, vec![IndexConfig::Flat]);
        let (q, o) = json(
            r#"{"id": 7, "k": 3, "index": "flat", "min_score": 0.5}"#,
            &info,
        )
        .unwrap();
        assert!(matches!(q, Query::Id(vsearch_engine::ImageId::Number(7))));
        assert_eq!(
            (o.k, o.index, o.min_score),
            (3, Some(IndexKind::Flat), Some(0.5))
        );
        let (q, o) = json(r#"{"text": "a red car"}"#, &info).unwrap();
        assert!(matches!(q, Query::Text(ref t) if t == "a red car"));
        assert_eq!((o.k, o.index), (DEFAULT_K, None));
        let (q, _) = json(
            r#"{"vector": [3, 0, 0, 4], "ef_search": 64, "nprobe": 8}"#,
            &info,
        )
        .unwrap();
        assert!(matches!(q, Query::Vector(ref v) if v == &[0.6, 0.0, 0.0, 0.8]));
    }

    #[test]
    fn bad_requests_are_400() {
        let image_only = sample_info(false, vec![IndexConfig::Flat]);
        for body in [
            "{not json",
            "",
            "[1,2]",
            r#"{"id": -1}"#,
            r#"{"id": 1, "text": "x"}"#,
            r#"{}"#,
            r#"{"id": 1, "k": 0}"#,
            r#"{"id": 1, "k": 1001}"#,
            r#"{"id": 1, "k": "ten"}"#,
            r#"{"id": 1, "index": "annoy"}"#,
            r#"{"id": 1, "index": "hnsw"}"#,
            r#"{"text": "a cat"}"#,
            r#"{"vector": [1, 2]}"#,
            r#"{"vector": [1, 0, 0, 1e30]}"#,
            r#"{"vector": [0, 0, 0, 0]}"#,
            r#"{"id": 1, "ef_search": 0}"#,
            r#"{"id": 1, "nprobe": 100000000}"#,
            r#"{"id": 1, "colour": "red"}"#,
        ] {
            let got = status(json(body, &image_only));
            assert_eq!(got, StatusCode::BAD_REQUEST, "{body}");
        }
        let err = json(r#"{"text": "a cat"}"#, &image_only).unwrap_err();
        assert!(err.message.contains("no text tower"), "{}", err.message);
        let err = json(r#"{"id": 1, "index": "hnsw"}"#, &image_only).unwrap_err();
        assert!(err.message.contains("not built"), "{}", err.message);
        assert_eq!(
            status(json(r#"{"id": 1, "k": 1000}"#, &image_only)),
            StatusCode::OK
        );
        assert_eq!(
            status(json(r#"{"id": 1, "k": 1}"#, &image_only)),
            StatusCode::OK
        );
    }

    #[test]
    fn sound_queries_of_an_empty_collection_are_409_bad_ones_400() {
        let mut empty = sample_info(true, vec![IndexConfig::Flat]);
        empty.count = 0;
        for body in [
            r#"{"id": 0}"#,
            r#"{"text": "a cat"}"#,
            r#"{"vector": [1, 0, 0, 0]}"#,
        ] {
            let err = json(body, &empty).unwrap_err();
            assert_eq!(
                (err.status, err.message.as_str()),
                (StatusCode::CONFLICT, EMPTY_COLLECTION),
                "{body}"
            );
        }
        assert_eq!(
            status(json(r#"{"vector": [1, 0]}"#, &empty)),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn uploads_must_be_images() {
        let info = sample_info(false, vec![IndexConfig::Flat]);
        let raw = UncheckedSearch {
            images: vec![b"plain text".to_vec()],
            fields: SearchRequest::default(),
        };
        let err = validate(raw, &info).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0];
        let raw = UncheckedSearch {
            images: vec![png.to_vec()],
            fields: SearchRequest::default(),
        };
        assert!(matches!(
            validate(raw, &info).unwrap().0,
            Query::ImageBytes(_)
        ));
    }

    #[test]
    fn form_fields_parse() {
        let mut r = SearchRequest::default();
        set_form_option(&mut r, "k", "5").unwrap();
        set_form_option(&mut r, "index", "flat").unwrap();
        set_form_option(&mut r, "min_score", "0.25").unwrap();
        assert_eq!(
            (r.k, r.index.as_deref(), r.min_score, r.nprobe),
            (Some(5), Some("flat"), Some(0.25), None)
        );
        assert_eq!(
            set_form_option(&mut r, "nprobe", "").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            set_form_option(&mut r, "k", "five").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            set_form_option(&mut r, "rerank", "maybe")
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
    }
}
