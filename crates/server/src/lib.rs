//! vsearch-server: the HTTP query API and web page over a collection.
//!
//! axum on tokio. The collection and its model are loaded once ([`serve`] runs a warm-up query before
//! it accepts connections); model inference and index searches run on a bounded blocking pool
//! ([`pool::Pool`]) with a bounded queue in front, so bursts get 503 + `Retry-After` instead of
//! exhausting memory. Every error is JSON `{"error": "..."}` ([`error::ApiError`]).
//!
//! Modules: [`api`] (types, request parsing and handlers), [`error`] (statuses), [`pool`] (blocking
//! pool), [`thumbnails`] (JPEG thumbnails and their cache), [`openapi`] (the generated description),
//! [`assets`] (the embedded web page).

pub mod api;
pub mod assets;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod pool;
pub mod thumbnails;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use vsearch_engine::analytics::{AnalyticsConfig, Recorder};
use vsearch_engine::rerank::Reranker;
use vsearch_engine::{CollectionInfo, Query, QueryOptions, SearchParams};

pub use error::{ApiError, ErrorBody};
/// The interface of what the server serves: the engine's [`vsearch_engine::Backend`], under the name
/// this crate has always given it.
pub use vsearch_engine::Backend as SearchBackend;

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on (default `127.0.0.1:8080`: this machine only).
    pub addr: SocketAddr,
    /// Largest request body, in bytes (default 20 MB).
    pub max_body_bytes: usize,
    /// Queries (embeddings, searches, thumbnails) that run at once (default: the number of CPU cores).
    pub workers: usize,
    /// Queries that may wait for a worker; beyond `workers + queue`, requests get 503 (default 64).
    pub queue: usize,
    /// Memory for cached thumbnails, in bytes (default 64 MiB).
    pub thumbnail_cache_bytes: usize,
    /// How often to look for a new committed state of the collection (default every second); `None`
    /// serves the state loaded at start until the server stops.
    pub reload_every: Option<Duration>,
    /// The token the admin endpoints (`POST /api/blocks`, `GET /api/blocks`, `DELETE /api/blocks/{id}`,
    /// `GET /api/reports`, `POST /api/reports/{case}/resolve`) need (as `Authorization: Bearer TOKEN`);
    /// `None` turns them off (they answer 401 or 403).
    pub admin_token: Option<String>,
    /// Search analytics: on by default, into `analytics.sqlite` in the collection's records folder
    /// (see [`vsearch_engine::analytics`] for what is kept, for how long, and how to delete it).
    pub analytics: AnalyticsConfig,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 20 * 1024 * 1024,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            queue: 64,
            thumbnail_cache_bytes: 64 * 1024 * 1024,
            reload_every: Some(Duration::from_secs(1)),
            admin_token: None,
            analytics: AnalyticsConfig::default(),
        }
    }
}

/// Errors that stop the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {source}. Is another server using it? Try --addr 127.0.0.1:0 for a free port")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The listening socket failed while serving.
    #[error("server: {source}")]
    Serve {
        #[from]
        source: std::io::Error,
    },
}

/// One state of the collection being served: queries take it whole (an `Arc`), so a reload never mixes
/// two states in one answer, and queries in flight finish on the state they started with.
pub struct Served {
    pub backend: Arc<dyn SearchBackend>,
    /// The backend's description, read when it was loaded.
    pub info: CollectionInfo,
    /// The OpenAPI description for this state (see [`openapi::spec_for`]).
    pub openapi: String,
    /// The cold-start recommendations of this state, computed on first use (they read every vector).
    cold_start: std::sync::Mutex<Option<Arc<vsearch_engine::answers::ColdStart>>>,
}

impl Served {
    /// The cold-start recommendations of this state (blocking the first time: clusters the vectors).
    pub fn cold_start(&self) -> vsearch_engine::Result<Arc<vsearch_engine::answers::ColdStart>> {
        let mut guard = match self.cold_start.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(cold) = guard.as_ref() {
            return Ok(cold.clone());
        }
        let cold = Arc::new(vsearch_engine::answers::cold_start(&*self.backend)?);
        *guard = Some(cold.clone());
        Ok(cold)
    }

