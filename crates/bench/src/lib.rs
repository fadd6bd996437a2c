//! vsearch-bench: HNSW versus IVF versus exact search on one dataset — recall@k, QPS, latency percentiles,
//! build time, size on disk and memory — written as `results.json`, `report.md` and a recall/QPS plot.
//!
//! The `results.json` schema is documented in [`results`]; `scripts/bench_peers.py` writes the same schema for
//! FAISS and hnswlib so that [`compare`] can put them in one table and plot.
//!
//! Modules, bottom-up (each imports only modules of the lines above it):
//! - [`dataset_kind`]: the kinds of dataset `--dataset` names;
//! - [`error`];
//! - [`files`] (atomic writes, safe names), [`measure`] (timing, memory, the machine), [`collection`] (an
//!   indexed folder's embeddings), [`neural_set`] (the neural-embedding set: Fashion-MNIST through
//!   EfficientNet-Lite0, made once and cached);
//! - [`dataset`]: a `--dataset` argument loaded;
//! - [`results`]: the results file;
//! - [`groundtruth`], [`sweep`] (the parameter grids and the measuring loop), [`plot`], [`qdrant`] (Qdrant
//!   as a peer);
//! - [`report`]: the summary table and the Markdown report.

pub mod collection;
pub mod dataset;
pub mod dataset_kind;
pub mod error;
pub mod files;
pub mod groundtruth;
pub mod measure;
pub mod neural_set;
pub mod plot;
pub mod qdrant;
pub mod report;
pub mod results;
pub mod sweep;

pub use dataset::{Dataset, DatasetSpec};
pub use error::{BenchError, Result};
pub use results::{Point, QueryMode, Results};
pub use sweep::Grid;

use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// `vsearch bench --min-pass-seconds` when not given, and `scripts/bench_peers.py`'s.
pub const DEFAULT_MIN_PASS_SECONDS: f64 = 0.5;

/// Queries held out of a collection (or generated for synthetic data) when `--queries` is not given.
pub const DEFAULT_HOLDOUT: usize = 1000;

/// What `vsearch bench` was asked to do.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub dataset: DatasetSpec,
    pub k: usize,
    /// Use the first N queries (all when `None`).
    pub queries: Option<usize>,
    /// Threads that run queries and builds.
    pub threads: usize,
    /// Output folder.
    pub out: PathBuf,
    /// Small grid instead of the full one.
    pub quick: bool,
    /// Each point's passes over the queries last at least this long together, and the fastest pass
    /// counts ([`measure::best_pass`]); 0: one pass.
    pub min_pass_seconds: f64,
    /// Index kinds to measure ([`sweep::SWEEP_KINDS`] names); empty: all.
    pub only: Vec<String>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Add a Qdrant server's HNSW to the comparison.
    pub qdrant: Option<qdrant::QdrantPeer>,
}

/// Loads the dataset of `opts` with its query count applied.
pub fn load_dataset(opts: &BenchOptions) -> Result<Dataset> {
    if opts.k == 0 {
        return Err(BenchError::Invalid {
            reason: "--k must be at least 1".into(),
        });
    }
    let mut ds = dataset::load_with_progress(
        &opts.dataset,
        opts.queries.unwrap_or(DEFAULT_HOLDOUT),
        opts.progress,
    )?;
    if let Some(q) = opts.queries {
        if q == 0 {
            return Err(BenchError::Invalid {
                reason: "--queries must be at least 1".into(),
            });
        }
        ds.truncate_queries(q);
    }
    if ds.n_base() < opts.k {
        return Err(BenchError::Invalid {
            reason: format!(
                "the dataset has {} base vectors, fewer than k = {}",
                ds.n_base(),
                opts.k
            ),
        });
    }
    Ok(ds)
}

/// Ground truth for `ds`, using the cache (beside the dataset, else in `out/cache`).
pub fn ground_truth(ds: &Dataset, k: usize, out: &Path) -> Result<(Vec<Vec<u64>>, String)> {
    groundtruth::ground_truth(ds, k, &out.join("cache"))
}

