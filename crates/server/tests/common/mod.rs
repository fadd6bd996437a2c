//! Shared pieces of the server's integration tests: starting the real server on an ephemeral port,
//! a stand-in collection (colour histograms over real photos) and the checks every collection must pass.
#![allow(dead_code)]

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use vsearch_engine::{
    image_io, CollectionInfo, EmbedError, EngineError, IndexConfig, IndexError, IndexKind, Metric,
    ModelInfo, Query, QueryOptions, SearchResponse, SearchResult,
};
use vsearch_server::{router, AppState, SearchBackend, ServeOptions};

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

/// A running server.
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Starts the real router on 127.0.0.1:0.
    pub async fn start(backend: Arc<dyn SearchBackend>, options: ServeOptions) -> Self {
        let state = AppState::new(backend, &options);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            axum::serve(listener, router(state))
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
    let r = server.get("/api/health").await;
    assert_eq!(r.status(), StatusCode::OK);
    let health: Value = r.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["count"], expect.count);

    // collection
    let r = server.get("/api/collection").await;
    assert_eq!(r.status(), StatusCode::OK);
    let info: Value = r.json().await.unwrap();
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
    let photo = std::fs::read(ukbench().join("ukbench00000.jpg")).unwrap();
    for kind in &expect.built {
        let r = server
            .upload(photo.clone(), &[("k", "4"), ("index", kind)])
            .await;
        assert_eq!(r.status(), StatusCode::OK, "upload search on {kind}");
        let body: Value = r.json().await.unwrap();
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
    let r = server.upload(photo.clone(), &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["results"].as_array().unwrap().len(),
        10.min(expect.count)
    );

    // by id: the id of the best upload result, then the same id through JSON
    let r = server.upload(photo.clone(), &[("k", "1")]).await;
    let body: Value = r.json().await.unwrap();
    let id = body["results"][0]["id"].as_u64().unwrap();
    let r = server.post_json(json!({"id": id, "k": 3})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["results"][0]["id"], id);
    assert_eq!(body["results"].as_array().unwrap().len(), 3);
    assert!(body["results"][0]["score"].as_f64().unwrap() > 0.99);

    // min_score keeps only results at or above it
    let r = server
        .post_json(json!({"id": id, "k": 10, "min_score": 0.999}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
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
    let r = server.post_json(json!({"vector": v, "k": 2})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
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
    let r = server.get("/api/openapi.json").await;
    assert_eq!(r.status(), StatusCode::OK);
    let spec: Value = r.json().await.unwrap();
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
    let photo = std::fs::read(ukbench().join("ukbench00000.jpg")).unwrap();
    let bad = StatusCode::BAD_REQUEST;

    // non-image uploads
    expect_error(
        server.upload(b"just some text".to_vec(), &[]).await,
        bad,
        "text upload",
    )
    .await;
    expect_error(server.upload(Vec::new(), &[]).await, bad, "empty upload").await;
    let mut truncated = photo.clone();
    truncated.truncate(2000);
    expect_error(server.upload(truncated, &[]).await, bad, "truncated JPEG").await;
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

    // unknown id
    let unknown = 9_999_999u64;
    expect_error(
        server.post_json(json!({"id": unknown})).await,
        StatusCode::NOT_FOUND,
        "search unknown id",
    )
    .await;
    expect_error(
        server.get(&format!("/api/images/{unknown}")).await,
        StatusCode::NOT_FOUND,
        "image unknown id",
    )
    .await;
    expect_error(
        server
            .get(&format!("/api/images/{unknown}/thumbnail"))
            .await,
        StatusCode::NOT_FOUND,
        "thumb",
    )
    .await;
    expect_error(server.get("/api/images/abc").await, bad, "non-numeric id").await;
    expect_error(
        server.get("/api/images/-1/thumbnail").await,
        bad,
        "negative id",
    )
    .await;

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
    expect_error(
        server.upload(photo.clone(), &[("k", "ten")]).await,
        bad,
        "form k=ten",
    )
    .await;

    // text on an image-only model
    let message = expect_error(
        server.post_json(json!({"text": "a red bicycle"})).await,
        bad,
        "text query",
    )
    .await;
    assert!(message.contains("text"), "{message}");

    // malformed JSON, wrong types, several or no queries, wrong vector
    expect_error(
        server
            .post_raw("application/json", b"{\"id\": ".to_vec())
            .await,
        bad,
        "truncated JSON",
    )
    .await;
    expect_error(
        server
            .post_raw("application/json", b"not json".to_vec())
            .await,
        bad,
        "not JSON",
    )
    .await;
    expect_error(
        server.post_raw("application/json", Vec::new()).await,
        bad,
        "empty JSON body",
    )
    .await;
    expect_error(
        server.post_json(json!({"id": "seven"})).await,
        bad,
        "id as string",
    )
    .await;
    expect_error(
        server.post_json(json!({"id": 0, "vector": [1.0]})).await,
        bad,
        "two queries",
    )
    .await;
    expect_error(server.post_json(json!({"k": 3})).await, bad, "no query").await;
    expect_error(
        server.post_json(json!({"vector": [1.0, 2.0]})).await,
        bad,
        "vector of wrong length",
    )
    .await;
    expect_error(
        server
            .post_json(json!({"id": 0, "unknown_option": 1}))
            .await,
        bad,
        "unknown field",
    )
    .await;
    expect_error(
        server.post_raw("text/plain", b"{\"id\": 0}".to_vec()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "text/plain body",
    )
    .await;

    // index kinds: unknown, and known but not built here
    expect_error(
        server.post_json(json!({"id": 0, "index": "annoy"})).await,
        bad,
        "unknown index",
    )
    .await;
    expect_error(
        server.upload(photo.clone(), &[("index", "annoy")]).await,
        bad,
        "unknown index (form)",
    )
    .await;
    let message = expect_error(
        server
            .post_json(json!({"id": 0, "index": expect.not_built}))
            .await,
        bad,
        "index not built",
    )
    .await;
    assert!(message.contains("not built"), "{message}");

    // parameters out of range
    expect_error(
        server.post_json(json!({"id": 0, "ef_search": 0})).await,
        bad,
        "ef_search 0",
    )
    .await;
    expect_error(
        server
            .post_json(json!({"id": 0, "nprobe": 1_000_000}))
            .await,
        bad,
        "nprobe huge",
    )
    .await;

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
    let photo = std::fs::read(ukbench().join("ukbench00001.jpg")).unwrap();
    assert_eq!(
        server.upload(photo, &[("k", "1")]).await.status(),
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
        Self {
            root: root.to_path_buf(),
            names,
            vectors,
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
                let v = self
                    .vectors
                    .get(*id as usize)
                    .ok_or(IndexError::UnknownId(*id))?;
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
        };
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
            .take(options.k)
            .enumerate()
            .map(|(rank, (id, score))| SearchResult {
                id: id as u64,
                path: self.names[id].clone(),
                score,
                rank: rank + 1,
            })
            .collect();
        Ok(SearchResponse {
            results,
            index: options.index.unwrap_or(IndexKind::Flat),
            model: "histogram".into(),
            embed_ms,
            search_ms: searched.elapsed().as_secs_f64() * 1e3,
        })
    }

    fn image_path(&self, id: u64) -> vsearch_engine::Result<PathBuf> {
        let name = self
            .names
            .get(id as usize)
            .ok_or(IndexError::UnknownId(id))?;
        Ok(self.root.join(name))
    }
}