    /// Files an interrupted `vsearch index` indexed but did not commit, read now (not at load: such a
    /// run moves the catalog without a commit to reload on); `None`, with a warning, when it cannot be
    /// read.
    pub async fn pending_files(&self) -> Option<usize> {
        let backend = self.backend.clone();
        match tokio::task::spawn_blocking(move || backend.pending()).await {
            Ok(Ok(pending)) => Some(pending.map_or(0, |p| p.files)),
            Ok(Err(e)) => {
                tracing::warn!("cannot read the collection's pending work: {e}");
                None
            }
            Err(e) => {
                tracing::warn!("cannot read the collection's pending work: {e}");
                None
            }
        }
    }

    fn new(backend: Arc<dyn SearchBackend>) -> Self {
        let info = backend.info();
        let openapi = openapi::spec_for(&info);
        Self {
            backend,
            info,
            openapi,
            cold_start: std::sync::Mutex::new(None),
        }
    }
}

/// What every handler shares: the collection served, the worker pool and the thumbnail cache.
pub struct Shared {
    served: RwLock<Arc<Served>>,
    pub pool: pool::Pool,
    pub thumbnails: thumbnails::ThumbnailCache,
    pub max_body_bytes: usize,
    /// The admin token of the block endpoints (`None`: they are off).
    pub admin_token: Option<String>,
    /// Held while the block API changes blocks and serves the result, so changes apply in order.
    pub block_changes: tokio::sync::Mutex<()>,
    /// What `GET /metrics` reports.
    pub metrics: metrics::Metrics,
    /// Where searches and opens are recorded (`None`: analytics off, or the collection keeps no records).
    pub analytics: Option<Recorder>,
    /// The learned re-ranker served: a search takes it whole (an `Arc`), and a new model is switched in
    /// in one step, as a new generation of the collection is.
    reranker: RwLock<Arc<Reranker>>,
}

