//! What a monitoring stack scrapes: `GET /metrics` in the text format Prometheus reads (OpenMetrics, as
//! the Prometheus project's own Rust client, `prometheus-client`, encodes it), the liveness and readiness
//! probes, and request ids.
//!
//! Metrics:
//! - `http_requests_total{route, method, status}` and `http_request_duration_seconds{route}`: every request,
//!   by its route pattern (`/api/images/:id`, not the id: bounded label values; `unmatched` for 404s);
//! - `vsearch_search_duration_seconds{index}` (the index search) and `vsearch_embed_duration_seconds` (the
//!   query's embedding, for uploads and texts): per answered search;
//! - `vsearch_searches_in_flight`, and at each scrape `vsearch_queries_admitted`, `vsearch_query_workers`,
//!   `vsearch_collection_images`, `vsearch_collection_generation`, `vsearch_collection_pending_files`,
//!   `vsearch_blocks`, `vsearch_reports_open` (open report cases), `vsearch_reranker_version` (the learned
//!   re-ranker's model version served, 0 while it is off);
//! - `vsearch_analytics_events_dropped_total`: search analytics events dropped because the writer's queue
//!   was full (recording never makes a search wait).

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tower_http::request_id::{MakeRequestId, RequestId};

/// The content type of the exposition (what `prometheus-client` writes).
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IndexLabels {
    index: String,
}

/// Latency buckets: 0.5 ms to about 16 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The server's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    search_seconds: Family<IndexLabels, Histogram, fn() -> Histogram>,
    embed_seconds: Histogram,
    /// Searches being answered now.
    pub searches_in_flight: Gauge,
    admitted: Gauge,
    workers: Gauge,
    images: Gauge,
    generation: Gauge,
    pending_files: Gauge,
    blocks: Gauge,
    reports_open: Gauge,
    reranker_version: Gauge,
    /// Analytics events dropped because the writer's queue was full.
    pub analytics_dropped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route pattern, method and status",
            requests.clone(),
        );
        let request_seconds =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route pattern",
            request_seconds.clone(),
        );
        let search_seconds =
            Family::<IndexLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "vsearch_search_duration_seconds",
            "Time the index search of an answered query took, by index kind",
            search_seconds.clone(),
        );
        let embed_seconds = latency_histogram();
        registry.register(
            "vsearch_embed_duration_seconds",
            "Time the model took to embed a query (uploads, crops and texts)",
            embed_seconds.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let searches_in_flight = gauge(
            &mut registry,
            "vsearch_searches_in_flight",
            "Searches being answered now",
        );
        let admitted = gauge(
            &mut registry,
            "vsearch_queries_admitted",
            "Queries (searches, thumbnails) running or queued for a worker",
        );
        let workers = gauge(
            &mut registry,
            "vsearch_query_workers",
            "Queries that run at once",
        );
        let images = gauge(
            &mut registry,
            "vsearch_collection_images",
            "Images in the collection served",
        );
        let generation = gauge(
            &mut registry,
            "vsearch_collection_generation",
            "The committed generation served",
        );
        let pending_files = gauge(
            &mut registry,
            "vsearch_collection_pending_files",
            "Files indexed but not yet committed (an interrupted index run)",
        );
        let blocks = gauge(&mut registry, "vsearch_blocks", "Takedowns in force");
        let reports_open = gauge(
            &mut registry,
            "vsearch_reports_open",
            "Report cases waiting for review",
        );
        let reranker_version = gauge(
            &mut registry,
            "vsearch_reranker_version",
            "The learned re-ranker's model version served (0: off, searches keep the cosine order)",
        );
        let analytics_dropped = Counter::default();
        registry.register(
            "vsearch_analytics_events_dropped",
            "Search analytics events dropped because the writer's queue was full",
            analytics_dropped.clone(),
        );
        Self {
            registry,
            requests,
            request_seconds,
            search_seconds,
            embed_seconds,
            searches_in_flight,
            admitted,
            workers,
            images,
            generation,
            pending_files,
            blocks,
            reports_open,
            reranker_version,
            analytics_dropped,
        }
    }
}

impl Metrics {
    /// Records one answered search: the index that answered and the time of its two stages.
    pub fn record_search(&self, index: &str, embed_ms: f64, search_ms: f64) {
        self.search_seconds
            .get_or_create(&IndexLabels {
                index: index.to_string(),
            })
            .observe(search_ms / 1e3);
        if embed_ms > 0.0 {
            self.embed_seconds.observe(embed_ms / 1e3);
        }
    }

    fn record_request(&self, route: String, method: String, status: u16, seconds: f64) {
        self.request_seconds
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
    }
}

/// Middleware: counts and times every request by its route pattern.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // `/api/images/{id}` is labelled `/api/images/:id`: braces inside a label value trip simple
    // exposition parsers (prometheus-parse, for one).
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || "unmatched".to_string(),
        |m| m.as_str().replace('{', ":").replace('}', ""),
    );
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.record_request(
        route,
        method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`: the metrics, the collection's gauges read now.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Metrics in the OpenMetrics text format Prometheus scrapes",
        content_type = "application/openmetrics-text", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let served = state.served();
    let m = &state.metrics;
    m.admitted.set(state.pool.admitted() as i64);
    m.workers.set(state.pool.workers() as i64);
    m.images.set(served.info.count as i64);
    m.generation.set(served.info.generation as i64);
    m.blocks
        .set(served.backend.blocks().map_or(0, |b| b.len()) as i64);
    let backend = served.backend.clone();
    match tokio::task::spawn_blocking(move || {
        vsearch_engine::reports::queue::open_count(backend.as_ref())
    })
    .await
    {
        Ok(Ok(open)) => {
            m.reports_open.set(open.unwrap_or(0) as i64);
        }
        Ok(Err(e)) => tracing::warn!("cannot count the open report cases: {e}"),
        Err(e) => tracing::warn!("cannot count the open report cases: {e}"),
    }
    if let Some(files) = served.pending_files().await {
        m.pending_files.set(files as i64);
    }
    m.reranker_version
        .set(state.reranker().status().version.unwrap_or(0) as i64);
    let mut body = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut body, &m.registry) {
        tracing::error!("cannot encode the metrics: {e}");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

/// `GET /livez`: the process answers (a stuck server does not).
#[utoipa::path(get, path = "/livez", tag = "operations",
    responses((status = 200, description = "The server is alive", content_type = "text/plain", body = String)))]
pub async fn livez() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: whether the server takes queries now (a collection is loaded and the query queue has
/// room); 503 while it is full.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready for queries", content_type = "text/plain", body = String),
        (status = 503, description = "The query queue is full: send traffic elsewhere for now", content_type = "text/plain", body = String)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.pool.has_room() {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "busy: the query queue is full\n",
        )
    }
}

/// Request ids: a counter, unique for the process's life, in `x-request-id` (a client's own id is kept).
#[derive(Clone, Default)]
pub struct RequestIds(std::sync::Arc<AtomicU64>);

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        HeaderValue::from_str(&format!("{n:x}"))
            .ok()
            .map(RequestId::new)
    }
}
