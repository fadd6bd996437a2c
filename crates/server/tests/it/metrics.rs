//! `GET /metrics` parses with a Prometheus text-format parser (prometheus-parse, not the encoder's own code)
//! and its counters move with the requests a test makes; the probes answer; every response carries a
//! request id, the client's when it sent one.

use crate::common::{self, HistogramCollection, Server};
use prometheus_parse::{Scrape, Value};
use std::sync::Arc;

async fn scrape(server: &Server) -> Scrape {
    let response = server.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let body = response.text().await.unwrap();
    Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("a Prometheus text exposition")
}

/// The value of the sample `metric` whose labels include `labels` (0 when there is none).
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{metric}: unexpected {other:?}"),
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_the_server_answered() {
    let folder = common::photo_folder(6);
    let backend = Arc::new(HistogramCollection::build(folder.path()));
    let server = Server::start(backend, common::serve_options()).await;

    let before = scrape(&server).await;
    assert_eq!(value(&before, "vsearch_collection_images", &[]), 6.0);
    assert_eq!(value(&before, "vsearch_searches_in_flight", &[]), 0.0);
    let search = [
        ("route", "/api/search"),
        ("method", "POST"),
        ("status", "200"),
    ];
    assert_eq!(value(&before, "http_requests_total", &search), 0.0);

    for id in [0, 1, 2] {
        let r = server.post_json(serde_json::json!({ "id": id })).await;
        assert_eq!(r.status(), 200);
    }
    let r = server.post_json(serde_json::json!({ "id": 999 })).await;
    assert_eq!(r.status(), 404);
    for _ in 0..2 {
        assert_eq!(server.get("/api/collection").await.status(), 200);
    }
    assert_eq!(server.get("/api/images/1/meta").await.status(), 200);
    assert_eq!(server.get("/no/such/page").await.status(), 404);

    let after = scrape(&server).await;
    assert_eq!(value(&after, "http_requests_total", &search), 3.0);
    assert_eq!(
        value(
            &after,
            "http_requests_total",
            &[("route", "/api/search"), ("status", "404")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "http_requests_total",
            &[("route", "/api/collection"), ("status", "200")]
        ),
        2.0
    );
    // Route patterns, not paths: the id is not a label value.
    assert_eq!(
        value(
            &after,
            "http_requests_total",
            &[("route", "/api/images/:id/meta")]
        ),
        1.0
    );
    assert_eq!(
        value(&after, "http_requests_total", &[("route", "unmatched")]),
        1.0
    );
    // The first scrape is counted by the second.
    assert_eq!(
        value(&after, "http_requests_total", &[("route", "/metrics")]),
        1.0
    );
    // Three answered searches, timed under the index that answered them.
    assert_eq!(
        value(&after, "vsearch_search_duration_seconds_count", &[]),
        3.0
    );
    assert_eq!(value(&after, "vsearch_searches_in_flight", &[]), 0.0);
    assert_eq!(value(&after, "vsearch_blocks", &[]), 0.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_and_responses_carry_request_ids() {
    let folder = common::photo_folder(3);
    let backend = Arc::new(HistogramCollection::build(folder.path()));
    let server = Server::start(backend, common::serve_options()).await;
    assert_eq!(server.get("/livez").await.status(), 200);
    assert_eq!(server.get("/readyz").await.status(), 200);
    assert_eq!(server.get("/api/health").await.status(), 200);

    let id = |r: &reqwest::Response| {
        r.headers()
            .get("x-request-id")
            .expect("an x-request-id header")
            .to_str()
            .unwrap()
            .to_string()
    };
    let a = server.get("/api/collection").await;
    let b = server.get("/api/collection").await;
    assert_ne!(id(&a), id(&b), "each request gets its own id");
    let mine = server
        .client
        .get(server.url("/api/collection"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(id(&mine), "trace-42", "a client's id is kept");
    server.stop().await;
}
