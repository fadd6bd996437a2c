//! Reliability under faults (#13): a collection with no images answers every sound query with 409 and
//! what to do (a stand-in collection, and one the engine indexed from an empty folder), and no error answer
//! holds a path on the server: image files deleted, replaced by a folder or corrupted after indexing,
//! corrupt uploads, and engine errors that carry paths.

use crate::common;

use crate::common::{HistogramCollection, Server};
use reqwest::StatusCode;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vsearch_engine::{
    index_folder, DeviceSpec, EmbedError, EngineError, IndexError, IndexKind, IndexOptions,
    ModelSpec, Query, QueryOptions, SearchResponse,
};
use vsearch_server::error::EMPTY_COLLECTION;
use vsearch_server::SearchBackend;

/// The strings an answer must not contain: the folder's path as given and as resolved.
fn secrets(folder: &Path) -> Vec<String> {
    let mut secrets = vec![folder.display().to_string()];
    if let Ok(real) = folder.canonicalize() {
        secrets.push(real.display().to_string());
    }
    secrets
}

/// An answer's status and body, checked to name none of `secrets`.
async fn answer(
    response: reqwest::Response,
    secrets: &[String],
    what: &str,
) -> (StatusCode, String) {
    let status = response.status();
    let body = response.text().await.expect("a body");
    for secret in secrets {
        assert!(
            !body.contains(secret.as_str()),
            "{what}: {status} {body} names {secret}"
        );
    }
    (status, body)
}

/// An error answer: its status and message, checked to name none of `secrets`.
async fn error(
    response: reqwest::Response,
    secrets: &[String],
    what: &str,
) -> (StatusCode, String) {
    let (status, body) = answer(response, secrets, what).await;
    let body: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: not JSON: {body}"));
    let message = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: {body}"));
    (status, message.to_string())
}

