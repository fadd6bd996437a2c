//! Shared pieces of the server's integration tests: starting the real server on an ephemeral port,
//! a stand-in collection (colour histograms over real photos), a backend whose searches wait for the
//! test's go-ahead, and the checks every collection must pass.
#![allow(dead_code)] // examples/stand_in_server.rs uses a part of it

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use vsearch_engine::{
    image_io, CollectionInfo, EmbedError, EngineError, IndexConfig, IndexError, IndexKind, Metric,
    ModelInfo, Query, QueryOptions, SearchResponse, SearchResult,
};
use vsearch_server::{router, AppState, SearchBackend, ServeOptions};

/// The [`SearchBackend`] methods other than `search`, each passed to the wrapper's `inner` backend: for
/// the test backends that change what a search does (hold it, fail it) and nothing else.
macro_rules! pass_to_inner {
    () => {
        fn info(&self) -> vsearch_engine::CollectionInfo {
            self.inner.info()
        }

        fn image_path(
            &self,
            id: vsearch_engine::ImageId,
        ) -> vsearch_engine::Result<std::path::PathBuf> {
            self.inner.image_path(id)
        }

        fn image_meta(
            &self,
            id: vsearch_engine::ImageId,
        ) -> vsearch_engine::Result<vsearch_engine::metadata::ImageMeta> {
            self.inner.image_meta(id)
        }

        fn browse(
            &self,
            offset: usize,
            limit: usize,
            filter: Option<&vsearch_engine::filter::Filter>,
        ) -> vsearch_engine::Result<vsearch_engine::browse::Browse> {
            self.inner.browse(offset, limit, filter)
        }

        fn facets(
            &self,
            filter: Option<&vsearch_engine::filter::Filter>,
        ) -> vsearch_engine::Result<vsearch_engine::browse::Facets> {
            self.inner.facets(filter)
        }

        fn duplicates(
            &self,
            options: &vsearch_engine::DupesOptions,
        ) -> vsearch_engine::Result<Vec<vsearch_engine::DuplicateGroup>> {
            self.inner.duplicates(options)
        }
    };
}
// (The tests' other backends use it by this path; the stand-in server example, which shares this module,
// does not.)
#[allow(unused_imports)]
pub(crate) use pass_to_inner;

/// The test photos: `../shared/data/ukbench-14` (14 objects x 4 views).
pub fn ukbench() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ukbench-14")
}

/// The first `n` ukbench photos, copied into a fresh temporary folder.
pub fn photo_folder(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for i in 0..n {
        let name = format!("ukbench{i:05}.jpg");
        std::fs::copy(ukbench().join(&name), dir.path().join(&name)).expect("copy test photo");
    }
    dir
}

/// The bytes of one ukbench photo, e.g. `ukbench00000.jpg`.
pub fn photo(name: &str) -> Vec<u8> {
    std::fs::read(ukbench().join(name)).expect("read test photo")
}

/// The settings the tests serve with unless they say otherwise: two workers, a queue of 64.
pub fn serve_options() -> ServeOptions {
    ServeOptions {
        workers: 2,
        queue: 64,
        ..ServeOptions::default()
    }
}

/// How the tests over a real collection index it: EfficientNet-Lite0 (weights from `vsearch models fetch
/// efficientnet-lite0`), HNSW and flat indexes, batches of 8 on 2 threads.
pub fn lite0_options() -> vsearch_engine::IndexOptions {
    vsearch_engine::IndexOptions {
        model: vsearch_engine::ModelSpec::Preset("efficientnet-lite0".into()),
        device: vsearch_engine::DeviceSpec::Cpu,
        precision: vsearch_engine::Precision::F32,
        indexes: vec![IndexKind::Hnsw, IndexKind::Flat],
        batch: 8,
        threads: 2,
        ..vsearch_engine::IndexOptions::default()
    }
}

