//! The results file (`results.json`): what a run measured, read, written and merged.
//!
//! # `results.json` schema (version 1)
//! ```text
//! {
//!   "schema": 1,
//!   "dataset": {"name": str, "n_base": int, "n_queries": int, "dim": int, "metric": "l2"|"cosine",
//!               "ground_truth": str},
//!   "machine": {"cpu": str, "cores": int, "simd": str?, "blas": str?},
//!   "threads": int, "k": int, "date": "YYYY-MM-DDTHH:MM:SSZ",
//!   "grids": {"<index kind>": str, ...},          // parameter grids swept, human-readable
//!   "points": [{"library": "vsearch"|"faiss"|"hnswlib", "index": "flat"|"hnsw"|"ivf-flat"|"ivf-pq"|"ivf-sq8"|"ivf-pq4fs",
//!               "params": {str: number|bool|str}, "recall": float, "qps": float,
//!               "p50_ms": float, "p95_ms": float, "p99_ms": float, "build_s": float,
//!               "disk_bytes": int, "memory_bytes": int, "rerank_bytes": int (optional),
//!               "mapped_bytes": int (optional), "rss_delta_bytes": int (optional),
//!               "mode": "single"|"batch" (optional; absent in files from before modes)}]
//! }
//! ```
//! Peers (`scripts/bench_peers.py`) write the same schema; `--compare` merges the `points` of several files.

use crate::dataset::Dataset;
use crate::error::{BenchError, Result};
use crate::files::write_atomic;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// How queries were issued for a point.
///
/// - `single`: one query per call, calls spread over the run's threads (as a server answers independent
///   requests); QPS is wall-clock throughput, latencies are per call.
/// - `batch`: every query in one call that the library parallelises over the run's threads (FAISS's
///   batched search, a matrix product for exact search); QPS only, no per-query latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueryMode {
    Single,
    Batch,
}

impl std::fmt::Display for QueryMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Single => "single",
            Self::Batch => "batch",
        })
    }
}

/// Current schema version of `results.json`.
pub const SCHEMA: u32 = 1;

/// The dataset a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    pub name: String,
    pub n_base: usize,
    pub n_queries: usize,
    pub dim: usize,
    pub metric: String,
    /// Where the ground truth came from.
    #[serde(default)]
    pub ground_truth: String,
}

impl DatasetInfo {
    /// What a run records of `ds`; `ground_truth` says where its ground truth came from.
    pub fn of(ds: &Dataset, ground_truth: &str) -> Self {
        DatasetInfo {
            name: ds.name.clone(),
            n_base: ds.n_base(),
            n_queries: ds.n_queries(),
            dim: ds.dim,
            metric: serde_json::to_value(ds.metric)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            ground_truth: ground_truth.to_string(),
        }
    }
}

/// The machine a run measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model name from `/proc/cpuinfo`.
    pub cpu: String,
    /// Logical cores.
    pub cores: usize,
    /// SIMD: the distance kernels chosen at run time and the CPU's vector extensions (absent in older results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simd: Option<String>,
    /// The BLAS that FAISS's matrix products ran on (absent in older results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blas: Option<String>,
}

/// Parameters of a point, by name.
pub type Params = BTreeMap<String, serde_json::Value>;

/// One measured point: one index build with one set of search parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub library: String,
    /// `flat`, `hnsw`, `ivf-flat`, `ivf-pq`, `ivf-sq8` or `ivf-pq4fs` (vsearch's names: the sweep's
    /// [`crate::sweep::SWEEP_KINDS`]).
    pub index: String,
    /// Build and search parameters.
    pub params: Params,
    /// recall@k against exact search.
    pub recall: f64,
    /// Queries per second at the run's thread count.
    pub qps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Seconds to build (train and add) the index.
    pub build_s: f64,
    /// Bytes of the saved index.
    pub disk_bytes: u64,
    /// Memory the index reports holding (`memory_bytes`) as it is searched (an HNSW index as served:
    /// opened for search only), or the peer's estimate.
    pub memory_bytes: u64,
    /// Bytes the index maps from its files instead of holding (a quantized HNSW index's full vectors,
    /// read only to re-score), when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapped_bytes: Option<u64>,
    /// The share of `memory_bytes` taken by full-precision vectors kept only to re-rank quantised codes
    /// (vsearch's IVF-PQ, IVF-SQ8, IVF-PQ fast-scan); absent when none are kept, and in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerank_bytes: Option<u64>,
    /// Growth of the process's resident set during the build, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_delta_bytes: Option<u64>,
    /// How the queries were issued (absent in files from before modes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<QueryMode>,
}

impl Point {
    /// `library/index mode`, the name of a line in the plot.
    pub fn series(&self) -> String {
        match self.mode {
            Some(mode) => format!("{}/{} {mode}", self.library, self.index),
            None => format!("{}/{}", self.library, self.index),
        }
    }

    /// Parameters as `a=1, b=2`.
    pub fn params_text(&self) -> String {
        self.params
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A whole run, as written to `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub schema: u32,
    pub dataset: DatasetInfo,
    pub machine: Machine,
    pub threads: usize,
    pub k: usize,
    pub date: String,
    /// Parameter grids swept, per index kind.
    #[serde(default)]
    pub grids: BTreeMap<String, String>,
    pub points: Vec<Point>,
}

impl Results {
    /// Reads a results file.
    pub fn read(path: &Path) -> Result<Results> {
        let text = std::fs::read_to_string(path).map_err(|e| BenchError::io(path, e))?;
        serde_json::from_str(&text).map_err(|source| BenchError::Json {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes this as pretty JSON, atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|source| BenchError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        write_atomic(path, text.as_bytes())
    }

    /// Appends the points of `other` (a peer's run). Differences in dataset, k or threads are returned as warnings.
    pub fn merge(&mut self, other: Results, source: &str) -> Vec<String> {
        let mut warnings = Vec::new();
        if other.dataset.name != self.dataset.name
            || other.dataset.n_base != self.dataset.n_base
            || other.dataset.n_queries != self.dataset.n_queries
        {
            warnings.push(format!(
                "{source}: dataset {} ({} base, {} queries) differs from {} ({} base, {} queries)",
                other.dataset.name,
                other.dataset.n_base,
                other.dataset.n_queries,
                self.dataset.name,
                self.dataset.n_base,
                self.dataset.n_queries
            ));
        }
        if other.k != self.k {
            warnings.push(format!(
                "{source}: k = {} differs from k = {}",
                other.k, self.k
            ));
        }
        if other.threads != self.threads {
            warnings.push(format!(
                "{source}: {} threads differs from {} threads",
                other.threads, self.threads
            ));
        }
        for (kind, grid) in other.grids {
            self.grids.entry(kind).or_insert(grid);
        }
        self.points.extend(other.points);
        warnings
    }
}