/// Every kind of query on an empty collection: 409 with what to do; malformed ones are still 400.
async fn check_empty_collection(server: &Server, folder: &Path, text_search: bool) {
    let secrets = secrets(folder);
    let info = common::expect_json(server.get("/api/collection").await, "collection").await;
    assert_eq!(info["count"], 0);
    let dim = info["dimension"].as_u64().unwrap() as usize;
    let health = common::expect_json(server.get("/api/health").await, "health").await;
    assert_eq!(health["count"], 0);

    let photo = common::photo("ukbench00000.jpg");
    let mut queries = vec![
        ("image", server.upload(photo.clone(), &[("k", "3")]).await),
        ("id", server.post_json(json!({"id": 0})).await),
        (
            "vector",
            server.post_json(json!({"vector": vec![0.5; dim]})).await,
        ),
    ];
    if text_search {
        queries.push(("text", server.post_json(json!({"text": "a cat"})).await));
    }
    for (kind, response) in queries {
        let (status, message) = error(response, &secrets, kind).await;
        assert_eq!(status, StatusCode::CONFLICT, "{kind} query: {message}");
        assert_eq!(message, EMPTY_COLLECTION, "{kind} query");
        assert!(
            message.contains("no images") && message.contains("vsearch index"),
            "{message}"
        );
    }
    // The request's own faults come first.
    for (what, response) in [
        (
            "vector of the wrong length",
            server.post_json(json!({"vector": [1.0]})).await,
        ),
        (
            "not an image",
            server.upload(b"plain text".to_vec(), &[]).await,
        ),
        ("k = 0", server.post_json(json!({"id": 0, "k": 0})).await),
    ] {
        let (status, message) = error(response, &secrets, what).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {message}");
    }
    if !text_search {
        let (status, message) = error(
            server.post_json(json!({"text": "a cat"})).await,
            &secrets,
            "text",
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.contains("text tower"), "{message}");
    }
    // No image to show.
    for path in ["/api/images/0", "/api/images/0/thumbnail"] {
        let (status, _) = error(server.get(path).await, &secrets, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_stand_in_collection_answers_409_to_every_query() {
    let folder = tempfile::tempdir().unwrap();
    let backend = Arc::new(HistogramCollection::build(folder.path()));
    let server = Server::start(backend, common::serve_options()).await;
    check_empty_collection(&server, folder.path(), false).await;
    server.stop().await;
}

/// The engine indexes an empty folder with EfficientNet-Lite0 (needs its weights in the model cache:
/// `vsearch models fetch efficientnet-lite0`), and the server answers over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_engine_collection_answers_409_to_every_query() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("notes.txt"), "not a photo").unwrap();
    let options = IndexOptions {
        collection: None,
        model: ModelSpec::Preset("efficientnet-lite0".into()),
        device: DeviceSpec::Cpu,
        precision: vsearch_engine::Precision::F32,
        indexes: vec![IndexKind::Hnsw, IndexKind::Flat],
        batch: 8,
        threads: 2,
        ..IndexOptions::default()
    };
    let report = index_folder(folder.path(), &options).expect("index an empty folder");
    assert_eq!(report.indexed, 0, "{report:?}");
    let collection = vsearch_engine::Collection::open(folder.path(), &DeviceSpec::Cpu)
        .expect("open the empty collection");
    // The engine's own answer to a query of an empty collection is a 409 too.
    let engine_answer = collection
        .search(
            &Query::Vector(vec![1.0; collection.info().model.dim]),
            &QueryOptions {
                k: 1,
                index: None,
                ..Default::default()
            },
        )
        .expect_err("an empty collection has nothing to answer");
    let answered = vsearch_server::ApiError::from(engine_answer);
    assert_eq!(answered.status, StatusCode::CONFLICT, "{answered}");

    let server = Server::start(Arc::new(collection), common::serve_options()).await;
    check_empty_collection(&server, folder.path(), false).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_gone_replaced_or_corrupted_after_indexing_answer_without_server_paths() {
    let folder = common::photo_folder(4);
    let root = folder.path();
    let server = Server::start(
        Arc::new(HistogramCollection::build(root)),
        common::serve_options(),
    )
    .await;
    let secrets = secrets(root);
    // Ids are positions in name order: id i is ukbench0000i.jpg.
    let file = |id: u64| root.join(format!("ukbench{id:05}.jpg"));
    std::fs::remove_file(file(0)).unwrap();
    std::fs::remove_file(file(1)).unwrap();
    std::fs::create_dir(file(1)).unwrap();
    std::fs::write(file(2), b"no longer a photo").unwrap();

    for (path, want) in [
        ("/api/images/0", StatusCode::NOT_FOUND),
        ("/api/images/0/thumbnail", StatusCode::NOT_FOUND),
        ("/api/images/1", StatusCode::INTERNAL_SERVER_ERROR),
        ("/api/images/1/thumbnail", StatusCode::INTERNAL_SERVER_ERROR),
        ("/api/images/2/thumbnail", StatusCode::CONFLICT),
        ("/api/images/99", StatusCode::NOT_FOUND),
    ] {
        let (status, message) = error(server.get(path).await, &secrets, path).await;
        assert_eq!(status, want, "{path}: {message}");
        if status == StatusCode::CONFLICT || path == "/api/images/0" {
            assert!(message.contains("vsearch index"), "{path}: {message}");
        }
    }
    // The original of a corrupted file is still its bytes; the intact one still has a thumbnail.
    let (status, _) = answer(server.get("/api/images/2").await, &secrets, "image 2").await;
    assert_eq!(status, StatusCode::OK);
    let r = server.get("/api/images/3/thumbnail").await;
    assert_eq!(r.status(), StatusCode::OK);

    // Corrupt uploads.
    let mut truncated = common::photo("ukbench00003.jpg");
    truncated.truncate(3000);
    let png_signature = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3];
    for (what, bytes) in [
        ("truncated JPEG", truncated),
        ("PNG signature only", png_signature),
        ("text", b"hello".to_vec()),
    ] {
        let (status, message) = error(server.upload(bytes, &[]).await, &secrets, what).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {message}");
    }
    server.stop().await;
}

/// A collection whose query by id `n` fails with the `n`-th of [`path_errors`].
struct FailingBackend {
    inner: HistogramCollection,
    root: PathBuf,
}

/// Engine errors that carry paths under `root` (also inside their reasons), with the status each answers.
fn path_errors(root: &Path) -> Vec<(EngineError, StatusCode)> {
    let shown = root.display();
    let io = || std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
    let server_error = StatusCode::INTERNAL_SERVER_ERROR;
    vec![
        (
            EngineError::Io {
                path: root.join(".vsearch/matrix.f32"),
                source: io(),
            },
            server_error,
        ),
        (
            EngineError::MissingVector {
                path: root.join(".vsearch/matrix.f32"),
                rows: 1,
                id: 3,
            },
            server_error,
        ),
        (
            EngineError::Manifest {
                path: root.join(".vsearch/manifest.json"),
                reason: "truncated".into(),
            },
            server_error,
        ),
        (
            EngineError::NotACollection {
                path: root.to_path_buf(),
            },
            server_error,
        ),
        (
            EngineError::Busy {
                collection: root.join(".vsearch"),
            },
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            IndexError::Checksum {
                path: root.join(".vsearch/hnsw.graph"),
            }
            .into(),
            server_error,
        ),
        (
            IndexError::Faiss {
                reason: format!("could not open {shown}/.vsearch/ivf.faiss"),
            }
            .into(),
            server_error,
        ),
        (
            IndexError::Io {
                path: root.join(".vsearch/flat.f32"),
                source: io(),
            }
            .into(),
            server_error,
        ),
        (
            EmbedError::Weights {
                path: root.join("model.safetensors"),
                reason: format!("{shown} is damaged"),
            }
            .into(),
            server_error,
        ),
        (
            EmbedError::Device {
                reason: format!("cannot map {shown}"),
            }
            .into(),
            server_error,
        ),
    ]
}

impl SearchBackend for FailingBackend {
    fn search(
        &self,
        query: &Query,
        options: &QueryOptions,
    ) -> vsearch_engine::Result<SearchResponse> {
        match query {
            Query::Id(n) => match path_errors(&self.root)
                .into_iter()
                .nth(n.number().unwrap_or(u64::MAX) as usize)
            {
                Some((err, _)) => Err(err),
                None => self.inner.search(query, options),
            },
            _ => self.inner.search(query, options),
        }
    }

    common::pass_to_inner!();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_errors_with_paths_answer_without_them() {
    let folder = common::photo_folder(2);
    let root = folder.path().canonicalize().unwrap();
    let backend = FailingBackend {
        inner: HistogramCollection::build(&root),
        root: root.clone(),
    };
    let server = Server::start(Arc::new(backend), common::serve_options()).await;
    let secrets = secrets(folder.path());
    for (n, (err, want)) in path_errors(&root).into_iter().enumerate() {
        let what = err.to_string();
        assert!(secrets.iter().any(|s| what.contains(s.as_str())), "{what}");
        let response = server.post_json(json!({"id": n})).await;
        let retry_after = response.headers().get("retry-after").cloned();
        let (status, message) = error(response, &secrets, &what).await;
        assert_eq!(status, want, "{what}: {message}");
        assert!(!message.is_empty());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(retry_after.is_some(), "{what}: no Retry-After");
        } else {
            assert!(message.contains("server's log"), "{what}: {message}");
        }
    }
    server.stop().await;
}