impl Shared {
    /// The learned re-ranker served now (on with a model, or off and why).
    pub fn reranker(&self) -> Arc<Reranker> {
        match self.reranker.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The learned re-scorer the ranking stage runs now (`None`: the re-ranker is off; the cosine
    /// order, boosts and the other steps only).
    pub fn rescorer(&self) -> Option<Arc<dyn vsearch_engine::ranking::Rescorer>> {
        self.reranker().rescorer()
    }

    /// Serves `reranker` from the next search on (a newly trained model, or off).
    pub fn replace_reranker(&self, reranker: Reranker) {
        let next = Arc::new(reranker);
        match self.reranker.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    /// The state served now.
    pub fn served(&self) -> Arc<Served> {
        match self.served.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Serves `backend` from now on; the thumbnails cached for the old state are dropped (an image keeps
    /// its id when its file changes).
    pub fn replace(&self, backend: Arc<dyn SearchBackend>) {
        let next = Arc::new(Served::new(backend));
        match self.served.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        self.thumbnails.clear();
    }

    /// Serves `backend` in place of `old` when `old` is still the state served (a reload built from
    /// `old` must not undo a change the API made meanwhile); whether it did.
    pub fn replace_from(&self, old: &Arc<Served>, backend: Arc<dyn SearchBackend>) -> bool {
        let next = Arc::new(Served::new(backend));
        let mut guard = match self.served.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !Arc::ptr_eq(&guard, old) {
            return false;
        }
        *guard = next;
        drop(guard);
        self.thumbnails.clear();
        true
    }
}

/// Cheaply clonable handle on [`Shared`].
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// State over an opened collection.
    pub fn new(collection: Arc<dyn SearchBackend>, options: &ServeOptions) -> Self {
        let analytics = start_analytics(collection.as_ref(), &options.analytics);
        let reranker = Reranker::load(collection.records_dir().as_deref());
        tracing::info!("{}", reranker.describe());
        Self(Arc::new(Shared {
            served: RwLock::new(Arc::new(Served::new(collection))),
            pool: pool::Pool::new(options.workers, options.queue),
            thumbnails: thumbnails::ThumbnailCache::new(options.thumbnail_cache_bytes),
            max_body_bytes: options.max_body_bytes,
            admin_token: options.admin_token.clone().filter(|t| !t.is_empty()),
            block_changes: tokio::sync::Mutex::new(()),
            metrics: metrics::Metrics::default(),
            analytics,
            reranker: RwLock::new(Arc::new(reranker)),
        }))
    }
}

/// The recorder of a served collection: off when `config` says so or the collection keeps no records;
/// off with a warning when its database cannot be opened (the server still serves).
fn start_analytics(backend: &dyn SearchBackend, config: &AnalyticsConfig) -> Option<Recorder> {
    if !config.enabled {
        tracing::info!("search analytics off (--no-analytics)");
        return None;
    }
    let Some(dir) = backend.records_dir() else {
        tracing::info!("search analytics off: this collection keeps no records folder");
        return None;
    };
    match Recorder::start(&dir, config) {
        Ok(recorder) => {
            tracing::info!(
                "search analytics into {} (kept {} days{}; `vsearch serve --no-analytics` turns them off)",
                dir.join(vsearch_engine::analytics::FILE_NAME).display(),
                config.retention_days,
                if config.keep_queries {
                    ", with text queries and uploads"
                } else {
                    ", without text queries or uploads"
                }
            );
            Some(recorder)
        }
        Err(e) => {
            tracing::warn!("search analytics off: {e}");
            None
        }
    }
}

/// Every `interval`, asks the backend whether `vsearch index` committed a newer state of the collection,
/// and serves it when it did (loaded beside the old one, then switched in one step). Runs until the
/// runtime stops.
pub fn spawn_reloader(state: AppState, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_error = String::new();
        loop {
            ticks.tick().await;
            reload_reranker(&state).await;
            let current = state.served();
            let backend = current.backend.clone();
            let old_generation = current.info.generation;
            match tokio::task::spawn_blocking(move || backend.reload()).await {
                Ok(Ok(Some(next))) => {
                    // Not over a state the block API served meanwhile (the next tick sees both).
                    if state.replace_from(&current, next) {
                        let info = &state.served().info;
                        tracing::info!(
                            "serving generation {} of the collection ({} images shown; was generation {old_generation})",
                            info.generation,
                            info.count
                        );
                    }
                    last_error.clear();
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    // Said once per distinct error: a half-written state is retried every tick.
                    let message = e.to_string();
                    if message != last_error {
                        tracing::warn!("cannot load the collection's new state yet: {message}");
                        last_error = message;
                    }
                }
                Err(e) => tracing::warn!("the reload task failed: {e}"),
            }
        }
    })
}

/// Serves the re-ranker's model anew when its file changed (a `vsearch rank train` stored a new one, or
/// it was removed); a damaged one is reported and leaves the re-ranker off (the cosine order).
async fn reload_reranker(state: &AppState) {
    let current = state.reranker();
    if !current.changed() {
        return;
    }
    let Some(dir) = state.served().backend.records_dir() else {
        return;
    };
    match tokio::task::spawn_blocking(move || Reranker::load(Some(&dir))).await {
        Ok(next) => {
            tracing::info!(
                "now serving: {} (was: {})",
                next.describe(),
                current.describe()
            );
            state.replace_reranker(next);
        }
        Err(e) => tracing::warn!("the re-ranker's reload failed: {e}"),
    }
}

/// The application: API routes, web page and OpenAPI description.
pub fn router(state: AppState) -> Router {
    let limit = state.max_body_bytes;
    Router::new()
        .route("/", get(assets::index_html))
        .route("/app.js", get(assets::app_js))
        .route("/style.css", get(assets::style_css))
        .route("/api/health", get(api::handlers::health))
        .route("/api/collection", get(api::handlers::collection))
        .route("/api/search", post(api::handlers::search))
        .route("/api/images", get(api::handlers::browse))
        .route("/api/facets", get(api::handlers::facets))
        .route("/api/duplicates", get(api::handlers::duplicates))
        .route("/api/images/{id}", get(api::handlers::image))
        .route("/api/images/{id}/thumbnail", get(api::handlers::thumbnail))
        .route("/api/images/{id}/meta", get(api::handlers::image_meta))
        .route("/api/images/{id}/similar", get(api::handlers::similar))
        .route("/api/recommend", get(api::recommend::recommend))
        .route(
            "/api/blocks",
            get(api::blocks::list_blocks).post(api::blocks::create_block),
        )
        .route(
            "/api/blocks/{block_id}",
            axum::routing::delete(api::blocks::delete_block),
        )
        .route(
            "/api/images/{id}/reports",
            post(api::reports::create_report),
        )
        .route("/api/reports", get(api::reports::list_cases))
        .route("/api/reports/policy", get(api::reports::report_policy))
        .route(
            "/api/reports/{case_id}/resolve",
            post(api::reports::resolve_case),
        )
        .route("/api/analytics", get(api::analytics::report))
        .route("/api/analytics/events", post(api::analytics::record_event))
        .route("/api/openapi.json", get(openapi::openapi_json))
        .route("/metrics", get(metrics::metrics))
        .route("/livez", get(metrics::livez))
        .route("/readyz", get(metrics::readyz))
        .fallback(api::handlers::not_found)
        .method_not_allowed_fallback(api::handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        // Each request's log lines carry its id (`x-request-id`: the client's, or one made here), which
        // the response returns.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            let id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", id = %id, method = %request.method(), uri = %request.uri())
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(metrics::RequestIds::default()))
        .with_state(state)
}

/// Runs one image query (and one text query for CLIP) so the first user query pays no start-up cost.
pub async fn warm_up(state: &AppState) {
    let started = Instant::now();
    let mut queries = vec![Query::ImageBytes(warm_up_image())];
    if state.served().info.text_search {
        queries.push(Query::Text("a photo".into()));
    }
    for query in queries {
        let options = QueryOptions {
            k: 1,
            index: None,
            params: SearchParams::default(),
            ..QueryOptions::default()
        };
        let Ok(ticket) = state.pool.admit() else {
            return;
        };
        let collection = state.served().backend.clone();
        match state
            .pool
            .run(ticket, move || collection.search(&query, &options))
            .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("warm-up query failed: {e}"),
            Err(e) => tracing::warn!(
                "warm-up query failed: {}",
                e.detail.as_deref().unwrap_or(&e.message)
            ),
        }
    }
    tracing::info!(
        "model warmed up in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
}

/// A small PNG made in memory.
fn warm_up_image() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 64, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 4) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    match img.write_to(&mut out, image::ImageFormat::Png) {
        Ok(()) => out.into_inner(),
        Err(_) => Vec::new(),
    }
}