/// A running server.
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Starts the real router on 127.0.0.1:0 (and the reloader, when `options.reload_every` says so).
    pub async fn start(backend: Arc<dyn SearchBackend>, options: ServeOptions) -> Self {
        let state = AppState::new(backend, &options);
        if let Some(every) = options.reload_every {
            vsearch_server::spawn_reloader(state.clone(), every);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            axum::serve(
                listener,
                router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
        });
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn post_json(&self, body: Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/search"))
            .json(&body)
            .send()
            .await
            .expect("POST json")
    }

    pub async fn post_raw(&self, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        self.client
            .post(self.url("/api/search"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST raw")
    }

    pub async fn upload(&self, bytes: Vec<u8>, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form = Form::new().part("image", Part::bytes(bytes).file_name("query.jpg"));
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        self.client
            .post(self.url("/api/search"))
            .multipart(form)
            .send()
            .await
            .expect("POST multipart")
    }

    /// Graceful shutdown; returns once the server has stopped.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }
}

/// Asserts a JSON error answer with the given status and returns its message.
pub async fn expect_error(response: reqwest::Response, status: StatusCode, what: &str) -> String {
    assert_eq!(response.status(), status, "{what}");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: content type {content_type}"
    );
    let body: Value = response.json().await.expect("JSON error body");
    let message = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no error field in {body}"));
    assert!(!message.is_empty(), "{what}: empty message");
    message.to_string()
}

/// Asserts a 200 answer and returns its JSON body.
pub async fn expect_json(response: reqwest::Response, what: &str) -> Value {
    assert_eq!(response.status(), StatusCode::OK, "{what}");
    response.json().await.expect("JSON body")
}

/// What a collection under test is expected to look like.
pub struct Expect {
    pub model: &'static str,
    pub dim: usize,
    pub count: usize,
    /// Index kinds built, and one that is not.
    pub built: Vec<&'static str>,
    pub not_built: &'static str,
    /// Photo names of the query's object (the query first), when the model is good enough to rank them first.
    pub same_object: Option<Vec<&'static str>>,
}

/// Calls every endpoint with good requests and checks the answers.
pub async fn check_good_requests(server: &Server, expect: &Expect) {
    // health
    let health = expect_json(server.get("/api/health").await, "health").await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["count"], expect.count);

    // collection
    let info = expect_json(server.get("/api/collection").await, "collection").await;
    assert_eq!(info["model"], expect.model);
    assert_eq!(info["dimension"], expect.dim);
    assert_eq!(info["count"], expect.count);
    assert_eq!(info["text_search"], false);
    let kinds: Vec<&str> = info["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    for kind in &expect.built {
        assert!(kinds.contains(kind), "{kind} not listed in {kinds:?}");
    }
    assert!(info["indexes"][0]["params"].is_object());

    // upload
    let photo = photo("ukbench00000.jpg");
    for kind in &expect.built {
        let r = server
            .upload(photo.clone(), &[("k", "4"), ("index", kind)])
            .await;
        let body = expect_json(r, &format!("upload search on {kind}")).await;
        assert_eq!(body["index"], *kind);
        assert_eq!(body["model"], expect.model);
        assert!(body["embed_ms"].as_f64().unwrap() > 0.0);
        assert!(body["search_ms"].as_f64().unwrap() >= 0.0);
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), 4.min(expect.count));
        for (i, result) in results.iter().enumerate() {
            assert_eq!(result["rank"], i + 1);
        }
        assert!(
            results[0]["path"]
                .as_str()
                .unwrap()
                .ends_with("ukbench00000.jpg"),
            "{body}"
        );
        assert!(results[0]["score"].as_f64().unwrap() > 0.99, "{body}");
        if let Some(same) = &expect.same_object {
            let mut got: Vec<String> = results
                .iter()
                .map(|r| {
                    Path::new(r["path"].as_str().unwrap())
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            got.sort();
            let mut want: Vec<String> = same.iter().map(|s| s.to_string()).collect();
            want.sort();
            assert_eq!(
                got, want,
                "{kind}: the four views of the query's object come first"
            );
        }
    }
    // default options (k = 10 or fewer images)
    let body = expect_json(server.upload(photo.clone(), &[]).await, "default upload").await;
    assert_eq!(
        body["results"].as_array().unwrap().len(),
        10.min(expect.count)
    );

    // by id: the id of the best upload result, then the same id through JSON
    let body = expect_json(server.upload(photo.clone(), &[("k", "1")]).await, "k=1").await;
    let id = body["results"][0]["id"].as_u64().unwrap();
    let body = expect_json(server.post_json(json!({"id": id, "k": 3})).await, "by id").await;
    assert_eq!(body["results"][0]["id"], id);
    assert_eq!(body["results"].as_array().unwrap().len(), 3);
    assert!(body["results"][0]["score"].as_f64().unwrap() > 0.99);

    // min_score keeps only results at or above it
    let r = server
        .post_json(json!({"id": id, "k": 10, "min_score": 0.999}))
        .await;
    let body = expect_json(r, "min_score").await;
    let results = body["results"].as_array().unwrap();
    assert!(!results.is_empty());
    assert!(
        results
            .iter()
            .all(|r| r["score"].as_f64().unwrap() >= 0.999),
        "{body}"
    );

    // by vector
    let v = vec![1.0 / (expect.dim as f64).sqrt(); expect.dim];
    let body = expect_json(
        server.post_json(json!({"vector": v, "k": 2})).await,
        "by vector",
    )
    .await;
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    assert!(
        body["embed_ms"].as_f64().unwrap() < 50.0,
        "no model run for a vector query"
    );

    // original image by id: same bytes as the file, content type by content
    let r = server.get(&format!("/api/images/{id}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.bytes().await.unwrap().to_vec(), photo);

    // thumbnail: JPEG, longer side 256, served from the cache the second time
    let r = server.get(&format!("/api/images/{id}/thumbnail")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let first = r.bytes().await.unwrap();
    let thumb = image::load_from_memory(&first).unwrap();
    assert_eq!(thumb.width().max(thumb.height()), 256);
    let second = server
        .get(&format!("/api/images/{id}/thumbnail"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(first, second);

    // OpenAPI
    let spec = expect_json(server.get("/api/openapi.json").await, "OpenAPI").await;
    assert!(spec["openapi"].as_str().unwrap().starts_with('3'));
    assert!(spec["paths"]["/api/search"]["post"].is_object());

    // web page and its assets
    let r = server.get("/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("/app.js") && html.contains("/style.css") && !html.contains("http"));
    for (path, kind) in [("/app.js", "text/javascript"), ("/style.css", "text/css")] {
        let r = server.get(path).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(kind));
    }
}

/// Calls every endpoint with every kind of bad request: always a 4xx with a JSON error, never a 5xx.
pub async fn check_bad_requests(server: &Server, expect: &Expect) {
    let photo = photo("ukbench00000.jpg");
    let bad = StatusCode::BAD_REQUEST;

    // non-image uploads
    let mut truncated = photo.clone();
    truncated.truncate(2000);
    for (upload, what) in [
        (b"just some text".to_vec(), "text upload"),
        (Vec::new(), "empty upload"),
        (truncated, "truncated JPEG"),
    ] {
        expect_error(server.upload(upload, &[]).await, bad, what).await;
    }
    // a form without the image
    let form = Form::new().text("k", "3");
    let r = server
        .client
        .post(server.url("/api/search"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    expect_error(r, bad, "form without image").await;

    // unknown id, and ids that are not non-negative integers
    let unknown = 9_999_999u64;
    expect_error(
        server.post_json(json!({"id": unknown})).await,
        StatusCode::NOT_FOUND,
        "search unknown id",
    )
    .await;
    for (path, status, what) in [
        (
            format!("/api/images/{unknown}"),
            StatusCode::NOT_FOUND,
            "image unknown id",
        ),
        (
            format!("/api/images/{unknown}/thumbnail"),
            StatusCode::NOT_FOUND,
            "thumb",
        ),
        ("/api/images/abc".to_string(), bad, "non-numeric id"),
        ("/api/images/-1/thumbnail".to_string(), bad, "negative id"),
    ] {
        expect_error(server.get(&path).await, status, what).await;
    }

    // k outside 1..=1000, in JSON and in a form
    for k in [0i64, 1001, -3] {
        expect_error(
            server.post_json(json!({"id": 0, "k": k})).await,
            bad,
            &format!("JSON k={k}"),
        )
        .await;
        let k = k.to_string();
        expect_error(
            server.upload(photo.clone(), &[("k", &k)]).await,
            bad,
            &format!("form k={k}"),
        )
        .await;
    }
    // form fields that do not parse
    for (field, what) in [
        (("k", "ten"), "form k=ten"),
        (("index", "annoy"), "unknown index (form)"),
    ] {
        expect_error(server.upload(photo.clone(), &[field]).await, bad, what).await;
    }

    // text on an image-only model
    let message = expect_error(
        server.post_json(json!({"text": "a red bicycle"})).await,
        bad,
        "text query",
    )
    .await;
    assert!(message.contains("text"), "{message}");

    // malformed JSON, and bodies that are not JSON
    for (content_type, body, status, what) in [
        (
            "application/json",
            b"{\"id\": ".to_vec(),
            bad,
            "truncated JSON",
        ),
        ("application/json", b"not json".to_vec(), bad, "not JSON"),
        ("application/json", Vec::new(), bad, "empty JSON body"),
        (
            "text/plain",
            b"{\"id\": 0}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/plain body",
        ),
    ] {
        expect_error(server.post_raw(content_type, body).await, status, what).await;
    }
    // wrong types, several or no queries, wrong vector, unknown fields, unknown index, parameters out of range
    for (body, what) in [
        (json!({"id": "seven"}), "id as string"),
        (json!({"id": 0, "vector": [1.0]}), "two queries"),
        (json!({"k": 3}), "no query"),
        (json!({"vector": [1.0, 2.0]}), "vector of wrong length"),
        (json!({"id": 0, "unknown_option": 1}), "unknown field"),
        (json!({"id": 0, "index": "annoy"}), "unknown index"),
        (json!({"id": 0, "ef_search": 0}), "ef_search 0"),
        (json!({"id": 0, "nprobe": 1_000_000}), "nprobe huge"),
    ] {
        expect_error(server.post_json(body).await, bad, what).await;
    }
    // an index kind that is known but not built here
    let message = expect_error(
        server
            .post_json(json!({"id": 0, "index": expect.not_built}))
            .await,
        bad,
        "index not built",
    )
    .await;
    assert!(message.contains("not built"), "{message}");

    // unknown endpoint, wrong method
    expect_error(
        server.get("/api/nope").await,
        StatusCode::NOT_FOUND,
        "unknown endpoint",
    )
    .await;
    let r = server
        .client
        .delete(server.url("/api/search"))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::METHOD_NOT_ALLOWED, "DELETE /api/search").await;
}

/// Body over the limit: 413 with a JSON error (the server must be started with a 1 MiB limit).
pub async fn check_body_limit(server: &Server) {
    let big = vec![0xffu8; 1024 * 1024 + 300 * 1024];
    let r = server.upload(big.clone(), &[]).await;
    expect_error(r, StatusCode::PAYLOAD_TOO_LARGE, "1.3 MiB multipart upload").await;
    let mut json_body = b"{\"text\": \"".to_vec();
    json_body.extend(std::iter::repeat_n(b'a', 1024 * 1024 + 300 * 1024));
    json_body.extend(b"\"}");
    expect_error(
        server.post_raw("application/json", json_body).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "big JSON",
    )
    .await;
    // a body under the limit still works
    assert_eq!(
        server
            .upload(photo("ukbench00001.jpg"), &[("k", "1")])
            .await
            .status(),
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------------------------
// A stand-in collection: 64-bin colour histograms (4 x 4 x 4 RGB) over real photos, exact search.

/// Colour-histogram "model" over a folder of photos; answers like the engine, errors included.
pub struct HistogramCollection {
    root: PathBuf,
    names: Vec<String>,
    vectors: Vec<Vec<f32>>,
    /// The photos' metadata, as the engine keeps it (for browsing and filters).
    images: vsearch_engine::images::Images,
}

pub const HISTOGRAM_DIM: usize = 64;

fn histogram(bytes: &[u8]) -> Result<Vec<f32>, EngineError> {
    let image = image_io::decode(bytes, image_io::DEFAULT_MAX_PIXELS)?
        .thumbnail(64, 64)
        .to_rgb8();
    let mut h = vec![0f32; HISTOGRAM_DIM];
    for p in image.pixels() {
        let bin = (p[0] as usize / 64) * 16 + (p[1] as usize / 64) * 4 + p[2] as usize / 64;
        h[bin] += 1.0;
    }
    let norm = h.iter().map(|x| x * x).sum::<f32>().sqrt();
    h.iter_mut().for_each(|x| *x /= norm);
    Ok(h)
}

impl HistogramCollection {
    /// Embeds every `.jpg` under `root` (ids are positions in name order).
    pub fn build(root: &Path) -> Self {
        let mut names: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".jpg"))
            .collect();
        names.sort();
        let vectors = names
            .iter()
            .map(|n| histogram(&std::fs::read(root.join(n)).unwrap()).unwrap())
            .collect();
        let images =
            vsearch_engine::images::Images::new(names.iter().enumerate().map(|(id, n)| {
                let file = std::fs::metadata(root.join(n)).unwrap();
                let mtime = file
                    .modified()
                    .unwrap()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap();
                let (width, height) = image::image_dimensions(root.join(n)).unwrap();
                vsearch_engine::metadata::ImageMeta::from_entry(&vsearch_engine::catalog::Entry {
                    id: id as u64,
                    path: n.clone(),
                    size: file.len(),
                    mtime_ns: mtime.as_nanos() as i64,
                    hash: String::new(),
                    width,
                    height,
                    status: vsearch_engine::catalog::Status::Ok,
                    error: None,
                    meta: Some(vsearch_engine::metadata::ContentMeta::read(
                        &std::fs::read(root.join(n)).unwrap(),
                    )),
                    version: 0,
                    frame: None,
                })
            }));
        Self {
            root: root.to_path_buf(),
            names,
            vectors,
            images,
        }
    }
}

impl SearchBackend for HistogramCollection {
    fn info(&self) -> CollectionInfo {
        CollectionInfo {
            root: self.root.clone(),
            model: ModelInfo {
                id: "histogram".into(),
                dim: HISTOGRAM_DIM,
                text: false,
            },
            metric: Metric::Cosine,
            count: self.names.len(),
            indexes: vec![IndexConfig::Flat],
            generation: 0,
            qdrant: None,
            text_search: false,
        }
    }

    fn search(
        &self,
        query: &Query,
        options: &QueryOptions,
    ) -> vsearch_engine::Result<SearchResponse> {
        let started = Instant::now();
        let (vector, embed_ms) = match query {
            Query::ImageBytes(bytes) => (histogram(bytes)?, started.elapsed().as_secs_f64() * 1e3),
            Query::Id(id) => {
                let id = id
                    .number()
                    .ok_or(vsearch_engine::EngineError::UnknownImage { id: *id })?;
                let v = self
                    .vectors
                    .get(id as usize)
                    .ok_or(IndexError::UnknownId { id })?;
                (v.clone(), 0.0)
            }
            Query::Text(_) => {
                return Err(EmbedError::NoTextTower {
                    model: "histogram".into(),
                }
                .into())
            }
            Query::Vector(v) => {
                if v.len() != HISTOGRAM_DIM {
                    return Err(IndexError::Dimension {
                        expected: HISTOGRAM_DIM,
                        got: v.len(),
                    }
                    .into());
                }
                (v.clone(), 0.0)
            }
            Query::Board(_) => {
                return Err(vsearch_engine::EngineError::BadQuery {
                    reason: "the histogram backend answers single examples only".into(),
                })
            }
        };
        if self.vectors.is_empty() {
            return Err(IndexError::Empty.into());
        }
        let searched = Instant::now();
        let mut scored: Vec<(usize, f32)> = self
            .vectors
            .iter()
            .enumerate()
            .map(|(i, v)| (i, v.iter().zip(&vector).map(|(a, b)| a * b).sum()))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let results = scored
            .into_iter()
            .filter(|(_, s)| options.min_score.is_none_or(|m| *s >= m))
            .skip(options.offset)
            .take(options.k)
            .enumerate()
            .map(|(rank, (id, score))| {
                SearchResult::new((id as u64).into(), self.names[id].clone(), score, rank + 1)
            })
            .collect();
        Ok(SearchResponse {
            results,
            more: false,
            filter: None,
            index: options.index.unwrap_or(IndexKind::Flat),
            model: "histogram".into(),
            embed_ms,
            search_ms: searched.elapsed().as_secs_f64() * 1e3,
            ranking: None,
        })
    }

    fn image_path(&self, id: vsearch_engine::ImageId) -> vsearch_engine::Result<PathBuf> {
        let id = id
            .number()
            .ok_or(vsearch_engine::EngineError::UnknownImage { id })?;
        let name = self
            .names
            .get(id as usize)
            .ok_or(IndexError::UnknownId { id })?;
        Ok(self.root.join(name))
    }

    fn image_meta(
        &self,
        id: vsearch_engine::ImageId,
    ) -> vsearch_engine::Result<vsearch_engine::metadata::ImageMeta> {
        let id = id
            .number()
            .ok_or(vsearch_engine::EngineError::UnknownImage { id })?;
        Ok(self
            .images
            .get(id)
            .ok_or(IndexError::UnknownId { id })?
            .clone())
    }

    fn browse(
        &self,
        offset: usize,
        limit: usize,
        filter: Option<&vsearch_engine::filter::Filter>,
    ) -> vsearch_engine::Result<vsearch_engine::browse::Browse> {
        self.images.browse(offset, limit, filter)
    }

    fn facets(
        &self,
        filter: Option<&vsearch_engine::filter::Filter>,
    ) -> vsearch_engine::Result<vsearch_engine::browse::Facets> {
        self.images.facets(filter)
    }

    fn duplicates(
        &self,
        _options: &vsearch_engine::DupesOptions,
    ) -> vsearch_engine::Result<Vec<vsearch_engine::DuplicateGroup>> {
        // Histogram vectors say nothing about copies: no groups.
        Ok(Vec::new())
    }
}

// ---------------------------------------------------------------------------------------------
// Searches held until the test lets them go, for tests that need a worker busy for as long as they say.

/// A backend whose every search first tells its [`SearchGate`] that it started, then waits for the gate
/// to let one search go.
pub struct GatedBackend<B> {
    inner: B,
    started: tokio::sync::mpsc::UnboundedSender<()>,
    go: Mutex<std::sync::mpsc::Receiver<()>>,
}

/// The test's side of a [`GatedBackend`].
pub struct SearchGate {
    started: tokio::sync::mpsc::UnboundedReceiver<()>,
    go: std::sync::mpsc::Sender<()>,
}

/// `inner`, with every search held until the returned gate lets it go.
pub fn gated<B: SearchBackend>(inner: B) -> (GatedBackend<B>, SearchGate) {
    let (started_tx, started_rx) = tokio::sync::mpsc::unbounded_channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel();
    let backend = GatedBackend {
        inner,
        started: started_tx,
        go: Mutex::new(go_rx),
    };
    let gate = SearchGate {
        started: started_rx,
        go: go_tx,
    };
    (backend, gate)
}

impl SearchGate {
    /// Waits until a search has started (and is held).
    pub async fn search_started(&mut self) {
        self.started.recv().await.expect("the backend is alive");
    }

    /// Lets one search go: the one held now, or else the next one.
    pub fn let_one_go(&self) {
        self.go.send(()).expect("the backend is alive");
    }
}

impl<B: SearchBackend> SearchBackend for GatedBackend<B> {
    fn search(
        &self,
        query: &Query,
        options: &QueryOptions,
    ) -> vsearch_engine::Result<SearchResponse> {
        let _ = self.started.send(());
        // A dropped gate lets every search go.
        let _ = self.go.lock().unwrap_or_else(|p| p.into_inner()).recv();
        self.inner.search(query, options)
    }

    pass_to_inner!();
}
