//! Load benchmark of `vsearch serve`: 32 concurrent HTTP clients for a bounded time against query-by-id,
//! query-by-upload and, given `--captions`, query-by-text; reports throughput, p50, p99 and the error count
//! (which must be zero).
//!
//! By default it indexes a temporary copy of `../shared/data/ukbench-14` with EfficientNet-Lite0 (HNSW and flat
//! indexes; `--model-dir` a CLIP or SigLIP folder instead) and starts the server in-process on 127.0.0.1:0
//! with default settings.
//!
//! ```text
//! cargo bench --bench server_load -- [--seconds 10] [--clients 32] [--k 10] [--photos DIR]
//!                                    [--collection PATH | --url http://127.0.0.1:8080] [--no-analytics]
//!                                    [--model-dir DIR] [--captions FILE] [--scenarios id,upload,text]
//! ```
//! `--collection` serves an existing collection instead; `--url` loads a server that is already running.
//! One text query's latency is `--clients 1 --scenarios text` with a CLIP folder: each request one line of
//! `--captions` (in turn), tokenized, embedded and searched by the server.
//! The server records search analytics as `vsearch serve` does by default; `--no-analytics` turns them off
//! (run both, alternating, to measure what recording costs).

/// The `vsearch` binary's allocator and settings, so the benchmark measures what the binary runs.
#[path = "../src/allocator.rs"]
mod allocator;

use anyhow::{bail, Context};
use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vsearch_engine::{
    image_io, index_folder, Collection, DeviceSpec, IndexKind, IndexOptions, ModelSpec,
};
use vsearch_server::{AppState, ServeOptions};

/// `vsearch serve` under concurrent clients.
#[derive(clap::Parser)]
struct Args {
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Neighbours per query.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Photos to index and to upload as queries.
    #[arg(long, default_value = "../shared/data/ukbench-14")]
    photos: PathBuf,
    /// Serve this existing collection instead of indexing the photos.
    #[arg(long, conflicts_with = "url")]
    collection: Option<PathBuf>,
    /// Load a server that is already running (e.g. `http://127.0.0.1:8080`).
    #[arg(long)]
    url: Option<String>,
    /// Serve without search analytics (`vsearch serve --no-analytics`).
    #[arg(long, conflicts_with = "url")]
    no_analytics: bool,
    /// Blocking workers of the server started here (`vsearch serve --workers`; default: its default).
    #[arg(long, conflicts_with = "url")]
    workers: Option<usize>,
    /// Index the photos with this CLIP or SigLIP folder instead of EfficientNet-Lite0.
    #[arg(long, conflicts_with_all = ["url", "collection"])]
    model_dir: Option<PathBuf>,
    /// Precision of the model indexed with `--model-dir` (`vsearch index --precision`).
    #[arg(long, default_value = "f32", requires = "model_dir")]
    precision: vsearch_engine::Precision,
    /// Text queries, one per line, for the `text` scenario (the model needs a text tower).
    #[arg(long)]
    captions: Option<PathBuf>,
    /// Scenarios to run, in this order: `id`, `upload`, `text` (default: `id,upload`, and `text` when
    /// `--captions` is given).
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<Scenario>,
    /// Passed by `cargo bench`.
    #[arg(long = "bench", hide = true)]
    _bench: bool,
}

/// The photos uploaded as queries.
fn load_photos(dir: &std::path::Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    let photos: Vec<Vec<u8>> = paths
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|b| image_io::sniff_format(b).is_some())
        .collect();
    if photos.is_empty() {
        bail!("no photos in {}", dir.display());
    }
    Ok(photos)
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Scenario {
    /// Query by an indexed id.
    Id,
    /// Query by an uploaded photo.
    Upload,
    /// Query by a line of `--captions`.
    Text,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Id => "query by id",
            Self::Upload => "query by upload",
            Self::Text => "query by text",
        }
    }
}

/// What the clients send: ids to query, photos to upload, texts to search.
struct Queries {
    ids: Vec<u64>,
    photos: Vec<Vec<u8>>,
    texts: Vec<String>,
}

struct Outcome {
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
}

async fn one_request(
    client: &reqwest::Client,
    url: &str,
    scenario: Scenario,
    i: usize,
    queries: &Queries,
    k: usize,
) -> Result<(), String> {
    let request = match scenario {
        Scenario::Id => client
            .post(url)
            .json(&serde_json::json!({"id": queries.ids[i % queries.ids.len()], "k": k})),
        Scenario::Text => client
            .post(url)
            .json(&serde_json::json!({"text": queries.texts[i % queries.texts.len()], "k": k})),
        Scenario::Upload => {
            let photo = &queries.photos[i % queries.photos.len()];
            let part = reqwest::multipart::Part::bytes(photo.clone()).file_name("query.jpg");
            let form = reqwest::multipart::Form::new()
                .part("image", part)
                .text("k", k.to_string());
            client.post(url).multipart(form)
        }
    };
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    Ok(())
}

