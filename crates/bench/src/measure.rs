//! Measurements: queries per second over a thread pool, latency percentiles, disk size and memory.

use crate::error::{BenchError, Result};
use rayon::prelude::*;
use std::path::Path;
use std::time::Instant;
use vsearch_index::{SearchParams, VectorIndex};

/// The `p`-th percentile (0..=100) of sorted values, nearest-rank method.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What one pass of queries measured.
#[derive(Debug, Clone)]
pub struct QueryRun {
    /// Ids found per query, best first.
    pub found: Vec<Vec<u64>>,
    /// Queries per second over the whole pass (wall clock).
    pub qps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// Runs every query once through `index.search`, split over the threads of `pool`, timing each query.
pub fn run_queries(
    index: &dyn VectorIndex,
    queries: &[f32],
    dim: usize,
    k: usize,
    params: &SearchParams,
    pool: &rayon::ThreadPool,
) -> Result<QueryRun> {
    let start = Instant::now();
    let per_query: Vec<Result<(Vec<u64>, f64)>> = pool.install(|| {
        queries
            .par_chunks(dim)
            .with_max_len(1)
            .map(|q| {
                let t = Instant::now();
                let hits = index.search(q, k, params)?;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                Ok((hits.into_iter().map(|h| h.id).collect(), ms))
            })
            .collect()
    });
    let wall = start.elapsed().as_secs_f64();
    let mut found = Vec::with_capacity(per_query.len());
    let mut lat = Vec::with_capacity(per_query.len());
    for r in per_query {
        let (ids, ms) = r?;
        found.push(ids);
        lat.push(ms);
    }
    lat.sort_by(f64::total_cmp);
    let n = found.len();
    Ok(QueryRun {
        found,
        qps: if wall > 0.0 { n as f64 / wall } else { 0.0 },
        p50_ms: percentile(&lat, 50.0),
        p95_ms: percentile(&lat, 95.0),
        p99_ms: percentile(&lat, 99.0),
    })
}

/// Answers every query in one `search_batch` call on the threads of `pool` (the library parallelises
/// inside the call). Latencies are not measured (0).
pub fn run_batch(
    index: &dyn VectorIndex,
    queries: &[f32],
    k: usize,
    params: &SearchParams,
    pool: &rayon::ThreadPool,
) -> Result<QueryRun> {
    let start = Instant::now();
    let hits = pool.install(|| index.search_batch(queries, k, params))?;
    let wall = start.elapsed().as_secs_f64();
    let found: Vec<Vec<u64>> = hits
        .into_iter()
        .map(|row| row.into_iter().map(|h| h.id).collect())
        .collect();
    let n = found.len();
    Ok(QueryRun {
        found,
        qps: if wall > 0.0 { n as f64 / wall } else { 0.0 },
        p50_ms: 0.0,
        p95_ms: 0.0,
        p99_ms: 0.0,
    })
}

/// Passes [`best_pass`] runs at most, however fast each is.
pub const MAX_PASSES: usize = 50;

/// Runs `pass` (one pass over every query) again until the passes together have taken at least
/// `min_seconds` (one pass at least, [`MAX_PASSES`] at most) and keeps the fastest. A pass of 1,000 queries
/// at tens of thousands per second lasts tens of milliseconds, which one descheduling of a thread or one
/// noisy neighbour on the host can slow by a quarter; the fastest of the passes is the nearest to what
/// the machine can do. Every pass answers the same queries, so recall is the same whichever is kept.
pub fn best_pass(min_seconds: f64, mut pass: impl FnMut() -> Result<QueryRun>) -> Result<QueryRun> {
    let start = Instant::now();
    let mut best = pass()?;
    let mut passes = 1;
    while passes < MAX_PASSES && start.elapsed().as_secs_f64() < min_seconds {
        let run = pass()?;
        if run.qps > best.qps {
            best = run;
        }
        passes += 1;
    }
    Ok(best)
}

/// A rayon pool of exactly `threads` threads.
pub fn pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| BenchError::Invalid {
            reason: format!("cannot start {threads} threads: {e}"),
        })
}

/// Resident set size of this process in bytes, from `/proc/self/statm` (pages of 4 KiB); 0 where unavailable.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

/// Total size of the files under `dir`, recursively.
pub fn dir_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    let entries = std::fs::read_dir(dir).map_err(|e| BenchError::io(dir, e))?;
    for e in entries {
        let e = e.map_err(|e| BenchError::io(dir, e))?;
        let meta = e.metadata().map_err(|err| BenchError::io(e.path(), err))?;
        if meta.is_dir() {
            total += dir_size(&e.path())?;
        } else {
            total += meta.len();
        }
    }
    Ok(total)
}

/// Size on disk of `index`: saved into a temporary folder, file sizes summed, folder removed.
pub fn disk_bytes(index: &dyn VectorIndex) -> Result<u64> {
    let tmp = tempfile::tempdir().map_err(|e| BenchError::io(std::env::temp_dir(), e))?;
    let dir = tmp.path().join("index");
    index.save(&dir)?;
    dir_size(&dir)
}

/// The value of the first `/proc/cpuinfo` line whose key is `key` (`model name`, `flags`), if any.
fn cpuinfo(key: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_string())
}

/// CPU model (from `/proc/cpuinfo`) and the number of logical cores.
pub fn machine() -> (String, usize) {
    let model = cpuinfo("model name").unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    (model, cores)
}

/// The CPU's vector extensions that the kernels and FAISS can use, as `/proc/cpuinfo` names them.
const SIMD_FLAGS: [&str; 7] = [
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
];

/// The distance kernels chosen at run time (the int8 codes' one in brackets) and the CPU's AVX
/// extensions, e.g. `kernels avx512 (int8 avx512-vnni); CPU: avx2 fma avx512f avx512bw avx512vl avx512_vnni`.
pub fn simd() -> String {
    let flags = cpuinfo("flags")
        .map(|v| {
            v.split_whitespace()
                .filter(|f| SIMD_FLAGS.contains(f))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    format!(
        "kernels {} (int8 {}); CPU: {}",
        vsearch_index::simd_level(),
        vsearch_index::distance::ByteDot::selected().name(),
        if flags.is_empty() { "no AVX2" } else { &flags }
    )
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `len` values in `[-1, 1)` from a xorshift generator seeded by `seed`: the same inputs on every run of
/// a kernel benchmark.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}

/// A kernel benchmark's `--rounds N` among its arguments: `Some(default)` without it, `None` when its
/// value is not a positive number.
pub fn rounds_arg(args: &[String], default: usize) -> Option<usize> {
    match args.iter().position(|a| a == "--rounds") {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|r| *r > 0),
        None => Some(default),
    }
}
