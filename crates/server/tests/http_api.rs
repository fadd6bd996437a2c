//! The real server (router, pool, thumbnails, errors) over real photos, called with a real HTTP client.
//! The collection here is a stand-in (colour histograms, exact search) so these tests exercise the HTTP
//! layer on their own; `engine_e2e.rs` runs the same checks over a collection built by the engine.

mod common;

use common::{HistogramCollection, Server};
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

fn options() -> ServeOptions {
    ServeOptions {
        workers: 2,
        queue: 64,
        ..ServeOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_good_requests() {
    let photos = common::photo_folder(8);
    let server = Server::start(
        Arc::new(HistogramCollection::build(photos.path())),
        options(),
    )
    .await;
    common::check_good_requests(&server, &expect()).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_4xx_json_errors() {
    let photos = common::photo_folder(8);
    let server = Server::start(
        Arc::new(HistogramCollection::build(photos.path())),
        options(),
    )
    .await;
    common::check_bad_requests(&server, &expect()).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_get_413() {
    let photos = common::photo_folder(4);
    let options = ServeOptions {
        max_body_bytes: 1024 * 1024,
        ..options()
    };
    let server = Server::start(Arc::new(HistogramCollection::build(photos.path())), options).await;
    common::check_body_limit(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_with_retry_after() {
    let photos = common::photo_folder(4);
    // One worker, no queue: while one upload is being embedded, the others are refused at once.
    let options = ServeOptions {
        workers: 1,
        queue: 0,
        ..options()
    };
    let server =
        Arc::new(Server::start(Arc::new(HistogramCollection::build(photos.path())), options).await);
    let photo = std::fs::read(common::ukbench().join("ukbench00002.jpg")).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let (server, photo) = (server.clone(), photo.clone());
        tasks.push(tokio::spawn(async move {
            let r = server.upload(photo, &[("k", "2")]).await;
            let retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            (r.status(), retry_after, r.text().await.unwrap())
        }));
    }
    let (mut ok, mut busy) = (0, 0);
    for task in tasks {
        let (status, retry_after, body) = task.await.unwrap();
        match status {
            StatusCode::OK => ok += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                busy += 1;
                assert_eq!(retry_after.as_deref(), Some("1"));
                let body: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert!(body["error"].as_str().unwrap().contains("busy"));
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert!(ok >= 1, "some uploads are answered");
    assert!(
        busy >= 1,
        "24 simultaneous uploads on one worker without a queue: some must be refused"
    );
    // Once the burst is over the server answers again.
    let r = server.upload(photo, &[("k", "1")]).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_and_stops() {
    let photos = common::photo_folder(2);
    let server = Server::start(
        Arc::new(HistogramCollection::build(photos.path())),
        options(),
    )
    .await;
    let base = server.base.clone();
    assert_eq!(server.get("/api/health").await.status(), StatusCode::OK);
    server.stop().await;
    assert!(
        reqwest::get(format!("{base}/api/health")).await.is_err(),
        "no answer after shutdown"
    );
}
