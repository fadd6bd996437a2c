//! The real server (router, pool, thumbnails, errors) over real photos, called with a real HTTP client.
//! The collection here is a stand-in (colour histograms, exact search) so these tests exercise the HTTP
//! layer on their own; `engine_e2e.rs` runs the same checks over a collection built by the engine.

use crate::common;

use crate::common::{HistogramCollection, Server};
use reqwest::StatusCode;
use std::sync::Arc;
use vsearch_server::ServeOptions;

fn expect() -> common::Expect {
    common::Expect {
        model: "histogram",
        dim: common::HISTOGRAM_DIM,
        count: 8,
        built: vec!["flat"],
        not_built: "hnsw",
        same_object: None,
    }
}

/// The server over the first `photos` ukbench photos (the folder lives as long as the returned guard).
async fn histogram_server(photos: usize, options: ServeOptions) -> (tempfile::TempDir, Server) {
    let folder = common::photo_folder(photos);
    let backend = Arc::new(HistogramCollection::build(folder.path()));
    (folder, Server::start(backend, options).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_good_requests() {
    let (_photos, server) = histogram_server(8, common::serve_options()).await;
    common::check_good_requests(&server, &expect()).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_4xx_json_errors() {
    let (_photos, server) = histogram_server(8, common::serve_options()).await;
    common::check_bad_requests(&server, &expect()).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_get_413() {
    let options = ServeOptions {
        max_body_bytes: 1024 * 1024,
        ..common::serve_options()
    };
    let (_photos, server) = histogram_server(4, options).await;
    common::check_body_limit(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_with_retry_after() {
    let photos = common::photo_folder(4);
    let (backend, mut gate) = common::gated(HistogramCollection::build(photos.path()));
    // One worker, no queue: while one search is held, every other query is refused at once.
    let options = ServeOptions {
        workers: 1,
        queue: 0,
        ..common::serve_options()
    };
    let server = Arc::new(Server::start(Arc::new(backend), options).await);
    let photo = common::photo("ukbench00002.jpg");
    let held = tokio::spawn({
        let (server, photo) = (server.clone(), photo.clone());
        async move { server.upload(photo, &[("k", "2")]).await.status() }
    });
    gate.search_started().await;

    let health = common::expect_json(server.get("/api/health").await, "health").await;
    assert_eq!(
        (health["busy"].as_u64(), health["workers"].as_u64()),
        (Some(1), Some(1))
    );
    for refused in [
        server.upload(photo.clone(), &[("k", "2")]).await,
        server.post_json(serde_json::json!({"id": 0})).await,
    ] {
        let retry_after = refused.headers().get("retry-after").cloned();
        let message = common::expect_error(
            refused,
            StatusCode::SERVICE_UNAVAILABLE,
            "a query while the only worker is busy",
        )
        .await;
        assert_eq!(retry_after.as_ref().map(|v| v.to_str().unwrap()), Some("1"));
        assert!(message.contains("busy"), "{message}");
    }

    gate.let_one_go();
    assert_eq!(
        held.await.unwrap(),
        StatusCode::OK,
        "the held search is answered"
    );
    // Once the worker is free the server answers again.
    gate.let_one_go();
    let r = server.upload(photo, &[("k", "1")]).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_and_stops() {
    let (_photos, server) = histogram_server(2, common::serve_options()).await;
    let base = server.base.clone();
    assert_eq!(server.get("/api/health").await.status(), StatusCode::OK);
    server.stop().await;
    assert!(
        reqwest::get(format!("{base}/api/health")).await.is_err(),
        "no answer after shutdown"
    );
}