async fn run_scenario(
    base: &str,
    scenario: Scenario,
    clients: usize,
    seconds: u64,
    queries: Arc<Queries>,
    k: usize,
) -> Outcome {
    let url = format!("{base}/api/search");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (url, queries) = (url.clone(), queries.clone());
        tasks.push(tokio::spawn(async move {
            // One connection per client, as separate users would have.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("HTTP client");
            let mut latencies = Vec::new();
            let (mut errors, mut first_error) = (0usize, None);
            let mut i = c * 7;
            while Instant::now() < deadline {
                let t = Instant::now();
                match one_request(&client, &url, scenario, i, &queries, k).await {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
                i += 1;
            }
            (latencies, errors, first_error)
        }));
    }
    let mut outcome = Outcome {
        latencies: Vec::new(),
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        let (latencies, errors, first_error) = task.await.expect("client task");
        outcome.latencies.extend(latencies);
        outcome.errors += errors;
        if outcome.first_error.is_none() {
            outcome.first_error = first_error;
        }
    }
    outcome.elapsed = started.elapsed();
    outcome
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

fn main() -> anyhow::Result<()> {
    allocator::keep_freed_memory();
    let args = Args::parse();
    let photos = load_photos(&args.photos)?;
    let texts: Vec<String> = match &args.captions {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
        None => Vec::new(),
    };
    let scenarios = match (args.scenarios.is_empty(), texts.is_empty()) {
        (false, _) => args.scenarios.clone(),
        (true, true) => vec![Scenario::Id, Scenario::Upload],
        (true, false) => vec![Scenario::Id, Scenario::Upload, Scenario::Text],
    };
    if texts.is_empty() && scenarios.iter().any(|s| matches!(s, Scenario::Text)) {
        bail!("the text scenario needs --captions FILE (one query per line)");
    }
    let model = match &args.model_dir {
        Some(dir) => ModelSpec::Dir(dir.clone()),
        None => ModelSpec::Preset("efficientnet-lite0".into()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    // The server: given, or started here over a given or freshly built collection.
    let mut _keep = None;
    let (base, shutdown) = if let Some(url) = &args.url {
        (url.trim_end_matches('/').to_string(), None)
    } else {
        let path = match &args.collection {
            Some(p) => p.clone(),
            None => {
                let dir = tempfile::tempdir()?;
                for (i, bytes) in photos.iter().enumerate() {
                    std::fs::write(dir.path().join(format!("photo{i:04}.jpg")), bytes)?;
                }
                let options = IndexOptions {
                    collection: None,
                    model: model.clone(),
                    device: DeviceSpec::Cpu,
                    precision: args.precision,
                    indexes: vec![IndexKind::Hnsw, IndexKind::Flat],
                    add_indexes: Vec::new(),
                    batch: 16,
                    threads: 2,
                    max_pixels: image_io::DEFAULT_MAX_PIXELS,
                    rebuild: false,
                    progress: false,
                    force: false,
                    policy: None,
                    ..IndexOptions::default()
                };
                eprintln!("indexing {} photos with {model}…", photos.len());
                index_folder(dir.path(), &options)?;
                let path = dir.path().to_path_buf();
                _keep = Some(dir);
                path
            }
        };
        let collection = Arc::new(Collection::open(&path, &DeviceSpec::Cpu)?);
        let mut options = ServeOptions::default();
        options.analytics.enabled = !args.no_analytics;
        if let Some(workers) = args.workers {
            options.workers = workers;
        }
        let state = AppState::new(collection, &options);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let base = runtime.block_on(async {
            vsearch_server::warm_up(&state).await;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            tokio::spawn(vsearch_server::serve_listener(listener, state, async {
                let _ = rx.await;
            }));
            anyhow::Ok(format!("http://{addr}"))
        })?;
        eprintln!(
            "server at {base} (workers {}, queue {}, search analytics {})",
            options.workers,
            options.queue,
            if args.no_analytics { "off" } else { "on" }
        );
        (base, Some(tx))
    };

    // Ids to query: whatever an upload finds, up to 1000.
    let ids = runtime.block_on(async {
        let form = reqwest::multipart::Form::new()
            .part(
                "image",
                reqwest::multipart::Part::bytes(photos[0].clone()).file_name("q.jpg"),
            )
            .text("k", "1000");
        let body: serde_json::Value = reqwest::Client::new()
            .post(format!("{base}/api/search"))
            .multipart(form)
            .send()
            .await?
            .json()
            .await?;
        let ids: Vec<u64> = body["results"]
            .as_array()
            .context("no results")?
            .iter()
            .filter_map(|r| r["id"].as_u64())
            .collect();
        anyhow::Ok(ids)
    })?;
    if ids.is_empty() {
        bail!("the collection answered no ids");
    }

    println!(
        "server_load: {} clients x {} s per scenario, k = {}, {} ids, {} query photos, {} texts, {} CPU cores",
        args.clients,
        args.seconds,
        args.k,
        ids.len(),
        photos.len(),
        texts.len(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| scenario | requests | throughput (req/s) | p50 (ms) | p99 (ms) | max (ms) | errors |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let queries = Arc::new(Queries { ids, photos, texts });
    let mut total_errors = 0;
    for scenario in scenarios {
        let name = scenario.name();
        let mut o = runtime.block_on(run_scenario(
            &base,
            scenario,
            args.clients,
            args.seconds,
            queries.clone(),
            args.k,
        ));
        o.latencies.sort();
        println!(
            "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            o.latencies.len(),
            o.latencies.len() as f64 / o.elapsed.as_secs_f64(),
            percentile(&o.latencies, 50.0),
            percentile(&o.latencies, 99.0),
            percentile(&o.latencies, 100.0),
            o.errors
        );
        if let Some(e) = o.first_error {
            eprintln!("  first error ({name}): {e}");
        }
        total_errors += o.errors;
    }
    if let Some(tx) = shutdown {
        let _ = tx.send(());
    }
    if total_errors > 0 {
        bail!("{total_errors} requests failed");
    }
    Ok(())
}
