//! `vsearch serve`: the HTTP API and web page over a collection.

use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use vsearch_engine::{BackendOptions, DeviceSpec};
use vsearch_server::ServeOptions;

/// Arguments of `vsearch serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Collection folder, or an indexed folder containing `.vsearch` (default: ./.vsearch).
    #[arg(long, default_value = ".")]
    collection: PathBuf,
    /// Address to listen on; the default answers this machine only (use 0.0.0.0:8080 to open it to the network).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Device for the model: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Largest request body (uploads), in megabytes.
    #[arg(long, default_value_t = 20)]
    max_body_mb: usize,
    /// Queries (embeddings, searches, thumbnails) that run at once (default: number of CPU cores).
    #[arg(long)]
    workers: Option<usize>,
    /// Queries that may wait for a worker; beyond that the server answers 503 with Retry-After.
    #[arg(long, default_value_t = 64)]
    queue: usize,
    /// Serve the collection as it was at start: do not switch to the states `vsearch index` commits
    /// later (by default the server looks every second and switches without a restart).
    #[arg(long)]
    no_reload: bool,
    /// Token that turns on the block endpoints (`POST`/`GET /api/blocks`, `DELETE /api/blocks/{id}`),
    /// sent as `Authorization: Bearer TOKEN`; without it they are off (401/403).
    #[arg(long, env = "VSEARCH_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Record no search analytics (by default each search and what the page opens from it go to
    /// analytics.sqlite in the collection's records folder, without text queries or uploads).
    #[arg(long)]
    no_analytics: bool,
    /// Also keep the words of text queries and the bytes of uploaded images in the analytics.
    #[arg(long, conflicts_with = "no_analytics")]
    analytics_keep_queries: bool,
    /// Days the analytics keep a search or an action; older rows are deleted.
    #[arg(long, value_name = "DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..))]
    analytics_retention_days: u32,
    #[command(flatten)]
    qdrant: super::qdrant::QdrantArgs,
    #[command(flatten)]
    qdrant_read: super::qdrant::QdrantReadArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let device: DeviceSpec = args.device.parse()?;
    anyhow::ensure!(args.max_body_mb >= 1, "--max-body-mb must be at least 1");
    let defaults = ServeOptions::default();
    let options = ServeOptions {
        addr: args.addr,
        max_body_bytes: args.max_body_mb.saturating_mul(1024 * 1024),
        workers: args.workers.unwrap_or(defaults.workers).max(1),
        queue: args.queue,
        reload_every: if args.no_reload {
            None
        } else {
            defaults.reload_every
        },
        admin_token: args.admin_token.filter(|t| !t.trim().is_empty()),
        analytics: vsearch_engine::analytics::AnalyticsConfig {
            enabled: !args.no_analytics,
            keep_queries: args.analytics_keep_queries,
            retention_days: args.analytics_retention_days,
            ..defaults.analytics.clone()
        },
        ..defaults
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let backend = args
        .qdrant_read
        .backend(&args.qdrant, &args.collection, device, true)?;
    tracing::info!("opening {} on {device}", backend.describe());
    let collection = vsearch_engine::open_backend(&backend).with_context(|| {
        let fix = match backend {
            BackendOptions::Local { .. } => {
                "index a folder first with `vsearch index DIR`, then pass --collection DIR"
            }
            BackendOptions::Qdrant(_) => {
                "index a folder into it first with `vsearch index DIR --qdrant URL`"
            }
        };
        format!("cannot open {}: {fix}", backend.describe())
    })?;
    runtime.block_on(vsearch_server::serve_shared(collection, options))?;
    Ok(())
}