/// Serves a loaded collection: warms the model, listens on `options.addr`, prints the address to open and
/// answers until Ctrl-C or SIGTERM, then finishes the requests in flight and returns.
pub async fn serve(
    collection: impl SearchBackend,
    options: ServeOptions,
) -> Result<(), ServerError> {
    serve_shared(Arc::new(collection), options).await
}

/// [`serve`] for a backend already shared, such as the one [`vsearch_engine::open_backend`] opens.
pub async fn serve_shared(
    collection: Arc<dyn SearchBackend>,
    options: ServeOptions,
) -> Result<(), ServerError> {
    let addr = options.addr;
    let listen = async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })
    };
    serve_when_warm(collection, &options, listen).await
}

/// [`serve`] on a listener the caller has bound already (`options.addr` is not used), e.g. one on port 0
/// whose address the caller reads first.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    collection: impl SearchBackend,
    options: ServeOptions,
) -> Result<(), ServerError> {
    serve_when_warm(
        Arc::new(collection),
        &options,
        std::future::ready(Ok(listener)),
    )
    .await
}

/// Installs the signal handlers, warms the model, then takes the listener from `listen` and serves on it.
async fn serve_when_warm(
    collection: Arc<dyn SearchBackend>,
    options: &ServeOptions,
    listen: impl std::future::Future<Output = Result<tokio::net::TcpListener, ServerError>>,
) -> Result<(), ServerError> {
    let shutdown = shutdown_signal();
    let state = AppState::new(collection, options);
    warm_up(&state).await;
    let listener = listen.await?;
    let addr = listener.local_addr()?;
    let served = state.served();
    tracing::info!(
        "serving {} images ({}, indexes: {}, generation {}) with {} workers",
        served.info.count,
        served.info.model.id,
        served.info.indexes.len(),
        served.info.generation,
        state.pool.workers()
    );
    if let Some(every) = options.reload_every {
        spawn_reloader(state.clone(), every);
    }
    if served.info.count == 0 {
        tracing::warn!("{}", error::EMPTY_COLLECTION);
    }
    println!("vsearch is serving at http://{addr}/  (Ctrl-C to stop)");
    serve_listener(listener, state.clone(), shutdown).await?;
    // The analytics of the last requests, written before the process ends.
    let last = state.clone();
    let _ = tokio::task::spawn_blocking(move || {
        if let Some(recorder) = &last.analytics {
            recorder.flush(Duration::from_secs(5));
        }
    })
    .await;
    tracing::info!("server stopped");
    Ok(())
}

/// Answers on `listener` until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    // With each connection's peer address: reports are rate-limited per client address.
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM. The signal handlers are installed when this is called (inside a
/// tokio runtime), not when the future is first polled, so no signal is missed once it returns.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(interrupt) => {}
                _ = wait(terminate) => {}
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        tracing::info!("shutting down: finishing the requests in flight");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn warm_up_image_is_a_png() {
        let png = super::warm_up_image();
        assert_eq!(image::guess_format(&png).unwrap(), image::ImageFormat::Png);
    }
}