fn progress_bar(len: u64, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} points  {msg}")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

/// Runs the whole sweep on the dataset and returns the results (nothing written).
pub fn run_sweep(
    ds: &Dataset,
    truth: &[Vec<u64>],
    truth_source: &str,
    opts: &BenchOptions,
) -> Result<Results> {
    let grid = if opts.quick {
        Grid::quick(ds.n_base(), ds.dim)
    } else {
        Grid::full(ds.n_base(), ds.dim)
    }
    .only(&opts.only)?;
    let plan = grid.plan();
    let total: usize = plan.iter().map(|b| b.len()).sum();
    let pb = progress_bar(total as u64, opts.progress);
    // The same thread count for rayon (queries, HNSW builds) and FAISS's OpenMP (IVF training, batches).
    vsearch_index::set_threads(opts.threads);
    let pool = measure::pool(opts.threads)?;
    let work = sweep::Workload {
        ds,
        truth,
        k: opts.k,
        pool: &pool,
        progress: &pb,
        min_pass_seconds: opts.min_pass_seconds,
    };
    let mut points = sweep::run(&plan, &work)?;
    pb.finish_with_message("done");
    if let Some(peer) = &opts.qdrant {
        tracing::info!(url = %peer.target.url, collection = %peer.target.collection, "measuring Qdrant");
        let mut peer = peer.clone();
        if peer.ef_search.is_empty() {
            peer.ef_search = grid.ef_search.clone();
        }
        points.extend(qdrant::run(ds, truth, opts.k, &peer, &pool)?);
    }
    let (cpu, cores) = measure::machine();
    let simd = Some(measure::simd());
    let blas = Some(vsearch_index::ivf::blas().to_string());
    Ok(Results {
        schema: results::SCHEMA,
        dataset: results::DatasetInfo::of(ds, truth_source),
        machine: results::Machine {
            cpu,
            cores,
            simd,
            blas,
        },
        threads: opts.threads,
        k: opts.k,
        date: measure::utc_now(),
        grids: grid.describe(),
        points,
    })
}

/// Loads the dataset, computes the ground truth, sweeps and writes everything into `opts.out`.
pub fn run(opts: &BenchOptions) -> Result<Results> {
    let ds = load_dataset(opts)?;
    tracing::info!(dataset = %ds.name, base = ds.n_base(), queries = ds.n_queries(), dim = ds.dim, "dataset loaded");
    let (truth, source) = ground_truth(&ds, opts.k, &opts.out)?;
    let results = run_sweep(&ds, &truth, &source, opts)?;
    write_outputs(&results, &opts.out)?;
    Ok(results)
}

/// Writes the dataset of `opts` (queries applied) and its ground truth as `base.fvecs`, `query.fvecs`,
/// `gt.ivecs` and `dataset.json` into `dir`, for `scripts/bench_peers.py`.
pub fn export_dataset(opts: &BenchOptions, dir: &Path) -> Result<Dataset> {
    let ds = load_dataset(opts)?;
    let (truth, _) = ground_truth(&ds, opts.k, &opts.out)?;
    dataset::export(&ds, &truth, dir)?;
    Ok(ds)
}

/// Merges the results files `files` into `base`; returns warnings about mismatched runs.
pub fn compare(base: &mut Results, files: &[PathBuf]) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    for f in files {
        let other = Results::read(f)?;
        warnings.extend(base.merge(other, &f.display().to_string()));
    }
    Ok(warnings)
}

/// Writes `results.json`, `report.md`, `recall_qps.svg` and `recall_qps.png` into `dir`.
pub fn write_outputs(results: &Results, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| BenchError::io(dir, e))?;
    results.write(&dir.join("results.json"))?;
    files::write_atomic(&dir.join("report.md"), report::markdown(results).as_bytes())?;
    plot::write(results, dir)
}
